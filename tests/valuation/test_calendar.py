"""Tokyo calendar: holidays by rule, cross-checked day by day against QuantLib and the sky."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from valuation.calendar import (
    add_business_days,
    autumnal_equinox_day,
    busday_calendar,
    closed_days,
    following,
    is_business_day,
    is_holiday,
    japanese_holidays,
    preceding,
    settlement_date,
    vernal_equinox_day,
)

# --- Meeus, Astronomical Algorithms (2nd ed.), ch. 27: equinox instants (TT) --------

_MEEUS_TERMS = (
    (485, 324.96, 1934.136), (203, 337.23, 32964.467), (199, 342.08, 20.186),
    (182, 27.85, 445267.112), (156, 73.14, 45036.886), (136, 171.52, 22518.443),
    (77, 222.54, 65928.934), (74, 296.72, 3034.906), (70, 243.58, 9037.513),
    (58, 119.81, 33718.147), (52, 297.17, 150.678), (50, 21.02, 2281.226),
    (45, 247.54, 29929.562), (44, 325.15, 31555.956), (29, 60.93, 4443.417),
    (18, 155.12, 67555.328), (17, 288.79, 4562.452), (16, 198.04, 62894.029),
    (14, 199.76, 31436.921), (12, 95.39, 14577.848), (12, 287.11, 31931.756),
    (12, 320.81, 34777.259), (9, 227.73, 1222.114), (8, 15.45, 16859.074),
)  # fmt: skip


def _equinox_jst(year: int, vernal: bool) -> datetime:
    """Instant of the March/September equinox in JST (Meeus ch. 27, ~1 minute)."""
    y = (year - 2000) / 1000
    if vernal:
        jde0 = 2451623.80984 + 365242.37404 * y + 0.05169 * y**2 - 0.00411 * y**3 - 0.00057 * y**4
    else:
        jde0 = 2451810.21715 + 365242.01767 * y - 0.11575 * y**2 + 0.00337 * y**3 + 0.00078 * y**4
    t = (jde0 - 2451545.0) / 36525
    w = math.radians(35999.373 * t - 2.47)
    dl = 1 + 0.0334 * math.cos(w) + 0.0007 * math.cos(2 * w)
    s = sum(a * math.cos(math.radians(b + c * t)) for a, b, c in _MEEUS_TERMS)
    jde = jde0 + 0.00001 * s / dl
    delta_t = 60.0  # TT - UT seconds, 40-75 s over 1970-2025; only ever near midnight matters
    # JD 2440587.5 is 1970-01-01 00:00 UT.
    ut = datetime(1970, 1, 1) + timedelta(days=jde - 2440587.5, seconds=-delta_t)
    return ut + timedelta(hours=9)


def _near_midnight(t: datetime, minutes: float = 5.0) -> bool:
    since = t.hour * 60 + t.minute
    return since < minutes or since > 24 * 60 - minutes


@pytest.mark.parametrize("year", range(1970, 2061))
def test_equinox_formula_matches_meeus(year: int) -> None:
    # Meeus is good to about a minute; the closest calls 1970-2060 are 15-20 minutes
    # from midnight (24 Sep 1979 00:16, 20 Mar 2026 23:45, 22 Sep 2012 23:49 JST).
    for vernal, formula in ((True, vernal_equinox_day), (False, autumnal_equinox_day)):
        t = _equinox_jst(year, vernal)
        assert not _near_midnight(t), (year, vernal, t)
        assert t.day == formula(year), (year, vernal, t)


@pytest.mark.parametrize(
    ("year", "vernal", "autumnal"),
    [
        # NAOJ 暦要項 (official announcements, published each February for next year)
        (2020, 20, 22),
        (2021, 20, 23),
        (2022, 21, 23),
        (2023, 21, 23),
        (2024, 20, 22),
        (2025, 20, 23),
        (2026, 20, 23),
    ],
)
def test_equinox_days_as_announced(year: int, vernal: int, autumnal: int) -> None:
    assert vernal_equinox_day(year) == vernal
    assert autumnal_equinox_day(year) == autumnal


# --- Named days -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        (date(2026, 9, 22), True),  # citizens' holiday between 21 Sep (Mon) and 23 Sep
        (date(2015, 9, 22), True),  # same, Silver Week 2015
        (date(2009, 9, 22), True),
        (date(2019, 4, 30), True),  # citizens' holiday before the enthronement
        (date(2019, 5, 1), True),  # enthronement
        (date(2019, 5, 2), True),  # citizens' holiday after it
        (date(2019, 10, 22), True),  # enthronement ceremony
        (date(2019, 12, 23), False),  # no emperor's birthday in 2019
        (date(2019, 2, 25), False),  # Feb 23 not yet a holiday in 2019
        (date(2020, 2, 24), True),  # substitute for Sunday 23 Feb 2020
        (date(2020, 7, 23), True),  # Olympic Marine Day
        (date(2020, 7, 24), True),  # Olympic Sports Day
        (date(2020, 8, 10), True),  # Olympic Mountain Day
        (date(2020, 10, 12), False),  # second Monday of Oct 2020 not a holiday
        (date(2021, 7, 22), True),
        (date(2021, 7, 23), True),
        (date(2021, 8, 9), True),  # substitute for Mountain Day on Sunday 8 Aug 2021
        (date(2021, 10, 11), False),
        (date(2003, 5, 6), False),  # 4 May 2003 Sunday: no substitute before 2007
        (date(2008, 5, 6), True),  # 4 May 2008 Sunday: substitute from 2007
        (date(2009, 5, 6), True),  # 3 May 2009 Sunday -> next non-holiday day
        (date(1989, 2, 24), True),  # funeral of Emperor Showa
        (date(1990, 11, 12), True),
        (date(1993, 6, 9), True),
        (date(1973, 4, 30), True),  # first substitute holiday ever (29 Apr 1973 Sunday)
        (date(1973, 2, 12), False),  # 11 Feb 1973 Sunday: before the substitute law
        (date(1984, 5, 4), False),  # weekday 4 May before the citizens' holiday
        (date(1988, 5, 4), True),  # first weekday citizens' holiday
        (date(2025, 12, 31), True),  # bank holiday
        (date(2026, 1, 2), True),
        (date(2027, 1, 4), False),
        (date(2025, 11, 6), False),
        (date(2025, 11, 24), True),  # substitute for Sunday 23 Nov 2025
        (date(2025, 11, 22), True),  # a Saturday
    ],
)
def test_named_days(day: date, closed: bool) -> None:
    assert is_business_day(day) is not closed


def test_holiday_names_2026() -> None:
    names = japanese_holidays(2026)
    assert names[date(2026, 9, 22)] == "Citizens' holiday"
    assert names[date(2026, 5, 6)].startswith("Substitute holiday")  # 3 May 2026 Sunday
    assert names[date(2026, 1, 12)] == "Coming of Age Day"
    assert len(names) == 18  # 16 national + substitute 6 May + citizens' 22 Sep


def test_out_of_range_year_refused() -> None:
    with pytest.raises(ValueError, match="covers"):
        is_business_day(date(1900, 1, 5))


# --- QuantLib cross-check, every day 1970-2060 ------------------------------------


def _classify(day: date) -> str | None:
    """Why QuantLib's Japan() is wrong on ``day``, or None if no known reason."""
    if day.year < 2000 and day.month in (3, 9):
        # an equinox (or its substitute) that QuantLib's truncating formula misplaces
        vernal = day.month == 3
        t = _equinox_jst(day.year, vernal)
        if abs((day - t.date()).days) <= 1 and not _near_midnight(t):
            return "equinox"
    if day.month == 5 and day.day == 4 and day.year < 1986:
        return "4 May before 1986"
    if day.month == 5 and day.day == 6 and day.year < 2007:
        return "6 May before 2007"
    if day < date(1973, 4, 12) and day.weekday() == 0 and is_holiday(day - timedelta(days=1)):
        return "substitute before 12 Apr 1973"
    return None


def test_calendar_matches_quantlib_japan_1970_2060() -> None:
    ql = pytest.importorskip("QuantLib")
    japan = ql.Japan()
    start, end = date(1970, 1, 1), date(2060, 12, 31)
    unexplained: list[date] = []
    disagreements: dict[str, int] = {}
    day = start
    while day <= end:
        ours = is_business_day(day)
        theirs = japan.isBusinessDay(ql.Date(day.day, day.month, day.year))
        if ours != theirs:
            reason = _classify(day)
            if reason is None:
                unexplained.append(day)
            else:
                disagreements[reason] = disagreements.get(reason, 0) + 1
        day += timedelta(days=1)
    assert unexplained == []
    # From 2000 on the two calendars differ on one day only (6 May 2003).
    assert disagreements == {
        "equinox": 64,
        "4 May before 1986": 11,
        "6 May before 2007": 10,
        "substitute before 12 Apr 1973": 2,
    }


# --- Rolling and settlement -------------------------------------------------------


def test_following_and_preceding() -> None:
    assert following(date(2025, 12, 31)) == date(2026, 1, 5)  # 31, 1, 2, 3, 4 (Sun)
    assert following(date(2026, 3, 20)) == date(2026, 3, 23)  # equinox Fri -> Mon
    assert following(date(2026, 9, 20)) == date(2026, 9, 24)  # Sun + Silver Week
    assert following(date(2025, 11, 6)) == date(2025, 11, 6)
    assert preceding(date(2026, 1, 4)) == date(2025, 12, 30)


def test_add_business_days() -> None:
    assert add_business_days(date(2026, 9, 18), 1) == date(2026, 9, 24)
    assert add_business_days(date(2026, 9, 24), -1) == date(2026, 9, 18)
    assert add_business_days(date(2026, 9, 19), 0) == date(2026, 9, 24)
    assert add_business_days(date(2025, 11, 5), 3) == date(2025, 11, 10)


@pytest.mark.parametrize(
    ("trade", "settle"),
    [
        (date(2025, 11, 5), date(2025, 11, 6)),  # Wed -> Thu
        (date(2025, 11, 7), date(2025, 11, 10)),  # Fri -> Mon
        (date(2025, 12, 30), date(2026, 1, 5)),  # over the year-end closure
        (date(2026, 9, 18), date(2026, 9, 24)),  # over Silver Week 2026
        (date(2019, 4, 26), date(2019, 5, 7)),  # over the 10-day Golden Week 2019
        (date(2025, 11, 8), date(2025, 11, 11)),  # Saturday trade: as if Monday
    ],
)
def test_settlement_is_t_plus_1(trade: date, settle: date) -> None:
    assert settlement_date(trade) == settle


def test_busday_calendar_rolls_like_following() -> None:
    cal = busday_calendar(2024, 2030)
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2030-12-01"), 7)
    rolled = np.busday_offset(days, 0, roll="forward", busdaycal=cal)
    for d, r in zip(days.tolist(), rolled.tolist(), strict=True):
        assert r == following(d)
    assert all(d.weekday() < 5 for d in closed_days(date(2024, 1, 1), date(2030, 12, 31)))
