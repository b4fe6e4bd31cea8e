"""``optimize(problem)``: from a problem to a plan, within the problem's time limit.

``method="greedy"`` is the desk's waterfall (:mod:`optimizer.greedy`). ``method="mip"``:

1. the waterfall, as baseline and first plan;
2. fix-and-optimize (:mod:`optimizer.subproblem`): each obligation re-solved exactly
   with the others fixed -- a verified plan early;
3. the MIP (:mod:`optimizer.solve`) over a candidate set, warm-started from that plan,
   per *component*: obligations of different pledgors share no position, so without a
   movement budget each pledgor's obligations are solved apart and their bounds add up
   (exactly: the problem is separable); with ``max_moves`` it is one model. Where an
   obligation is still short: a MIP probe, its large neighbourhoods, then the MIP.
   Each component stops at its share of the book's gap, not ``mip_rel_gap`` of its own;
4. fix-and-optimize again on what the MIP changed (lot rounding, pool realisation).

Every phase is budgeted from one deadline, ``time_limit_s`` after the start less a
reserve for building the plan.

The plan reported is the cheapest found, never dearer than the waterfall; its bound is
the MIP's, certified for the full problem. Solver failures become a plan with a
message, never an exception.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optimizer.costmodel import CostModel, FloatArray, IntArray, resolve
from optimizer.greedy import greedy_lots
from optimizer.plan import Plan, PlanStatus, build_plan, cost_of, error_plan
from optimizer.problem import Problem
from valuation.closed_set import ClosedSet

log = logging.getLogger(__name__)
BOUND_TOLERANCE = 1e-9
"""Relative: a bound above the plan's cost by at most this much (float sums of the
components' bounds against the plan's exact cost) is the plan's cost; a larger excess
is a fault (a bound that is no bound), kept as it is, logged and noted in the plan."""

if TYPE_CHECKING:
    from optimizer.solve import MipSession

PRIMAL_SHARE = 0.4
"""Share of the time limit fix-and-optimize may take before the MIP starts."""
POLISH_SHARE = 0.1
"""Share kept for polishing the MIP's plan."""
FIRST_PASS_SHARE = 0.6
"""Share of the MIP time each component gets on the first pass (:func:`_time_weights`);
the rest goes to the components still short of proof, largest gap first."""
STAKE_WEIGHT = 0.5
"""Part of a component's first-pass weight taken by its share of the plan's cost (the
rest by its share of the candidate pairs)."""
NEIGHBOURHOOD_SHARE = 0.5
"""Most of a component's first-pass share its neighbourhoods may take before its MIP."""
PROBE_SHARE = 0.2
"""Share of a component's first-pass time its MIP probe takes before neighbourhoods."""
PLAN_RESERVE = 0.03
"""Share of the time limit kept for building the plan once the solve is done."""
MAX_PLAN_RESERVE = 1.5
"""... at most this many seconds."""
BUILD_SECONDS_PER_PAIR = 1.2e-4
"""Pyomo build + hand-over per candidate pair (measured ~0.11 ms): a component whose
model would not be built in the time left is not started."""
NEIGHBOURHOOD_SIZE = 8
"""Obligations re-solved together around one left short."""
NEIGHBOURHOOD_TIME = 10.0
"""Seconds for one neighbourhood."""
ALL_PAIRS = 30_000
"""A component with at most this many pairs is modelled over all of them."""


@dataclass(frozen=True, slots=True)
class Strategy:
    """The ideas the MIP path combines, each switchable to measure what it brings
    (``benchmarks/optimizer.py``); the defaults are what :func:`optimize` runs."""

    fix_and_optimize: bool = True
    components: bool = True
    relaxed_lots: bool = True
    move_cuts: bool = True
    pools: bool = True


class Method(ClosedSet):
    """How to optimize: the MIP, or the desk's greedy waterfall."""

    MIP = "mip"
    GREEDY = "greedy"


def components(cm: CostModel, split: bool = True) -> list[IntArray]:
    """Groups of obligations that can be optimized apart: one per pledgor, unless a
    movement budget ties them all together. Largest first."""
    n = len(cm.problem.obligations)
    if cm.problem.limits.max_moves is not None or not split:
        return [np.arange(n, dtype=np.int64)]
    groups = [np.flatnonzero(cm.pledgor == p).astype(np.int64) for p in np.unique(cm.pledgor)]
    sizes = np.bincount(cm.pair_obligation, minlength=n)
    return sorted(groups, key=lambda g: -int(sizes[g].sum()))


def _time_weights(sizes: FloatArray, stakes: FloatArray) -> FloatArray:
    """First-pass weight per component: half its share of the candidate pairs (what a
    model takes to build and reach a bound), half its share of the plan's cost (what
    its gap can be). By size alone, the 300 x 20,000 book's one short pledgor (29% of
    the pairs, >99% of the cost: 4.87 bn of shortfall) got 1.3 s of probe and 8 s of
    MIP, and its bound stayed at the relaxed root (37% gap), while two pledgors costing
    7 million yen each took 7.6 s apiece."""
    by_size = sizes / max(float(sizes.sum()), 1e-12)
    total = float(stakes.sum())
    if total <= 0.0:
        return by_size
    result: FloatArray = (1.0 - STAKE_WEIGHT) * by_size + STAKE_WEIGHT * stakes / total
    return result


def _stakes(cm: CostModel, lots: IntArray, parts: list[IntArray]) -> FloatArray:
    """Per component, the cost of ``lots`` on its obligations (yen)."""
    n = len(cm.problem.obligations)
    per = np.zeros(n)
    np.add.at(per, cm.pair_obligation, lots * cm.cost_per_lot)
    moved = (lots != cm.current_lots).astype(np.float64) * cm.problem.costs.move_cost
    np.add.at(per, cm.pair_obligation, moved)
    cover = np.zeros(n)
    np.add.at(cover, cm.pair_obligation, lots * cm.value_per_lot)
    per += np.maximum(cm.required_value - cover, 0.0) * cm.problem.costs.shortfall_penalty_per_yen
    return np.array([float(np.maximum(per[g], 0.0).sum()) for g in parts])


def _short_first(cm: CostModel, lots: IntArray, group: IntArray) -> list[int]:
    """Obligations of ``group`` short of cover under ``lots``, largest shortfall first."""
    cover = np.zeros(len(cm.problem.obligations))
    np.add.at(cover, cm.pair_obligation, lots * cm.value_per_lot)
    short = np.maximum(cm.required_value - cover, 0.0)[group]
    return [int(o) for o in group[np.argsort(-short)] if cm.required_value[o] - cover[o] > 0]


def _neighbourhood(cm: CostModel, lots: IntArray, o: int, group: IntArray) -> IntArray:
    """Obligation ``o`` and the obligations of ``group`` pledged on the positions of the
    ISINs ``o`` could use most (by collateral value for ``o``), at most
    :data:`NEIGHBOURHOOD_SIZE` of them."""
    starts = cm.obligation_slices()
    pairs = np.arange(starts[o], starts[o + 1])
    reach = cm.value_per_lot[pairs] * cm.max_lots[pairs]
    top = pairs[np.argsort(-reach)[:40]]
    positions = np.unique(cm.pair_position[top])
    holders = np.flatnonzero(np.isin(cm.pair_position, positions) & (lots > 0))
    weight = np.zeros(len(cm.problem.obligations))
    np.add.at(weight, cm.pair_obligation[holders], lots[holders] * cm.value_per_lot[holders])
    weight[o] = math.inf
    candidates = group[np.argsort(-weight[group])]
    return candidates[weight[candidates] > 0][:NEIGHBOURHOOD_SIZE]


def optimize(problem: Problem, method: Method | str = Method.MIP) -> Plan:
    """Optimize ``problem`` and return the plan (see :class:`~optimizer.plan.Plan`)."""
    method = Method.parse(method)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - since
        return now

    cm = resolve(problem)
    t = lap("resolve", started)
    baseline = greedy_lots(cm)
    baseline_total = cost_of(cm, baseline).total
    t = lap("greedy", t)
    if method is Method.GREEDY:
        broken = cm.infeasibility(baseline)
        if broken:
            return error_plan(
                cm, f"the waterfall found no plan that meets every limit ({broken}); today's"
                " allocation kept, nothing to execute", method=method.value,
                termination_condition="infeasible", solve_seconds=time.perf_counter() - started,
            )  # fmt: skip
        return build_plan(
            cm, baseline, method=method.value, status=PlanStatus.FEASIBLE,
            termination_condition="heuristic", objective_bound=None,
            solve_seconds=time.perf_counter() - started, baseline_total=baseline_total,
            timings=timings,
        )  # fmt: skip
    return optimize_mip(cm, baseline, baseline_total, started, timings).plan


@dataclass(slots=True, eq=False)
class MipRun:
    """What a MIP run leaves behind for the intraday path: the plan, its lots, and the
    persistent solver sessions per component (obligation indices, session)."""

    plan: Plan
    lots: IntArray
    sessions: list[tuple[IntArray, MipSession]] = field(default_factory=list)


def checked_bound(bound: float | None, total: float) -> tuple[float | None, str]:
    """``bound`` clamped to the plan's cost ``total`` where it exceeds it by float sums
    only (:data:`BOUND_TOLERANCE`, relative); a larger excess is kept, logged and
    returned as a note (a fault ``verify`` must see, never hidden by the clamp)."""
    if bound is None or bound <= total:
        return bound, ""
    if bound - total <= BOUND_TOLERANCE * max(abs(total), 1.0):
        return total, ""
    note = f"bound {bound:,.2f} above the plan's cost {total:,.2f}: not a valid bound"
    log.warning("optimize: %s", note)
    return bound, f"internal check: {note}"


def optimize_mip(
    cm: CostModel,
    baseline: IntArray,
    baseline_total: float,
    started: float,
    timings: dict[str, float],
    *,
    strategy: Strategy | None = None,
) -> MipRun:
    """The MIP path of :func:`optimize` on a resolved problem (see the module docstring)."""
    from optimizer.candidates import candidate_mask
    from optimizer.lower_bound import component_bounds
    from optimizer.subproblem import improve

    strategy = strategy or Strategy()
    options = cm.problem.solver
    limit = options.time_limit_s
    gap = options.mip_rel_gap
    # One deadline for every phase; what follows it (the plan's moves, order, reasons)
    # is kept out of it.
    deadline = started + limit - min(PLAN_RESERVE * limit, MAX_PLAN_RESERVE)
    mip_end = deadline - POLISH_SHARE * limit
    t = time.perf_counter()
    lots = baseline
    if strategy.fix_and_optimize:
        lots = improve(
            cm, baseline, deadline=min(started + PRIMAL_SHARE * limit, mip_end), passes=1
        )
    timings["fix_and_optimize"] = time.perf_counter() - t

    t = time.perf_counter()
    mask = candidate_mask(cm, baseline).astype(np.bool_)
    mask |= lots != cm.current_lots
    timings["candidates"] = time.perf_counter() - t

    parts = components(cm, strategy.components)
    stakes = _stakes(cm, lots, parts)
    # Dearest first: a component's share is taken from what those before it left, so
    # an overrun (a slow build, HiGHS past its limit on a loaded machine) falls on the
    # cheap ones. Largest first, the 300 x 20,000 book's short pledgor (99.7% of the
    # cost) came last and, on a loaded machine, got 0.9 s and no bound at all.
    order = np.argsort(-stakes, kind="stable")
    parts, stakes = [parts[int(i)] for i in order], stakes[order]
    in_groups = [np.isin(cm.pair_obligation, g) for g in parts]
    sizes = np.array([float(mask[g].sum()) for g in in_groups])
    weights = _time_weights(sizes, stakes)
    messages: list[str] = []
    conditions: list[str] = ["time_limit"] * len(parts)  # "error" where a solve raised
    sessions: list[tuple[IntArray, MipSession]] = []
    # Every component starts with a bound from the aggregated LP (milliseconds): one
    # whose MIP finds none in its time still has one (optimizer.lower_bound).
    t = time.perf_counter()
    bounds: list[float | None] = [None] * len(parts)
    try:
        bounds = list(component_bounds(cm, parts))
    except Exception as exc:  # a plan, never an exception: the MIPs' bounds alone
        messages.append(f"quick bounds: {type(exc).__name__}: {exc}")
    timings["lower_bound"] = time.perf_counter() - t
    from optimizer.solve import MIN_RUN_SECONDS, MipSession

    def merge(k: int, result_lots: IntArray | None, session: MipSession) -> None:
        nonlocal lots
        if result_lots is None:
            return
        # A feasible result also replaces a plan as dear that breaks a limit (the
        # waterfall's, should it ever: found by Hypothesis, a waterfall cap cure under
        # the minimum transfer kept over the MIP's equal-cost cure and called optimal).
        if session.scope_cost(result_lots) < session.scope_cost(lots) or cm.infeasibility(lots):
            merged = np.where(in_groups[k], result_lots, lots)
            if not cm.infeasibility(merged):
                lots = merged

    def left(until: float) -> float:
        return until - time.perf_counter()

    live: dict[int, MipSession] = {}

    def slack(k: int, costs: FloatArray | None = None) -> float:
        """The gap (yen) component ``k`` may keep with the whole plan still within
        ``gap``: the book's allowance less what the other components leave open. A
        component holding a tiny share of the cost need not prove ``gap`` of its own
        (the sample book's small pledgors stalled HiGHS for seconds on that)."""
        total = cost_of(cm, lots).total
        costs = _stakes(cm, lots, parts) if costs is None else costs
        others = 0.0
        for j in range(len(parts)):
            if j == k:
                continue
            bound_j = bounds[j]
            if bound_j is None:
                return gap * total / len(parts)
            others += max(float(costs[j]) - bound_j, 0.0)
        return max(gap * total - others, 0.0)

    def neighbourhoods(k: int, session: MipSession, until: float) -> None:
        """Large neighbourhoods for the obligations of component ``k`` still short: each
        with the obligations holding face of the ISINs it could use, solved together on
        the warm session (a reshuffle one obligation at a time cannot find)."""
        t = time.perf_counter()
        allowance = gap * cost_of(cm, lots).total / len(parts)
        for o in _short_first(cm, lots, parts[k]):
            if left(until) < 0.5:
                break
            neighbours = _neighbourhood(cm, lots, o, parts[k])
            found = session.neighbourhood(
                neighbours, lots, min(NEIGHBOURHOOD_TIME, left(until)), abs_gap=allowance
            )
            merge(k, found, session)
        timings["neighbourhoods"] = timings.get("neighbourhoods", 0.0) + time.perf_counter() - t

    def solve(k: int, session: MipSession, until: float) -> None:
        if left(until) < MIN_RUN_SECONDS:  # not even a warm start's checks (~1 s at n=1000)
            return
        result = session.solve(
            [lots, baseline, cm.current_lots], time_limit=left(until), gap=gap, abs_gap=slack(k)
        )
        conditions[k] = result.termination_condition
        if result.objective_bound is not None:
            bounds[k] = max(bounds[k] or -math.inf, result.objective_bound)
        merge(k, result.lots, session)
        if result.message:
            messages.append(result.message)

    def open_gap(k: int, costs: FloatArray | None = None) -> float:
        bound_k = bounds[k]
        if bound_k is None:
            return math.inf
        return float((_stakes(cm, lots, parts) if costs is None else costs)[k]) - bound_k

    def settled(k: int) -> bool:
        costs = _stakes(cm, lots, parts)  # one pass over the pairs for both sides
        return open_gap(k, costs) <= slack(k, costs) + 1e-6

    # First pass: every component, time shared by size. A component with few enough
    # pairs takes all of them (no pools to realise, an exact bound). Where obligations
    # are still short, a short MIP probe first (most components prove their gap in
    # it), then their neighbourhoods, then the MIP again: it starts from a plan that has
    # the reshuffles, which HiGHS's own search (in its share of the time) may not find
    # (30 x 20,000: 35-46% gap without, 0.03% with).
    for k, group in enumerate(parts):
        remaining = left(mip_end)
        every = int(in_groups[k].sum()) <= ALL_PAIRS
        candidates = np.flatnonzero(in_groups[k] if every else (mask & in_groups[k]))
        if candidates.size * BUILD_SECONDS_PER_PAIR > 0.8 * remaining:
            messages.append(f"component {k + 1}: no time left to build its model")
            continue
        try:
            session = MipSession(
                cm, candidates, obligations=group, seed=options.seed, threads=options.threads,
                pools=strategy.pools, cuts=strategy.move_cuts, relaxed_lots=strategy.relaxed_lots,
            )  # fmt: skip
            # Its share of what the build left (a slow build must not leave it no time).
            share = FIRST_PASS_SHARE * left(mip_end) * weights[k] / max(weights[k:].sum(), 1e-12)
            share_end = time.perf_counter() + max(share, 0.0)
            live[k] = session
            sessions.append((group, session))
            if settled(k):  # its plan already proven by the aggregated bound
                continue
            if _short_first(cm, lots, group):
                solve(k, session, time.perf_counter() + PROBE_SHARE * left(share_end))
                if not settled(k):
                    until = time.perf_counter() + NEIGHBOURHOOD_SHARE * left(share_end)
                    neighbourhoods(k, session, until)
            if not settled(k):
                solve(k, session, share_end)
        except Exception as exc:  # a plan, never an exception, whatever the solver does
            messages.append(f"component {k + 1}: {type(exc).__name__}: {exc}")
            conditions[k] = "error"
            live.pop(k, None)
            continue

    # The time left: neighbourhoods again where a component short of proof has an
    # obligation still short, then those components, the largest open gap first.
    for k, session in live.items():
        if not settled(k):
            neighbourhoods(k, session, time.perf_counter() + 0.5 * left(mip_end))
    for k in sorted(live, key=open_gap, reverse=True):
        if settled(k) or left(mip_end) < 1.0:
            continue
        solve(k, live[k], mip_end)
    for _, session in sessions:
        for name, seconds in session.timings.items():
            timings[name] = timings.get(name, 0.0) + seconds
    bound: float | None = (
        None if any(b is None for b in bounds) else float(sum(b for b in bounds if b is not None))
    )

    t = time.perf_counter()
    changed = np.unique(cm.pair_obligation[lots != cm.current_lots])
    if strategy.fix_and_optimize:
        lots = improve(cm, lots, obligations=changed, deadline=deadline, passes=1)
    timings["polish"] = time.perf_counter() - t

    total = cost_of(cm, lots).total
    broken = cm.infeasibility(lots)
    if broken:
        messages.append(f"internal check: the MIP plan broke {broken}; reporting the waterfall")
    # Never worse than the desk, never infeasible (the desk's plan neither, if it is).
    if broken or (total > baseline_total and not cm.infeasibility(baseline)):
        lots, total = baseline, baseline_total
    still = cm.infeasibility(lots)
    if still:  # the waterfall broke a limit too and the MIP found nothing that does not
        plan = error_plan(
            cm, f"no plan meets every limit ({still}); today's allocation kept, nothing to"
            " execute", method=Method.MIP.value, termination_condition="infeasible",
            solve_seconds=time.perf_counter() - started,
        )  # fmt: skip
        return MipRun(plan, cm.current_lots, sessions)
    bound, note = checked_bound(bound, total)
    if note:
        messages.append(note)
    proven = bound is not None and total - bound <= gap * max(abs(total), 1e-9) + 1e-6
    condition = "optimal" if proven else ("error" if "error" in conditions else "time_limit")
    plan = build_plan(
        cm, lots, method=Method.MIP.value,
        status=PlanStatus.OPTIMAL if proven else PlanStatus.FEASIBLE,
        termination_condition=condition, objective_bound=bound,
        solve_seconds=time.perf_counter() - started, baseline_total=baseline_total,
        message="; ".join(messages), timings=timings,
    )  # fmt: skip
    return MipRun(plan, lots, sessions)
