"""Shadow prices (``ObligationCover.shadow_price``, :meth:`Explainer.marginal_costs`):
yen of cost per extra yen of requirement, in its three cases -- short, covered with
slack, covered exactly -- on hand-derived books (price 100, no haircut: a lot of 100
million yen of face is 100 million yen of cover; 1 bp a year is 0.0001 yen per yen)."""

from __future__ import annotations

import pytest

from optimizer.contract import parse_problem
from optimizer.optimize import optimize
from tests.optimizer.factory import LOT, bond, holding, obligation, problem


def _price(data: dict[str, object]) -> float:
    p = parse_problem(data)
    (cover,) = optimize(p, "mip").obligations
    return cover.shadow_price


def test_a_short_obligation_pays_the_shortfall_penalty() -> None:
    """6 lots held, 10 required: one more yen required is one more yen short."""
    data = problem([bond(1, opportunity_cost_bp=2.0)], [holding(1, 6)], [obligation("IM", 10)])
    assert _price(data) == pytest.approx(1.0)


def test_an_obligation_covered_with_slack_costs_nothing_more() -> None:
    """1.5 lots required, 2 whole lots pledged: 50 million yen to spare."""
    data = problem(
        [bond(1, opportunity_cost_bp=2.0)],
        [holding(1, 2, pledged_to="IM"), holding(1, 4)],
        [obligation("IM", 1.5)],
    )
    assert _price(data) == 0.0


def test_an_exactly_covered_obligation_pays_the_cheapest_top_up_it_can_make() -> None:
    """2 lots of bond 1 cover exactly 200 million. Bond 2 (1 bp) has one lot free, under
    the 150 million minimum transfer; bond 1 has no face free; so the top-up is bond 3
    at 3 bp: 0.0003 yen per yen of requirement (not bond 2's 0.0001)."""
    data = problem(
        [bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=1.0),
         bond(3, opportunity_cost_bp=3.0)],
        [holding(1, 2, pledged_to="IM"), holding(2, 1), holding(3, 5)],
        [obligation("IM", 2, min_transfer_value=1.5 * LOT)],
    )  # fmt: skip
    assert _price(data) == pytest.approx(0.0003)
