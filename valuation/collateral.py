"""Haircuts and collateral values of many bonds under one schedule, as flat arrays.

.. math::

    \\text{collateral value} = \\frac{\\text{dirty}}{100} \\times \\text{face}
        \\times \\text{index ratio} \\times (1 - h)

(DOMAIN.md section 4; the index ratio is the JGBi indexation coefficient, 1 for other
kinds). :func:`haircuts` resolves the schedule's Python-side tables (ISIN overrides,
exclusions) into arrays and runs the ``@njit`` kernel :func:`haircut_kernel`;
:func:`haircuts_reference` is its plain-Python twin built on
:meth:`HaircutSchedule.is_eligible` / :meth:`HaircutSchedule.haircut`, and a test holds
the two together. An ineligible bond's haircut is NaN and its collateral value 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numba import njit

from valuation.errors import InputError
from valuation.haircuts import HaircutBucket, HaircutSchedule, residual_years
from valuation.jgb import BondKind

N_KINDS = len(BondKind)
"""Rows of the per-kind bucket tables (indexed by :attr:`BondKind.code`)."""


@dataclass(frozen=True, slots=True)
class ScheduleArrays:
    """A :class:`HaircutSchedule`'s bucket tables as arrays the kernel takes.

    ``bounds[k, j]`` is the upper residual-years edge of bucket ``j`` for kind code
    ``k`` (``inf`` for no bound, ``nan`` past the last bucket); ``table[k, j]`` its
    haircut. ``eligible_kind[k]`` says whether kind ``k`` is accepted.
    """

    bounds: np.ndarray
    table: np.ndarray
    eligible_kind: np.ndarray
    min_residual_years: float
    max_residual_years: float


def schedule_arrays(schedule: HaircutSchedule) -> ScheduleArrays:
    """Flatten ``schedule``'s default and per-kind bucket tables."""
    per_kind: list[tuple[HaircutBucket, ...]] = [
        tuple(schedule.kind_haircuts.get(kind, schedule.haircuts)) for kind in BondKind
    ]
    width = max(len(b) for b in per_kind)
    bounds = np.full((N_KINDS, width), np.nan)
    table = np.full((N_KINDS, width), np.nan)
    for kind, buckets in zip(BondKind, per_kind, strict=True):
        for j, bucket in enumerate(buckets):
            edge = bucket.max_residual_years
            bounds[kind.code, j] = np.inf if edge is None else edge
            table[kind.code, j] = bucket.haircut
    eligible = np.zeros(N_KINDS, dtype=np.bool_)
    for kind in schedule.eligible_kinds:
        eligible[kind.code] = True
    upper = schedule.max_residual_years
    return ScheduleArrays(
        bounds, table, eligible, schedule.min_residual_years, np.inf if upper is None else upper
    )


@njit(cache=True)
def haircut_kernel(  # noqa: PLR0917 - kernels take flat arrays positionally
    residual_years: np.ndarray,
    kind_codes: np.ndarray,
    override: np.ndarray,
    excluded: np.ndarray,
    eligible_kind: np.ndarray,
    min_years: float,
    max_years: float,
    bounds: np.ndarray,
    table: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; held to haircuts_reference by the tests
    """Haircut per bond into ``out`` (NaN where the schedule does not take the bond).

    Eligible: kind accepted, not excluded, ``0 < years``, ``min <= years <= max``, and
    an ISIN override (not NaN) or a bucket covering ``years``. Haircut: the override,
    else the first bucket of the bond's kind with ``years <= bound``.
    """
    n = residual_years.shape[0]
    width = bounds.shape[1]
    for i in range(n):
        years = residual_years[i]
        kind = kind_codes[i]
        out[i] = np.nan
        if not eligible_kind[kind] or excluded[i]:
            continue
        if years <= 0.0 or years < min_years or years > max_years:
            continue
        if not np.isnan(override[i]):
            out[i] = override[i]
            continue
        bucket = np.nan
        for j in range(width):
            edge = bounds[kind, j]
            if np.isnan(edge):
                break
            if years <= edge:
                bucket = table[kind, j]
                break
        out[i] = bucket


@njit(cache=True)
def collateral_value_kernel(
    dirty_prices: np.ndarray,
    face: np.ndarray,
    index_ratio: np.ndarray,
    haircut: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; held to its twin by the tests
    """Collateral value in yen per bond: dirty/100 x face x index ratio x (1 - haircut); 0
    where the haircut is NaN (ineligible)."""
    for i in range(dirty_prices.shape[0]):
        h = haircut[i]
        if np.isnan(h):
            out[i] = 0.0
        else:
            out[i] = dirty_prices[i] / 100.0 * face[i] * index_ratio[i] * (1.0 - h)


def residual_years_array(maturity_dates: Sequence[date], settlement_date: date) -> np.ndarray:
    """:func:`~valuation.haircuts.residual_years` of each bond, as float64."""
    return np.array([residual_years(d, settlement_date) for d in maturity_dates], dtype=np.float64)


def _as_array(values: Sequence[float] | np.ndarray, dtype: type, n: int, name: str) -> np.ndarray:
    array: np.ndarray = np.ascontiguousarray(values, dtype=dtype)
    if array.shape != (n,):
        raise InputError("bonds", name, f"has shape {array.shape}, expected ({n},)")
    return array


def haircuts(
    schedule: HaircutSchedule,
    isins: Sequence[str],
    kind_codes: Sequence[int] | np.ndarray,
    residual_years: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Haircut (decimal) of every bond under ``schedule``; NaN where it is ineligible.

    Parameters
    ----------
    isins
        One ISIN per bond (for the schedule's overrides and exclusions).
    kind_codes
        :attr:`BondKind.code` per bond.
    residual_years
        (maturity - settlement) days / 365 per bond (:func:`residual_years_array`).
    """
    n = len(isins)
    years = _as_array(residual_years, np.float64, n, "residual_years")
    kinds = _as_array(kind_codes, np.int64, n, "kind_codes")
    if n and (kinds.min() < 0 or kinds.max() >= N_KINDS):
        raise InputError("bonds", "kind_codes", f"must be in 0..{N_KINDS - 1}")
    if np.isnan(years).any():
        raise InputError("bonds", "residual_years", "holds NaN")
    override = np.array(
        [schedule.isin_haircuts.get(isin, math.nan) for isin in isins], dtype=np.float64
    )
    excluded = np.array([isin in schedule.excluded_isins for isin in isins], dtype=np.bool_)
    arrays = schedule_arrays(schedule)
    out = np.empty(n, dtype=np.float64)
    haircut_kernel(
        years,
        kinds,
        override,
        excluded,
        arrays.eligible_kind,
        arrays.min_residual_years,
        arrays.max_residual_years,
        arrays.bounds,
        arrays.table,
        out,
    )
    return out


def collateral_values(
    haircut: np.ndarray,
    dirty_prices: Sequence[float] | np.ndarray,
    face: Sequence[float] | np.ndarray,
    index_ratio: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Collateral value in yen of each position (0 where ``haircut`` is NaN).

    ``dirty_prices`` per 100 face, ``face`` in yen, ``index_ratio`` the JGBi indexation
    coefficient (``None``: 1 for every bond).
    """
    n = haircut.shape[0]
    dirty = _as_array(dirty_prices, np.float64, n, "dirty_prices")
    faces = _as_array(face, np.float64, n, "face")
    ratio = (
        np.ones(n, dtype=np.float64)
        if index_ratio is None
        else _as_array(index_ratio, np.float64, n, "index_ratio")
    )
    out = np.empty(n, dtype=np.float64)
    collateral_value_kernel(dirty, faces, ratio, np.ascontiguousarray(haircut, np.float64), out)
    return out


# ---------------------------------------------------------------- plain-Python twins


def haircuts_reference(
    schedule: HaircutSchedule,
    isins: Sequence[str],
    kinds: Sequence[BondKind],
    residual_years: Sequence[float],
) -> list[float]:
    """:func:`haircuts` one bond at a time through the schedule's own methods."""
    out: list[float] = []
    for isin, kind, years in zip(isins, kinds, residual_years, strict=True):
        if schedule.is_eligible(isin, kind, years):
            h = schedule.haircut(isin, kind, years)
            out.append(math.nan if h is None else h)
        else:
            out.append(math.nan)
    return out


def collateral_values_reference(
    haircut: Sequence[float],
    dirty_prices: Sequence[float],
    face: Sequence[float],
    index_ratio: Sequence[float],
) -> list[float]:
    """:func:`collateral_values` one position at a time."""
    return [
        0.0 if math.isnan(h) else p / 100.0 * f * r * (1.0 - h)
        for h, p, f, r in zip(haircut, dirty_prices, face, index_ratio, strict=True)
    ]
