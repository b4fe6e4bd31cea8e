"""The retry policy of DOMAIN.md section 7, as data.

=================================  ===========================================  =========
outcome of one attempt             meaning                                      action
=================================  ===========================================  =========
``LOCAL_VERDICT_LOCKED_CONTRACTS``  contention with an in-flight transaction     backoff
``UNAVAILABLE``, connect failure    not committed                                backoff
``REQUEST_TIME_OUT``, read timeout  outcome unknown                              same id
or a dropped connection
``DUPLICATE_COMMAND``               the change is already on the ledger          success
``CONTRACT_NOT_FOUND``,             contention on a consumed contract            re-plan
``LOCAL_VERDICT_INACTIVE_CONTRACTS``
anything else                       rejected; nothing changed                    raise
=================================  ===========================================  =========

Every retry keeps the ``commandId`` (so the participant's deduplication makes it
apply at most once) and carries a fresh ``submissionId`` (Canton: "a different UUID
for each retry of a submission with the same change ID"). Backoff is exponential with
full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015), floored by
the participant's ``retryInfo`` hint when it sends one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ledger_adapter.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is retried.

    Parameters
    ----------
    max_attempts
        Attempts per call, the first included (1: never retry).
    initial_backoff, max_backoff
        Bounds of the backoff before retry ``n``: up to
        ``min(max_backoff, initial_backoff * multiplier ** (n - 1))`` seconds.
    deadline
        Seconds after which no new attempt starts, whatever ``max_attempts`` says.
    """

    max_attempts: int = 8
    initial_backoff: float = 0.05
    max_backoff: float = 2.0
    multiplier: float = 2.0
    deadline: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgument("must be >= 1", field="max_attempts")
        if not 0 <= self.initial_backoff <= self.max_backoff:
            raise InvalidArgument("need 0 <= initial_backoff <= max_backoff", field="backoff")
        if self.multiplier < 1 or self.deadline <= 0:
            raise InvalidArgument("need multiplier >= 1 and deadline > 0", field="retry")

    def backoff(self, retry: int, rng: random.Random, floor: float = 0.0) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), full jitter."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return max(min(floor, self.max_backoff), rng.uniform(0.0, ceiling))


NO_RETRY = RetryPolicy(max_attempts=1)
"""Fail on the first retryable error (tests, callers with their own loop)."""


def parse_retry_info(text: object) -> float:
    """Seconds in Canton's ``retryInfo`` (a Scala duration: ``"1 second"``, ``"500 milliseconds"``)."""
    if not isinstance(text, str):
        return 0.0
    parts = text.split()
    if len(parts) != 2:
        return 0.0
    try:
        amount = float(parts[0])
    except ValueError:
        return 0.0
    unit = parts[1].rstrip("s")
    scale = {"nanosecond": 1e-9, "microsecond": 1e-6, "millisecond": 1e-3, "second": 1.0}
    scale |= {"minute": 60.0, "ms": 1e-3}
    return amount * scale.get(unit, 0.0)
