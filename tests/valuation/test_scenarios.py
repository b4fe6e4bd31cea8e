"""Scenario grids: shapes, labels, the shock shapes, sampling onto curve nodes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from valuation.curve import ZeroCurve
from valuation.scenarios import (
    BP,
    ScenarioGrid,
    irrbb_grid,
    key_rate_grid,
    parallel_grid,
    twist_grid,
)

TENORS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 40.0)


def test_parallel_grid_defaults_to_minus_to_plus_200bp() -> None:
    grid = parallel_grid(TENORS)
    assert grid.n_scenarios == 17
    assert grid.labels[0] == "parallel -200bp"
    assert grid.labels[8] == "parallel +0bp"
    assert grid.labels[-1] == "parallel +200bp"
    assert np.allclose(grid.shifts[:, 0], np.arange(-200, 201, 25) * BP, atol=0)
    assert np.all(grid.shifts == grid.shifts[:, :1])


def test_twist_pivots_and_moves_the_end_spread_by_its_size() -> None:
    grid = twist_grid(TENORS, pivot_years=10.0, sizes_bp=(50.0, -25.0))
    assert grid.labels == ("steepener 50bp pivot 10Y", "flattener 25bp pivot 10Y")
    pivot = TENORS.index(10.0)
    assert np.all(grid.shifts[:, pivot] == 0.0)
    spread = grid.shifts[:, -1] - grid.shifts[:, 0]
    assert spread == pytest.approx([50 * BP, -25 * BP], abs=1e-16)
    assert grid.shifts[0, 0] < 0 < grid.shifts[0, -1]


def test_key_rate_grid_bumps_one_tenor_at_a_time() -> None:
    grid = key_rate_grid(TENORS, bump_bp=1.0)
    assert grid.labels[3] == "key rate 10Y +1bp"
    assert np.array_equal(grid.shifts, np.eye(len(TENORS)) * BP)


def test_irrbb_shapes_follow_bcbs_d368() -> None:
    grid = irrbb_grid((0.0, 4.0, 1000.0))
    rows = dict(zip(grid.labels, grid.shifts, strict=True))
    assert len(rows) == 6
    decay = math.exp(-1.0)  # exp(-t/4) at t = 4
    assert rows["IRRBB parallel up"] == pytest.approx([0.01] * 3)
    assert rows["IRRBB short up"] == pytest.approx([0.01, 0.01 * decay, 0.0], abs=1e-15)
    # Steepener -0.65 S + 0.9 L: -65bp at t = 0, +90bp far out.
    assert rows["IRRBB steepener"][[0, 2]] == pytest.approx([-0.0065, 0.009], abs=1e-15)
    assert rows["IRRBB flattener"][[0, 2]] == pytest.approx([0.008, -0.006], abs=1e-15)


def test_grid_is_sampled_at_the_curve_nodes() -> None:
    grid = ScenarioGrid(("a", "b"), (1.0, 3.0), np.array([[0.01, 0.03], [0.0, 0.0]]))
    curve = ZeroCurve((0.5, 2.0, 5.0), (0.01, 0.01, 0.01))
    assert np.allclose(grid.node_shifts(curve), [[0.01, 0.02, 0.03], [0.0, 0.0, 0.0]])
    same = ScenarioGrid(("c",), curve.tenors, np.array([[0.1, 0.2, 0.3]]))
    assert np.array_equal(same.node_shifts(curve), same.shifts)


def test_grids_concatenate_on_the_same_tenors() -> None:
    both = parallel_grid(TENORS, (-100, 100)).concat(key_rate_grid(TENORS))
    assert both.n_scenarios == 2 + len(TENORS)
    assert both.labels[:2] == ("parallel -100bp", "parallel +100bp")
    with pytest.raises(ValueError, match="share their tenors"):
        both.concat(parallel_grid((1.0, 2.0)))


def test_shifts_are_read_only_and_checked() -> None:
    grid = parallel_grid(TENORS, (10,))
    with pytest.raises(ValueError, match="read-only"):
        grid.shifts[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"n_labels=1, n_tenors=2"):
        ScenarioGrid(("a",), (1.0, 2.0), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="ascend strictly"):
        ScenarioGrid(("a",), (2.0, 1.0), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        ScenarioGrid(("a",), (1.0,), np.array([[math.nan]]))
    with pytest.raises(ValueError, match="unique"):
        ScenarioGrid(("a", "a"), (1.0,), np.zeros((2, 1)))
