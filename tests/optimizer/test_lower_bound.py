"""The quick lower bounds (optimizer.lower_bound): hand-derived values, the kernel
against a plain-Python twin, and validity against proven optima."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.contract import parse_problem
from optimizer.costmodel import CostModel, resolve, whole_lots
from optimizer.greedy import greedy_lots
from optimizer.lower_bound import (
    aggregate_bound,
    component_bounds,
    fill_cheapest,
    obligation_bounds,
)
from optimizer.optimize import components, optimize
from optimizer.plan import Plan, PlanStatus, build_plan, cost_of
from optimizer.problem import Problem
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, obligation, problem, schedule
from tests.optimizer.test_properties import books
from valuation.errors import TanpoError


def test_whole_lots_rounds_a_cap_down_to_whole_lots() -> None:
    """A 400 million cap holds four lots worth 98.5 million (394 million), four worth
    exactly 100 million (400 million: a cap met exactly is met), three worth 101.25
    million; no cap stays no cap, a lot worth nothing leaves the cap as it is."""
    caps = np.array([400e6, 400e6, 400e6, math.inf, 400e6])
    lots = np.array([98.5e6, 100e6, 101.25e6, 98.5e6, 0.0])
    assert whole_lots(caps, lots).tolist() == [394e6, 400e6, 303.75e6, math.inf, 400e6]


def test_whole_lots_never_drops_a_lot_the_cap_gate_takes() -> None:
    """Cause: ``whole_lots`` rounded ``cap / lot x (1 + tol)`` down while the gate
    (``CostModel.infeasibility``) compares a float sum of lots x value with ``cap x (1 +
    tol)``: at a cap within an ulp of that edge they disagreed by a lot. Here a 1 bp bond
    at 100.3 (lots of 100.3 million yen) under a max_value_per_isin of 300,899,999.6990999
    yen, 2 lots in each of two accounts, 300.9 million required: the gate takes 2 + 1
    lots (cost 30,090 yen), whole_lots only 2, so the quick bound and the model's cap row
    charged a lot of shortfall (100.3 million yen) and the plan was reported optimal at
    100.32 million."""
    data = problem(
        [bond(0, opportunity_cost_bp=1.0, price=100.3)],
        [holding(0, 2, account="A1"), holding(0, 2, account="A2")],
        [obligation("O0", 3.009)],
        schedules=[schedule(max_value_per_isin=300899999.6990999)],
    )
    p = parse_problem(data)
    cm = resolve(p)
    lots = np.array([2, 1])
    assert cm.infeasibility(lots) == ""
    cost = cost_of(cm, lots).total
    assert cost == pytest.approx(30_090.0, rel=1e-9)
    assert sum(component_bounds(cm, components(cm))) <= cost * (1 + 1e-9)
    plan = optimize(p)
    assert plan.cost.total == pytest.approx(cost, rel=1e-9)
    assert verify(p, plan).ok


def _two_isin_book() -> dict[str, Any]:
    """O0 requires 1,000 million, at most 2 ISINs, at most 40% (400 million) each; three
    bonds at 98.5, 100 and 101.25, free of opportunity cost, 10 lots of each held.
    Whole lots: 394, 400 and 303.75 million per ISIN, so the best two bring 794 million
    and the shortfall is at least 206 million (206 million yen of penalty)."""
    data = problem(
        [bond(0, opportunity_cost_bp=0.0, price=98.5), bond(1, opportunity_cost_bp=0.0),
         bond(2, opportunity_cost_bp=0.0, price=101.25)],
        [holding(0, 10), holding(1, 10), holding(2, 10)],
        [obligation("O0", 10, max_isins=2)],
        schedules=[schedule(max_share_per_isin=0.4)],
    )  # fmt: skip
    return data


def test_max_isins_bound_is_the_best_isins_in_whole_lots() -> None:
    p = parse_problem(_two_isin_book())
    cm = resolve(p)
    assert obligation_bounds(cm).tolist() == pytest.approx([206e6], abs=1e-3)
    assert aggregate_bound(cm, np.array([0])) == pytest.approx(206e6, abs=1.0)
    plan = optimize(p)
    assert plan.cost.total == pytest.approx(206e6, abs=1e-3)  # the bound is the optimum
    assert plan.objective_bound == pytest.approx(206e6, rel=1e-9)
    assert plan.status is PlanStatus.OPTIMAL


def test_aggregate_bound_counts_face_two_obligations_share() -> None:
    """O0 and O1 each require 2 lots; the cheap bond (1 bp: 10,000 yen a lot-year) has
    2 lots, the dear one (5 bp) 10. Alone, each obligation takes the cheap bond (20,000
    yen each); together only one can, so any plan costs at least 20,000 + 100,000."""
    data = problem(
        [bond(0, opportunity_cost_bp=1.0), bond(1, opportunity_cost_bp=5.0)],
        [holding(0, 2), holding(1, 10)],
        [obligation("O0", 2), obligation("O1", 2)],
    )
    p = parse_problem(data)
    cm = resolve(p)
    both = np.array([0, 1])
    assert float(obligation_bounds(cm).sum()) == pytest.approx(40_000.0, rel=1e-9)
    assert aggregate_bound(cm, both) == pytest.approx(120_000.0, rel=1e-9)
    assert component_bounds(cm, [both]) == pytest.approx([120_000.0], rel=1e-9)
    assert optimize(p).cost.total == pytest.approx(120_000.0, rel=1e-9)


def test_a_quick_bound_that_raises_leaves_a_plan_with_the_mip_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quick bounds call HiGHS outside the MIP sessions' guard: a failure there (a
    fault injected in their place) is a message on a plan, never an exception."""

    def fail(*_: object) -> list[float]:
        raise RuntimeError("injected HiGHS failure")

    monkeypatch.setattr("optimizer.lower_bound.component_bounds", fail)
    p = parse_problem(_two_isin_book())
    plan = optimize(p)
    assert "quick bounds: RuntimeError: injected HiGHS failure" in plan.message
    assert plan.cost.total == pytest.approx(206e6, abs=1e-3)
    assert verify(p, plan).ok


def _fill_cheapest_twin(
    starts: Any, order: Any, reach: Any, rho: Any, group: Any, room: Any, target: Any,
    required: Any, penalty: float,
) -> list[float]:  # fmt: skip
    room = list(room)
    out = []
    for o in range(len(starts) - 1):
        covered = cost = 0.0
        for j in order[starts[o] : starts[o + 1]]:
            if covered >= target[o] or rho[j] >= penalty:
                break
            take = min(reach[j], room[group[j]], target[o] - covered)
            if take > 0:
                room[group[j]] -= take
                covered += take
                cost += take * rho[j]
        out.append(cost + penalty * max(required[o] - covered, 0.0))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_fill_cheapest_matches_its_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_obl = int(rng.integers(1, 4))
    sizes = rng.integers(0, 6, n_obl)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(starts[-1])
    order = np.concatenate(
        [lo + np.argsort(rng.random(hi - lo)) for lo, hi in itertools.pairwise(starts)]
        + [np.zeros(0)]
    ).astype(np.int64)
    reach = rng.choice([0.0, 50.0, 100.0, 250.0], n)
    rho = rng.choice([0.0, 0.001, 0.01, 2.0, np.inf], n)
    group = rng.integers(0, 4, n).astype(np.int64)
    room = rng.choice([0.0, 80.0, 300.0, np.inf], 4)
    required = rng.choice([0.0, 100.0, 400.0], n_obl)
    target = np.minimum(required, rng.choice([0.0, 150.0, np.inf], n_obl))
    got = fill_cheapest(starts, order, reach, rho, group, room, target, required, 1.0)
    want = _fill_cheapest_twin(starts, order, reach, rho, group, room, target, required, 1.0)
    assert got.tolist() == pytest.approx(want, rel=1e-12, abs=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_quick_bounds_never_exceed_a_proven_optimum(data: dict[str, Any]) -> None:
    """On random books (pledges today, caps, buckets, minimum pledges, max_isins, move
    costs): wherever HiGHS alone proves a plan optimal (the quick bounds switched off,
    so the proof does not lean on them), the quick bounds are below its cost."""
    p = parse_problem(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "optimizer.lower_bound.component_bounds", lambda cm, parts: [-math.inf] * len(parts)
        )
        plan = optimize(p)
    cm = resolve(p)
    quick = sum(component_bounds(cm, components(cm)))
    if plan.status is PlanStatus.OPTIMAL:
        assert quick <= plan.cost.total * (1 + 1e-6) + 1e-6
    assert float(obligation_bounds(cm).sum()) <= quick + 1e-6


def _stressed_bucket_book() -> dict[str, Any]:
    """O0 requires 1,000 million yen, also under scenario ``up``, in lots of 1 million
    face; at most half of it (500 million) in bonds of 10 years or more. Bond 0 (20y,
    0.5 bp, 99 under ``up``) and bond 1 (30y, 20 bp, 85 under ``up``) are in that
    bucket, bond 2 (2y, 3 bp, unmoved) is not; all at 100 today, 1,000 lots of each.

    The contract caps the bucket at base value: 500 lots of bond 0 (500 million today,
    495 million under ``up``) and 505 of bond 2 cover 1,000 million in both, for 500 x 50
    + 505 x 300 = 176,500 yen, the optimum (fewer lots of bond 0 need more of the dearer
    bond 2 or 1). The cost model once capped the bucket's worst-case value at 500
    million x 0.85, the least factor among its members (bond 1's): at most 429 lots of
    bond 0, so every plan it accepted cost at least 429 x 50 + 576 x 300 = 194,250 yen."""
    a, b, c = (bond(0, opportunity_cost_bp=0.5, maturity="2046-09-20"),
               bond(1, opportunity_cost_bp=20.0, maturity="2056-09-20"),
               bond(2, opportunity_cost_bp=3.0, maturity="2028-09-20"))  # fmt: skip
    for row, price in ((a, 99.0), (b, 85.0), (c, 100.0)):
        row["scenario_dirty_prices"] = {"up": price}
    bucket = {"min_residual_years": 10, "max_residual_years": None, "max_share": 0.5}
    return problem(
        [a, b, c], [holding(0, 10), holding(1, 10), holding(2, 10)],
        [obligation("O0", 10, stress_scenarios=["up"], lot_face=LOT // 100)],
        schedules=[schedule(bucket_limits=[bucket])],
    )  # fmt: skip


def _cheaper_plan_verify_accepts(p: Problem) -> tuple[CostModel, Plan]:
    cm = resolve(p)
    lots = np.array([500, 0, 505])
    plan = build_plan(
        cm, lots, method="greedy", status=PlanStatus.FEASIBLE,
        termination_condition="heuristic", objective_bound=None, solve_seconds=0.0,
        baseline_total=cost_of(cm, greedy_lots(cm)).total,
    )  # fmt: skip
    return cm, plan


def test_stressed_bucket_cap_holds_base_value_as_the_contract_does() -> None:
    """``verify`` accepts the 176,500 yen plan and so does the cost model's gate: the
    bucket row sums base value per lot (``CostModel.bucket_value``: 1 million a lot of
    bond 0, not its worst case 0.99 million) against the schedule's cap unscaled, so
    bond 0 is bounded by 500 lots, and 430 of bond 0 with 70 of bond 1 fill the cap
    (500 million of base value; 485.2 million worst case, above the old 425 million)."""
    p = parse_problem(_stressed_bucket_book())
    cm, plan = _cheaper_plan_verify_accepts(p)
    assert verify(p, plan).ok, str(verify(p, plan))
    assert plan.cost.total == pytest.approx(176_500.0, rel=1e-9)
    assert cm.infeasibility(np.array([500, 0, 505])) == ""
    assert cm.row_cap.tolist() == [500e6]
    assert cm.bucket_value.tolist() == [1e6, 1e6]
    assert cm.value_per_lot.tolist() == pytest.approx([0.99e6, 0.85e6, 1e6], rel=1e-12)
    assert cm.max_lots[0] == 500
    assert cm.infeasibility(np.array([430, 70, 500])) == ""  # 500 million of base value
    assert cm.infeasibility(np.array([430, 71, 500])) == "a maturity-bucket cap"
    assert greedy_lots(cm).tolist() == [500, 0, 505]


def test_bounds_stay_below_a_plan_verify_accepts_under_a_stressed_bucket_cap() -> None:
    """Cause (fixed): the bucket cap of :mod:`optimizer.stress` was scaled by the least
    factor among the bucket's members (see :func:`_stressed_bucket_book`): the quick
    bound was 194,037 yen and the MIP reported 194,250 as optimal, above the 176,500 yen
    plan ``verify`` accepts. Now both bounds are at most it and the MIP finds it."""
    p = parse_problem(_stressed_bucket_book())
    cm, plan = _cheaper_plan_verify_accepts(p)
    assert sum(component_bounds(cm, components(cm))) <= plan.cost.total * (1 + 1e-9)
    best = optimize(p)
    assert verify(p, best).ok, str(verify(p, best))
    assert best.status is PlanStatus.OPTIMAL
    assert best.cost.total == pytest.approx(176_500.0, rel=1e-9)
    assert best.objective_bound is not None
    assert best.objective_bound <= plan.cost.total * (1 + 1e-9)


def _tiny_book(rng: np.random.Generator) -> dict[str, Any]:
    """A book small enough to enumerate: up to 3 bonds (a JGBi among them, stress
    prices), one or two pledgors and obligations, pledges today (some above shrunk caps:
    held breaches), positions with half a lot over, half-lot obligations, ISIN caps in
    share and yen, overlapping buckets, exclusions, minimum pledge and transfer,
    max_isins, move costs, a shortfall penalty below some bonds' cost, max_moves."""
    pick = lambda *options: options[int(rng.integers(len(options)))]  # noqa: E731
    bonds = []
    for n in range(int(rng.integers(1, 4))):
        row = bond(n, opportunity_cost_bp=pick(0.0, 0.5, 1.0, 3.0, 20.0), price=pick(98.5, 100.0, 101.25),
                   maturity=pick("2027-06-20", "2031-09-20", "2040-03-20", "2050-03-20"))  # fmt: skip
        if rng.random() < 0.3:
            row.update(kind="inflation", index_ratio=pick(1.05, 1.1), coupon_rate=0.005)
        row["scenario_dirty_prices"] = {"up": pick(85.0, 95.0, 99.0), "dn": pick(97.0, 104.0)}
        bonds.append(row)
    terms: dict[str, Any] = {"eligible_kinds": ["fixed", "inflation"]}
    if rng.random() < 0.5:
        terms["max_share_per_isin"] = pick(0.3, 0.4, 0.6)
    if rng.random() < 0.3:
        terms["max_value_per_isin"] = pick(1.5e8, 2.5e8)
    if rng.random() < 0.4:
        terms["bucket_limits"] = [
            {"min_residual_years": 10, "max_residual_years": None, "max_share": pick(0.3, 0.5)},
            {"min_residual_years": 0, "max_residual_years": 20, "max_share": pick(0.4, 0.7)},
        ][: int(rng.integers(1, 3))]
    if rng.random() < 0.2:
        terms["excluded_isins"] = [bonds[0]["isin"]]
    owners = ["BANK", "OTHER"][: int(rng.integers(1, 3))]
    obligations = []
    for k in range(int(rng.integers(1, 3))):
        row = obligation(f"O{k}", pick(0, 1, 2, 2.5, 4, 6), pledgor=pick(*owners))
        row["lot_face"] = pick(LOT, LOT, LOT // 2)
        for key, value, share in (("min_pledge_face", 2 * LOT, 0.3), ("max_isins", pick(1, 2), 0.4),
                                  ("min_transfer_value", pick(1.5e8, 2.5e8), 0.3),
                                  ("stress_scenarios", pick(["up"], ["up", "dn"]), 0.3)):  # fmt: skip
            if rng.random() < share:
                row[key] = value
        obligations.append(row)
    holdings = []
    for n, owner in itertools.product(range(len(bonds)), owners):
        for account in ("A1", "A2")[: int(rng.integers(1, 3))]:
            for row in (o for o in obligations if o["pledgor"] == owner and rng.random() < 0.4):
                face = int(rng.integers(1, 3)) * row["lot_face"]
                holdings.append(holding(n, 0, owner=owner, account=account, pledged_to=row["id"])
                                | {"face": face})  # fmt: skip
            face = int(rng.integers(0, 5)) * LOT + pick(0, LOT // 2)
            if face:
                holdings.append(holding(n, 0, owner=owner, account=account) | {"face": face})
    data = problem(bonds, holdings, obligations, schedules=[schedule(haircut=pick(0.0, 0.02), **terms)],
                   move_cost=pick(0.0, 5_000.0, 1e6), penalty=pick(1.0, 3e-4),
                   max_moves=None if rng.random() < 0.6 else int(rng.integers(0, 3)))  # fmt: skip
    return data


def _exhaustive_optimum(cm: CostModel, most: int) -> float | None:
    """The cheapest allocation ``cm.infeasibility`` accepts, by enumerating every one
    (``None`` when there are more than ``most``; ``inf`` when none is feasible)."""
    high = np.maximum(cm.max_lots, cm.current_lots)
    count = math.prod((high + 1).tolist())
    if count > most:
        return None
    every = itertools.product(*(range(h + 1) for h in high.tolist()))
    grid = np.array(list(every), dtype=np.int64).reshape(count, cm.n_pairs)
    costs = cm.problem.costs
    cover = np.zeros((grid.shape[0], cm.required_value.size))
    for j in range(cm.n_pairs):
        cover[:, cm.pair_obligation[j]] += grid[:, j] * cm.value_per_lot[j]
    total = (
        grid @ cm.cost_per_lot
        + (grid != cm.current_lots).sum(axis=1) * costs.move_cost
        + np.maximum(cm.required_value - cover, 0.0).sum(axis=1) * costs.shortfall_penalty_per_yen
    )
    for i in np.argsort(total, kind="stable").tolist():
        if not cm.infeasibility(grid[i]):
            return float(total[i])
    return math.inf


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_quick_bounds_never_exceed_the_exhaustive_optimum(seed: int) -> None:
    """The bounds' claim itself, without HiGHS on the other side: on tiny books
    (:func:`_tiny_book`), every allocation the optimizer's gate accepts is enumerated,
    and the sum of the component bounds is at most the cheapest (found in review: none
    over some 1,800 such books; the whole-lot rounding of a cap is tested above)."""
    try:
        p = parse_problem(_tiny_book(np.random.default_rng(seed)))
    except TanpoError:  # e.g. a pledgor left holding nothing
        return
    cm = resolve(p)
    optimum = _exhaustive_optimum(cm, most=20_000)
    if optimum is None:
        return
    quick = sum(component_bounds(cm, components(cm)))
    assert quick <= optimum * (1 + 1e-9) + 1e-6


def test_a_bucket_takes_no_more_pledges_than_their_minimum_lets_it() -> None:
    """O0 requires 1,000 million; an ISIN may bring 40% (400 million), bonds of 10
    years or more 60% (600 million), and a pledge is at least 10 lots (1 billion face).
    The 5-year bond (100 a lot of 100 million) cannot be pledged at all (10 lots are
    worth 1,000 million, over the ISIN cap); the 30-year ones at 40 and 38 can, 10 lots
    each (400 and 380 million), but both together (780) are over the bucket. So any plan
    covers at most 400 million and pays the penalty on 600 million: the bound says so,
    where the relaxation's fractions of two pledges filled the bucket (600 million of
    cover, a bound of ~400 million)."""
    data = problem(
        [bond(0, opportunity_cost_bp=1.0, maturity="2056-09-20", price=40.0),
         bond(1, opportunity_cost_bp=1.0, maturity="2056-03-20", price=38.0),
         bond(2, opportunity_cost_bp=1.0, maturity="2031-09-20")],
        [holding(0, 30), holding(1, 30), holding(2, 30)],
        [obligation("O0", 10, min_pledge_face=10 * LOT)],
        schedules=[schedule(max_share_per_isin=0.4, bucket_limits=[
            {"min_residual_years": 10, "max_residual_years": None, "max_share": 0.6}])],
    )  # fmt: skip
    p = parse_problem(data)
    cm = resolve(p)
    bound = aggregate_bound(cm, np.array([0]))
    assert bound is not None and bound >= 600e6 * (1 - 1e-9)
    plan = optimize(p)
    assert plan.status is PlanStatus.OPTIMAL
    assert bound <= plan.cost.total * (1 + 1e-9)
    assert plan.cost.shortfall_penalty == pytest.approx(600e6, rel=1e-9)
