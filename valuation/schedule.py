"""Coupon schedules of JGBs, rolled back from the maturity date.

JGBs pay semi-annually on the maturity day-of-month: 5/10/20/30-year bonds on the 20th
of Mar/Jun/Sep/Dec, 40-year on 20 Mar/Sep, 2-year on the 1st (since June 2020), JGBi on
the 10th (MOF "About JGBs"; DOMAIN.md section 3). Dates here are *unadjusted*: accrual
uses them as they are; payment rolls to the next Tokyo business day
(:mod:`valuation.calendar`).
"""

from __future__ import annotations

import calendar as _calendar
from datetime import date

COUPON_MONTHS = 6
"""Months between JGB coupon dates (semi-annual)."""


def add_months(d: date, months: int) -> date:
    """``d`` moved by ``months`` calendar months, the day clamped to the month's end."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    last = _calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def coupon_dates(maturity_date: date, after: date, issue_date: date | None = None) -> list[date]:
    """Unadjusted coupon dates strictly after ``after`` up to and including maturity.

    Rolled back from ``maturity_date`` in steps of six months (no end-of-month rule:
    JGB coupon days are the 1st, 10th or 20th). Dates on or before ``issue_date`` are
    not coupon dates.

    Returns ascending dates; empty when ``after >= maturity_date``.
    """
    start = after if issue_date is None or issue_date < after else issue_date
    dates: list[date] = []
    k = 0
    while True:
        d = add_months(maturity_date, -COUPON_MONTHS * k)
        if d <= start:
            break
        dates.append(d)
        k += 1
    dates.reverse()
    return dates


def previous_coupon_date(maturity_date: date, settlement_date: date) -> date:
    """The last coupon date on or before ``settlement_date`` (rolled from maturity).

    On a coupon date itself this is that date (accrued interest then is zero).
    May lie before the issue date for a bond in its first coupon period; the caller
    takes the later of the two (accrual starts at issue).
    """
    if settlement_date >= maturity_date:
        raise ValueError(f"settlement {settlement_date} is not before maturity {maturity_date}")
    # Jump close with whole half-years, then step.
    months = (maturity_date.year - settlement_date.year) * 12 + (
        maturity_date.month - settlement_date.month
    )
    k = max(months // COUPON_MONTHS - 1, 0)
    d = add_months(maturity_date, -COUPON_MONTHS * k)
    while d > settlement_date:
        k += 1
        d = add_months(maturity_date, -COUPON_MONTHS * k)
    return d


def next_coupon_date(maturity_date: date, settlement_date: date) -> date:
    """The first coupon date strictly after ``settlement_date``."""
    return add_months(previous_coupon_date(maturity_date, settlement_date), COUPON_MONTHS)
