"""Pricing from a curve: hand-computed prices, risk against bumps, scenario properties."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.data import MOF_PAR_TENORS, benchmark_curve, synthetic_jgbs
from valuation.cashflows import resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.errors import MultipleInputError
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb
from valuation.pricing import (
    curve_dv01,
    dirty_prices,
    dirty_prices_from_curve,
    key_rate_dv01,
    scenario_dirty_prices,
    scenario_prices,
)
from valuation.scenarios import key_rate_grid, parallel_grid, twist_grid

SETTLEMENT = date(2025, 11, 6)
FLAT = ZeroCurve((1.0,), (0.02,))


def _bond(kind: BondKind, coupon_rate: float, maturity: date, serial: int = 1) -> Jgb:
    return Jgb(make_isin(f"JP1{serial:08d}"), kind, coupon_rate, maturity)


def test_tbill_on_a_flat_curve() -> None:
    bill = _bond(BondKind.TBILL, 0.0, date(2026, 5, 7))  # a Thursday, 182 days on
    (price,) = dirty_prices_from_curve([bill], SETTLEMENT, FLAT)
    assert price == pytest.approx(100 * math.exp(-0.02 * 182 / 365), abs=1e-13)


def test_fixed_bond_on_a_flat_curve_by_hand() -> None:
    # 1.7% to 2027-03-20, paid on Tokyo business days: 2026-03-20 (Vernal Equinox Day)
    # -> Mon 23rd; 2026-09-20 (Sun; 21-23 holidays) -> Thu 24th; 2027-03-20 (Sat; 21st
    # Equinox, 22nd substitute holiday) -> Tue 23rd, with the principal.
    bond = _bond(BondKind.FIXED, 0.017, date(2027, 3, 20))
    paid = [date(2026, 3, 23), date(2026, 9, 24), date(2027, 3, 23)]
    days = [(d - SETTLEMENT).days for d in paid]
    amounts = [0.85, 0.85, 100.85]
    want = sum(a * math.exp(-0.02 * d / 365) for a, d in zip(amounts, days, strict=True))
    (price,) = dirty_prices_from_curve([bond], SETTLEMENT, FLAT)
    assert price == pytest.approx(want, abs=1e-12)


def test_jgbi_price_scales_with_its_index_ratio() -> None:
    jgbi = _bond(BondKind.INFLATION, 0.005, date(2034, 3, 10))
    low, high = dirty_prices_from_curve([jgbi, jgbi], SETTLEMENT, FLAT, [1.0, 1.1])
    assert high == pytest.approx(1.1 * low, rel=1e-14)


def test_dv01_is_the_bumped_price_change() -> None:
    bonds, ratios = synthetic_jgbs(300, seed=11)
    curve = benchmark_curve()
    h = 1e-6
    up = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(h), ratios)
    down = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(-h), ratios)
    bumped = (down - up) / (2 * h) * 1e-4
    got = curve_dv01(bonds, SETTLEMENT, curve, ratios)
    np.testing.assert_allclose(got, bumped, rtol=1e-6, atol=1e-10)
    assert np.all(got > 0)


def test_key_rates_are_node_bumps_and_sum_to_dv01() -> None:
    bonds, ratios = synthetic_jgbs(60, seed=12)
    curve = ZeroCurve(MOF_PAR_TENORS, [0.005 + 0.0008 * t for t in MOF_PAR_TENORS])
    key_rates = key_rate_dv01(bonds, SETTLEMENT, curve, ratios)
    assert key_rates.shape == (60, curve.n_nodes)
    np.testing.assert_allclose(
        key_rates.sum(axis=1), curve_dv01(bonds, SETTLEMENT, curve, ratios), rtol=1e-12
    )
    h = 1e-6
    for k in (0, 4, 9, curve.n_nodes - 1):
        bump = np.zeros(curve.n_nodes)
        bump[k] = h
        up = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(bump), ratios)
        down = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(-bump), ratios)
        np.testing.assert_allclose(
            key_rates[:, k], (down - up) / (2 * h) * 1e-4, rtol=1e-6, atol=1e-10
        )


def test_key_rates_at_chosen_tenors_are_key_rate_scenarios() -> None:
    bonds, ratios = synthetic_jgbs(80, seed=14)
    curve = benchmark_curve()  # 80 half-year nodes
    keys = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 40.0)
    got = key_rate_dv01(bonds, SETTLEMENT, curve, ratios, key_tenors=keys)
    assert got.shape == (80, len(keys))
    np.testing.assert_allclose(
        got.sum(axis=1), curve_dv01(bonds, SETTLEMENT, curve, ratios), rtol=1e-12
    )
    # Against bumping each key by +-0.1bp through the scenario machinery.
    h_bp = 0.1
    up = scenario_dirty_prices(bonds, SETTLEMENT, curve, key_rate_grid(keys, h_bp), ratios)
    down = scenario_dirty_prices(bonds, SETTLEMENT, curve, key_rate_grid(keys, -h_bp), ratios)
    np.testing.assert_allclose(got, ((down - up) / (2 * h_bp)).T, rtol=1e-6, atol=1e-10)
    with pytest.raises(ValueError, match="ascend"):
        key_rate_dv01(bonds, SETTLEMENT, curve, ratios, key_tenors=(5.0, 1.0))


def test_scenario_rows_are_the_book_on_shifted_curves() -> None:
    bonds, ratios = synthetic_jgbs(150, seed=13)
    curve = benchmark_curve()
    grid = parallel_grid(MOF_PAR_TENORS, (-100, 0, 50)).concat(twist_grid(MOF_PAR_TENORS))
    grid = grid.concat(key_rate_grid(MOF_PAR_TENORS, 10.0))
    got = scenario_dirty_prices(bonds, SETTLEMENT, curve, grid, ratios)
    assert got.shape == (grid.n_scenarios, 150)
    for s, shift in enumerate(grid.node_shifts(curve)):
        want = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(shift), ratios)
        np.testing.assert_allclose(got[s], want, rtol=1e-13, atol=1e-12)


def test_book_level_errors_name_the_bond() -> None:
    matured = _bond(BondKind.FIXED, 0.01, date(2025, 9, 20))
    with pytest.raises(MultipleInputError, match=r"bonds\[0\].*maturity_date"):
        dirty_prices_from_curve([matured], SETTLEMENT, FLAT)


# Hypothesis: any JGB-like bond, any sensible curve.
bond_strategy = st.builds(
    lambda kind, coupon_steps, days, serial: _bond(
        kind,
        0.0 if kind is BondKind.TBILL else coupon_steps / 1000,
        SETTLEMENT + timedelta(days=days if kind is not BondKind.TBILL else days % 365 + 1),
        serial,
    ),
    st.sampled_from([BondKind.FIXED, BondKind.TBILL]),
    st.integers(0, 30),
    st.integers(1, 40 * 365),
    st.integers(0, 10**6),
)
curve_strategy = st.lists(st.floats(-0.01, 0.06), min_size=len(MOF_PAR_TENORS)).map(
    lambda rates: ZeroCurve(MOF_PAR_TENORS, rates[: len(MOF_PAR_TENORS)])
)


@settings(max_examples=80, deadline=None)
@given(st.lists(bond_strategy, min_size=1, max_size=8), curve_strategy, st.floats(1e-4, 0.05))
def test_price_falls_when_the_curve_shifts_up(
    bonds: list[Jgb], curve: ZeroCurve, shift: float
) -> None:
    base = dirty_prices_from_curve(bonds, SETTLEMENT, curve)
    shifted = dirty_prices_from_curve(bonds, SETTLEMENT, curve.shifted(shift))
    assert np.all(shifted < base)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(bond_strategy, min_size=1, max_size=8),
    curve_strategy,
    st.lists(st.floats(-0.02, 0.02), min_size=1, max_size=5),
)
def test_zero_shift_row_equals_the_base_price(
    bonds: list[Jgb], curve: ZeroCurve, sizes: list[float]
) -> None:
    table = resolve_cash_flows(bonds, SETTLEMENT)
    grid = parallel_grid(curve, sorted({0, *(round(s * 1e4) for s in sizes)}))
    rows = scenario_prices(table, curve, grid)
    zero_row = grid.labels.index("parallel +0bp")
    assert np.array_equal(rows[zero_row], dirty_prices(table, curve))
