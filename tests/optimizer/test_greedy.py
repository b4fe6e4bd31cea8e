"""The desk's waterfall baseline: cheapest per yen of collateral value first."""

from __future__ import annotations

import pytest

from optimizer.contract import parse_problem
from optimizer.optimize import optimize
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule


def test_waterfall_fills_cheapest_first() -> None:
    """Bond 1 at 2 bp (10 lots held), bond 2 at 5 bp; 12 lots of value required, no haircut.

    Waterfall: all 10 lots of bond 1, then 2 lots of bond 2. Over a 365-day horizon 1 bp
    of 100 million is 10,000 yen: cost = 10 x 2 x 10,000 + 2 x 5 x 10,000 = 300,000.
    """
    p = parse_problem(problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                              [holding(1, 10), holding(2, 8)], [obligation("IM", 12)]))  # fmt: skip
    plan = optimize(p, "greedy")
    assert verify(p, plan).ok
    faces = {a.isin: a.face for a in plan.allocations}
    assert faces == {isin(1): 10 * LOT, isin(2): 2 * LOT}
    assert plan.cost.total == pytest.approx(300_000.0)
    assert plan.baseline_total == pytest.approx(300_000.0)
    assert all(m.action == "pledge" and m.reason for m in plan.moves)


def test_waterfall_ranks_by_cost_per_collateral_yen_not_coupon() -> None:
    """Bond 1: 2.0 bp at 50% haircut = 4.0 bp per yen of value; bond 2: 3.0 bp at 0%.

    Schedule overrides bond 1's haircut to 0.5, so bond 2 is cheaper per yen of value:
    4 lots required -> 4 lots of bond 2, cost 4 x 3 x 10,000 = 120,000.
    """
    sched = schedule(isin_haircuts={isin(1): 0.5})
    p = parse_problem(problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=3.0)],
                              [holding(1, 10), holding(2, 10)], [obligation("IM", 4)], schedules=[sched]))  # fmt: skip
    plan = optimize(p, "greedy")
    assert verify(p, plan).ok
    assert {a.isin for a in plan.allocations} == {isin(2)}
    assert plan.cost.total == pytest.approx(120_000.0)


def test_waterfall_keeps_pledges_and_releases_excess_only_when_it_pays() -> None:
    """Bond 2 (5 bp) pledged 6 lots, requirement now 3 lots.

    Releasing 3 lots saves 3 x 5 x 10,000 = 150,000 a year; with a move cost of 100,000
    it pays (one release); with 200,000 it does not (kept as is).
    """
    securities = [bond(2, opportunity_cost_bp=5.0)]
    holdings = [holding(2, 6, pledged_to="IM")]
    cheap = parse_problem(problem(securities, holdings, [obligation("IM", 3)], move_cost=100_000))
    plan = optimize(cheap, "greedy")
    assert verify(cheap, plan).ok
    assert [(m.action, m.face) for m in plan.moves] == [("release", 3 * LOT)]
    dear = parse_problem(problem(securities, holdings, [obligation("IM", 3)], move_cost=200_000))
    plan = optimize(dear, "greedy")
    assert verify(dear, plan).ok and plan.moves == ()


def test_waterfall_cures_max_isins_with_releases_that_fit_together() -> None:
    """O0 needs 950 million, takes 3 ISINs at most and holds 5 today (1,300 million: 1,
    3, 3, 2 and 4 lots, bond 2 the dearest at 1 bp). Two ISINs must go, and only the
    two smallest (bonds 0 and 3, 300 million) leave it covered (1,000 million). Found
    by Hypothesis: the waterfall released bond 2 alone (it fits: 1,000 million left),
    then no ISIN fit (bond 0 would leave 900 million), and the plan kept 5 ISINs,
    which ``verify`` refuses. It now picks the dearest ISIN whose release, with the
    smallest others still needed, leaves the obligation covered."""
    holdings = [holding(n, lots, pledged_to="O0") for n, lots in enumerate((1, 3, 3, 2, 4))]
    data = problem(
        [bond(n, opportunity_cost_bp=1.0 if n == 2 else 0.5) for n in range(5)],
        holdings + [holding(n, 1, account="A2") for n in range(5)],
        [obligation("O0", 9.5, max_isins=3, min_transfer_value=1.5 * LOT)],
    )
    p = parse_problem(data)
    plan = optimize(p, "greedy")
    assert verify(p, plan).ok, str(verify(p, plan))
    assert len({a.isin for a in plan.allocations}) <= 3
