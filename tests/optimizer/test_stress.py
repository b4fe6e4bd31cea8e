"""Stress-robust cover (optimizer/stress.py): plans that survive the scenario, verify
that catches those that do not, the contract's errors, and scenario prices from the
numba core.

Conventions of :mod:`tests.optimizer.factory`: a lot is 100 million face, haircut 0,
horizon 365 days, so a lot at ``b`` bp costs ``b x 10,000`` yen a year.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from optimizer.contract import parse_problem
from optimizer.costmodel import resolve
from optimizer.optimize import optimize
from optimizer.plan import Plan
from optimizer.problem import Problem
from optimizer.stress import add_parallel_scenarios
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule
from valuation.curve import ZeroCurve
from valuation.errors import InputError, MultipleInputError

UP = "up100"


def _tiny(**schedule_terms: Any) -> dict[str, Any]:
    """Bond 1: 20-year, 1 bp, 11 lots held, 85.0 under +100bp. Bond 2: 2-year, 3 bp,
    20 lots held, 98.0 under +100bp. Both at 100 today. 10 lots (1,000 million yen)
    required, cover to hold under ``up100`` too.

    Base optimum: 10 lots of bond 1 = 1,000 million cover at 10 x 10,000 = 100,000 yen;
    under +100bp it is worth 10 x 85 million = 850 million: 150 million short.

    Robust: worst values per lot are 85 million (bond 1, 10,000 yen) and 98 million
    (bond 2, 30,000 yen). All 11 lots of bond 1 give 935 million; the 65 million left
    take 1 lot of bond 2 (98 million): 1,033 million under the scenario, 1,200 million
    at base, for 11 x 10,000 + 30,000 = 140,000 yen. The alternatives cost more: 10 of
    bond 1 + 2 of bond 2 = 160,000; 11 of bond 2 alone = 330,000.
    """
    long_bond = bond(1, opportunity_cost_bp=1.0, maturity="2046-09-20")
    short_bond = bond(2, opportunity_cost_bp=3.0, maturity="2028-09-20")
    long_bond["scenario_dirty_prices"] = {UP: 85.0}
    short_bond["scenario_dirty_prices"] = {UP: 98.0}
    return problem(
        [long_bond, short_bond],
        [holding(1, 11), holding(2, 20)],
        [obligation("IM", 10, stress_scenarios=[UP])],
        schedules=[schedule(**schedule_terms)],
    )


def _without_stress(p: Problem) -> Problem:
    obligations = tuple(dataclasses.replace(o, stress_scenarios=()) for o in p.obligations)
    return dataclasses.replace(p, obligations=obligations)


def _faces(plan: Plan) -> dict[str, int]:
    return {a.isin: a.face // LOT for a in plan.allocations}


def test_robust_plan_pledges_more_and_shorter_bonds_and_covers_the_scenario() -> None:
    p = parse_problem(_tiny())
    plan = optimize(p, "mip")
    report = verify(p, plan)
    assert report.ok, str(report)
    assert _faces(plan) == {isin(1): 11, isin(2): 1}
    assert plan.cost.total == pytest.approx(140_000.0)
    (cover,) = plan.obligations
    assert cover.collateral_value == pytest.approx(1_200_000_000.0)
    assert cover.shortfall == 0.0
    assert cover.stressed_collateral_value is not None
    assert cover.stressed_collateral_value[UP] == pytest.approx(1_033_000_000.0)
    assert plan.to_dict()["obligations"][0]["stressed_collateral_value"] == {UP: 1_033_000_000.0}
    # The allocations report base values (what the ledger and verify price).
    assert {a.isin: a.collateral_value for a in plan.allocations} == {
        isin(1): pytest.approx(1_100_000_000.0),
        isin(2): pytest.approx(100_000_000.0),
    }


def test_greedy_waterfall_is_robust_too() -> None:
    p = parse_problem(_tiny())
    plan = optimize(p, "greedy")
    assert verify(p, plan).ok
    (cover,) = plan.obligations
    assert cover.shortfall == 0.0
    assert cover.stressed_collateral_value is not None
    assert cover.stressed_collateral_value[UP] >= 1_000_000_000.0


def test_base_optimum_fails_the_scenario_and_verify_says_so() -> None:
    p = parse_problem(_tiny())
    base_plan = optimize(_without_stress(p), "mip")
    assert verify(_without_stress(p), base_plan).ok
    assert _faces(base_plan) == {isin(1): 10}
    assert base_plan.cost.total == pytest.approx(100_000.0)
    report = verify(p, base_plan)
    stress = [v for v in report.violations if v.kind == "stress"]
    assert [v.record for v in stress] == [f"IM/{UP}"]
    assert "850,000,000" in stress[0].message
    # Its reported shortfall (0) is not the worst-case one (150 million) either.
    assert any(v.kind == "cover" and "shortfall" in v.message for v in report.violations)


def test_robust_cost_is_never_below_the_base_cost() -> None:
    p = parse_problem(_tiny())
    robust, base = optimize(p, "mip"), optimize(_without_stress(p), "mip")
    assert robust.cost.total >= base.cost.total - 1e-6


def test_isin_cap_keeps_meaning_base_value_under_stress() -> None:
    """Cap 60% of 1,000 million per ISIN: at most 6 lots of bond 1 (600 million base,
    510 million stressed). The rest from bond 2: 5 lots give 490 million stressed, 1,000
    million in all, so 6 + 5 lots at 60,000 + 150,000 = 210,000 yen."""
    p = parse_problem(_tiny(max_share_per_isin=0.6))
    plan = optimize(p, "mip")
    report = verify(p, plan)
    assert report.ok, str(report)
    faces = _faces(plan)
    assert faces[isin(1)] == 6
    (cover,) = plan.obligations
    assert cover.stressed_collateral_value is not None
    assert cover.stressed_collateral_value[UP] >= 1_000_000_000.0 - 1.0


def test_unknown_scenario_names_the_obligation_field() -> None:
    data = _tiny()
    data["obligations"][0]["stress_scenarios"] = ["up200"]
    with pytest.raises(InputError) as info:
        parse_problem(data)
    assert info.value.record == "obligations[0] (IM)"
    assert info.value.field == "stress_scenarios[0]"
    assert "up200" in str(info.value)


def test_missing_scenario_price_names_the_security_field() -> None:
    data = _tiny()
    del data["securities"][1]["scenario_dirty_prices"]
    with pytest.raises(InputError) as info:
        parse_problem(data)
    assert info.value.record == f"securities[1] ({isin(2)})"
    assert info.value.field == "scenario_dirty_prices"
    assert "IM" in str(info.value)


def test_bad_scenario_inputs_are_all_listed() -> None:
    data = _tiny()
    del data["securities"][1]["scenario_dirty_prices"]
    data["obligations"].append(obligation("VM", 1, stress_scenarios=["nope"]))
    with pytest.raises(MultipleInputError) as info:
        parse_problem(data)
    fields = {(e.record, e.field) for e in info.value.errors}
    assert (f"securities[1] ({isin(2)})", "scenario_dirty_prices") in fields
    assert ("obligations[1] (VM)", "stress_scenarios[0]") in fields


def test_intraday_updates_of_a_stressed_problem_equal_a_fresh_resolve() -> None:
    p = parse_problem(_tiny())
    cm = resolve(p)
    moved = cm.with_prices({isin(1): 90.0})  # now 85/90 of base under the scenario
    fresh = resolve(moved.problem)
    np.testing.assert_array_equal(moved.value_per_lot, fresh.value_per_lot)
    assert moved.value_per_lot[0] == pytest.approx(0.9e8 * 85.0 / 90.0)
    called = cm.with_required_value("IM", 2e9)
    np.testing.assert_array_equal(called.max_lots, resolve(called.problem).max_lots)


def test_parallel_scenarios_from_the_numba_core() -> None:
    """On a flat 1% continuous zero curve a T-bill's model price is 100 exp(-0.01 t),
    so +100bp moves it by exp(-0.01 t) exactly; a 20-year coupon bond falls further."""
    tbill = bond(3, opportunity_cost_bp=1.0, maturity="2027-05-20", price=99.5, kind="tbill")
    data = problem(
        [bond(1, opportunity_cost_bp=1.0, maturity="2046-09-20"), tbill],
        [holding(1, 11), holding(3, 20)],
        [obligation("IM", 10)],
    )
    p = add_parallel_scenarios(parse_problem(data), ZeroCurve((0.0, 30.0), (0.01, 0.01)), [100])
    label = "parallel +100bp"
    assert p.obligations[0].stress_scenarios == (label,)
    t = (p.security(isin(3)).bond.maturity_date - p.settlement_date).days / 365.0
    assert p.security(isin(3)).scenario_dirty_prices[label] == pytest.approx(
        99.5 * math.exp(-0.01 * t), rel=1e-12
    )
    long_ratio = p.security(isin(1)).scenario_dirty_prices[label] / 100.0
    assert 0.80 < long_ratio < 0.88  # about 17 years of duration lost at 1%
    plan = optimize(p, "mip")
    report = verify(p, plan)
    assert report.ok, str(report)
    (cover,) = plan.obligations
    assert cover.stressed_collateral_value is not None
    assert cover.stressed_collateral_value[label] >= 1_000_000_000.0 - 1.0


def test_pool_counts_its_base_value_in_the_ledger_floor() -> None:
    """IM (stressed) holds 5 lots of a dear bond (10 bp, 100 under the scenario) and is
    short; 5 free lots of a cheap bond (1 bp) are worth 90 under it. With the penalty
    tiny, the optimum swaps them: the ledger's floor is base value (500 million in,
    500 out), the worst case falls by 50 million: 5 x 10,000 + 550 = 50,550 yen.

    The cheap bond left out of the candidates is a pool. Its floor coefficient was its
    worst-case value (90 per lot), so the pool could not replace the dear bond and the
    model's "bound" was 100,500 yen, above the optimum: not a bound at all."""
    from optimizer.solve import MipSession

    dear = bond(1, opportunity_cost_bp=10.0)
    cheap = bond(2, opportunity_cost_bp=1.0)
    dear["scenario_dirty_prices"] = {UP: 100.0}
    cheap["scenario_dirty_prices"] = {UP: 90.0}
    p = parse_problem(
        problem(
            [dear, cheap],
            [holding(1, 5, pledged_to="IM"), holding(2, 5)],
            [obligation("IM", 10, stress_scenarios=[UP])],
            schedules=[schedule()],
            penalty=1e-6,
        )
    )
    plan = optimize(p)
    assert plan.objective_value == pytest.approx(50_550.0)
    cm = resolve(p)
    held = np.flatnonzero(cm.current_lots > 0)
    assert held.size == 1 and cm.n_pairs == 2  # the cheap bond only in a pool
    result = MipSession(cm, held).solve([cm.current_lots], time_limit=10, gap=1e-9)
    assert result.objective_bound is not None
    assert result.objective_bound <= plan.objective_value + 1e-6
