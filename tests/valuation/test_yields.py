"""Yields both ways: round trips, monotonicity, day counts, quotes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from valuation.errors import InputError
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb
from valuation.yields import (
    compound_price,
    compound_yield,
    leap_days_between,
    quote_compound_yield,
    quote_simple_yield,
    quote_tbill_yield,
    simple_price,
    simple_yield,
    simple_yield_years,
    tbill_price,
    tbill_yield,
)

ISIN = make_isin("JP110380100")
SETTLE = date(2025, 11, 6)


def _fixed(coupon_rate: float, maturity: date) -> Jgb:
    return Jgb(ISIN, BondKind.FIXED, coupon_rate, maturity)


def _bill(maturity: date) -> Jgb:
    return Jgb(ISIN, BondKind.TBILL, 0.0, maturity)


def test_simple_years_exclude_29_february_from_one_year() -> None:
    bond = _fixed(0.017, date(2035, 9, 20))
    days = (date(2035, 9, 20) - SETTLE).days
    assert leap_days_between(SETTLE, date(2035, 9, 20)) == 2  # 2028, 2032
    assert simple_yield_years(bond, SETTLE) == (days - 2) / 365
    short = _fixed(0.017, date(2028, 3, 20))
    assert simple_yield_years(short, date(2027, 9, 20)) == 182 / 365  # Act under a year


def test_one_year_exactly_is_already_nl_365() -> None:
    # "1 year or more" takes NL/365: 2027-03-20 -> 2028-03-20 holds 29 Feb 2028 (366
    # days) and counts 365; a day later it is under a year and Act/365 (365 days).
    bond = _fixed(0.017, date(2028, 3, 20))
    assert simple_yield_years(bond, date(2027, 3, 20)) == 1.0
    assert simple_yield_years(bond, date(2027, 3, 22)) == 364 / 365


def test_settlement_on_29_february_is_not_a_leap_day_of_the_period() -> None:
    # Days run from settlement (exclusive) to maturity (inclusive): a settlement on
    # 29 Feb 2024 leaves 2028 and 2032 to drop, not 2024.
    settlement = date(2024, 2, 29)
    maturity = date(2034, 3, 20)
    assert leap_days_between(settlement, maturity) == 2
    assert leap_days_between(date(2024, 2, 28), date(2024, 2, 29)) == 1
    days = (maturity - settlement).days
    assert simple_yield_years(_fixed(0.017, maturity), settlement) == (days - 2) / 365


def test_worked_example_with_29_february_in_the_stub() -> None:
    # calculation-memo.skr.jp/bond/bond_content2.php ("単利利回り", computation example):
    # settlement 2012-02-10, maturity 2015-12-20, 0.5%, price 99.3; residual 313 days
    # (29 Feb 2012 excluded) + 3 years = 3.85753424 years, yield 0.686266937%.
    bond = _fixed(0.005, date(2015, 12, 20))
    settlement = date(2012, 2, 10)
    assert simple_yield_years(bond, settlement) == pytest.approx(3.85753424, abs=1e-8)
    y = simple_yield(bond, settlement, 99.3)
    assert y == pytest.approx(0.00686266937, abs=1e-11)
    assert quote_simple_yield(y) == 0.00686


def test_par_bond_yields_its_coupon() -> None:
    bond = _fixed(0.017, date(2035, 9, 20))
    assert simple_yield(bond, SETTLE, 100.0) == pytest.approx(0.017, abs=1e-15)
    assert compound_yield(bond, SETTLE, 100.0) == pytest.approx(0.017, abs=1e-13)
    assert quote_simple_yield(simple_yield(bond, SETTLE, 100.0)) == 0.017


def test_zero_yield_is_continuous() -> None:
    bond = _fixed(0.017, date(2035, 9, 20))
    at_zero = compound_price(bond, SETTLE, 0.0)
    assert at_zero == pytest.approx(100 + 1.7 * simple_yield_years(bond, SETTLE), rel=1e-14)
    assert compound_price(bond, SETTLE, 2e-9) == pytest.approx(at_zero, abs=1e-5)
    assert compound_yield(bond, SETTLE, at_zero) == pytest.approx(0.0, abs=1e-12)


def test_quotes_truncate_toward_zero() -> None:
    assert quote_simple_yield(0.0167403) == 0.01674
    assert quote_simple_yield(-0.0012599) == -0.00125
    assert quote_compound_yield(0.0093705) == 0.00937
    assert quote_tbill_yield(-0.0015078) == -0.001507
    assert quote_tbill_yield(0.0012349) == 0.001234


def test_bad_prices_and_dates_name_fields() -> None:
    bond = _fixed(0.017, date(2035, 9, 20))
    with pytest.raises(InputError, match="clean_price"):
        simple_yield(bond, SETTLE, -1.0)
    with pytest.raises(InputError, match="maturity_date"):
        simple_yield(bond, date(2036, 1, 1), 100.0)
    with pytest.raises(InputError, match="compound_yield"):
        compound_price(bond, SETTLE, float("nan"))
    # A price per 100 typed as a fraction: a yield past 100,000,000% is refused, never
    # handed to the quote (whose decimals it would overflow).
    with pytest.raises(InputError, match="clean_price"):
        simple_yield(bond, SETTLE, 1e-300)
    with pytest.raises(InputError, match="clean_price"):
        tbill_yield(_bill(date(2025, 11, 7)), SETTLE, 1e-9)
    with pytest.raises(ValueError, match="cannot quote"):
        quote_simple_yield(float("inf"))


coupons = st.integers(min_value=0, max_value=8_000).map(lambda n: n / 100_000)
maturities = st.dates(min_value=date(2026, 1, 1), max_value=date(2065, 12, 31)).map(
    lambda d: date(d.year, d.month, (1, 10, 20)[d.day % 3])
)
yields_ = st.floats(min_value=-0.01, max_value=0.10, allow_nan=False)
settle_back = st.integers(min_value=1, max_value=40 * 365)


@settings(max_examples=300, deadline=None)
@given(coupons, maturities, settle_back, yields_)
def test_round_trips(coupon: float, maturity: date, back: int, y: float) -> None:
    bond = _fixed(coupon, maturity)
    settlement = maturity - timedelta(days=back)
    p_simple = simple_price(bond, settlement, y)
    assert simple_yield(bond, settlement, p_simple) == pytest.approx(y, abs=1e-12)
    p_compound = compound_price(bond, settlement, y)
    assert compound_yield(bond, settlement, p_compound) == pytest.approx(y, abs=1e-11)


@settings(max_examples=300, deadline=None)
@given(coupons, maturities, settle_back, yields_, yields_)
def test_price_falls_as_yield_rises(
    coupon: float, maturity: date, back: int, y1: float, y2: float
) -> None:
    assume(abs(y1 - y2) > 1e-6)
    lo, hi = sorted((y1, y2))
    bond = _fixed(coupon, maturity)
    settlement = maturity - timedelta(days=back)
    assert simple_price(bond, settlement, hi) < simple_price(bond, settlement, lo)
    assert compound_price(bond, settlement, hi) < compound_price(bond, settlement, lo)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=366), yields_, yields_)
def test_tbill_both_ways(days: int, y1: float, y2: float) -> None:
    bill = _bill(SETTLE + timedelta(days=days))
    assert tbill_yield(bill, SETTLE, tbill_price(bill, SETTLE, y1)) == pytest.approx(y1, abs=1e-13)
    assume(abs(y1 - y2) > 1e-6)
    lo, hi = sorted((y1, y2))
    assert tbill_price(bill, SETTLE, hi) < tbill_price(bill, SETTLE, lo)
    assert compound_price(bill, SETTLE, hi) < compound_price(bill, SETTLE, lo)
