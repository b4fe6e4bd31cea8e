"""Named grids of zero-curve shocks for scenario revaluation.

A :class:`ScenarioGrid` is an array ``(n_scenarios, n_tenors)`` of zero-rate shifts
(decimals: 0.0001 = 1bp) at given tenors, with one label per scenario. Applied to a
:class:`~valuation.curve.ZeroCurve`, each row is sampled at the curve's nodes (linear in
tenor, flat outside: :meth:`ScenarioGrid.node_shifts`) and added to the node rates, so a
scenario is again a curve of the same shape, and a whole book is revalued under every
scenario in one kernel call (:func:`valuation.pricing.scenario_prices`).

Builders: :func:`parallel_grid` (e.g. -200..+200bp), :func:`twist_grid` (steepeners
and flatteners pivoting around a tenor), :func:`key_rate_grid` (one node bumped at a
time: Ho's key-rate shifts, triangular between neighbouring tenors) and
:func:`irrbb_grid` (the six BCBS standardised interest-rate shock scenarios). Grids on
the same tenors concatenate with :meth:`ScenarioGrid.concat`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from valuation.curve import ZeroCurve

FloatArray = npt.NDArray[np.float64]
BP = 1e-4
"""One basis point as a decimal rate."""


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioGrid:
    """Zero-rate shifts per scenario at a set of tenors.

    Parameters
    ----------
    labels
        One unique label per scenario (``"parallel +25bp"``).
    tenors
        Tenors in years at which the shifts are given, ascending strictly.
    shifts
        ``(n_scenarios, n_tenors)`` shifts as decimals; read-only after construction.
    """

    labels: tuple[str, ...]
    tenors: tuple[float, ...]
    shifts: FloatArray

    def __post_init__(self) -> None:
        shifts = np.array(self.shifts, dtype=np.float64, copy=True)
        tenors = tuple(float(t) for t in self.tenors)
        if shifts.ndim != 2 or shifts.shape != (len(self.labels), len(tenors)):
            raise ValueError(
                f"shifts must be (n_labels={len(self.labels)}, n_tenors={len(tenors)}), "
                f"got {shifts.shape}"
            )
        if not tenors or any(b <= a for a, b in itertools.pairwise(tenors)):
            raise ValueError(f"tenors must be non-empty and ascend strictly: {tenors}")
        if not np.isfinite(shifts).all():
            raise ValueError("shifts must be finite")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("scenario labels must be unique")
        shifts.flags.writeable = False
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "tenors", tenors)
        object.__setattr__(self, "shifts", shifts)

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios (rows)."""
        return len(self.labels)

    def node_shifts(self, curve: ZeroCurve) -> FloatArray:
        """``(n_scenarios, curve.n_nodes)``: each scenario sampled at the curve's nodes."""
        if self.tenors == curve.tenors:
            return np.ascontiguousarray(self.shifts)
        grid_t = np.array(self.tenors)
        return np.ascontiguousarray(
            [np.interp(curve.node_times, grid_t, row) for row in self.shifts], dtype=np.float64
        ).reshape(self.n_scenarios, curve.n_nodes)

    def concat(self, *others: ScenarioGrid) -> ScenarioGrid:
        """This grid's scenarios followed by ``others``' (all on the same tenors)."""
        for other in others:
            if other.tenors != self.tenors:
                raise ValueError("grids to concatenate must share their tenors")
        grids = (self, *others)
        return ScenarioGrid(
            tuple(label for g in grids for label in g.labels),
            self.tenors,
            np.vstack([g.shifts for g in grids]),
        )


def _tenors(tenors: Sequence[float] | ZeroCurve) -> tuple[float, ...]:
    return tenors.tenors if isinstance(tenors, ZeroCurve) else tuple(float(t) for t in tenors)


def _bp(value: float) -> str:
    return f"{value:+g}bp"


def _years(t: float) -> str:
    return f"{t:g}Y"


def parallel_grid(
    tenors: Sequence[float] | ZeroCurve, shifts_bp: Iterable[float] = range(-200, 201, 25)
) -> ScenarioGrid:
    """Every tenor moved by the same amount, one scenario per entry of ``shifts_bp``.

    The default is -200bp..+200bp in 25bp steps (17 scenarios, 0 included).
    """
    grid_t = _tenors(tenors)
    sizes = [float(s) for s in shifts_bp]
    shifts = np.outer(np.array(sizes) * BP, np.ones(len(grid_t)))
    return ScenarioGrid(tuple(f"parallel {_bp(s)}" for s in sizes), grid_t, shifts)


def twist_grid(
    tenors: Sequence[float] | ZeroCurve,
    pivot_years: float = 10.0,
    sizes_bp: Iterable[float] = (-100.0, -50.0, -25.0, 25.0, 50.0, 100.0),
) -> ScenarioGrid:
    """Steepeners (size > 0) and flatteners (size < 0) pivoting around ``pivot_years``.

    A twist of size :math:`s` shifts the rate at tenor :math:`t` by
    :math:`s (t - t_p)/(t_n - t_1)`: zero at the pivot, linear in tenor, and the spread
    between the longest and shortest tenor moves by exactly :math:`s`.
    """
    grid_t = _tenors(tenors)
    span = grid_t[-1] - grid_t[0]
    if span <= 0.0:
        raise ValueError("a twist needs at least two tenors")
    slope = (np.array(grid_t) - pivot_years) / span
    sizes = [float(s) for s in sizes_bp]
    labels = tuple(
        f"{'steepener' if s > 0 else 'flattener'} {abs(s):g}bp pivot {_years(pivot_years)}"
        for s in sizes
    )
    return ScenarioGrid(labels, grid_t, np.outer(np.array(sizes) * BP, slope))


def key_rate_grid(tenors: Sequence[float] | ZeroCurve, bump_bp: float = 1.0) -> ScenarioGrid:
    """One scenario per tenor: that tenor's rate bumped by ``bump_bp``, the others still.

    On a curve whose nodes are these tenors, the shift is triangular between the
    neighbouring tenors (Ho 1992, "Key rate durations"), and the rows sum to a parallel
    shift of ``bump_bp``.
    """
    grid_t = _tenors(tenors)
    labels = tuple(f"key rate {_years(t)} {_bp(bump_bp)}" for t in grid_t)
    return ScenarioGrid(labels, grid_t, np.eye(len(grid_t)) * bump_bp * BP)


IRRBB_DECAY_YEARS = 4.0
"""Decay parameter x of the BCBS short-rate shock shape exp(-t/x) (IRRBB, d368, Annex 2)."""


def irrbb_grid(
    tenors: Sequence[float] | ZeroCurve,
    parallel_bp: float = 100.0,
    short_bp: float = 100.0,
    long_bp: float = 100.0,
) -> ScenarioGrid:
    """The six BCBS standardised interest-rate shock scenarios.

    With :math:`S(t) = R_{short} e^{-t/4}` and :math:`L(t) = R_{long}(1 - e^{-t/4})`:
    parallel up/down :math:`\\pm R_{parallel}`; steepener :math:`-0.65 S + 0.9 L`;
    flattener :math:`0.8 S - 0.6 L`; short up/down :math:`\\pm S`. The defaults are the
    JPY shock sizes (100/100/100bp). Source: BCBS, *Interest rate risk in the banking
    book* (d368, April 2016), Annex 2.
    """
    grid_t = np.array(_tenors(tenors))
    short = short_bp * BP * np.exp(-grid_t / IRRBB_DECAY_YEARS)
    long = long_bp * BP * (1.0 - np.exp(-grid_t / IRRBB_DECAY_YEARS))
    flat = np.full_like(grid_t, parallel_bp * BP)
    rows = {
        "IRRBB parallel up": flat,
        "IRRBB parallel down": -flat,
        "IRRBB steepener": -0.65 * short + 0.9 * long,
        "IRRBB flattener": 0.8 * short - 0.6 * long,
        "IRRBB short up": short,
        "IRRBB short down": -short,
    }
    return ScenarioGrid(tuple(rows), tuple(grid_t.tolist()), np.vstack(list(rows.values())))
