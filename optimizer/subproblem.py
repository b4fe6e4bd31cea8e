"""One obligation's problem with every other obligation's allocation fixed.

Obligations interact only through the face of shared positions and the movement
budget. With everyone else's lots fixed, obligation ``o``'s best allocation is a small
exact MIP: its pairs' lots (integer, as the contract says), each bounded by its own cap
and by the face the others leave free; its cover, ISIN and bucket caps, ``max_isins``,
minimum pledge and transfer; the moves the budget leaves. Built straight into
``highspy`` from arrays (a few milliseconds; the Pyomo model is for the whole problem),
it is solved exactly in milliseconds and drives:

* fix-and-optimize (:func:`improve`): re-solve each obligation in turn, keep every
  improvement -- a local search on the real problem that polishes the waterfall's and
  the MIP's plans (lot rounding, pool realisation);
* the intraday fast path: a new margin call re-solves the obligation it hits.

The formulation is the model's (:mod:`optimizer.model`): kept lots free, added and
released lots behind move binaries.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time

import highspy
import numpy as np
import numpy.typing as npt

from optimizer import ledger_rule
from optimizer.costmodel import (
    CAP_TOLERANCE,
    NO_LIMIT,
    CostModel,
    FloatArray,
    IntArray,
    whole_lots,
)

VALUE_UNIT = 1e6
COST_UNIT = 1e3
INF = highspy.kHighsInf
MAX_BREADTH = 1000
"""Most pairs one obligation's sub-MIP considers (a very large margin call)."""
TIME_LIMIT = 0.15
"""Seconds per obligation's sub-MIP (most solve in ~20 ms; the tail is not worth it)."""
SHORT_TIME_LIMIT = 3.0
"""Seconds for an obligation left short: a shortfall penalty is at stake, and curing it
may take a reshuffle of its ISINs that HiGHS needs ~1 s to find."""


_BANNER = threading.Lock()
_banner_written = False


def silence_highs() -> None:
    """Make sure HiGHS's banner never reaches this process's stdout or stderr.

    HiGHS writes its banner ("Running HiGHS 1.16.0 ...") straight to file descriptor 1
    when the process constructs its first ``Highs`` instance, before any option can
    turn output off; ``tanpo optimize`` writes its plan JSON on stdout, so the banner
    would corrupt it. The first construction happens here with descriptors 1 and 2
    pointed at ``/dev/null`` (once per process; later instances print no banner and
    every instance of ours runs with ``output_flag`` off).
    """
    global _banner_written  # noqa: PLW0603 - once per process, behind a lock
    if _banner_written:
        return
    with _BANNER:
        if _banner_written:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        saved = [os.dup(1), os.dup(2)]
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            os.dup2(null, 2)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
            h.setOptionValue("output_flag", False)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, null):
                os.close(fd)
        _banner_written = True


def quiet_highs() -> highspy.Highs:
    """A ``Highs`` instance that writes nothing to stdout or stderr."""
    silence_highs()
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    return h


class _Lp:
    """Columns and COO rows of a small MIP, handed to HiGHS in one ``passModel``."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.values: list[float] = []

    def col(self, lower: float, upper: float, cost: float, integer: bool) -> int:
        self.lower.append(lower)
        self.upper.append(upper)
        self.cost.append(cost)
        self.integer.append(integer)
        return len(self.lower) - 1

    def row(self, lower: float, upper: float, cols: list[int], values: list[float]) -> None:
        r = len(self.row_lower)
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        self.rows.extend([r] * len(cols))
        self.cols.extend(cols)
        self.values.extend(values)

    def highs(self, offset: float) -> highspy.Highs:
        h = quiet_highs()
        h.setOptionValue("threads", 1)
        lp = highspy.HighsLp()
        n, m = len(self.lower), len(self.row_lower)
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array(self.row_lower)
        lp.row_upper_ = np.array(self.row_upper)
        cols = np.array(self.cols, dtype=np.int64)
        rows = np.array(self.rows, dtype=np.int64)
        order = np.lexsort((rows, cols))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(n + 1)).astype(np.int32)
        lp.a_matrix_.index_ = rows[order].astype(np.int32)
        lp.a_matrix_.value_ = np.array(self.values)[order]
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in self.integer
        ]
        lp.offset_ = offset
        h.passModel(lp)
        return h


def free_face(cm: CostModel, lots: IntArray) -> IntArray:
    """Face of each position not pledged in allocation ``lots``."""
    free = cm.position_face.copy()
    np.subtract.at(free, cm.pair_position, lots * cm.lot_face[cm.pair_obligation])
    return free


def solve_obligation(
    cm: CostModel,
    o: int,
    lots: IntArray,
    free: IntArray,
    moves_left: float,
    *,
    breadth: int = 40,
    time_limit: float = TIME_LIMIT,
    gap: float = 1e-6,
    rho: FloatArray | None = None,
) -> IntArray | None:
    """Obligation ``o``'s best lots given every other obligation's (in ``lots``).

    ``free`` is each position's face not pledged in ``lots``; ``moves_left`` the moves
    the budget leaves besides ``o``'s own. The pairs considered are ``o``'s pledged ones
    (now or in ``lots``) and the ``breadth`` cheapest per yen of collateral value with
    face left. Returns the new lots of ``o``'s pairs (aligned with its slice of the
    cost model), or ``None`` when HiGHS finds nothing in time.
    """
    starts = cm.obligation_slices()
    lo, hi = int(starts[o]), int(starts[o + 1])
    current = cm.current_lots[lo:hi]
    mine = lots[lo:hi]
    lot = int(cm.lot_face[o])
    value = cm.value_per_lot[lo:hi]
    # Face available to o on each pair: what is free plus what o itself holds there.
    avail = (free[cm.pair_position[lo:hi]] + mine * lot) // lot
    bound = np.minimum(cm.max_lots[lo:hi], avail)
    keep = (current > 0) | (mine > 0)
    open_ = ~keep & (bound > 0) & (value > 0)
    rho = (cm.cost_per_value if rho is None else rho)[lo:hi]
    cand = np.flatnonzero(open_)
    if cand.size > breadth:
        ranked = cand[np.lexsort((-bound[cand], rho[cand]))]
        # At least ``breadth`` pairs, and enough to reach twice the requirement.
        reach = np.cumsum(value[ranked] * bound[ranked])
        enough = int(np.searchsorted(reach, 2.0 * float(cm.required_value[o]))) + 1
        cheapest = ranked[: max(breadth, min(enough, MAX_BREADTH))]
        if cm.max_isins[o] != NO_LIMIT:
            # With few ISIN slots, what one ISIN can bring matters as much as its price.
            cheapest = np.union1d(
                cheapest, _richest_isins(cm, o, lo, cand, bound, count=3 * int(cm.max_isins[o]))
            )
        cand = cheapest
    chosen = np.union1d(np.flatnonzero(keep), cand)
    return _solve(
        cm,
        o,
        chosen,
        bound,
        moves_left,
        time_limit,
        gap,
        mine,
    )


def _richest_isins(
    cm: CostModel, o: int, lo: int, pairs: IntArray, bound: IntArray, *, count: int
) -> IntArray:
    """Every pair (of ``pairs``) of the ``count`` ISINs that could bring obligation ``o``
    the most collateral value: their accounts' room, within the ISIN's cap."""
    value = cm.value_per_lot[lo + pairs] * bound[pairs]
    groups = cm.pair_group[lo + pairs]
    unique, index = np.unique(groups, return_inverse=True)
    lot_value = np.zeros(unique.size)
    lot_value[index] = cm.value_per_lot[lo + pairs]  # one value per lot per ISIN
    reach = np.minimum(
        np.bincount(index, weights=value), whole_lots(cm.group_cap[unique], lot_value)
    )
    top = set(np.argsort(-reach, kind="stable")[:count].tolist())
    return pairs[[i in top for i in index.tolist()]]


def _solve(  # noqa: PLR0917 - one call site, all arguments needed
    cm: CostModel,
    o: int,
    chosen: IntArray,
    bound: IntArray,
    moves_left: float,
    time_limit: float,
    gap: float,
    mine: IntArray,
) -> IntArray | None:
    problem = cm.problem
    costs = problem.costs
    move = costs.move_cost / COST_UNIT
    lp = _Lp()
    starts = cm.obligation_slices()
    lo, hi = int(starts[o]), int(starts[o + 1])
    current = cm.current_lots[lo:hi]
    value = cm.value_per_lot[lo:hi] / VALUE_UNIT
    cost = cm.cost_per_lot[lo:hi] / COST_UNIT
    pair_min_pledge = cm.pair_min_pledge()[lo:hi]
    isin = cm.pair_isin[lo:hi]
    add_col: dict[int, int] = {}
    rel_col: dict[int, int] = {}
    move_cols: list[int] = []
    release_moves: list[int] = []
    start: dict[int, float] = {}  # o's lots in the plan so far: the warm start
    offset = 0.0
    for k in chosen.tolist():
        a, u = int(current[k]), int(bound[k])
        delta = int(mine[k]) - a
        offset += cost[k] * a
        least = int(cm.min_move_lots[lo + k])
        min_pledge = int(pair_min_pledge[k])
        floor_ = max(least, min_pledge - a)
        if u - a < floor_:  # room for less than the smallest addition: none at all
            u = max(min(u, a), 0)
        if u > a:
            d = lp.col(0, u - a, cost[k], True)
            pm = lp.col(0, 1, move, True)
            add_col[k] = d
            move_cols.append(pm)
            if delta > 0:
                start[d], start[pm] = float(delta), 1.0
            lp.row(-INF, 0, [d, pm], [1.0, -(u - a)])
            if floor_ > 1:
                lp.row(0, INF, [d, pm], [1.0, -float(floor_)])
        if a > 0:
            r = lp.col(max(a - u, 0), a, -cost[k], True)
            rm = lp.col(0, 1, move, True)
            rel_col[k] = r
            move_cols.append(rm)
            release_moves.append(rm)
            if delta < 0:
                start[r], start[rm] = float(-delta), 1.0
            lp.row(-INF, 0, [r, rm], [1.0, -float(a)])
            if min(least, a) > 1:
                lp.row(0, INF, [r, rm], [1.0, -float(min(least, a))])
            if k in add_col:
                lp.row(-INF, 1, [pm, rm], [1.0, 1.0])
            if min_pledge > 1:  # final lots 0 or >= min pledge
                f = lp.col(0, 1, 0.0, True)
                if mine[k] == 0:
                    start[f] = 1.0
                terms_ = [rel_col[k], f]
                lp.row(-INF, a - min_pledge, [*([add_col[k]] if k in add_col else []), *terms_], [*([-1.0] if k in add_col else []), 1.0, -float(min_pledge)])  # fmt: skip
                lp.row(0, INF, [r, f], [1.0, -float(a)])
                lp.row(-INF, 0, [f, rm], [1.0, -1.0])

    def terms(ks: list[int], coef: FloatArray) -> tuple[list[int], list[float], float]:
        cols: list[int] = []
        vals: list[float] = []
        fixed = 0.0
        for k in ks:
            fixed += coef[k] * current[k]
            if k in add_col:
                cols.append(add_col[k])
                vals.append(float(coef[k]))
            if k in rel_col:
                cols.append(rel_col[k])
                vals.append(-float(coef[k]))
        return cols, vals, fixed

    ks = chosen.tolist()
    shortfall = lp.col(0, INF, costs.shortfall_penalty_per_yen * VALUE_UNIT / COST_UNIT, False)
    short = cm.cover_target[o] - float(mine @ cm.value_per_lot[lo:hi])
    start[shortfall] = max(short, 0.0) / VALUE_UNIT
    cols, vals, fixed = terms(ks, value)
    target = float(cm.cover_target[o]) / VALUE_UNIT
    lp.row(target - fixed, INF, [*cols, shortfall], [*vals, 1.0])
    floor, base = ledger_rule.floor_of(cm, o, lo, hi)
    if floor > 0:  # the ledger's rule: cover >= min(required, cover now), base value
        cols, vals, fixed = terms(ks, base / VALUE_UNIT)
        lp.row(floor / VALUE_UNIT - fixed, INF, cols, vals)
    groups: dict[int, list[int]] = {}
    for k in ks:
        groups.setdefault(int(cm.pair_group[lo + k]), []).append(k)
    for g, members in groups.items():
        if len(members) > 1 and math.isfinite(cm.group_cap[g]):
            cols, vals, fixed = terms(members, value)
            lp.row(-INF, cm.group_cap[g] / VALUE_UNIT - fixed, cols, vals)
    if cm.bucket_pair.size:
        in_chosen = np.zeros(hi - lo, dtype=np.bool_)
        in_chosen[chosen] = True
        for b in np.flatnonzero(cm.row_obligation == o).tolist():
            edges = cm.bucket_row == b
            members = cm.bucket_pair[edges] - lo
            base = np.zeros(hi - lo)  # a bucket caps base value (CostModel.bucket_value)
            base[members] = cm.bucket_value[edges] / VALUE_UNIT
            members = members[in_chosen[members]]
            cols, vals, fixed = terms(members.tolist(), base)
            if cols or fixed:
                lp.row(-INF, cm.row_cap[b] / VALUE_UNIT - fixed, cols, vals)
    if cm.max_isins[o] != NO_LIMIT:
        by_isin: dict[int, list[int]] = {}
        for k in ks:
            by_isin.setdefault(int(isin[k]), []).append(k)
        used = []
        ones = np.ones_like(value)
        for members in by_isin.values():
            w = lp.col(0, 1, 0.0, True)
            used.append(w)
            if any(mine[k] > 0 for k in members):
                start[w] = 1.0
            for k in members:
                cols, vals, fixed = terms([k], ones)
                big = float(max(int(bound[k]), int(current[k])))
                lp.row(-INF, -fixed, [*cols, w], [*vals, -big])
        lp.row(-INF, float(cm.max_isins[o]), used, [1.0] * len(used))
    if math.isfinite(moves_left):
        lp.row(-INF, max(moves_left, 0.0), move_cols, [1.0] * len(move_cols))
    h = lp.highs(offset)
    h.setOptionValue("mip_rel_gap", gap)
    warm = np.zeros(len(lp.lower))
    warm[list(start)] = list(start.values())
    solution = highspy.HighsSolution()
    solution.col_value = warm.tolist()
    solution.value_valid = True
    h.setSolution(solution)
    h.setOptionValue("time_limit", time_limit)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    x = np.asarray(h.getSolution().col_value)
    out = current.copy()
    for k, c in add_col.items():
        out[k] += round(x[c])
    for k, c in rel_col.items():
        out[k] -= round(x[c])
    return out


def _exactly_feasible(cm: CostModel, o: int, lo: int, old: IntArray, new: IntArray) -> bool:
    """Whether ``new`` lots of obligation ``o`` keep, in exact arithmetic, every cap and
    at least the cover ``old`` had (HiGHS meets rows within its tolerances only)."""
    hi = lo + new.size
    value = cm.value_per_lot[lo:hi]
    required = float(cm.required_value[o])
    cover = float(new @ value)
    if cover < min(required, float(old @ value)):
        return False
    floor, base = ledger_rule.floor_of(cm, o, lo, hi)
    if float(new @ base) < floor - ledger_rule.FLOOR_TOLERANCE * required:
        return False  # a release the ledger refuses
    used = np.zeros(cm.group_cap.size)
    np.add.at(used, cm.pair_group[lo:hi], new * value)
    groups = np.unique(cm.pair_group[lo:hi])
    if np.any(used[groups] > cm.group_cap[groups] * (1 + CAP_TOLERANCE)):
        return False
    for b in np.flatnonzero(cm.row_obligation == o).tolist():
        edges = cm.bucket_row == b
        members = cm.bucket_pair[edges] - lo
        if float(new[members] @ cm.bucket_value[edges]) > cm.row_cap[b] * (1 + CAP_TOLERANCE):
            return False
    return True


def _obligation_cost(cm: CostModel, o: int, lo: int, hi: int, mine: IntArray) -> float:
    moves = int(np.count_nonzero(mine != cm.current_lots[lo:hi]))
    cover = float(mine @ cm.value_per_lot[lo:hi])
    shortfall = max(0.0, float(cm.required_value[o]) - cover)
    costs = cm.problem.costs
    return (
        float(mine @ cm.cost_per_lot[lo:hi])
        + moves * costs.move_cost
        + shortfall * costs.shortfall_penalty_per_yen
    )


def improve(
    cm: CostModel,
    lots: IntArray,
    *,
    obligations: IntArray | None = None,
    deadline: float = math.inf,
    passes: int = 2,
    breadth: int = 40,
    gap: float = 1e-6,
) -> IntArray:
    """Fix-and-optimize: re-solve each obligation (all, or ``obligations``) with the
    others fixed, keeping every improvement, until a pass improves nothing, ``passes``
    are done or ``deadline`` (``time.perf_counter()``) passes."""
    lots = lots.copy()
    starts = cm.obligation_slices()
    free = free_face(cm, lots)
    rho = cm.cost_per_value
    max_moves = cm.problem.limits.max_moves
    order = (
        np.arange(len(cm.problem.obligations)) if obligations is None else np.asarray(obligations)
    )
    # An obligation the plan leaves untouched and covered has its waterfall optimum
    # already: it can only gain once a neighbour frees face, so it waits a pass.
    touched = np.zeros(len(cm.problem.obligations), dtype=np.bool_)
    touched[cm.pair_obligation[lots != cm.current_lots]] = True
    cover = np.zeros(touched.size)
    np.add.at(cover, cm.pair_obligation, lots * cm.value_per_lot)
    touched |= cover < cm.required_value  # a short one may gain from a reshuffle
    for pass_ in range(passes):
        improved = False
        for o in order.tolist():
            if time.perf_counter() > deadline:
                return lots
            if pass_ == 0 and not touched[o]:
                continue
            lo, hi = int(starts[o]), int(starts[o + 1])
            mine = lots[lo:hi]
            moves_left = math.inf
            if max_moves is not None:
                others = int(np.count_nonzero(lots != cm.current_lots)) - int(
                    np.count_nonzero(mine != cm.current_lots[lo:hi])
                )
                moves_left = max_moves - others
            short = float(mine @ cm.value_per_lot[lo:hi]) < cm.required_value[o]
            new = solve_obligation(
                cm, o, lots, free, moves_left, breadth=breadth, gap=gap, rho=rho,
                time_limit=max(min(SHORT_TIME_LIMIT if short else TIME_LIMIT, deadline - time.perf_counter()), 0.02),
            )  # fmt: skip
            if new is None or not _exactly_feasible(cm, o, lo, mine, new):
                continue
            if _obligation_cost(cm, o, lo, hi, new) < _obligation_cost(cm, o, lo, hi, mine) - 1e-6:
                lot = int(cm.lot_face[o])
                np.add.at(free, cm.pair_position[lo:hi], (mine - new) * lot)
                lots[lo:hi] = new
                improved = True
        if not improved:
            break
    return lots


_ = npt
