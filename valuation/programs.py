"""JGB issuance programs: tenor, maturity-date rule and ISIN code of each series.

A *program* is a family of numbered series (``10Y`` #381, ``I10Y`` #30, T-bill #1370).
The rules below are data with their sources (MOF "About JGBs" and auction releases;
DOMAIN.md section 3):

- 5/10/20/30-year bonds mature on the 20th of Mar/Jun/Sep/Dec; 40-year on 20 March;
  2-year on the 1st of every month (since June 2020); JGBi (10-year) on 10 March;
  climate transition bonds on the 20th (5-year: Jun/Dec, 10-year: Mar/Jun/Sep/Dec, as
  the issues outstanding at 2026-03-31 show). Coupon-bond maturities are unadjusted.
- T-bills (Treasury Discount Bills) are configuration: 3-month bills weekly, 6-month and
  1-year bills monthly on the 20th, rolled off weekends (Japanese holidays are not
  checked: the generated bills are synthetic).

ISIN layout (mimicked from published ISINs; SICC "New Securities Code Specifications"):
``JP`` + ``1`` (attribute: government) + 2-digit program code + 3-character series +
``1`` + issue year letter + issue month + check digit. The year letter counts from
``A`` = 2010 skipping ``I`` and ``O`` (``J`` = 2018, ``S`` = 2026); the month is
``1``-``9``, ``A``-``C``; series first issued before 2010 carry ``00`` instead.
Evidence: JP1103451GC0 (10Y #345, Dec 2016), JP1103521JA8 (10Y #352, Oct 2018),
JP1103821S45 (10Y #382, Apr 2026), JP1024841S56 (2Y #484, May 2026), JP1051271G37
(5Y #127, Mar 2016), JP1201191A72 (20Y #119, Jul 2010), JP1400111J52 (40Y #11, May
2018), JP1300041009 (30Y #4, 2000), JP1743701S35 (T-bill #1370, Mar 2026). The program
codes of JGBi (``12``) and climate transition bonds (``55``, ``60``) are *unconfirmed*
(chosen here; no published ISIN was found); T-bills are read as ``7`` + (3 + the
thousands of the series) + the series modulo 1000, which fits #1370 and #1380
(JP1743801S59) and is extrapolated for other thousands.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta

from valuation.closed_set import ClosedSet
from valuation.errors import InputError
from valuation.isin import make_isin
from valuation.jgb import BondKind
from valuation.schedule import add_months


class Program(ClosedSet):
    """The JGB programs tanpo's universe holds (codes as in the outstanding table)."""

    Y2 = "2Y"
    Y5 = "5Y"
    Y10 = "10Y"
    Y20 = "20Y"
    Y30 = "30Y"
    Y40 = "40Y"
    I10 = "I10Y"
    C5 = "C5Y"
    C10 = "C10Y"
    TB3M = "TB3M"
    TB6M = "TB6M"
    TB1Y = "TB1Y"

    @property
    def rule(self) -> ProgramRule:
        """This program's :class:`ProgramRule`."""
        return PROGRAM_RULES[self]


@dataclass(frozen=True, slots=True)
class ProgramRule:
    """How a program's series are dated, numbered and coded.

    Parameters
    ----------
    program
        The program.
    kind
        How its bonds pay.
    tenor_months, tenor_days
        Original maturity: months for coupon bonds, days for T-bills (one is 0).
    maturity_months, maturity_day
        Months and day of month a series can mature on; empty months with
        ``weekly`` for 3-month bills.
    isin_code
        The 2-digit program code inside the ISIN.
    issue_spread_months
        How many months after "maturity - tenor" a new series may first be issued
        (quarterly programs take new series over about a quarter, the 40-year and JGBi
        over the fiscal year).
    min_coupon_rate
        The lowest coupon MOF sets (decimal); coupons step by 0.1%.
    status
        ``published`` where the rule is MOF's, ``configuration`` where it is chosen.
    """

    program: Program
    kind: BondKind
    tenor_months: int
    tenor_days: int
    maturity_months: tuple[int, ...]
    maturity_day: int
    isin_code: str
    issue_spread_months: int = 0
    weekly: bool = False
    min_coupon_rate: float = 0.001
    status: str = "published"

    @property
    def tenor_years(self) -> float:
        """Original maturity in years (the par-curve tenor a coupon is set from)."""
        return self.tenor_months / 12.0 if self.tenor_months else self.tenor_days / 365.0

    @property
    def is_bill(self) -> bool:
        """Whether the program is a discount T-bill."""
        return self.kind is BondKind.TBILL


_QUARTERLY = (3, 6, 9, 12)
_MONTHLY = tuple(range(1, 13))

PROGRAM_RULES: dict[Program, ProgramRule] = {
    r.program: r
    for r in (
        ProgramRule(Program.Y2, BondKind.FIXED, 24, 0, _MONTHLY, 1, "02"),
        ProgramRule(Program.Y5, BondKind.FIXED, 60, 0, _QUARTERLY, 20, "05", 2),
        ProgramRule(Program.Y10, BondKind.FIXED, 120, 0, _QUARTERLY, 20, "10", 2),
        ProgramRule(Program.Y20, BondKind.FIXED, 240, 0, _QUARTERLY, 20, "20", 2),
        ProgramRule(Program.Y30, BondKind.FIXED, 360, 0, _QUARTERLY, 20, "30", 2),
        ProgramRule(Program.Y40, BondKind.FIXED, 480, 0, (3,), 20, "40", 11),
        ProgramRule(
            Program.I10, BondKind.INFLATION, 120, 0, (3,), 10, "12", 11, status="configuration"
        ),
        ProgramRule(
            Program.C5, BondKind.FIXED, 60, 0, (6, 12), 20, "55", 5, status="configuration"
        ),
        ProgramRule(
            Program.C10, BondKind.FIXED, 120, 0, _QUARTERLY, 20, "60", 5, status="configuration"
        ),
        ProgramRule(
            Program.TB3M,
            BondKind.TBILL,
            0,
            91,
            (),
            0,
            "74",
            weekly=True,
            min_coupon_rate=0.0,
            status="configuration",
        ),
        ProgramRule(
            Program.TB6M,
            BondKind.TBILL,
            0,
            182,
            _MONTHLY,
            20,
            "74",
            min_coupon_rate=0.0,
            status="configuration",
        ),
        ProgramRule(
            Program.TB1Y,
            BondKind.TBILL,
            0,
            364,
            _MONTHLY,
            20,
            "74",
            min_coupon_rate=0.0,
            status="configuration",
        ),
    )
}


def _roll_off_weekend(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def maturity_slots(rule: ProgramRule, after: date, until: date) -> list[date]:
    """Every date in ``(after, until]`` a series of ``rule``'s program can mature on."""
    slots: list[date] = []
    if rule.weekly:
        # Weekly bills: every Monday (rolled off nothing; Mondays are weekdays).
        d = after + timedelta(days=(7 - after.weekday()) % 7 or 7)
        while d <= until:
            slots.append(d)
            d += timedelta(days=7)
        return slots
    year, month = after.year, after.month
    while date(year, month, 1) <= until:
        if month in rule.maturity_months:
            day = min(rule.maturity_day, _calendar.monthrange(year, month)[1])
            d = date(year, month, day)
            if rule.is_bill:
                d = _roll_off_weekend(d)
            if after < d <= until:
                slots.append(d)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return slots


def original_issue_date(rule: ProgramRule, maturity_date: date, spread_months: int = 0) -> date:
    """The first issue (dated) date of a series maturing on ``maturity_date``.

    Coupon bonds: ``maturity - tenor + spread`` months, on the program's coupon day (a
    simplification: real new issues settle early in the month); bills: maturity minus
    their tenor in days.
    """
    if rule.is_bill:
        return maturity_date - timedelta(days=rule.tenor_days)
    return add_months(maturity_date, -rule.tenor_months + spread_months)


_YEAR_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Issue-year letters in JGB ISINs: A = 2010, I and O skipped (J = 2018, S = 2026)."""

_MONTH_CHARS = "123456789ABC"

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _program_code(rule: ProgramRule, series: int, record: str) -> str:
    if not rule.is_bill:
        return rule.isin_code
    # T-bill #1370 is coded "74" + "370" (JP1743701S35): read as "7" + (3 + thousands);
    # other thousands are extrapolated (unconfirmed) so every bill number stays unique.
    thousands = 3 + series // 1000
    if thousands >= 36:
        raise InputError(record, "series", f"{series} exceeds the T-bill code range")
    return "7" + _BASE36[thousands]


def _series_field(rule: ProgramRule, series: int, record: str) -> str:
    if series < 1:
        raise InputError(record, "series", f"{series} must be >= 1")
    if rule.is_bill:
        return f"{series % 1000:03d}"
    if series < 1000:
        return f"{series:03d}"
    # Synthetic universes beyond the real numbering: 3 base-36 characters from "A00".
    value = series - 1000 + 10 * 36 * 36
    if value >= 36**3:
        raise InputError(record, "series", f"{series} exceeds the 3-character series field")
    return "".join(_BASE36[(value // 36**p) % 36] for p in (2, 1, 0))


def jgb_isin(program: Program, series: int, issue_date: date) -> str:
    """The ISIN of series ``series`` of ``program`` first issued on ``issue_date``.

    >>> jgb_isin(Program.Y10, 345, date(2016, 12, 20))
    'JP1103451GC0'
    >>> jgb_isin(Program.Y30, 4, date(2000, 11, 20))
    'JP1300041009'
    """
    rule = PROGRAM_RULES[program]
    record = f"{program} #{series}"
    if issue_date.year < 2010:
        issue = "00"
    else:
        index = issue_date.year - 2010
        if index >= len(_YEAR_LETTERS):
            raise InputError(record, "issue_date", f"{issue_date} is past the year letters (2033)")
        issue = _YEAR_LETTERS[index] + _MONTH_CHARS[issue_date.month - 1]
    code = _program_code(rule, series, record)
    return make_isin(f"JP1{code}{_series_field(rule, series, record)}1{issue}")
