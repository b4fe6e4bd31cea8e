"""Lower bounds on a plan's cost that take milliseconds: per obligation alone, and per
component as a small linear program over (obligation, ISIN).

Drop what ties obligations together (a position's face shared between them, the
movement budget), what makes one plan a sequence of moves (move costs, the ledger's
release rule, minimum transfers and pledges) and bucket caps. What is left for one
obligation ``o`` is a linear program over the collateral value ``c_j`` each of its
pairs brings::

    min  sum_j rho_j c_j + P s
    s.t. sum_j c_j + s >= R_o
         0 <= c_j <= v_j U_j                     (the pair's bound in whole lots)
         sum_{j in ISIN g} c_j <= cap_g          (the ISIN cap, in whole lots)
         sum_j c_j <= C_o                        (what max_isins ISINs can bring at most)

with ``rho_j`` the pair's opportunity cost per yen of collateral value, ``P`` the
shortfall penalty per yen and ``C_o`` the sum of the ``max_isins`` largest ISIN
reaches (a valid inequality: no plan covers more with that many ISINs). The
constraints are nested (pair in ISIN in obligation), so filling the cheapest pairs
first is optimal (a polymatroid; Edmonds 1970, "Submodular functions, matroids, and
certain polyhedra"), and every plan of the full problem costs at least the sum of the
obligations' bounds. :func:`optimizer.optimize.optimize_mip` starts every component's
bound from it, so a component whose MIP never reaches a bound in its time (a loaded
machine, a huge root) still has one, and the ``max_isins`` inequality is the bound
HiGHS's relaxation gets only after branching on the ISIN slots.

:func:`aggregate_bound` adds back what ties a pledgor's obligations together: one
column per (obligation, ISIN) (its accounts summed), the owner's face per ISIN shared
between them, bucket caps (on base value, as the contract caps a bucket), the same
``max_isins`` inequality; still no moves, lots or ledger rule. Some 35,000 columns
for 100 obligations over 20,000 positions, solved by HiGHS in ~0.1 s, where the
component's MIP can take longer than its time to finish its root (measured on the 300
x 20,000 benchmark book, move cost 0, a loaded machine: the two covered pledgors' MIP
bounds 0.88 million yen and none, this LP 2.02 and 1.60 million, their plans 2.62 and
1.89). Its value is taken from the duals by weak duality (any duals of the right signs
give a bound), not from HiGHS's objective, so solver tolerances cannot make it exceed
the true LP optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
from numba import njit

from optimizer.candidates import rank_pairs
from optimizer.costmodel import (
    CAP_TOLERANCE,
    NO_LIMIT,
    CostModel,
    FloatArray,
    IntArray,
    whole_lots,
)
from optimizer.subproblem import quiet_highs

VALUE_UNIT = 1e6
"""The LP's values in million yen, its costs in thousand yen (as the model's)."""
COST_UNIT = 1e3


@njit(cache=True)
def fill_cheapest(  # noqa: PLR0917 - numba kernels take flat arrays positionally
    starts: IntArray,
    order: IntArray,
    reach: FloatArray,
    rho: FloatArray,
    pair_group: IntArray,
    group_room: FloatArray,
    target: FloatArray,
    required: FloatArray,
    penalty: float,
) -> FloatArray:
    """Per obligation ``o`` (pairs ``order[starts[o]:starts[o + 1]]``, cheapest first):
    the cost of covering ``target[o]`` from the cheapest pairs, each up to ``reach``
    (yen) and its group's ``group_room``, while a yen costs less than ``penalty``;
    plus ``penalty`` per yen of ``required[o]`` left uncovered."""
    n = starts.size - 1
    out = np.zeros(n)
    room = group_room.copy()
    for o in range(n):
        covered = 0.0
        cost = 0.0
        for k in range(starts[o], starts[o + 1]):
            if covered >= target[o]:
                break
            j = order[k]
            if rho[j] >= penalty:
                break
            g = pair_group[j]
            take = min(reach[j], room[g], target[o] - covered)
            if take <= 0.0:
                continue
            room[g] -= take
            covered += take
            cost += take * rho[j]
        out[o] = cost + penalty * max(required[o] - covered, 0.0)
    return out


@dataclass(frozen=True, slots=True)
class Reaches:
    """Per pair the most value (yen) it can bring (its bound in whole lots, or today's
    lots where they are above it); per (obligation, ISIN) group its cap in whole lots
    (``room``) and the most it can bring (``most``); per obligation the most cover any
    plan can reach within ``max_isins`` (the requirement where that is more)."""

    pair: FloatArray
    room: FloatArray
    most: FloatArray
    target: FloatArray


def reaches(cm: CostModel) -> Reaches:
    """:class:`Reaches` of ``cm``."""
    value = np.where(cm.value_per_lot > 0, cm.value_per_lot, 0.0)
    reach = value * np.maximum(np.maximum(cm.max_lots, cm.current_lots), 0)
    lot_value = np.zeros(cm.group_cap.size)
    lot_value[cm.pair_group] = value  # one value per lot per (obligation, ISIN)
    room = whole_lots(cm.group_cap, lot_value)
    most = np.minimum(np.bincount(cm.pair_group, weights=reach, minlength=room.size), room)
    target = cm.required_value.astype(np.float64).copy()
    # Groups are numbered by (obligation, ISIN), so an obligation's are one slice.
    edges = np.searchsorted(cm.group_obligation, np.arange(cm.required_value.size + 1))
    for o in np.flatnonzero(cm.max_isins != NO_LIMIT).tolist():
        per_isin = np.sort(most[edges[o] : edges[o + 1]])[::-1]
        target[o] = min(target[o], float(per_isin[: int(cm.max_isins[o])].sum()))
    return Reaches(reach, room, most, target)


def obligation_bounds(cm: CostModel, r: Reaches | None = None) -> FloatArray:
    """Per obligation, a lower bound on its cost (yen) in any plan: see the module
    docstring. Their sum over any set of obligations bounds those obligations' cost."""
    starts = cm.obligation_slices()
    r = r or reaches(cm)
    face = cm.position_face[cm.pair_position].astype(np.float64)
    order = rank_pairs(starts, cm.cost_per_value, face)
    penalty = float(cm.problem.costs.shortfall_penalty_per_yen)
    bounds: FloatArray = fill_cheapest(
        starts, order, r.pair, cm.cost_per_value, cm.pair_group, r.room, r.target,
        cm.required_value.astype(np.float64), penalty,
    )  # fmt: skip
    return bounds


def aggregate_bound(cm: CostModel, obligations: IntArray, r: Reaches | None = None) -> float | None:
    """A lower bound (yen) on the cost of ``obligations`` (a component: every obligation
    of its pledgors) in any plan, from the aggregated LP of the module docstring;
    ``None`` when HiGHS returns no duals."""
    r = r or reaches(cm)
    most, target = r.most, r.target
    obligations = np.asarray(obligations, dtype=np.int64)
    in_scope = np.isin(cm.pair_obligation, obligations) & (cm.value_per_lot > 0)
    groups, inverse = np.unique(cm.pair_group[in_scope], return_inverse=True)
    rho = np.full(groups.size, np.inf)
    np.minimum.at(rho, inverse, cm.cost_per_value[in_scope])  # its cheapest account
    lot_value = np.zeros(groups.size)
    lot_value[inverse] = cm.value_per_lot[in_scope]
    keep = most[groups] > 0
    groups, rho, lot_value = groups[keep], rho[keep], lot_value[keep]
    group_o = cm.group_obligation[groups]
    n_g, n_o = groups.size, obligations.size
    slot = np.full(cm.required_value.size, -1, dtype=np.int64)
    slot[obligations] = np.arange(n_o)
    penalty = float(cm.problem.costs.shortfall_penalty_per_yen)
    scale = VALUE_UNIT / COST_UNIT
    cost = np.concatenate([rho * scale, np.full(n_o, penalty * scale)])
    lower = np.zeros(n_g + n_o)
    upper = np.concatenate([most[groups], cm.required_value[obligations]]) / VALUE_UNIT
    required = cm.required_value[obligations] / VALUE_UNIT

    # Rows as (row, column, coefficient) triplets and their ranges.
    inf = highspy.kHighsInf
    r_index: list[IntArray] = []
    c_index: list[IntArray] = []
    coef: list[FloatArray] = []
    row_low: list[float] = []
    row_high: list[float] = []

    def add_rows(row_of: IntArray, cols: IntArray, values: FloatArray, low: FloatArray,
                 high: FloatArray) -> None:  # fmt: skip
        start = len(row_low)
        r_index.append(row_of + start)
        c_index.append(cols)
        coef.append(values)
        row_low.extend(low.tolist())
        row_high.extend(high.tolist())

    # Cover: its ISINs plus its shortfall reach the requirement.
    add_rows(
        np.concatenate([slot[group_o], np.arange(n_o)]),
        np.concatenate([np.arange(n_g), n_g + np.arange(n_o)]),
        np.ones(n_g + n_o), required, np.full(n_o, inf),
    )  # fmt: skip
    # max_isins: no more than its best ISINs can bring.
    capped = (cm.max_isins[obligations] != NO_LIMIT) & (
        target[obligations] < cm.required_value[obligations]
    )
    if capped.any():
        row = np.cumsum(capped) - 1
        member = capped[slot[group_o]]
        add_rows(
            row[slot[group_o][member]], np.flatnonzero(member), np.ones(int(member.sum())),
            np.full(int(capped.sum()), -inf), target[obligations][capped] / VALUE_UNIT,
        )  # fmt: skip
    # Each owner's face in an ISIN, shared by its obligations (face per yen of value).
    n_sec = len(cm.problem.securities)
    owner_isin = cm.pledgor[group_o] * n_sec + cm.group_isin[groups]
    keys, row = np.unique(owner_isin, return_inverse=True)
    face = np.bincount(
        cm.position_owner * n_sec + cm.position_isin,
        weights=cm.position_face.astype(np.float64),
        minlength=int(cm.position_owner.max(initial=0) + 1) * n_sec,
    )
    add_rows(
        row, np.arange(n_g), cm.lot_face[group_o] / lot_value, np.full(keys.size, -inf),
        face[keys] / VALUE_UNIT,
    )  # fmt: skip
    # Bucket caps: a group is in a bucket row when its pairs are, with its base value
    # per unit of (worst-case) value: 1 unstressed; under stress the ISIN's one factor's
    # inverse, the least over its pairs (a smaller coefficient only relaxes the row).
    if cm.bucket_pair.size:
        column = np.full(cm.group_cap.size, -1, dtype=np.int64)
        column[groups] = np.arange(n_g)
        worst = cm.value_per_lot[cm.bucket_pair]
        ratio = np.where(worst > 0, cm.bucket_value / np.where(worst > 0, worst, 1.0), 1.0)
        edge, inverse = np.unique(
            cm.bucket_row * cm.group_cap.size + cm.pair_group[cm.bucket_pair], return_inverse=True
        )
        per_edge = np.full(edge.size, np.inf)
        np.minimum.at(per_edge, inverse, ratio)
        b_row, b_group = edge // cm.group_cap.size, edge % cm.group_cap.size
        ok = column[b_group] >= 0
        b_row, b_group, per_edge = b_row[ok], b_group[ok], per_edge[ok]
        if b_row.size:
            used, b_row = np.unique(b_row, return_inverse=True)
            add_rows(
                b_row, column[b_group], per_edge, np.full(used.size, -inf),
                cm.row_cap[used] / VALUE_UNIT,
            )  # fmt: skip
        add_pledge_count_rows(cm, obligations, column, r, add_rows)

    rows, cols, values = np.concatenate(r_index), np.concatenate(c_index), np.concatenate(coef)
    low, high = np.array(row_low), np.array(row_high)
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(low.size))
    h = quiet_highs()
    h.addVars(n_g + n_o, lower, upper)
    h.changeColsCost(n_g + n_o, np.arange(n_g + n_o, dtype=np.int32), cost)
    h.addRows(low.size, low, high, values.size, starts.astype(np.int32),
              cols[order].astype(np.int32), values[order])  # fmt: skip
    h.run()
    solution = h.getSolution()
    if not solution.dual_valid:
        return None
    y = np.asarray(solution.row_dual)
    # Weak duality: any y of the right signs bounds the LP (so the problem) from below.
    y = np.where(np.isfinite(low), np.maximum(y, 0.0), 0.0) + np.where(
        np.isfinite(high), np.minimum(y, 0.0), 0.0
    )
    reduced = cost - np.bincount(cols, weights=values * y[rows], minlength=n_g + n_o)
    bound = float(
        np.where(
            y > 0,
            y * np.where(np.isfinite(low), low, 0.0),
            y * np.where(np.isfinite(high), high, 0.0),
        ).sum()
    )
    bound += float(np.where(reduced >= 0, reduced * lower, reduced * upper).sum())
    return bound * COST_UNIT


def add_pledge_count_rows(
    cm: CostModel,
    obligations: IntArray,
    column: IntArray,
    r: Reaches,
    add_rows: Callable[[IntArray, IntArray, FloatArray, FloatArray, FloatArray], None],
) -> None:
    """Bucket caps counted in pledges: a valid inequality the LP's fractions miss.

    A pledge holds at least its minimum pledge (:meth:`CostModel.pair_min_pledge`, one
    lot at least), so a bucket row of cap ``B`` (base value) takes at most ``k =
    floor(B / m)`` pledges, ``m`` the least base value of a minimum pledge among its
    pairs, and they bring at most the ``k`` largest pair reaches (worst-case value, each
    within its ISIN's whole-lot cap)::

        sum_{g in bucket} c_g <= sum of the k largest reaches of the bucket's pairs

    Added where it cuts (``k`` below the bucket's usable pairs). Found on the 1,000
    x 20,000 benchmark book: UMR obligations whose ISIN cap (40% of ~1 bn) is below a
    minimum pledge (10 lots) of ordinary bonds, so only long, low-priced bonds fit and
    the >10-year bucket (60%) takes one such pledge: 399 million of cover where the
    relaxation filled the bucket with fractions of two (603 million).
    """
    pairs, row_of = cm.bucket_pair, cm.bucket_row
    least_lots = np.maximum(cm.pair_min_pledge()[pairs], 1)
    high = np.maximum(cm.max_lots[pairs], cm.current_lots[pairs])
    usable = (
        (high >= least_lots)
        & (cm.value_per_lot[pairs] > 0)
        & (cm.bucket_value > 0)
        & np.isin(cm.pair_obligation[pairs], obligations)
        & (column[cm.pair_group[pairs]] >= 0)
    )
    if not usable.any():
        return
    pairs, row_of, least_lots, high = (
        pairs[usable],
        row_of[usable],
        least_lots[usable],
        high[usable],
    )
    least = least_lots * cm.bucket_value[usable]
    reach = np.minimum(cm.value_per_lot[pairs] * high, r.most[cm.pair_group[pairs]])
    rows, inverse = np.unique(row_of, return_inverse=True)
    smallest = np.full(rows.size, np.inf)
    np.minimum.at(smallest, inverse, least)
    fits = np.floor(cm.row_cap[rows] * (1 + 2 * CAP_TOLERANCE) / smallest)
    count = np.bincount(inverse, minlength=rows.size)
    # Rank each pair within its row by reach, largest first; keep the first ``fits``.
    order = np.lexsort((-reach, inverse))
    first = np.searchsorted(inverse[order], np.arange(rows.size))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size) - first[inverse[order]]
    top = np.bincount(inverse, weights=np.where(rank < fits[inverse], reach, 0.0),
                      minlength=rows.size)  # fmt: skip
    cuts = np.flatnonzero(fits < count)
    if not cuts.size:
        return
    # One row per cut bucket over its groups (the columns of its usable pairs' groups).
    slot = np.full(rows.size, -1, dtype=np.int64)
    slot[cuts] = np.arange(cuts.size)
    member = slot[inverse] >= 0
    edge = np.unique(slot[inverse[member]] * cm.group_cap.size + cm.pair_group[pairs[member]])
    cut_row, group = edge // cm.group_cap.size, edge % cm.group_cap.size
    add_rows(
        cut_row, column[group], np.ones(edge.size), np.full(cuts.size, -highspy.kHighsInf),
        top[cuts] / VALUE_UNIT,
    )  # fmt: skip


def component_bounds(cm: CostModel, parts: list[IntArray]) -> list[float]:
    """Per component (a set of obligations, all of its pledgors'), the better of its
    obligations' bounds alone and its aggregated LP bound (yen)."""
    r = reaches(cm)
    alone = obligation_bounds(cm, r)
    out = []
    for group in parts:
        aggregated = aggregate_bound(cm, group, r)
        out.append(max(float(alone[group].sum()), -math.inf if aggregated is None else aggregated))
    return out
