"""The Tokyo business-day calendar: Japanese national holidays by rule, T+1 settlement.

A Tokyo business day is a weekday that is neither a Japanese holiday nor a bank
holiday (31 December, 2 and 3 January; Banking Act Enforcement Order art. 5). JGBs
settle T+1 (JSCC, since 1 May 2018) and coupons are paid on the next business day after
an unadjusted coupon date (JSDA practice; DOMAIN.md section 3).

Holidays follow the Act on National Holidays (国民の祝日に関する法律, Act No. 178 of
1948) with its amendments, written as data in :data:`HOLIDAY_RULES`:

* fixed days and "Happy Monday" days (nth Monday), each with the years it applied;
* the vernal and autumnal equinox days from the standard approximation used by the
  National Astronomical Observatory of Japan (NAOJ) for 1900-2150, checked in the tests
  against Meeus' equinox algorithm for every year the calendar is cross-checked;
* substitute holidays (振替休日): since 12 April 1973 a national holiday on a Sunday
  makes the next day a holiday; since 2007 the next day that is not itself a
  national holiday;
* citizens' holidays (国民の休日): since 27 December 1985 a day whose day before and
  day after are both national holidays is a holiday (e.g. 4 May 1988-2006,
  22 September 2009/2015/2026, 30 April and 2 May 2019);
* one-off days: 10 April 1959, 24 February 1989, 12 November 1990, 9 June 1993,
  1 May and 22 October 2019, and the Olympic moves of Marine Day, Sports Day and
  Mountain Day in 2020 and 2021 (Act No. 68 of 2018, Act No. 68 of 2020).

Saturdays are treated as closed in every year (banks closed all Saturdays from
February 1989; before that this calendar, like QuantLib's, is a modern-convention
calendar, not a historical record of Saturday trading).

This calendar equals QuantLib's ``Japan()`` on every day of 2000-2060 but one, and
disagrees with it on 86 days of 1970-1999; in every case the law (or the sky) is on
this side (tests/valuation/test_calendar.py classifies each day):

* QuantLib's equinox formula truncates toward zero for years before 2000 and is a
  day off in many of them (e.g. it closes 22 Sep 1970 and leaves 22 Mar 1999 open; the
  equinox of 1999 fell on Sunday 21 March, so Monday 22 March was a substitute
  holiday); the tests check our days against Meeus' algorithm;
* QuantLib closes 4 May in every year, but it became a holiday only in 1986;
* QuantLib closes 6 May whenever it is a Monday-Wednesday; before 2007 a Sunday
  3 May gave Monday 4 May as its substitute, and a Sunday 4 May (a citizens' holiday
  only on weekdays) gave nothing, so e.g. 6 May 2003 was a business day;
* QuantLib gives a substitute Monday for a Sunday holiday before 12 April 1973
  (e.g. 12 Feb 1973, 11 Oct 1971).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

FIRST_YEAR = 1949
"""First year with the full post-war holiday law in force (Act No. 178 of 1948)."""
LAST_YEAR = 2150
"""Last year the equinox approximation used here is published for (NAOJ)."""

SUBSTITUTE_HOLIDAY_START = date(1973, 4, 12)
"""Substitute holidays (振替休日) apply to national holidays from this day (Act No. 10 of 1973)."""
SUBSTITUTE_ANY_NEXT_DAY_YEAR = 2007
"""From 2007 the substitute is the next non-holiday day, not just Monday (Act No. 43 of 2005)."""
CITIZENS_HOLIDAY_START = date(1985, 12, 27)
"""Citizens' holidays (国民の休日) sandwiched between two national holidays (Act No. 103 of 1985)."""

SETTLEMENT_LAG_DAYS = 1
"""JGB outright trades settle T+1 Tokyo business days (JSCC, since 1 May 2018)."""

_NTH_MONDAY = "monday"
_FIXED = "fixed"
_VERNAL = "vernal_equinox"
_AUTUMNAL = "autumnal_equinox"


@dataclass(frozen=True, slots=True)
class HolidayRule:
    """One national holiday rule in force over a span of years.

    Parameters
    ----------
    name
        The holiday's English name (Japanese in the docstring of the table).
    month
        Month of the holiday.
    kind
        ``"fixed"`` (``day`` of ``month``), ``"monday"`` (the ``day``-th Monday of
        ``month``), ``"vernal_equinox"`` or ``"autumnal_equinox"``.
    day
        Day of month for ``fixed``, the ordinal n for ``monday``, unused for equinoxes.
    first_year, last_year
        Inclusive years the rule applied (``last_year`` None: still in force).
    """

    name: str
    month: int
    kind: str
    day: int
    first_year: int
    last_year: int | None = None

    def date_in(self, year: int) -> date | None:
        """The holiday's date in ``year``, or None when the rule is not in force then."""
        if year < self.first_year or (self.last_year is not None and year > self.last_year):
            return None
        if self.kind == _FIXED:
            return date(year, self.month, self.day)
        if self.kind == _NTH_MONDAY:
            first = date(year, self.month, 1)
            offset = (0 - first.weekday()) % 7  # Monday is weekday 0
            return first + timedelta(days=offset + 7 * (self.day - 1))
        if self.kind == _VERNAL:
            return date(year, 3, vernal_equinox_day(year))
        if self.kind == _AUTUMNAL:
            return date(year, 9, autumnal_equinox_day(year))
        raise ValueError(f"unknown holiday rule kind {self.kind!r}")


HOLIDAY_RULES: tuple[HolidayRule, ...] = (
    HolidayRule("New Year's Day", 1, _FIXED, 1, 1949),  # 元日
    HolidayRule("Coming of Age Day", 1, _FIXED, 15, 1949, 1999),  # 成人の日
    HolidayRule("Coming of Age Day", 1, _NTH_MONDAY, 2, 2000),  # Act No. 141 of 1998
    HolidayRule("National Foundation Day", 2, _FIXED, 11, 1967),  # 建国記念の日
    HolidayRule("Emperor's Birthday", 2, _FIXED, 23, 2020),  # 天皇誕生日 (Naruhito)
    HolidayRule("Vernal Equinox Day", 3, _VERNAL, 0, 1949),  # 春分の日
    HolidayRule("Emperor's Birthday", 4, _FIXED, 29, 1949, 1988),  # Showa
    HolidayRule("Greenery Day", 4, _FIXED, 29, 1989, 2006),  # みどりの日
    HolidayRule("Showa Day", 4, _FIXED, 29, 2007),  # 昭和の日, Act No. 43 of 2005
    HolidayRule("Constitution Memorial Day", 5, _FIXED, 3, 1949),  # 憲法記念日
    HolidayRule("Greenery Day", 5, _FIXED, 4, 2007),  # Act No. 43 of 2005
    HolidayRule("Children's Day", 5, _FIXED, 5, 1949),  # こどもの日
    HolidayRule("Marine Day", 7, _FIXED, 20, 1996, 2002),  # 海の日, Act No. 22 of 1995
    HolidayRule("Marine Day", 7, _NTH_MONDAY, 3, 2003, 2019),  # Act No. 59 of 2001
    HolidayRule("Marine Day", 7, _FIXED, 23, 2020, 2020),  # Olympics, Act No. 68 of 2018
    HolidayRule("Marine Day", 7, _FIXED, 22, 2021, 2021),  # Olympics, Act No. 68 of 2020
    HolidayRule("Marine Day", 7, _NTH_MONDAY, 3, 2022),
    HolidayRule("Mountain Day", 8, _FIXED, 11, 2016, 2019),  # 山の日, Act No. 43 of 2014
    HolidayRule("Mountain Day", 8, _FIXED, 10, 2020, 2020),  # Olympics
    HolidayRule("Mountain Day", 8, _FIXED, 8, 2021, 2021),  # Olympics (a Sunday: 9 Aug off)
    HolidayRule("Mountain Day", 8, _FIXED, 11, 2022),
    HolidayRule("Respect for the Aged Day", 9, _FIXED, 15, 1966, 2002),  # 敬老の日
    HolidayRule("Respect for the Aged Day", 9, _NTH_MONDAY, 3, 2003),  # Act No. 59 of 2001
    HolidayRule("Autumnal Equinox Day", 9, _AUTUMNAL, 0, 1948),  # 秋分の日
    HolidayRule("Health and Sports Day", 10, _FIXED, 10, 1966, 1999),  # 体育の日
    HolidayRule("Health and Sports Day", 10, _NTH_MONDAY, 2, 2000, 2019),
    HolidayRule("Sports Day", 7, _FIXED, 24, 2020, 2020),  # スポーツの日, Olympics
    HolidayRule("Sports Day", 7, _FIXED, 23, 2021, 2021),  # Olympics
    HolidayRule("Sports Day", 10, _NTH_MONDAY, 2, 2022),
    HolidayRule("Culture Day", 11, _FIXED, 3, 1948),  # 文化の日
    HolidayRule("Labour Thanksgiving Day", 11, _FIXED, 23, 1948),  # 勤労感謝の日
    HolidayRule("Emperor's Birthday", 12, _FIXED, 23, 1989, 2018),  # Akihito
)
"""National holidays (国民の祝日) by rule; the Olympic moves of 2020/2021 as one-year rules."""

ONE_OFF_HOLIDAYS: dict[date, str] = {
    date(1959, 4, 10): "Marriage of Crown Prince Akihito",  # Act No. 16 of 1959
    date(1989, 2, 24): "Funeral of Emperor Showa",  # Act No. 4 of 1989
    date(1990, 11, 12): "Enthronement Ceremony of Emperor Akihito",  # Act No. 24 of 1990
    date(1993, 6, 9): "Marriage of Crown Prince Naruhito",  # Act No. 32 of 1993
    date(2019, 5, 1): "Enthronement of Emperor Naruhito",  # Act No. 99 of 2018
    date(2019, 10, 22): "Enthronement Ceremony of Emperor Naruhito",  # Act No. 99 of 2018
}
"""One-off holidays by special act; they count as national holidays (for the sandwich rule)."""

BANK_HOLIDAYS: tuple[tuple[int, int], ...] = ((12, 31), (1, 2), (1, 3))
"""(month, day) closed every year for banks and the JGB market besides the holidays."""


def _equinox_day(year: int, base_1900: float, base_1980: float, base_2100: float) -> int:
    # NAOJ approximation: day = floor(base + 0.242194 (Y - 1980) - floor((Y - L) / 4)),
    # L = 1983 before 1980, else 1980; the base shifts by one day per century rule.
    if not FIRST_YEAR - 49 <= year <= LAST_YEAR:
        raise ValueError(f"equinox formula covers 1900-{LAST_YEAR}, got {year}")
    if year < 1980:
        # (Y - 1983) / 4 truncates toward zero here, as in the published integer form.
        return math.floor(base_1900 + 0.242194 * (year - 1980) - int((year - 1983) / 4))
    base = base_1980 if year < 2100 else base_2100
    return math.floor(base + 0.242194 * (year - 1980) - math.floor((year - 1980) / 4))


def vernal_equinox_day(year: int) -> int:
    """Day of March of the vernal equinox (JST), by the NAOJ approximation.

    .. math:: d = \\lfloor 20.8431 + 0.242194 (Y - 1980) - \\lfloor (Y - 1980)/4 \\rfloor \\rfloor

    for 1980-2099 (20.8357 and ``(Y - 1983)/4`` before 1980; 21.8510 from 2100).
    The official day is announced by NAOJ each February for the next year; the tests
    check this formula against Meeus' equinox algorithm (Astronomical Algorithms ch. 27).
    """
    return _equinox_day(year, 20.8357, 20.8431, 21.8510)


def autumnal_equinox_day(year: int) -> int:
    """Day of September of the autumnal equinox (JST), by the NAOJ approximation.

    As :func:`vernal_equinox_day` with bases 23.2588 (before 1980), 23.2488 (1980-2099),
    24.2488 (from 2100).
    """
    return _equinox_day(year, 23.2588, 23.2488, 24.2488)


@lru_cache(maxsize=512)
def _holidays_of_year(year: int) -> dict[date, str]:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the Tokyo calendar covers {FIRST_YEAR}-{LAST_YEAR}, got {year}")
    national: dict[date, str] = {}
    for rule in HOLIDAY_RULES:
        d = rule.date_in(year)
        if d is not None:
            national[d] = rule.name
    for d, name in ONE_OFF_HOLIDAYS.items():
        if d.year == year:
            national[d] = name
    # The neighbouring years matter for the rules below only across 31 Dec / 1 Jan,
    # where no substitute or sandwich can reach (31 Dec and 2 Jan are bank holidays).
    holidays = dict(national)
    for d in sorted(national):
        if d.weekday() != 6 or d < SUBSTITUTE_HOLIDAY_START:
            continue
        sub = d + timedelta(days=1)
        if year >= SUBSTITUTE_ANY_NEXT_DAY_YEAR:
            while sub in national:
                sub += timedelta(days=1)
        if sub not in national:
            holidays[sub] = f"Substitute holiday for {national[d]}"
    for d in sorted(national):
        between = d + timedelta(days=1)
        after = d + timedelta(days=2)
        if (
            between >= CITIZENS_HOLIDAY_START
            and after in national
            and between not in holidays
            and (year >= SUBSTITUTE_ANY_NEXT_DAY_YEAR or between.weekday() != 6)
        ):
            holidays[between] = "Citizens' holiday"
    return holidays


def japanese_holidays(year: int) -> dict[date, str]:
    """Japanese holidays of ``year`` (national, substitute, citizens', one-off) by name.

    Bank holidays (31 Dec, 2-3 Jan) are not included; see :func:`is_business_day`.
    Weekends are included only where a holiday falls on them.
    """
    return dict(_holidays_of_year(year))


def is_holiday(d: date) -> bool:
    """Whether ``d`` is a Japanese holiday (national, substitute, citizens' or one-off)."""
    return d in _holidays_of_year(d.year)


def is_business_day(d: date) -> bool:
    """Whether ``d`` is a Tokyo business day (JGB settlement and payment day).

    A weekday that is neither a Japanese holiday nor 31 Dec, 2 Jan or 3 Jan.
    """
    if d.weekday() >= 5 or (d.month, d.day) in BANK_HOLIDAYS:
        return False
    return d not in _holidays_of_year(d.year)


def following(d: date) -> date:
    """``d`` if a business day, else the next business day (payment-date rolling)."""
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def preceding(d: date) -> date:
    """``d`` if a business day, else the previous business day."""
    while not is_business_day(d):
        d -= timedelta(days=1)
    return d


def add_business_days(d: date, n: int) -> date:
    """The ``n``-th business day after ``d`` (before it when ``n`` is negative).

    ``n == 0`` returns ``d`` rolled forward to a business day.
    """
    if n == 0:
        return following(d)
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_business_day(d):
            remaining -= 1
    return d


def settlement_date(trade_date: date, lag: int = SETTLEMENT_LAG_DAYS) -> date:
    """The settlement date of a JGB trade: ``lag`` (default 1) business days after trade.

    A trade date that is not a business day settles as if traded on the next one.
    """
    if lag < 0:
        raise ValueError(f"settlement lag must be >= 0, got {lag}")
    return add_business_days(following(trade_date), lag)


def closed_days(start: date, end: date) -> list[date]:
    """Non-weekend closed days (holidays and bank holidays) in ``[start, end]``."""
    out: list[date] = []
    for year in range(start.year, end.year + 1):
        days = set(_holidays_of_year(year))
        days.update(date(year, m, dd) for m, dd in BANK_HOLIDAYS)
        out.extend(d for d in days if start <= d <= end and d.weekday() < 5)
    return sorted(out)


def busday_calendar(first_year: int, last_year: int) -> np.busdaycalendar:
    """A numpy business-day calendar of Tokyo for ``first_year..last_year``.

    For rolling many dates at once, e.g. payment dates:
    ``np.busday_offset(dates, 0, roll="forward", busdaycal=busday_calendar(2025, 2075))``.
    Dates outside the years given are treated as having no holidays: cover them all.
    """
    days = closed_days(date(first_year, 1, 1), date(last_year, 12, 31))
    return np.busdaycalendar(weekmask="1111100", holidays=np.array(days, dtype="datetime64[D]"))
