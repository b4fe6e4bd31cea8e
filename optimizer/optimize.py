"""``optimize(problem)``: from a problem to a plan, within the problem's time limit.

``method="greedy"`` is the desk's waterfall (:mod:`optimizer.greedy`). ``method="mip"``:

1. the waterfall, as baseline and first plan;
2. fix-and-optimize (:mod:`optimizer.subproblem`): each obligation re-solved exactly
   with the others fixed -- a verified plan early;
3. the MIP (:mod:`optimizer.solve`) over a candidate set, warm-started from that plan,
   per *component*: obligations of different pledgors share no position, so without a
   movement budget each pledgor's obligations are solved apart and their bounds add up
   (exactly: the problem is separable); with ``max_moves`` it is one model;
4. fix-and-optimize again on what the MIP changed (lot rounding, pool realisation).

The plan reported is the cheapest found, never dearer than the waterfall; its bound is
the MIP's, certified for the full problem. Solver failures become a plan with a
message, never an exception.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optimizer.costmodel import CostModel, IntArray, resolve
from optimizer.greedy import greedy_lots
from optimizer.plan import Plan, PlanStatus, build_plan, cost_of
from optimizer.problem import Problem
from valuation.closed_set import ClosedSet

if TYPE_CHECKING:
    from optimizer.solve import MipSession

PRIMAL_SHARE = 0.4
"""Share of the time limit fix-and-optimize may take before the MIP starts."""
POLISH_SHARE = 0.1
"""Share kept for polishing the MIP's plan."""
FIRST_PASS_SHARE = 0.6
"""Share of the MIP time each component gets on the first pass (by size); the rest goes
to the components still short of proof, largest gap first."""
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
    from optimizer.subproblem import improve

    strategy = strategy or Strategy()
    options = cm.problem.solver
    limit = options.time_limit_s
    t = time.perf_counter()
    lots = baseline
    if strategy.fix_and_optimize:
        lots = improve(cm, baseline, deadline=started + PRIMAL_SHARE * limit, passes=1)
    timings["fix_and_optimize"] = time.perf_counter() - t

    t = time.perf_counter()
    mask = candidate_mask(cm, baseline).astype(np.bool_)
    mask |= lots != cm.current_lots
    timings["candidates"] = time.perf_counter() - t

    parts = components(cm, strategy.components)
    in_groups = [np.isin(cm.pair_obligation, g) for g in parts]
    sizes = np.array([float(mask[g].sum()) for g in in_groups])
    messages: list[str] = []
    conditions: list[str] = ["error"] * len(parts)
    sessions: list[tuple[IntArray, MipSession]] = []
    bounds: list[float | None] = [None] * len(parts)
    from optimizer.solve import MipSession

    def merge(k: int, result_lots: IntArray | None, session: MipSession) -> None:
        nonlocal lots
        if result_lots is not None and session.scope_cost(result_lots) < session.scope_cost(lots):
            merged = np.where(in_groups[k], result_lots, lots)
            if not cm.infeasibility(merged):
                lots = merged

    # First pass: every component, time shared by size. A component with few enough
    # pairs takes all of them (no pools to realise, an exact bound).
    live: dict[int, MipSession] = {}
    for k, group in enumerate(parts):
        remaining = limit * (1 - POLISH_SHARE) - (time.perf_counter() - started)
        share = FIRST_PASS_SHARE * remaining * sizes[k] / max(sizes[k:].sum(), 1.0)
        every = int(in_groups[k].sum()) <= ALL_PAIRS
        candidates = np.flatnonzero(in_groups[k] if every else (mask & in_groups[k]))
        try:
            session = MipSession(
                cm, candidates, obligations=group, seed=options.seed, threads=options.threads,
                pools=strategy.pools, cuts=strategy.move_cuts, relaxed_lots=strategy.relaxed_lots,
            )  # fmt: skip
            used = session.timings["build"] + session.timings["handover"]
            result = session.solve(
                [lots, baseline, cm.current_lots], time_limit=share - used, gap=options.mip_rel_gap
            )
        except Exception as exc:  # a plan, never an exception, whatever the solver does
            messages.append(f"component {k + 1}: {type(exc).__name__}: {exc}")
            continue
        live[k] = session
        sessions.append((group, session))
        conditions[k] = result.termination_condition
        bounds[k] = result.objective_bound
        merge(k, result.lots, session)
        if result.message:
            messages.append(result.message)

    # Large neighbourhoods for the obligations still short: each with the obligations
    # holding face of the ISINs it could use, solved together on the warm session.
    for k, session in live.items():
        t = time.perf_counter()
        for o in _short_first(cm, lots, parts[k]):
            remaining = limit * (1 - POLISH_SHARE) - (time.perf_counter() - started)
            if remaining < 2.0:
                break
            neighbours = _neighbourhood(cm, lots, o, parts[k])
            found = session.neighbourhood(
                neighbours, lots, min(NEIGHBOURHOOD_TIME, 0.5 * remaining)
            )
            merge(k, found, session)
        timings["neighbourhoods"] = timings.get("neighbourhoods", 0.0) + time.perf_counter() - t

    # Second pass: the time left goes to the components still short of proof, the
    # largest absolute gap first, each re-solving its warm session.
    def gap_of(k: int) -> float:
        bound_k = bounds[k]
        return math.inf if bound_k is None else live[k].scope_cost(lots) - bound_k

    for k in sorted(live, key=gap_of, reverse=True):
        remaining = limit * (1 - POLISH_SHARE) - (time.perf_counter() - started)
        if conditions[k] == "optimal" or remaining < 1.0:
            continue
        session = live[k]
        result = session.solve(
            [lots, baseline, cm.current_lots], time_limit=remaining, gap=options.mip_rel_gap
        )
        conditions[k] = result.termination_condition
        if result.objective_bound is not None:
            bounds[k] = max(bounds[k] or -math.inf, result.objective_bound)
        merge(k, result.lots, session)
    for _, session in sessions:
        for name, seconds in session.timings.items():
            timings[name] = timings.get(name, 0.0) + seconds
    bound: float | None = (
        None if any(b is None for b in bounds) else float(sum(b for b in bounds if b is not None))
    )

    t = time.perf_counter()
    changed = np.unique(cm.pair_obligation[lots != cm.current_lots])
    if strategy.fix_and_optimize:
        lots = improve(cm, lots, obligations=changed, deadline=started + limit, passes=1)
    timings["polish"] = time.perf_counter() - t

    total = cost_of(cm, lots).total
    broken = cm.infeasibility(lots)
    if broken:
        messages.append(f"internal check: the MIP plan broke {broken}; reporting the waterfall")
    if total > baseline_total or broken:  # never worse than the desk, never infeasible
        lots, total = baseline, baseline_total
    if bound is not None:
        bound = min(bound, total)
    proven = (
        bound is not None and total - bound <= options.mip_rel_gap * max(abs(total), 1e-9) + 1e-6
    )
    condition = "optimal" if proven else ("error" if "error" in conditions else "time_limit")
    plan = build_plan(
        cm, lots, method=Method.MIP.value,
        status=PlanStatus.OPTIMAL if proven else PlanStatus.FEASIBLE,
        termination_condition=condition, objective_bound=bound,
        solve_seconds=time.perf_counter() - started, baseline_total=baseline_total,
        message="; ".join(messages), timings=timings,
    )  # fmt: skip
    return MipRun(plan, lots, sessions)
