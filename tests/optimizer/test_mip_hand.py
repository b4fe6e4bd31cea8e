"""The MIP on problems small enough to solve on paper; every plan is verified.

Conventions of :mod:`tests.optimizer.factory`: a lot is 100 million face at price 100,
haircut 0 unless said, horizon 365 days, so a lot pledged at ``b`` bp costs
``b x 10,000`` yen and a shortfall costs 1 yen per yen.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from optimizer.contract import parse_problem
from optimizer.optimize import optimize
from optimizer.plan import Plan
from optimizer.problem import Problem
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule


def solve(data: dict[str, Any], method: str = "mip") -> Plan:
    p = parse_problem(data)
    plan = optimize(p, method)
    report = verify(p, plan)
    assert report.ok, str(report)
    assert plan.cost.total == pytest.approx(report.total, abs=1e-3)
    return plan


def faces(plan: Plan) -> dict[tuple[str, str], int]:
    return {(a.obligation, a.isin): a.face // LOT for a in plan.allocations}


def test_cheapest_first_and_proven() -> None:
    """Bond 1 at 2 bp (10 lots held), bond 2 at 5 bp (8 held); 12 lots required.

    10 lots of bond 1 and 2 of bond 2: 10 x 20,000 + 2 x 50,000 = 300,000 yen; the
    bound proves it.
    """
    plan = solve(problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                         [holding(1, 10), holding(2, 8)], [obligation("IM", 12)]))  # fmt: skip
    assert faces(plan) == {("IM", isin(1)): 10, ("IM", isin(2)): 2}
    assert plan.cost.total == pytest.approx(300_000.0)
    assert plan.status == "optimal" and plan.objective_bound == pytest.approx(300_000.0, rel=1e-6)


def _substitution(move_cost: float) -> dict[str, Any]:
    return problem(
        [bond(1, opportunity_cost_bp=20.0), bond(2, opportunity_cost_bp=2.0)],
        [holding(1, 5, pledged_to="IM"), holding(2, 10)],
        [obligation("IM", 5)],
        move_cost=move_cost,
    )


def test_substitution_when_it_pays_release_and_pledge_travel_together() -> None:
    """5 lots of bond 1 (20 bp) pledged; bond 2 (2 bp) free; 5 lots required.

    Keeping costs 5 x 200,000 = 1,000,000 a year. Substituting costs two moves and
    5 x 20,000: 100,000 + 2 x 10,000 = 120,000. The waterfall never substitutes.
    """
    plan = solve(_substitution(10_000.0))
    assert faces(plan) == {("IM", isin(2)): 5}
    assert plan.cost.total == pytest.approx(120_000.0)
    assert plan.baseline_total == pytest.approx(1_000_000.0)
    assert [(m.action, m.isin) for m in plan.moves] == [("release", isin(1)), ("pledge", isin(2))]
    assert len({m.group for m in plan.moves}) == 1
    assert "cheaper by 18.00 bp/yr per yen of collateral value" in plan.moves[1].reason


def test_no_substitution_when_moves_cost_more_than_it_saves() -> None:
    """Same book, moves at 500,000 yen: substituting costs 100,000 + 1,000,000 >
    1,000,000 kept. Nothing moves."""
    plan = solve(_substitution(500_000.0))
    assert plan.moves == ()
    assert plan.cost.total == pytest.approx(1_000_000.0)


def test_shortfall_reports_the_best_partial_cover_and_why() -> None:
    """6 lots eligible, 10 required: pledge all 6 (120,000) and pay the shortfall of
    4 lots = 400,000,000 yen: 400,120,000."""
    plan = solve(
        problem([bond(1, opportunity_cost_bp=2.0)], [holding(1, 6)], [obligation("IM", 10)])
    )
    (cover,) = plan.obligations
    assert cover.shortfall == pytest.approx(4 * LOT)
    assert plan.cost.total == pytest.approx(400_120_000.0)
    assert "no eligible position left" in cover.binding
    assert cover.shadow_price == pytest.approx(1.0)


def test_movement_budget_covers_the_larger_deficit() -> None:
    """X needs 3 lots, Y 5; one move allowed (max_moves 1). Covering Y leaves X 3e8
    short: 5 x 20,000 + 300,000,000 = 300,100,000 (covering X instead: 500,060,000)."""
    plan = solve(problem([bond(1, opportunity_cost_bp=2.0)], [holding(1, 20)],
                         [obligation("X", 3), obligation("Y", 5)], max_moves=1))  # fmt: skip
    assert faces(plan) == {("Y", isin(1)): 5}
    assert plan.cost.total == pytest.approx(300_100_000.0)
    short = {o.id: o for o in plan.obligations}["X"]
    assert "movement budget binds" in short.binding


@pytest.mark.parametrize(
    ("lot_face", "lots", "cost"), [(LOT, 3, 60_000.0), (LOT // 2, 5, 50_000.0)]
)
def test_whole_lots(lot_face: int, lots: int, cost: float) -> None:
    """250 million yen required from a 2 bp bond: lots of 100 million need 3 (60,000
    yen); lots of 50 million need exactly 5 (2.5 x 20,000 = 50,000)."""
    data = problem(
        [bond(1, opportunity_cost_bp=2.0)],
        [holding(1, 10)],
        [obligation("IM", 2.5, lot_face=lot_face)],
    )
    plan = solve(data)
    assert plan.allocations[0].face == lots * lot_face
    assert plan.cost.total == pytest.approx(cost)


def test_concentration_cap_per_isin() -> None:
    """max_share_per_isin 0.5 of 10 lots: at most 5 lots of value per ISIN, so 5 of
    bond 1 (2 bp) and 5 of bond 2 (5 bp): 100,000 + 250,000 = 350,000."""
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                   [holding(1, 20), holding(2, 20)], [obligation("IM", 10)],
                   schedules=[schedule(max_share_per_isin=0.5)])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(1)): 5, ("IM", isin(2)): 5}
    assert plan.cost.total == pytest.approx(350_000.0)


@pytest.mark.parametrize(
    ("min_pledge", "expected", "cost"),
    [(None, {1: 5, 2: 2}, 200_000.0), (5, {1: 5, 2: 5}, 350_000.0)],
)
def test_minimum_pledge(min_pledge: int | None, expected: dict[int, int], cost: float) -> None:
    """7 lots required, cap 0.8 x 7 = 5.6 lots of value per ISIN, so bond 1 (2 bp)
    takes 5. The other 2 lots come from bond 2 (5 bp): 100,000 + 100,000 = 200,000; with
    a minimum pledge of 5 lots, bond 2 must carry 5: 100,000 + 250,000 = 350,000."""
    terms = {} if min_pledge is None else {"min_pledge_face": min_pledge * LOT}
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                   [holding(1, 20), holding(2, 20)], [obligation("IM", 7, **terms)],
                   schedules=[schedule(max_share_per_isin=0.8)])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(n)): lots for n, lots in expected.items()}
    assert plan.cost.total == pytest.approx(cost)


def test_max_isins_leaves_a_shortfall_and_says_so() -> None:
    """Cap 0.4 x 10 = 4 lots per ISIN, at most 2 ISINs: 8 lots, 2 short. Cheapest two:
    4 x 20,000 + 4 x 30,000 + 200,000,000 = 200,200,000."""
    data = problem([bond(n, opportunity_cost_bp=b) for n, b in ((1, 2.0), (2, 3.0), (3, 4.0))],
                   [holding(n, 10) for n in (1, 2, 3)], [obligation("IM", 10, max_isins=2)],
                   schedules=[schedule(max_share_per_isin=0.4)])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(1)): 4, ("IM", isin(2)): 4}
    assert plan.cost.total == pytest.approx(200_200_000.0)
    assert "max_isins 2 binds" in plan.obligations[0].binding


def test_minimum_transfer_moves_at_least_its_value() -> None:
    """5 lots pledged, 6 required, each move at least 300 million yen of market value
    (3 lots): the top-up carries 3 lots, ending at 8: 8 x 20,000 + one move 10,000."""
    data = problem([bond(1, opportunity_cost_bp=2.0)], [holding(1, 5, pledged_to="IM"), holding(1, 15)],
                   [obligation("IM", 6, min_transfer_value=3 * LOT)], move_cost=10_000.0)  # fmt: skip
    plan = solve(data)
    assert [(m.action, m.face) for m in plan.moves] == [("pledge", 3 * LOT)]
    assert plan.cost.total == pytest.approx(170_000.0)


def test_excluded_isin_is_released_and_replaced() -> None:
    """Bond 9 (10 bp) pledged 3 lots but now excluded; 2 lots required from bond 1
    (2 bp): release bond 9, pledge 2 lots of bond 1: 40,000 (moves free)."""
    data = problem([bond(9, opportunity_cost_bp=10.0), bond(1, opportunity_cost_bp=2.0)],
                   [holding(9, 3, pledged_to="IM"), holding(1, 10)], [obligation("IM", 2)],
                   schedules=[schedule(excluded_isins=[isin(9)])])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(1)): 2}
    release = next(m for m in plan.moves if m.action == "release")
    assert "no longer eligible" in release.reason
    assert plan.cost.total == pytest.approx(40_000.0)


def test_maturity_bucket_limit() -> None:
    """Beyond 5 years at most 30% of 10 lots: the 10-year bond (1 bp) takes 3 lots,
    the 2-year (4 bp) 7: 30,000 + 280,000 = 310,000."""
    data = problem([bond(1, opportunity_cost_bp=1.0, maturity="2036-09-20"), bond(2, opportunity_cost_bp=4.0, maturity="2028-09-20")],
                   [holding(1, 20), holding(2, 20)], [obligation("IM", 10)],
                   schedules=[schedule(bucket_limits=[{"min_residual_years": 5, "max_residual_years": None, "max_share": 0.3}])])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(1)): 3, ("IM", isin(2)): 7}
    assert plan.cost.total == pytest.approx(310_000.0)


def test_haircut_makes_the_long_bond_dearer_per_yen() -> None:
    """Bond 1: 2 bp at a 50% ISIN haircut = 4 bp per yen of value; bond 2: 3 bp at
    0%. 4 lots required: 4 lots of bond 2, 120,000."""
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=3.0)],
                   [holding(1, 10), holding(2, 10)], [obligation("IM", 4)],
                   schedules=[schedule(isin_haircuts={isin(1): 0.5})])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("IM", isin(2)): 4}
    assert plan.allocations[0].haircut == 0.0


def test_swap_between_obligations_is_ordered_so_face_is_free_first() -> None:
    """Y holds all 10 lots of bond 1 (2 bp), the only bond X's schedule takes; X needs 5.

    Best (moves free): X takes 5 lots of bond 1 (100,000), Y keeps 5 (100,000) and adds
    5 of the T-bill (3 bp, 150,000): 350,000. X's pledge needs the face Y releases, so
    Y's group runs first (or with it).
    """
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=3.0, kind="tbill", maturity="2027-06-01")],
                   [holding(1, 10, pledged_to="Y"), holding(2, 10)],
                   [obligation("X", 5, schedule_id="FIXED"), obligation("Y", 10)],
                   schedules=[schedule(), schedule("FIXED", eligible_kinds=["fixed"])])  # fmt: skip
    plan = solve(data)
    assert faces(plan) == {("X", isin(1)): 5, ("Y", isin(1)): 5, ("Y", isin(2)): 5}
    group_of = {(m.obligation, m.action): m.group for m in plan.moves}
    assert group_of[("Y", "release")] <= group_of[("X", "pledge")]
    assert plan.cost.total == pytest.approx(350_000.0)


def test_cli_stdout_is_the_plan_json_and_nothing_else(tmp_path: Path) -> None:
    """``tanpo optimize PROBLEM.json`` writes the plan on stdout: HiGHS's banner (written
    by the process's first ``Highs`` instance straight to file descriptor 1) or any
    solver log there would corrupt it. A fresh process, so the banner is not spent; the
    waterfall pledges, so fix-and-optimize builds the first ``Highs`` (outside Pyomo)."""
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                   [holding(1, 10), holding(2, 8)], [obligation("IM", 12)])  # fmt: skip
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    tanpo = Path(sys.executable).with_name("tanpo")
    done = subprocess.run(
        [str(tanpo), "optimize", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "HiGHS" not in done.stderr
    plan = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert plan["method"] == "mip"
    assert plan["status"] == "optimal"


def _inflation_linked(index_ratio: float) -> Problem:
    """A JGBi (0 bp) with 8 lots of face and a fixed-coupon bond (10 bp), 10 lots of
    collateral value required, prices 100, no haircut. With the JGBi's principal indexed
    by ``index_ratio``, a lot of it is worth ``index_ratio`` lots."""
    data = problem(
        [bond(1, opportunity_cost_bp=0.0, kind="inflation", maturity="2033-03-10"),
         bond(2, opportunity_cost_bp=10.0)],
        [holding(1, 8), holding(2, 10)],
        [obligation("IM", 10)],
        schedules=[schedule(eligible_kinds=["fixed", "inflation"])],
    )  # fmt: skip
    data["securities"][0]["index_ratio"] = index_ratio
    parsed = parse_problem(data)
    securities = tuple(
        dataclasses.replace(s, index_ratio=index_ratio) if s.bond.kind == "inflation" else s
        for s in parsed.securities
    )
    return dataclasses.replace(parsed, securities=securities)


@pytest.mark.parametrize("method", ["mip", "greedy"])
def test_inflation_linked_value_includes_the_index_ratio(method: str) -> None:
    """DOMAIN.md section 3: a JGBi's market value is face x index_ratio x dirty / 100.

    At index ratio 1.25 the 8 JGBi lots are worth 10: they cover the call alone, at
    no opportunity cost. At 1 (the ratio ignored) 2 lots of the 10 bp bond would be
    needed too: 2 x 100,000 = 200,000 yen a year.
    """
    plan = optimize(_inflation_linked(1.25), method)
    assert faces(plan) == {("IM", isin(1)): 8}
    assert plan.cost.total == pytest.approx(0.0, abs=1e-6)
    assert plan.obligations[0].shortfall == 0
    flat = optimize(_inflation_linked(1.0), method)
    assert faces(flat) == {("IM", isin(1)): 8, ("IM", isin(2)): 2}
    assert flat.cost.total == pytest.approx(200_000.0)


@pytest.mark.parametrize("method", ["greedy", "mip"])
def test_a_book_no_plan_can_meet_is_an_error_plan_with_nothing_to_execute(method: str) -> None:
    """O0 requires 100 million and holds 3 lots of bond 0 (300 million) and 1 of bond 1
    over a 150 million per-ISIN cap; releasing 2 lots of bond 0 would cure it and keep
    O0 covered, so the ledger's rule does not let the breach be held, but max_moves 0
    allows no move. No plan meets every limit: the plan says so (status error,
    termination infeasible), proposes nothing, and verify accepts it as such."""
    data = problem(
        [bond(0, opportunity_cost_bp=1.0), bond(1, opportunity_cost_bp=1.0)],
        [holding(0, 3, pledged_to="O0"), holding(1, 1, pledged_to="O0")],
        [obligation("O0", 1)],
        schedules=[schedule(max_value_per_isin=150_000_000)],
        max_moves=0,
    )
    p = parse_problem(data)
    plan = optimize(p, method)
    assert plan.status.value == "error"
    assert plan.termination_condition == "infeasible"
    assert not plan.moves
    assert "an ISIN concentration cap" in plan.message
    report = verify(p, plan)
    assert report.ok, str(report)
