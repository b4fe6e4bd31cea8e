"""DV01, duration and convexity against bumped prices (as Strata's tests do)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.accrued import accrued_interest
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb
from valuation.risk import convexity, dv01, modified_duration, yield_risk
from valuation.yields import compound_price, compound_yield

ISIN = make_isin("JP110380100")


def _bumped(bond: Jgb, settlement: date, y: float, h: float) -> tuple[float, float, float]:
    p0 = compound_price(bond, settlement, y)
    up = compound_price(bond, settlement, y + h)
    down = compound_price(bond, settlement, y - h)
    return p0, up, down


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=8_000).map(lambda n: n / 100_000),
    st.integers(min_value=30, max_value=40 * 365),
    st.floats(min_value=-0.005, max_value=0.08, allow_nan=False),
)
def test_against_bumped_prices(coupon: float, days: int, y: float) -> None:
    maturity = date(2066, 3, 20)
    settlement = maturity - timedelta(days=days)
    bond = Jgb(ISIN, BondKind.FIXED, coupon, maturity)
    risk = yield_risk(bond, settlement, y)
    dirty = compound_price(bond, settlement, y) + accrued_interest(bond, settlement)
    h = 1e-5
    p0, up, down = _bumped(bond, settlement, y, h)
    assert risk.dv01 == pytest.approx((down - up) / (2 * h) * 1e-4, rel=1e-6, abs=1e-12)
    assert risk.modified_duration == pytest.approx((down - up) / (2 * h) / dirty, rel=1e-6)
    h2 = 1e-4
    p0, up, down = _bumped(bond, settlement, y, h2)
    assert risk.convexity == pytest.approx((up + down - 2 * p0) / h2**2 / dirty, rel=1e-4)


def test_a_1bp_bump_moves_the_price_by_dv01() -> None:
    bond = Jgb(ISIN, BondKind.FIXED, 0.017, date(2035, 9, 20))
    settlement = date(2025, 11, 6)
    y = compound_yield(bond, settlement, 100.22)
    move = compound_price(bond, settlement, y - 1e-4) - 100.22
    assert dv01(bond, settlement, 100.22) == pytest.approx(move, rel=1e-3)
    assert 8.5 < modified_duration(bond, settlement, 100.22) < 9.5
    assert convexity(bond, settlement, 100.22) > 0
