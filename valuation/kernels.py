"""Numba kernels: price a resolved cash-flow table from a zero curve.

Every kernel is a pure ``@njit(cache=True)`` function over contiguous ``float64`` /
``int64`` arrays (no dates, no objects; ``fastmath`` off so results match the
plain-Python twins in :mod:`valuation.reference` to rounding). Inputs are validated
by the caller (:mod:`valuation.pricing`).

The work is split the way JGB cash flows fall (:mod:`valuation.cashflows`):

1. **discount once per unique payment date**: interpolate the zero rate at each date's
   time and take one ``exp`` (a few hundred dates for any book), optionally for a whole
   grid of curve scenarios at once (``(n_dates, n_scenarios)``, scenario-contiguous);
2. **sum once per schedule**: the annuity (sum of the discount factors over the
   schedule's dates) and the last date's factor (:func:`schedule_sums`);
3. **two multiply-adds per bond**: ``coupon x annuity + principal x final``
   (:func:`bond_values`).

No kernel runs in parallel, on measurement (2 cores, shared): with ``prange`` over
bonds, one column of 100,000 bonds took 0.1 ms instead of 0.2 ms when the other core was
idle, but 4-16 ms whenever it was busy (the OpenMP region waits for its worker thread to
be scheduled); at 100 scenarios the kernel is bound by writing its 80 MB result (5 ms
either way); and parallel kernels take longer to compile and to load from cache.

Sensitivities reuse steps 2-3: the derivative of a discount factor with respect to a
node rate is :math:`-w_k(t)\\, t\\, DF(t)` (:math:`w_k` the node's interpolation weight),
so feeding ``t * DF`` in place of ``DF`` gives the parallel DV01 and feeding the
``(n_dates, n_nodes)`` matrix ``w_k(t) t DF(t)`` gives every key-rate DV01.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@njit(cache=True)
def locate(t: float, node_times: FloatArray) -> tuple[int, int, float]:
    """Bracket ``t`` among the nodes: ``(left, right, weight)``, rate = left + weight*(right-left).

    Flat extrapolation: before the first node ``(0, 0, 0)``, from the last on
    ``(n-1, n-1, 0)``. Inside, ``node_times[left] <= t < node_times[right]``.
    """
    n = node_times.shape[0]
    if n == 1 or t <= node_times[0]:
        return 0, 0, 0.0
    if t >= node_times[n - 1]:
        return n - 1, n - 1, 0.0
    j = int(np.searchsorted(node_times, t, side="right")) - 1
    w = (t - node_times[j]) / (node_times[j + 1] - node_times[j])
    return j, j + 1, float(w)


@njit(cache=True)
def _rate(t: float, node_times: FloatArray, node_rates: FloatArray) -> float:
    n = node_times.shape[0]
    if n == 1 or t <= node_times[0]:
        return float(node_rates[0])
    if t >= node_times[n - 1]:
        return float(node_rates[n - 1])
    j = int(np.searchsorted(node_times, t, side="right")) - 1
    slope = (node_rates[j + 1] - node_rates[j]) / (node_times[j + 1] - node_times[j])
    return float(node_rates[j] + (t - node_times[j]) * slope)


@njit(cache=True)
def zero_rates(times: FloatArray, node_times: FloatArray, node_rates: FloatArray) -> FloatArray:
    """Zero rate at each time: linear in time between nodes, flat outside."""
    out = np.empty(times.shape[0])
    for d in range(times.shape[0]):
        out[d] = _rate(times[d], node_times, node_rates)
    return out


@njit(cache=True)
def discount_factors(
    times: FloatArray, node_times: FloatArray, node_rates: FloatArray
) -> FloatArray:
    """``exp(-r(t) t)`` at each time."""
    out = np.empty(times.shape[0])
    for d in range(times.shape[0]):
        t = times[d]
        out[d] = math.exp(-_rate(t, node_times, node_rates) * t)
    return out


@njit(cache=True)
def scenario_discount_factors(
    times: FloatArray, node_times: FloatArray, node_rates: FloatArray, node_shifts: FloatArray
) -> FloatArray:
    """Discount factors under each scenario, ``(n_dates, n_scenarios)``.

    Scenario ``s`` moves node ``k``'s rate by ``node_shifts[s, k]``; the shifted rate
    at ``t`` is the base rate plus the interpolated shift (both linear between the
    same nodes, so this equals interpolating the shifted nodes).
    """
    n_dates = times.shape[0]
    n_scenarios = node_shifts.shape[0]
    out = np.empty((n_dates, n_scenarios))
    for d in range(n_dates):
        t = times[d]
        base = _rate(t, node_times, node_rates)
        left, right, w = locate(t, node_times)
        for s in range(n_scenarios):
            lo = node_shifts[s, left]
            shift = lo + w * (node_shifts[s, right] - lo)
            out[d, s] = math.exp(-(base + shift) * t)
    return out


@njit(cache=True)
def schedule_sums(
    schedule_start: IntArray, schedule_date_index: IntArray, factors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per schedule and column: the sum of ``factors`` over its dates, and its last date's.

    ``factors`` is ``(n_dates, n_columns)`` (discount factors, one column per scenario,
    or sensitivity weights). Returns ``(annuity, final)``, both
    ``(n_schedules, n_columns)``. A book has a few hundred schedules: 0.08 ms for
    100 columns.
    """
    n_schedules = schedule_start.shape[0] - 1
    n_columns = factors.shape[1]
    annuity = np.zeros((n_schedules, n_columns))
    final = np.empty((n_schedules, n_columns))
    for g in range(n_schedules):
        total = annuity[g]
        for r in range(schedule_start[g], schedule_start[g + 1]):
            f = factors[schedule_date_index[r]]
            for c in range(n_columns):
                total[c] += f[c]
        last = factors[schedule_date_index[schedule_start[g + 1] - 1]]
        for c in range(n_columns):
            final[g, c] = last[c]
    return annuity, final


@njit(cache=True)
def bond_values(  # noqa: PLR0917  (numba kernels take flat arrays positionally)
    schedule_of: IntArray,
    coupon: FloatArray,
    principal: FloatArray,
    annuity: FloatArray,
    final: FloatArray,
    out: FloatArray,
) -> None:
    """``out[b, c] = coupon[b] * annuity[g, c] + principal[b] * final[g, c]``, g = b's schedule.

    ``out`` is ``(n_bonds, n_columns)``, written in place (bond-major: each bond's
    columns are contiguous, so the inner loop is one vectorisable pass). With discount
    factors this is the dirty price per 100 face under each column's curve.
    """
    for b in range(schedule_of.shape[0]):
        g = schedule_of[b]
        c_b = coupon[b]
        p_b = principal[b]
        a = annuity[g]
        f = final[g]
        row = out[b]
        for c in range(row.shape[0]):
            row[c] = c_b * a[c] + p_b * f[c]


@njit(cache=True)
def time_weighted_discount(
    times: FloatArray, node_times: FloatArray, node_rates: FloatArray
) -> FloatArray:
    """``t * DF(t)`` at each time: priced as factors, the price change per unit parallel shift."""
    out = np.empty(times.shape[0])
    for d in range(times.shape[0]):
        t = times[d]
        out[d] = t * math.exp(-_rate(t, node_times, node_rates) * t)
    return out


@njit(cache=True)
def key_rate_weights(
    times: FloatArray, node_times: FloatArray, node_rates: FloatArray
) -> FloatArray:
    """``w_k(t) t DF(t)``, ``(n_dates, n_nodes)``: each node's share of ``t DF(t)``.

    ``w_k`` is node ``k``'s linear-interpolation weight at ``t`` (1 at its node, falling
    to 0 at the neighbours; 1 for the end node over its flat extrapolation), so the
    weights of a date sum to 1 and the key rates sum to the parallel sensitivity.
    """
    n_dates = times.shape[0]
    out = np.zeros((n_dates, node_times.shape[0]))
    for d in range(n_dates):
        t = times[d]
        tdf = t * math.exp(-_rate(t, node_times, node_rates) * t)
        left, right, w = locate(t, node_times)
        out[d, left] += (1.0 - w) * tdf
        out[d, right] += w * tdf
    return out
