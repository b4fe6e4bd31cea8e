"""Accrued interest: the JSDA rules, edge dates, and properties that must always hold."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.accrued import accrued_amount, accrued_days, accrued_interest
from valuation.errors import InputError
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb

ISIN = make_isin("JP110380100")


def _jgb(coupon_rate: float, maturity: date, issue: date | None = None) -> Jgb:
    return Jgb(ISIN, BondKind.FIXED, coupon_rate, maturity, issue)


def test_zero_on_a_coupon_date() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    assert accrued_interest(bond, date(2025, 9, 20)) == 0.0
    assert accrued_interest(bond, date(2026, 3, 20)) == 0.0


def test_one_day_after_a_coupon_date() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    assert accrued_days(bond, date(2025, 9, 21)) == 1
    assert accrued_interest(bond, date(2025, 9, 21)) == 0.0046575  # 1.7/365 truncated


def test_29_february_is_counted() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    # 2027-09-20 -> 2028-03-19 holds 29 Feb 2028: 181 days
    assert accrued_days(bond, date(2028, 3, 19)) == 181
    assert accrued_interest(bond, date(2028, 3, 19)) == 0.8430136  # 1.7 * 181 / 365


def test_truncated_not_rounded() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    # 1.7 * 47 / 365 = 0.21890410958...
    assert accrued_interest(bond, date(2025, 11, 6)) == 0.2189041


def test_first_period_accrues_from_issue_date() -> None:
    bond = _jgb(0.017, date(2035, 9, 20), issue=date(2025, 10, 3))
    assert accrued_days(bond, date(2025, 11, 6)) == 34
    with pytest.raises(InputError, match="issue_date"):
        accrued_interest(bond, date(2025, 10, 1))


def test_tbill_accrues_nothing() -> None:
    bill = Jgb(ISIN, BondKind.TBILL, 0.0, date(2026, 2, 9))
    assert accrued_days(bill, date(2025, 11, 6)) == 0
    assert accrued_interest(bill, date(2025, 11, 6)) == 0.0
    assert accrued_amount(bill, date(2025, 11, 6), 10**9) == 0


def test_yen_amount_truncated_and_scaled_for_jgbi() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    assert accrued_amount(bond, date(2025, 11, 6), 1_000_000_000) == 2_189_041
    assert accrued_amount(bond, date(2025, 11, 6), 50_000) == 109  # 109.45 -> 109
    jgbi = Jgb(ISIN, BondKind.INFLATION, 0.001, date(2035, 3, 10))
    # 0.1 * 58/365 = 0.0158904; x 1.02219 x 1e8 / 100 = 16243.0 (truncated)
    assert accrued_amount(jgbi, date(2025, 11, 7), 100_000_000, 1.02219) == 16243
    with pytest.raises(InputError, match="index_ratio"):
        accrued_amount(jgbi, date(2025, 11, 7), 100_000_000)


def test_bad_inputs_name_the_field() -> None:
    bond = _jgb(0.017, date(2035, 9, 20))
    with pytest.raises(InputError, match="maturity_date"):
        accrued_interest(bond, date(2035, 9, 20))
    with pytest.raises(InputError, match="face"):
        accrued_amount(bond, date(2025, 11, 6), -1)


coupons = st.integers(min_value=0, max_value=12_000).map(lambda n: n / 100_000)  # 0..12%
maturities = st.dates(min_value=date(2026, 1, 1), max_value=date(2066, 12, 31)).map(
    lambda d: date(d.year, d.month, (1, 10, 20)[d.day % 3])
)
offsets = st.integers(min_value=1, max_value=40 * 366)


@settings(max_examples=300, deadline=None)
@given(coupons, maturities, offsets)
def test_never_more_than_half_a_coupon(coupon: float, maturity: date, back: int) -> None:
    bond = _jgb(coupon, maturity)
    settlement = maturity - timedelta(days=back)
    ai = accrued_interest(bond, settlement)
    assert 0.0 <= ai <= bond.coupon / 2 + 1e-12


@settings(max_examples=300, deadline=None)
@given(coupons, maturities, offsets, st.integers(min_value=1, max_value=10**12))
def test_yen_never_more_than_face_times_per_100(
    coupon: float, maturity: date, back: int, face: int
) -> None:
    bond = _jgb(coupon, maturity)
    settlement = maturity - timedelta(days=back)
    amount = accrued_amount(bond, settlement, face)
    # Exact: at 5e11 face the float product 500e9 x 4.3546301 / 100 falls 4e-6 short
    # of the exact 21,773,150,500 (a falsifying example hypothesis found).
    exact = face * Fraction(str(accrued_interest(bond, settlement))) / 100
    assert 0 <= amount <= exact
    assert exact - amount < 1
