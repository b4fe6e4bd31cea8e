"""The benchmark registry and the context a benchmark measures through.

A benchmark is a function taking a :class:`Context`, registered by name::

    @benchmark("valuation.price_100k", "100,000 JGBs priced from a curve")
    def price_100k(ctx: Context) -> None:
        n = ctx.size(full=100_000, quick=2_000)
        with ctx.phase("resolve", items=n):          # timed once
            table = resolve_cash_flows(...)
        ctx.measure("kernel", lambda: dirty_prices(table, curve), items=n)  # repeated
        ctx.measure("price", price_sample, items=m, who="QuantLib", extrapolate_to=n)
        ctx.compare("pricing speed-up", "kernel", "QuantLib", "price")

Every measurement is a :class:`Timing`: who ran it (``tanpo`` or a peer), the phase,
the seconds of each run, how many items one run handles, and the peak resident memory
(RSS high-water mark, reset before the phase where Linux allows it) while it ran.
"""

from __future__ import annotations

import gc
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
OURS = "tanpo"
BenchmarkFunction = Callable[["Context"], None]


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A registered benchmark: a name ``<area>.<what>``, a description, the function."""

    name: str
    description: str
    function: BenchmarkFunction

    @property
    def area(self) -> str:
        """The area (module) it belongs to: the name up to the first dot."""
        return self.name.split(".", 1)[0]


class Registry:
    """Benchmarks by name, in registration order."""

    def __init__(self) -> None:
        self._benchmarks: dict[str, Benchmark] = {}

    def register(
        self, name: str, description: str
    ) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
        """Decorator: register the function under ``name`` (``<area>.<what>``)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z0-9_.]+", name):
            raise ValueError(f"benchmark name {name!r} must look like 'area.what'")

        def decorate(function: BenchmarkFunction) -> BenchmarkFunction:
            if name in self._benchmarks:
                raise ValueError(f"benchmark {name!r} is registered twice")
            self._benchmarks[name] = Benchmark(name, description, function)
            return function

        return decorate

    def all(self) -> list[Benchmark]:
        """Every registered benchmark."""
        return list(self._benchmarks.values())

    def select(self, patterns: list[str]) -> list[Benchmark]:
        """Benchmarks named exactly, or by area (``valuation``); all when empty."""
        if not patterns:
            return self.all()
        chosen = [b for b in self._benchmarks.values() if b.name in patterns or b.area in patterns]
        unknown = [
            p for p in patterns if not any(p in (b.name, b.area) for b in self._benchmarks.values())
        ]
        if unknown:
            known = ", ".join(self._benchmarks)
            raise KeyError(f"unknown benchmark(s) {', '.join(unknown)}; known: {known}")
        return chosen


REGISTRY = Registry()
"""The registry ``python -m benchmarks`` runs."""


def benchmark(name: str, description: str) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
    """Register a benchmark in :data:`REGISTRY` (see the module docstring)."""
    return REGISTRY.register(name, description)


# -- memory ---------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int | None:
    try:
        match = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark (Linux >= 4.0); False where not allowed."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """Current resident set size in MiB."""
    kb = _status_kb("VmRSS")
    return (kb or 0) / 1024.0


def peak_rss_mb() -> float:
    """RSS high-water mark in MiB (since the last reset, else since process start)."""
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: ru_maxrss (kB on Linux, bytes on macOS) since start
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0


# -- results --------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    """One phase measured for one party."""

    who: str
    phase: str
    seconds: list[float]
    items: int | None = None
    extrapolate_to: int | None = None
    peak_rss_mb: float | None = None
    rss_growth_mb: float | None = None
    note: str = ""

    @property
    def median_s(self) -> float:
        """Median seconds per run."""
        return statistics.median(self.seconds)

    @property
    def min_s(self) -> float:
        """Fastest run, seconds."""
        return min(self.seconds)

    def per_item(self, statistic: str = "median") -> float | None:
        """Seconds per item by the median (or ``"min"``) run."""
        if not self.items:
            return None
        return (self.median_s if statistic == "median" else self.min_s) / self.items

    def as_dict(self) -> dict[str, Any]:
        """JSON form, with the derived figures."""
        per_item = self.per_item()
        data: dict[str, Any] = {
            "who": self.who,
            "phase": self.phase,
            "runs": len(self.seconds),
            "seconds": self.seconds,
            "median_s": self.median_s,
            "min_s": self.min_s,
            "items": self.items,
            "items_per_s": None if per_item is None or per_item == 0 else 1.0 / per_item,
            "extrapolate_to": self.extrapolate_to,
            "extrapolated_s": None
            if per_item is None or self.extrapolate_to is None
            else per_item * self.extrapolate_to,
            "peak_rss_mb": self.peak_rss_mb,
            "rss_growth_mb": self.rss_growth_mb,
            "note": self.note,
        }
        return data


@dataclass(slots=True)
class Context:
    """What a benchmark measures through; collects its results."""

    quick: bool
    repeat: int
    seed: int = 20251106
    timings: list[Timing] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def size(self, full: int, quick: int) -> int:
        """``quick`` under ``--quick``, else ``full``; recorded as a parameter by the caller."""
        return quick if self.quick else full

    def param(self, **values: Any) -> None:
        """Record parameters of the run (sizes, sample sizes, grid shape...)."""
        self.params.update(values)

    def note(self, text: str) -> None:
        """A sentence for the results table (method, caveat)."""
        self.notes.append(text)

    @contextmanager
    def phase(
        self, name: str, *, items: int | None = None, who: str = OURS, note: str = ""
    ) -> Iterator[None]:
        """Time the ``with`` body once as phase ``name``."""
        before = rss_mb()
        reset_peak_rss()
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        peak = peak_rss_mb()
        self.timings.append(
            Timing(who, name, [elapsed], items, None, peak, max(peak - before, 0.0), note)
        )

    def measure(
        self,
        name: str,
        function: Callable[[], T],
        *,
        items: int | None = None,
        who: str = OURS,
        repeat: int | None = None,
        extrapolate_to: int | None = None,
        note: str = "",
    ) -> T:
        """Call ``function`` ``repeat`` times (garbage collector off, as ``timeit``).

        Returns the last call's result. ``extrapolate_to``: the run handled a sample of
        ``items``; report also the time for ``extrapolate_to`` items at the same rate.
        """
        runs = repeat if repeat is not None else self.repeat
        before = rss_mb()
        reset_peak_rss()
        seconds = []
        result: T
        enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(max(runs, 1)):
                start = time.perf_counter()
                result = function()
                seconds.append(time.perf_counter() - start)
        finally:
            if enabled:
                gc.enable()
        peak = peak_rss_mb()
        self.timings.append(
            Timing(who, name, seconds, items, extrapolate_to, peak, max(peak - before, 0.0), note)
        )
        return result

    def record(
        self,
        name: str,
        seconds: list[float],
        *,
        items: int | None = None,
        who: str = OURS,
        note: str = "",
    ) -> None:
        """Record a phase measured elsewhere (e.g. in a subprocess)."""
        self.timings.append(Timing(who, name, seconds, items, None, None, None, note))

    def timing(self, phase: str, who: str = OURS) -> Timing:
        """The last timing recorded for ``(who, phase)``."""
        for t in reversed(self.timings):
            if (t.who, t.phase) == (who, phase):
                return t
        raise KeyError(f"no timing for {who} {phase}")

    def metric(self, name: str, value: float, unit: str) -> None:
        """A derived figure worth a line in the table (bonds per second...)."""
        self.metrics[name] = {"value": value, "unit": unit}

    def compare(
        self, label: str, ours: str | list[str], peer: str, peer_phase: str | list[str]
    ) -> float:
        """Speed-up of tanpo over ``peer``: the peer's seconds per item / ours (medians).

        ``ours`` and ``peer_phase`` may list several phases, summed (e.g. resolve +
        kernel against build + price).
        """
        ours_phases = [ours] if isinstance(ours, str) else ours
        peer_phases = [peer_phase] if isinstance(peer_phase, str) else peer_phase
        ours_t = [self.timing(p) for p in ours_phases]
        peer_t = [self.timing(p, peer) for p in peer_phases]

        def total(ts: list[Timing], statistic: str) -> float:
            return sum(t.per_item(statistic) or 0.0 for t in ts)

        ratio = total(peer_t, "median") / total(ours_t, "median")
        self.comparisons.append(
            {
                "label": label,
                "ours": ours_phases,
                "peer": peer,
                "peer_phases": peer_phases,
                "speedup_median": ratio,
                "speedup_min": total(peer_t, "min") / total(ours_t, "min"),
            }
        )
        return ratio

    def target(self, label: str, value: float, op: str, threshold: float, unit: str = "") -> None:
        """A target to meet (``op`` is ``>=`` or ``<=``); not judged under ``--quick``."""
        if op not in (">=", "<="):
            raise ValueError(f"op must be '>=' or '<=', got {op!r}")
        met = None if self.quick else (value >= threshold if op == ">=" else value <= threshold)
        self.targets.append(
            {
                "label": label,
                "value": value,
                "op": op,
                "threshold": threshold,
                "unit": unit,
                "met": met,
            }
        )
