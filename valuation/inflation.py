"""JGBi (inflation-indexed JGB) index ratio and adjusted principal.

MOF, "物価連動国債の商品設計" and "10-year Inflation-Indexed Bonds (JGBi)":

* The reference index (適用指数) for a date is the nationwide CPI excluding fresh food
  with a three-month lag: on the 10th of month M it is the CPI of month M-3; between
  the 10th of M and the 10th of M+1 it moves linearly by calendar day to the CPI of
  M-2; rounded to 3 decimals. E.g. MOF's table for JGBi #30: 10 Dec 2025 -> 111.40
  (Sep 2025 CPI), 10 Jan 2026 -> 112.10 (Oct 2025 CPI), so 7 Jan 2026 ->
  111.40 + 0.70 x 28/31 = 112.032.
* The indexation coefficient (連動係数, index ratio) is the reference index of the
  date divided by the base index (the reference index on the 10th of the issue
  month), rounded to 5 decimals (DOMAIN.md section 3).
* Inflation-adjusted principal (想定元金額) = face x index ratio; interest is the
  adjusted principal x coupon rate / 2 (no floor on interest); issues from 2013 on
  redeem at no less than face (deflation floor, "元本保証").

How tanpo scales a JGBi (the market quotes them so): the clean price, accrued interest
and yields are per 100 of *adjusted* principal (real terms), exactly as for a fixed
JGB; money scales by the ratio, i.e. market value = face x ratio x dirty / 100 and the
accrued amount in yen = face x ratio x accrued / 100 truncated to the yen. The CLI
takes ``index_ratio`` directly; these functions take a CPI series as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from valuation.errors import InputError
from valuation.schedule import add_months

REFERENCE_DAY = 10
"""Day of month on which the reference index equals a monthly CPI (MOF)."""
LAG_MONTHS = 3
"""CPI lag of the reference index (MOF)."""
REFERENCE_INDEX_DECIMALS = 3
INDEX_RATIO_DECIMALS = 5
DEFLATION_FLOOR_FROM = date(2013, 4, 1)
"""JGBi issued from fiscal 2013 on redeem at no less than face (MOF)."""


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CpiSeries:
    """Monthly CPI (ex fresh food) by ``(year, month)``: the data the ratio is built from.

    Values are kept as given (decimal strings or floats with the published decimals).
    """

    values: Mapping[tuple[int, int], float]

    def cpi(self, year: int, month: int) -> Decimal:
        """The CPI of ``year``-``month``, or an :class:`InputError` when it is missing."""
        try:
            return Decimal(str(self.values[(year, month)]))
        except KeyError:
            raise InputError(
                "cpi", f"{year:04d}-{month:02d}", "CPI for this month is not in the series"
            ) from None


def reference_index(cpi: CpiSeries, on: date) -> Decimal:
    """The reference index (適用指数) on ``on``, rounded to 3 decimals (MOF)."""
    if on.day >= REFERENCE_DAY:
        start = date(on.year, on.month, REFERENCE_DAY)
    else:
        start = add_months(date(on.year, on.month, REFERENCE_DAY), -1)
    end = add_months(start, 1)
    lagged = add_months(start, -LAG_MONTHS)
    lower = cpi.cpi(lagged.year, lagged.month)
    nxt = add_months(lagged, 1)
    if on == start:
        return _round(lower, REFERENCE_INDEX_DECIMALS)
    upper = cpi.cpi(nxt.year, nxt.month)
    weight = Decimal((on - start).days) / Decimal((end - start).days)
    return _round(lower + (upper - lower) * weight, REFERENCE_INDEX_DECIMALS)


def base_index(cpi: CpiSeries, issue_date: date) -> Decimal:
    """The base index: the reference index on the 10th of the issue month (MOF)."""
    return reference_index(cpi, date(issue_date.year, issue_date.month, REFERENCE_DAY))


def index_ratio(cpi: CpiSeries, issue_date: date, on: date) -> float:
    """Indexation coefficient (連動係数) on ``on`` of a JGBi issued on ``issue_date``.

    ``reference_index(on) / base_index`` rounded to 5 decimals.
    """
    ratio = reference_index(cpi, on) / base_index(cpi, issue_date)
    return float(_round(ratio, INDEX_RATIO_DECIMALS))


def check_index_ratio(value: object, record: str) -> float:
    """``value`` as a positive index ratio, or an :class:`InputError` on ``index_ratio``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(record, "index_ratio", f"{value!r} is not a number")
    if not 0 < value < 100:
        raise InputError(record, "index_ratio", f"{value!r} must be a positive ratio (1.02219)")
    return float(value)


def adjusted_principal(face: int, ratio: float) -> float:
    """Inflation-adjusted principal (想定元金額) in yen: ``face x ratio``."""
    return face * ratio


def redemption_per_100(ratio: float, issue_date: date | None) -> float:
    """Redemption per 100 face at maturity: ``100 x ratio``, floored at 100 from FY2013.

    ``issue_date`` None is taken as a recent issue (floored): every JGBi outstanding
    today was issued from 2013 on.
    """
    floored = issue_date is None or issue_date >= DEFLATION_FLOOR_FROM
    return 100.0 * max(ratio, 1.0) if floored else 100.0 * ratio
