"""How the MIP's first pass shares its time between components (pledgors)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.contract import parse_problem
from optimizer.costmodel import resolve
from optimizer.optimize import _stakes, _time_weights
from tests.optimizer.factory import bond, holding, obligation, problem


def test_a_short_component_gets_time_for_what_it_costs() -> None:
    """The 300 x 20,000 book: the short pledgor has 29% of the pairs and >99% of the
    cost; by size alone it got 29% of the first pass and its gap stayed at 37%."""
    sizes = np.array([11_809.0, 11_584.0, 9_675.0])
    stakes = np.array([7.1e6, 6.5e6, 4.87e9])
    weights = _time_weights(sizes, stakes)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[2] > 0.6
    assert weights[0] > 0.15 and weights[1] > 0.15  # enough to build and bound them


def test_a_book_costing_nothing_shares_by_size() -> None:
    weights = _time_weights(np.array([1.0, 3.0]), np.zeros(2))
    assert weights == pytest.approx([0.25, 0.75])


def test_stakes_are_each_pledgors_cost() -> None:
    """Pledgor P owes 10 lots and holds 4 (600 million short at 1 yen per yen); Q owes
    1 lot and holds 1 pledged lot of a 1 bp bond (10,000 yen a year)."""
    p = parse_problem(
        problem(
            [bond(1, opportunity_cost_bp=1.0)],
            [holding(1, 4, owner="P", pledged_to="OP"), holding(1, 1, owner="Q", pledged_to="OQ")],
            [obligation("OP", 10, pledgor="P"), obligation("OQ", 1, pledgor="Q")],
        )
    )
    cm = resolve(p)
    parts = [np.array([0]), np.array([1])]
    stakes = _stakes(cm, cm.current_lots, parts)
    assert stakes[0] == pytest.approx(600e6 + 40_000.0)
    assert stakes[1] == pytest.approx(10_000.0)
