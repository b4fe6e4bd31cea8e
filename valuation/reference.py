"""Plain-Python twins of the numba kernels in :mod:`valuation.kernels`.

Each function computes what its kernel computes, the obvious way: one bond, one cash
flow, one ``math.exp`` at a time. The pricing twins take the explicit per-bond rows
(:meth:`valuation.cashflows.CashFlowTable.rows`) and shift the curve's nodes before
interpolating, where the kernels factor each bond through its schedule and add an
interpolated shift; so they check the factoring too. ``tests/valuation/test_kernels.py``
holds every kernel to its twin. Slow by design; never call these on a book.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def zero_rate(t: float, node_times: Sequence[float], node_rates: Sequence[float]) -> float:
    """Linear interpolation of the rate in time, flat outside the nodes."""
    if len(node_times) == 1 or t <= node_times[0]:
        return float(node_rates[0])
    if t >= node_times[-1]:
        return float(node_rates[-1])
    j = bisect.bisect_right(node_times, t) - 1
    t0, t1 = node_times[j], node_times[j + 1]
    r0, r1 = node_rates[j], node_rates[j + 1]
    return float(r0 + (t - t0) * (r1 - r0) / (t1 - t0))


def discount_factor(t: float, node_times: Sequence[float], node_rates: Sequence[float]) -> float:
    """:math:`e^{-r(t) t}`."""
    return math.exp(-zero_rate(t, node_times, node_rates) * t)


def _bond_value(
    b: int, bond_start: IntArray, date_index: IntArray, amount: FloatArray, value_at: list[float]
) -> float:
    return sum(
        float(amount[r]) * value_at[int(date_index[r])]
        for r in range(int(bond_start[b]), int(bond_start[b + 1]))
    )


def dirty_prices(
    bond_start: IntArray,
    date_index: IntArray,
    amount: FloatArray,
    *,
    times: FloatArray,
    node_times: FloatArray,
    node_rates: FloatArray,
) -> FloatArray:
    """Dirty price per 100 face of every bond: the sum of its discounted cash flows."""
    nodes, rates = node_times.tolist(), node_rates.tolist()
    prices = []
    for b in range(len(bond_start) - 1):
        total = 0.0
        for r in range(int(bond_start[b]), int(bond_start[b + 1])):
            t = float(times[int(date_index[r])])
            total += float(amount[r]) * discount_factor(t, nodes, rates)
        prices.append(total)
    return np.array(prices, dtype=np.float64)


def scenario_dirty_prices(
    bond_start: IntArray,
    date_index: IntArray,
    amount: FloatArray,
    *,
    times: FloatArray,
    node_times: FloatArray,
    node_rates: FloatArray,
    node_shifts: FloatArray,
) -> FloatArray:
    """``(n_scenarios, n_bonds)`` dirty prices, each scenario a curve with shifted nodes."""
    rows = [
        dirty_prices(
            bond_start,
            date_index,
            amount,
            times=times,
            node_times=node_times,
            node_rates=node_rates + shift,
        )
        for shift in node_shifts
    ]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(bond_start) - 1)


def parallel_sensitivity(
    bond_start: IntArray,
    date_index: IntArray,
    amount: FloatArray,
    *,
    times: FloatArray,
    node_times: FloatArray,
    node_rates: FloatArray,
) -> FloatArray:
    """:math:`-\\partial P / \\partial r = \\sum_i a_i t_i DF(t_i)` for a parallel shift."""
    nodes, rates = node_times.tolist(), node_rates.tolist()
    tdf = [float(t) * discount_factor(float(t), nodes, rates) for t in times]
    return np.array(
        [_bond_value(b, bond_start, date_index, amount, tdf) for b in range(len(bond_start) - 1)],
        dtype=np.float64,
    )


def node_weight(t: float, node_times: Sequence[float], k: int) -> float:
    """How much a unit move of node ``k`` moves the interpolated rate at ``t``."""
    moved = [1.0 if i == k else 0.0 for i in range(len(node_times))]
    return zero_rate(t, node_times, moved)


def key_rate_sensitivities(
    bond_start: IntArray,
    date_index: IntArray,
    amount: FloatArray,
    *,
    times: FloatArray,
    node_times: FloatArray,
    node_rates: FloatArray,
) -> FloatArray:
    """``(n_nodes, n_bonds)``: :math:`-\\partial P / \\partial r_k` for each node ``k``."""
    nodes, rates = node_times.tolist(), node_rates.tolist()
    out = np.empty((len(nodes), len(bond_start) - 1))
    for k in range(len(nodes)):
        weighted = [
            node_weight(float(t), nodes, k) * float(t) * discount_factor(float(t), nodes, rates)
            for t in times
        ]
        for b in range(len(bond_start) - 1):
            out[k, b] = _bond_value(b, bond_start, date_index, amount, weighted)
    return out


def schedule_sums(
    schedule_start: IntArray, schedule_date_index: IntArray, factors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per schedule: the column sums of ``factors`` over its dates, and its last date's row."""
    annuity, final = [], []
    for g in range(len(schedule_start) - 1):
        dates = [int(j) for j in schedule_date_index[schedule_start[g] : schedule_start[g + 1]]]
        annuity.append([sum(float(factors[j, c]) for j in dates) for c in range(factors.shape[1])])
        final.append([float(v) for v in factors[dates[-1]]])
    shape = (len(schedule_start) - 1, factors.shape[1])
    return np.array(annuity).reshape(shape), np.array(final).reshape(shape)


def bond_values(
    schedule_of: IntArray,
    coupon: FloatArray,
    principal: FloatArray,
    annuity: FloatArray,
    final: FloatArray,
) -> FloatArray:
    """``(n_bonds, n_columns)``: coupon x annuity + principal x final of the bond's schedule."""
    out = np.empty((len(schedule_of), annuity.shape[1]))
    for b, g in enumerate(schedule_of.tolist()):
        for c in range(annuity.shape[1]):
            out[b, c] = float(coupon[b]) * annuity[g, c] + float(principal[b]) * final[g, c]
    return out
