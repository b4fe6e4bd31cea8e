"""Fault injection for the loopback participant: the failures a real network produces.

A test arms faults (``server.faults.arm(Fault.TIMEOUT_AFTER_COMMIT, times=1)``); the
next matching requests fail that way, then the server behaves normally again. The
faults are the outcomes DOMAIN.md section 7 asks the client to survive:

================================  =====================================  ==============
fault                             what the client sees                   ledger changed
================================  =====================================  ==============
``UNAVAILABLE``                   503 ``UNAVAILABLE``                    no
``LOCKED``                        409 ``LOCAL_VERDICT_LOCKED_CONTRACTS``  no
``TIMEOUT``                       504 ``REQUEST_TIME_OUT``               no
``TIMEOUT_AFTER_COMMIT``          504 ``REQUEST_TIME_OUT``               yes
``DROP_AFTER_COMMIT``             connection closed, no answer           yes
``SLOW_AFTER_COMMIT``             the answer after ``delay`` seconds     yes
                                  (past the client's read timeout)
================================  =====================================  ==============
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from ledger_adapter.errors import InvalidArgument


class Fault(StrEnum):
    """One injected failure (see the module table)."""

    UNAVAILABLE = "unavailable"
    LOCKED = "locked"
    TIMEOUT = "timeout"
    TIMEOUT_AFTER_COMMIT = "timeout_after_commit"
    DROP_AFTER_COMMIT = "drop_after_commit"
    SLOW_AFTER_COMMIT = "slow_after_commit"

    @property
    def commits(self) -> bool:
        """Whether the request is carried out before the failure."""
        return self.name.endswith("_AFTER_COMMIT")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse a fault name (``timeout_after_commit``)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise InvalidArgument(f"{text!r} is not a fault ({known})", field="fault") from None


@dataclass(frozen=True, slots=True)
class ArmedFault:
    """A fault waiting for a request to ``path`` (``None``: any path)."""

    fault: Fault
    path: str | None
    delay: float


class FaultPlan:
    """Thread-safe queue of armed faults, consumed one per matching request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: deque[ArmedFault] = deque()
        self.fired: list[tuple[str, Fault]] = []

    def arm(
        self, fault: Fault | str, *, times: int = 1, path: str | None = None, delay: float = 0.0
    ) -> None:
        """Make the next ``times`` requests to ``path`` fail with ``fault``."""
        chosen = fault if isinstance(fault, Fault) else Fault.parse(fault)
        with self._lock:
            self._armed.extend(ArmedFault(chosen, path, delay) for _ in range(times))

    def take(self, path: str) -> ArmedFault | None:
        """The fault for this request, if one is armed for its path."""
        with self._lock:
            for armed in self._armed:
                if armed.path in (None, path):
                    self._armed.remove(armed)
                    self.fired.append((path, armed.fault))
                    return armed
        return None

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    @property
    def pending(self) -> int:
        """How many faults are still armed."""
        with self._lock:
            return len(self._armed)
