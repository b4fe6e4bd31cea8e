"""Optimizer benchmarks: scale curve, the 300 x 20,000 targets, intraday, peers, ablation.

Books are the refdata generator's (:class:`optimizer.sample_book.BookSpec.for_benchmark`):
the seeded JGB universe (361 issues, model prices, per-issue opportunity costs),
MIZUHO, NOMURA and SMBC with 20 accounts each, ~20,000 positions, obligations to JSCC,
the BoJ and bilateral counterparties with the terms real agreements carry (ISIN caps,
bucket limits, ``max_isins``, minimum pledge), and yesterday's pledges. Move cost
10,000 yen, horizon one day, shortfall 1 yen per yen.

Phases are tanpo's own timings of one ``optimize`` call: ``resolve`` (problem -> cost
model), ``greedy`` (the desk's waterfall, the baseline), ``fix_and_optimize`` (exact
single-obligation sub-MIPs), ``candidates`` (numba ranking), ``build`` (Pyomo model),
``handover`` (to the persistent HiGHS), ``mip`` (HiGHS), ``repair`` (whole lots),
``grow`` (pairs brought in), ``polish``. The bound is certified for the full problem
(pools relax every pair left out of the model).

Peers, on the same book in the same process:

* ``plain big-M``: the contract as a direct MIP in highspy -- integer lots, one
  change binary per pair with its tight bound, the same candidates, the same warm
  start (the waterfall), the same wall time -- without the kept/added/released split,
  move cuts, pools, relaxed lots, decomposition or fix-and-optimize. Its bound is the
  restricted model's (it says nothing about pairs left out).
* ``naive Pyomo``: tanpo's own model built over *every* pair (no candidate set), where
  that finishes; its build and hand-over rate is extrapolated to the larger books.
"""

from __future__ import annotations

import dataclasses
import math
import time
from functools import lru_cache, partial
from typing import Any

import highspy
import numpy as np

from benchmarks.harness import Context, benchmark
from optimizer.candidates import candidate_mask
from optimizer.contract import parse_problem
from optimizer.costmodel import NO_LIMIT, CostModel, IntArray, resolve
from optimizer.greedy import greedy_lots
from optimizer.intraday import IntradaySession
from optimizer.optimize import Strategy, optimize, optimize_mip
from optimizer.plan import Plan, cost_of
from optimizer.problem import Problem
from optimizer.sample_book import BookSpec, generate_book
from optimizer.subproblem import improve
from optimizer.verify import verify

POSITIONS = 20_000
TIME_LIMIT = 60.0
PHASES = ("resolve", "greedy", "fix_and_optimize", "candidates", "build", "handover", "mip",
          "repair", "grow", "polish")  # fmt: skip


@lru_cache(maxsize=8)
def _book_data(obligations: int, positions: int, seed: int) -> Any:
    return generate_book(BookSpec.for_benchmark(positions, obligations, seed=seed))


def book(
    obligations: int,
    positions: int,
    seed: int,
    *,
    time_limit: float,
    move_cost: float | None = None,
) -> Problem:
    """The seeded benchmark book as a problem, with the run's time limit."""
    data = dict(_book_data(obligations, positions, seed))
    data["solver"] = {"time_limit_s": time_limit, "mip_rel_gap": 1e-4}
    if move_cost is not None:
        data["costs"] = {**data["costs"], "move_cost": move_cost}
    return parse_problem(data)


def _gap(total: float, bound: float | None) -> float:
    return math.nan if bound is None else max(0.0, (total - bound) / max(abs(total), 1e-9))


def _record_phases(ctx: Context, plan: Plan, suffix: str) -> None:
    for name in PHASES:
        if name in plan.timings:
            ctx.record(f"{name}{suffix}", [plan.timings[name]])


def _metric(ctx: Context, name: str, value: float | None, unit: str) -> None:
    if value is not None and math.isfinite(value):  # results are strict JSON: no NaN
        ctx.metric(name, value, unit)


def _report(ctx: Context, label: str, problem: Problem, plan: Plan) -> None:
    report = verify(problem, plan)
    _metric(ctx, f"{label}: cost", plan.cost.total, "yen")
    _metric(ctx, f"{label}: waterfall (greedy)", plan.baseline_total, "yen")
    _metric(ctx, f"{label}: bound", plan.objective_bound, "yen")
    _metric(ctx, f"{label}: proven gap", 100 * _gap(plan.cost.total, plan.objective_bound), "%")
    _metric(ctx, f"{label}: moves", len(plan.moves), "moves")
    _metric(ctx, f"{label}: verified", float(report.ok), "1 = yes")


# -- the plain big-M peer -------------------------------------------------------------


def plain_bigm(
    cm: CostModel, pairs: IntArray, start: IntArray, time_limit: float
) -> tuple[IntArray, float | None]:
    """The contract as a direct MIP (see the module docstring): lots per pair and the
    restricted model's bound (yen), within ``time_limit`` seconds."""
    value_unit, cost_unit = 1e6, 1e3
    problem = cm.problem
    inf = highspy.kHighsInf
    lower: list[float] = []
    upper: list[float] = []
    cost: list[float] = []
    integer: list[bool] = []
    rows: list[tuple[float, float, list[int], list[float]]] = []

    def col(lo: float, hi: float, c: float, is_int: bool) -> int:
        lower.append(lo)
        upper.append(hi)
        cost.append(c)
        integer.append(is_int)
        return len(lower) - 1

    move = problem.costs.move_cost / cost_unit
    forced = cm.must_release()
    x: dict[int, int] = {}
    y: dict[int, int] = {}
    r: dict[int, int] = {}
    for j in pairs.tolist():
        a, u = int(cm.current_lots[j]), max(int(cm.max_lots[j]), int(cm.current_lots[j]))
        x[j] = col(0, u, cm.cost_per_lot[j] / cost_unit, True)
        y[j] = col(0, 1, move, True)
        rows.append((-inf, a, [x[j], y[j]], [1.0, -float(max(u - a, 0))]))  # x - a <= (U-a) y
        least = int(cm.min_move_lots[j])
        if a == 0:
            least = max(least, int(cm.min_pledge_lots[cm.pair_obligation[j]]))
            if least > 1:
                rows.append((0, inf, [x[j], y[j]], [1.0, -float(least)]))
        else:
            r[j] = col(0, 1, 0.0, True)  # "releases": a - x <= a r, r <= y
            rows.append((a, inf, [x[j], r[j]], [1.0, float(a)]))
            rows.append((-inf, 0, [r[j], y[j]], [1.0, -1.0]))
            if least > 1:  # a move carries at least its minimum transfer either way
                rows.append(
                    (a - u, inf, [x[j], y[j], r[j]], [1.0, -float(least), float(least + u)])
                )
                rows.append((-inf, a + u, [x[j], r[j]], [1.0, float(min(least, a) + u)]))
    n_obl = len(problem.obligations)
    short = [
        col(0, inf, problem.costs.shortfall_penalty_per_yen * value_unit / cost_unit, False)
        for _ in range(n_obl)
    ]
    by_o: dict[int, list[int]] = {}
    for j in pairs.tolist():
        by_o.setdefault(int(cm.pair_obligation[j]), []).append(j)
    for o in range(n_obl):
        js = by_o.get(o, [])
        target = cm.required_value[o] / value_unit
        rows.append(
            (
                target,
                inf,
                [x[j] for j in js] + [short[o]],
                [cm.value_per_lot[j] / value_unit for j in js] + [1.0],
            )
        )
        if not forced[o]:
            rows.extend((-inf, target, [short[o], r[j]], [1.0, target]) for j in js if j in r)
        mp = int(cm.min_pledge_lots[o])
        if mp > 1:
            for j in js:
                z = col(0, 1, 0.0, True)
                rows.append((0, inf, [x[j], z], [1.0, -float(mp)]))
                rows.append((-inf, 0, [x[j], z], [1.0, -float(upper[x[j]])]))
        if cm.max_isins[o] != NO_LIMIT:
            slots = {}
            for j in js:
                isin = int(cm.pair_isin[j])
                if isin not in slots:
                    slots[isin] = col(0, 1, 0.0, True)
                rows.append((-inf, 0, [x[j], slots[isin]], [1.0, -float(upper[x[j]])]))
            rows.append((-inf, float(cm.max_isins[o]), list(slots.values()), [1.0] * len(slots)))
    groups: dict[int, list[int]] = {}
    positions: dict[int, list[int]] = {}
    for j in pairs.tolist():
        groups.setdefault(int(cm.pair_group[j]), []).append(j)
        positions.setdefault(int(cm.pair_position[j]), []).append(j)
    for g, js in groups.items():
        if len(js) > 1 and math.isfinite(cm.group_cap[g]):
            rows.append(
                (
                    -inf,
                    cm.group_cap[g] / value_unit,
                    [x[j] for j in js],
                    [cm.value_per_lot[j] / value_unit for j in js],
                )
            )
    for p, js in positions.items():
        if len(js) > 1:
            rows.append(
                (
                    -inf,
                    cm.position_face[p] / value_unit,
                    [x[j] for j in js],
                    [cm.lot_face[cm.pair_obligation[j]] / value_unit for j in js],
                )
            )
    in_pairs = np.zeros(cm.n_pairs, dtype=np.bool_)
    in_pairs[pairs] = True
    for b in range(cm.row_cap.size):
        js = [int(j) for j in cm.bucket_pair[cm.bucket_row == b] if in_pairs[j]]
        if js:
            rows.append(
                (
                    -inf,
                    cm.row_cap[b] / value_unit,
                    [x[j] for j in js],
                    [cm.value_per_lot[j] / value_unit for j in js],
                )
            )
    if problem.limits.max_moves is not None:
        rows.append((-inf, problem.limits.max_moves, list(y.values()), [1.0] * len(y)))

    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(lower), len(rows)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = (
        np.array(cost),
        np.array(lower, float),
        np.array(upper, float),
    )
    lp.row_lower_ = np.array([row[0] for row in rows], float)
    lp.row_upper_ = np.array([row[1] for row in rows], float)
    r_index = np.concatenate([np.full(len(row[2]), i) for i, row in enumerate(rows)]).astype(
        np.int64
    )
    c_index = np.concatenate([np.array(row[2], dtype=np.int64) for row in rows])
    values = np.concatenate([np.array(row[3], dtype=float) for row in rows])
    order = np.lexsort((r_index, c_index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(c_index[order], np.arange(len(lower) + 1)).astype(
        np.int32
    )
    lp.a_matrix_.index_ = r_index[order].astype(np.int32)
    lp.a_matrix_.value_ = values[order]
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer
    ]
    h.passModel(lp)
    warm = np.zeros(len(lower))
    cover = np.zeros(n_obl)
    np.add.at(cover, cm.pair_obligation, start * cm.value_per_lot)
    for j in pairs.tolist():
        warm[x[j]] = start[j]
        warm[y[j]] = float(start[j] != cm.current_lots[j])
        if j in r:
            warm[r[j]] = float(start[j] < cm.current_lots[j])
    for o in range(n_obl):
        warm[short[o]] = max(cm.required_value[o] - cover[o], 0.0) / value_unit
    solution = highspy.HighsSolution()
    solution.col_value = warm.tolist()
    solution.value_valid = True
    h.setSolution(solution)  # z and slot binaries left 0: HiGHS completes or repairs
    h.setOptionValue("time_limit", max(time_limit, 0.1))
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.run()
    info = h.getInfo()
    lots = start.copy()
    if info.primal_solution_status == 2:
        values_x = np.asarray(h.getSolution().col_value)
        for j, c in x.items():
            lots[j] = round(values_x[c])
    bound = info.mip_dual_bound * cost_unit if math.isfinite(info.mip_dual_bound) else None
    return lots, bound


def _plain_peer(ctx: Context, label: str, problem: Problem, seconds: float) -> None:
    cm = resolve(problem)
    start = greedy_lots(cm)
    pairs = np.flatnonzero(candidate_mask(cm, start))
    lots, bound = ctx.measure(f"plain big-M {label}", lambda: plain_bigm(cm, pairs, start, seconds),
                              who="plain big-M", repeat=1, items=int(pairs.size))  # fmt: skip
    broken = cm.infeasibility(lots)
    total = cost_of(cm, lots).total if not broken else math.nan
    _metric(ctx, f"{label}: plain big-M cost", total, "yen")
    _metric(ctx, f"{label}: plain big-M bound (restricted)", bound, "yen")
    if broken:
        ctx.note(f"{label}: the plain big-M plan broke {broken}")


# -- benchmarks -----------------------------------------------------------------------


@benchmark(
    "optimizer.scale_curve",
    "10 to 1,000 obligations over 20,000 positions: phases, proven gap, vs greedy and plain big-M",
)
def scale_curve(ctx: Context) -> None:
    sizes = [2, 4] if ctx.quick else [10, 30, 100, 300, 1000]
    positions = 300 if ctx.quick else POSITIONS
    limit = 2.0 if ctx.quick else TIME_LIMIT
    ctx.param(obligations=sizes, positions=positions, time_limit_s=limit, move_cost=10_000)
    for n in sizes:
        problem = book(n, positions, ctx.seed % 2**31, time_limit=limit)
        cm = resolve(problem)
        ctx.metric(f"n={n}: pairs", cm.n_pairs, "pairs")
        plan = ctx.measure(f"optimize n={n}", partial(optimize, problem), repeat=1, items=n)
        _record_phases(ctx, plan, f" n={n}")
        _report(ctx, f"n={n}", problem, plan)
        wall = ctx.timing(f"optimize n={n}").median_s
        share = (plan.timings.get("build", 0.0) + plan.timings.get("handover", 0.0)) / wall
        ctx.metric(f"n={n}: build + hand-over share", 100 * share, "% of wall")
        if n <= 300:
            _plain_peer(ctx, f"n={n}", problem, wall)
    ctx.note("plain big-M: same candidates, waterfall warm start and wall time as tanpo; "
             "its bound covers only the candidates (tanpo's is certified for every pair).")  # fmt: skip


@benchmark(
    "optimizer.target_300",
    "300 obligations x 20,000 positions: plan in 10 s, gap in 60 s (with and without move costs)",
)
def target_300(ctx: Context) -> None:
    n = ctx.size(full=300, quick=3)
    positions = ctx.size(full=POSITIONS, quick=300)
    limit = 2.0 if ctx.quick else TIME_LIMIT
    ctx.param(obligations=n, positions=positions, time_limit_s=limit)
    problem = book(n, positions, ctx.seed % 2**31, time_limit=limit)

    def ten_seconds() -> tuple[Plan, bool]:
        started = time.perf_counter()
        cm = resolve(problem)
        waterfall = greedy_lots(cm)
        lots = improve(cm, waterfall, deadline=started + (1.0 if ctx.quick else 8.0), passes=1)
        from optimizer.plan import PlanStatus, build_plan

        baseline = cost_of(cm, waterfall).total  # verify wants a MIP plan's baseline
        plan = build_plan(cm, lots, method="mip", status=PlanStatus.FEASIBLE, termination_condition="deadline",
                          objective_bound=None, solve_seconds=time.perf_counter() - started, baseline_total=baseline)  # fmt: skip
        return plan, verify(problem, plan).ok

    early, ok = ctx.measure(
        "verified plan (waterfall + fix-and-optimize)", ten_seconds, repeat=1, items=n
    )
    ctx.target(
        "verified plan within",
        ctx.timing("verified plan (waterfall + fix-and-optimize)").median_s,
        "<=",
        10.0,
        "s",
    )
    ctx.metric("early plan: cost", early.cost.total, "yen")
    ctx.metric("early plan: verified", float(ok), "1 = yes")
    for label, move_cost, target in (
        ("move cost 10,000", 10_000.0, 1.0),
        ("move cost 0", 0.0, 0.1),
    ):
        run_problem = book(n, positions, ctx.seed % 2**31, time_limit=limit, move_cost=move_cost)
        plan = ctx.measure(f"optimize ({label})", partial(optimize, run_problem), repeat=1, items=n)
        _record_phases(ctx, plan, f" ({label})")
        _report(ctx, label, run_problem, plan)
        wall = ctx.timing(f"optimize ({label})").median_s
        gap = 100 * _gap(plan.cost.total, plan.objective_bound)
        ctx.target(f"proven gap, {label}", gap if math.isfinite(gap) else 100.0, "<=", target, "%")
        share = 100 * (plan.timings.get("build", 0.0) + plan.timings.get("handover", 0.0)) / wall
        ctx.target(f"build + hand-over, {label}", share, "<=", 20.0, "% of wall")
        ctx.metric(
            f"{label}: early plan vs final", early.cost.total / max(plan.cost.total, 1e-9), "x"
        )


@benchmark("optimizer.intraday", "a margin call (and a price move) on a warm 300 x 20,000 session")
def intraday(ctx: Context) -> None:
    n = ctx.size(full=300, quick=3)
    positions = ctx.size(full=POSITIONS, quick=300)
    limit = 2.0 if ctx.quick else TIME_LIMIT
    ctx.param(obligations=n, positions=positions, time_limit_s=limit)
    problem = book(n, positions, ctx.seed % 2**31, time_limit=limit)
    session = IntradaySession(problem)
    day = ctx.measure("start of day (full optimize)", session.optimize, repeat=1, items=n)
    ours, desk = day.cost.total, day.baseline_total
    rng = np.random.default_rng(ctx.seed)
    calls = [problem.obligations[int(k)] for k in rng.choice(n, size=min(7, n), replace=False)]
    seconds: list[float] = []
    verified = 0
    for obligation in calls:
        started = time.perf_counter()
        plan = session.margin_call(
            obligation.id, obligation.required_value * float(rng.uniform(1.05, 1.3))
        )
        seconds.append(time.perf_counter() - started)
        assert session.cm is not None
        verified += int(verify(session.cm.problem, plan).ok)
        # What the call itself cost: the change of the book's cost, ours (the re-solve may
        # also improve what it touches) and the desk's (its waterfall on the obligation
        # hit, from its own standing allocation).
        if desk is not None and plan.baseline_total is not None:
            ctx.metric(
                f"call {obligation.id}: book cost change, tanpo", plan.cost.total - ours, "yen"
            )
            ctx.metric(
                f"call {obligation.id}: book cost change, desk", plan.baseline_total - desk, "yen"
            )
        ours, desk = plan.cost.total, plan.baseline_total
    ctx.record("margin call (update + re-solve + plan)", seconds, items=1)
    ctx.target("margin call, median", float(np.median(seconds)), "<=", 1.0, "s")
    ctx.metric("margin-call plans verified", verified / len(calls), "share")
    assert session.cm is not None
    prices = {s.isin: s.dirty_price * 0.995 for s in session.cm.problem.securities[::10]}
    ctx.measure("price move (36 ISINs -0.5%)", lambda: session.reprice(prices), repeat=1, items=1)
    plan = ctx.measure(
        "refine (persistent MIP, warm)",
        lambda: session.refine(5.0 if not ctx.quick else 1.0),
        repeat=1,
        items=1,
    )
    _metric(ctx, "after refine: proven gap", 100 * _gap(plan.cost.total, plan.objective_bound), "%")
    # What taking the calls and the move cost the sessions inside that refine (in place,
    # optimizer.inplace; a rebuild of the three sessions took 10-14 s).
    if session.run is not None:
        update = sum(s.timings.get("update", 0.0) for _, s in session.run.sessions)
        ctx.metric("refine: sessions take the calls and the move", update, "s")


@benchmark(
    "optimizer.naive_pyomo", "tanpo's model over every pair (no candidate set) where that finishes"
)
def naive_pyomo(ctx: Context) -> None:
    from optimizer.solve import MipSession

    n = ctx.size(full=10, quick=2)
    positions = ctx.size(full=POSITIONS, quick=300)
    limit = 2.0 if ctx.quick else TIME_LIMIT
    ctx.param(obligations=n, positions=positions, time_limit_s=limit)
    problem = book(n, positions, ctx.seed % 2**31, time_limit=limit)
    cm = resolve(problem)
    start = greedy_lots(cm)
    every = np.arange(cm.n_pairs)
    session = ctx.measure(
        "naive: build + hand-over, every pair",
        lambda: MipSession(cm, every),
        repeat=1,
        items=cm.n_pairs,
    )
    ctx.record("naive: build", [session.timings["build"]], items=cm.n_pairs)
    ctx.record("naive: hand-over", [session.timings["handover"]], items=cm.n_pairs)
    result = ctx.measure(
        "naive: solve",
        lambda: session.solve([start, cm.current_lots], time_limit=limit, gap=1e-4),
        repeat=1,
    )
    plan = ctx.measure("tanpo: optimize", lambda: optimize(problem), repeat=1, items=n)
    _report(ctx, "tanpo", problem, plan)
    _metric(ctx, "naive: cost", result.objective_value, "yen")
    _metric(ctx, "naive: bound", result.objective_bound, "yen")
    rate = (session.timings["build"] + session.timings["handover"]) / cm.n_pairs
    ctx.metric("naive build + hand-over per pair", 1e6 * rate, "us")
    ctx.metric(
        "naive build + hand-over extrapolated to 300 x 20,000 (1.96M pairs)", rate * 1.96e6, "s"
    )


@benchmark(
    "optimizer.ablation", "what each idea brings: 100 obligations x 6,000 positions, 30 s each"
)
def ablation(ctx: Context) -> None:
    n = ctx.size(full=100, quick=2)
    positions = ctx.size(full=6000, quick=300)
    limit = 2.0 if ctx.quick else 30.0
    ctx.param(obligations=n, positions=positions, time_limit_s=limit)
    problem = book(n, positions, ctx.seed % 2**31, time_limit=limit)
    variants = {
        "all ideas": Strategy(),
        "no fix-and-optimize": Strategy(fix_and_optimize=False),
        "one model (no split by pledgor)": Strategy(components=False),
        "integer lots in the MIP": Strategy(relaxed_lots=False),
        "no move cuts": Strategy(move_cuts=False),
        "no pools (bound not certified)": Strategy(pools=False),
    }
    for label, strategy in variants.items():

        def run(strategy: Strategy = strategy) -> Plan:
            started = time.perf_counter()
            cm = resolve(problem)
            baseline = greedy_lots(cm)
            timings: dict[str, float] = {}
            return optimize_mip(
                cm, baseline, cost_of(cm, baseline).total, started, timings, strategy=strategy
            ).plan

        plan = ctx.measure(label, run, repeat=1, items=n)
        _report(ctx, label, problem, plan)


@benchmark(
    "optimizer.sample_book", "the committed sample book (30 obligations): MIP vs the waterfall"
)
def sample_book(ctx: Context) -> None:
    from optimizer.contract import load_problem
    from valuation.paths import data_dir

    problem = load_problem(data_dir() / "sample_book.json")
    if ctx.quick:
        problem = dataclasses.replace(
            problem, solver=dataclasses.replace(problem.solver, time_limit_s=2.0)
        )
    ctx.param(obligations=len(problem.obligations), positions=len(problem.positions))
    plan = ctx.measure(
        "optimize", lambda: optimize(problem), repeat=1, items=len(problem.obligations)
    )
    _record_phases(ctx, plan, "")
    _report(ctx, "sample book", problem, plan)
