"""Coupon schedules rolled back from maturity, and payment dates on the Tokyo calendar."""

from __future__ import annotations

from datetime import date

import pytest

from valuation.calendar import following
from valuation.schedule import add_months, coupon_dates, next_coupon_date, previous_coupon_date


def test_rolled_from_maturity() -> None:
    assert coupon_dates(date(2035, 9, 20), date(2034, 6, 1)) == [
        date(2034, 9, 20),
        date(2035, 3, 20),
        date(2035, 9, 20),
    ]
    # 2-year on the 1st, JGBi on the 10th
    assert coupon_dates(date(2027, 11, 1), date(2026, 12, 1)) == [
        date(2027, 5, 1),
        date(2027, 11, 1),
    ]
    assert coupon_dates(date(2035, 3, 10), date(2034, 9, 10)) == [date(2035, 3, 10)]


def test_issue_date_cuts_the_schedule() -> None:
    assert coupon_dates(date(2035, 9, 20), date(2025, 1, 1), date(2025, 10, 3))[0] == date(
        2026, 3, 20
    )


def test_previous_and_next() -> None:
    assert previous_coupon_date(date(2030, 11, 20), date(2019, 11, 19)) == date(2019, 5, 20)
    assert previous_coupon_date(date(2030, 11, 20), date(2019, 11, 20)) == date(2019, 11, 20)
    assert next_coupon_date(date(2030, 11, 20), date(2019, 11, 19)) == date(2019, 11, 20)
    with pytest.raises(ValueError):
        previous_coupon_date(date(2030, 11, 20), date(2030, 11, 20))


def test_add_months_clamps() -> None:
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2025, 3, 20), -6) == date(2024, 9, 20)


def test_payment_date_rolls_on_the_tokyo_calendar() -> None:
    # 20 Mar 2027 is a Saturday (and the equinox is the 21st, a Sunday -> Mon 22 off)
    assert following(date(2027, 3, 20)) == date(2027, 3, 23)
    assert following(date(2026, 9, 20)) == date(2026, 9, 24)  # Sun + Silver Week
