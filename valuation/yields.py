"""JGB yields both ways: Japanese simple yield, JSDA compound yield, T-bill yield.

All yields are decimals (0.01674 for 1.674%), prices per 100 face (clean unless said),
coupons per 100 face inside the formulas (``c = 100 x coupon_rate``).

Simple yield (単利, the Japanese quote; MOF auction results, OpenGamma Strata
``JP_SIMPLE``):

.. math:: y = \\frac{c + (100 - P)/T}{P}, \\qquad P = \\frac{100 + cT}{1 + yT}

``T`` in years: days to maturity / 365 with 29 February *not* counted when at least one
year remains (NL/365), plain Act/365 under one year. Quoted truncated to 3 decimals of
a percent (MOF, JSDA): 10-year #380 at 100.22 on 2025-11-06 -> 1.67403% -> 1.674%.

Compound yield (複利, semi-annual; JSDA 公社債店頭売買参考統計値). JSDA's compound
yield is not the street (ICMA) yield on the dirty price: it prices the *clean* price
as a bond paying ``c/2`` over a fractional number of half-years ``N = 2T``, with the
same ``T`` as the simple yield (NL/365 from one year up):

.. math::

    P = 100\\left[v^{N} + \\frac{c}{100\\,y}\\,(1 - v^{N})\\right],
    \\quad v = \\frac{1}{1 + y/2},\\ N = 2T

Evidence (tests/valuation/test_reference_values.py): JSDA's reference statistics for
20-year #101 (2.4%, 2028-03-20) on 2025-11-18 give simple 0.925% <-> clean 103.37 and
compound 0.937%; with JSDA's same-day settlement this formula gives 0.93705% -> 0.937%
while the street formula (dirty price, fractional first period ``days to next coupon /
days in the period``, JGB accrued) gives 0.93984% -> 0.939%. The formula is the one
reproduced by retrieveram's "日本式複利" notes (qiita.com/retrieveram, 2025-11-20). MOF
40-year auctions (priced by MOF from the highest accepted yield) are within 0.006 per
100 of it; one of six is a cent off after rounding (#8 at 1.475% on 2015-10-29 ->
97.7655, MOF 97.76). The same formula with ``T`` in Act/365 (29 February counted)
rounds all six to MOF's cent (97.7643 there), so MOF's 40-year pricing may count leap
days; JSDA's figures cannot (for #101, whose life holds 29 Feb 2028, Act/365 gives
simple 0.926% and compound 0.938%, not the published 0.925% and 0.937%). tanpo quotes
as JSDA does; MOF's 40-year day count stays unconfirmed.
Quoted truncated to 3 decimals of a percent (JSDA). A T-bill's compound yield is the
same formula with ``c = 0``.

T-bill yield (MOF T-bill auction results):

.. math:: y = \\frac{100 - P}{P} \\cdot \\frac{365}{\\text{days}}

days from settlement (issue) to maturity; quoted truncated toward zero to 4 decimals of
a percent, negatives included (-0.15078% -> -0.1507%, MOF T-bill #873).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import ROUND_DOWN, Decimal

from valuation.errors import InputError
from valuation.jgb import BondKind, Jgb
from valuation.schedule import add_months

DAYS_PER_YEAR = 365
MAX_ABS_YIELD = 1e6
"""Largest yield (decimal) a price may imply: beyond 100,000,000% the price per 100 was
mistyped (1e-9 for 100), and the quotes would lose their decimals."""
_SERIES_LIMIT = 0.25  # |y/2| (N + 1) below this: the annuity factor by its series


# --- Day counts -----------------------------------------------------------------------


def leap_days_between(start: date, end: date) -> int:
    """How many 29 Februaries fall in ``(start, end]``."""
    count = 0
    for year in range(start.year, end.year + 1):
        if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            feb29 = date(year, 2, 29)
            if start < feb29 <= end:
                count += 1
    return count


def simple_yield_years(jgb: Jgb, settlement_date: date) -> float:
    """``T`` of the simple yield: NL/365 with >= 1 year to maturity, else Act/365."""
    jgb.check_settlement(settlement_date)
    days = (jgb.maturity_date - settlement_date).days
    if add_months(settlement_date, 12) <= jgb.maturity_date:
        days -= leap_days_between(settlement_date, jgb.maturity_date)
    return days / DAYS_PER_YEAR


def compound_yield_years(jgb: Jgb, settlement_date: date) -> float:
    """``T`` of the JSDA compound yield: the simple yield's (NL/365 from one year up)."""
    return simple_yield_years(jgb, settlement_date)


def _check_price(jgb: Jgb, price: float, field: str = "clean_price") -> float:
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price):
        raise InputError(jgb.record, field, f"{price!r} is not a number")
    if price <= 0:
        raise InputError(jgb.record, field, f"{price!r} must be positive (per 100 face)")
    return float(price)


def _check_yield(jgb: Jgb, value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(jgb.record, field, f"{value!r} is not a number")
    if value <= -1.0:
        raise InputError(jgb.record, field, f"{value!r} is not a decimal yield above -100%")
    return float(value)


# --- Simple yield -----------------------------------------------------------------------


def _check_finite_yield(jgb: Jgb, value: float, price: float) -> float:
    if not abs(value) <= MAX_ABS_YIELD:
        raise InputError(
            jgb.record,
            "clean_price",
            f"{price!r} per 100 gives a yield of {value!r}; is it a price?",
        )
    return value


def simple_yield(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """Japanese simple yield (decimal) of a coupon JGB at ``clean_price`` per 100."""
    price = _check_price(jgb, clean_price)
    years = simple_yield_years(jgb, settlement_date)
    return _check_finite_yield(jgb, (jgb.coupon + (100.0 - price) / years) / price, price)


def simple_price(jgb: Jgb, settlement_date: date, yield_: float) -> float:
    """Clean price per 100 at Japanese simple yield ``yield_`` (decimal)."""
    y = _check_yield(jgb, yield_, "simple_yield")
    years = simple_yield_years(jgb, settlement_date)
    denominator = 1.0 + y * years
    if denominator <= 0:
        raise InputError(jgb.record, "simple_yield", f"{y!r} gives no positive price")
    return (100.0 + jgb.coupon * years) / denominator


# --- T-bill yield ---------------------------------------------------------------------


def _tbill_days(jgb: Jgb, settlement_date: date) -> int:
    jgb.check_settlement(settlement_date)
    return (jgb.maturity_date - settlement_date).days


def tbill_yield(jgb: Jgb, settlement_date: date, price: float) -> float:
    """T-bill yield ``(100 - P)/P x 365/days`` (decimal) at ``price`` per 100."""
    p = _check_price(jgb, price)
    return _check_finite_yield(
        jgb, (100.0 - p) / p * DAYS_PER_YEAR / _tbill_days(jgb, settlement_date), p
    )


def tbill_price(jgb: Jgb, settlement_date: date, yield_: float) -> float:
    """T-bill price per 100 at yield ``yield_``: ``100 / (1 + y x days/365)``."""
    y = _check_yield(jgb, yield_, "simple_yield")
    denominator = 1.0 + y * _tbill_days(jgb, settlement_date) / DAYS_PER_YEAR
    if denominator <= 0:
        raise InputError(jgb.record, "simple_yield", f"{y!r} gives no positive price")
    return 100.0 / denominator


def quoted_yield(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """The market's headline yield: T-bill yield for a bill, else the simple yield."""
    if jgb.kind is BondKind.TBILL:
        return tbill_yield(jgb, settlement_date, clean_price)
    return simple_yield(jgb, settlement_date, clean_price)


# --- Compound yield (JSDA) ----------------------------------------------------------------


class Jet:
    """A value with its first and second derivative in one variable (forward mode).

    Just enough arithmetic for the compound price, so duration and convexity come out
    exact instead of from finite differences.
    """

    __slots__ = ("d1", "d2", "v")

    def __init__(self, v: float, d1: float = 0.0, d2: float = 0.0) -> None:
        self.v, self.d1, self.d2 = v, d1, d2

    def __add__(self, other: Jet | float) -> Jet:
        o = _jet(other)
        return Jet(self.v + o.v, self.d1 + o.d1, self.d2 + o.d2)

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(-self.v, -self.d1, -self.d2)

    def __sub__(self, other: Jet | float) -> Jet:
        return self + (-_jet(other))

    def __rsub__(self, other: Jet | float) -> Jet:
        return _jet(other) - self

    def __mul__(self, other: Jet | float) -> Jet:
        o = _jet(other)
        return Jet(
            self.v * o.v,
            self.d1 * o.v + self.v * o.d1,
            self.d2 * o.v + 2.0 * self.d1 * o.d1 + self.v * o.d2,
        )

    __rmul__ = __mul__

    def reciprocal(self) -> Jet:
        """``1 / self``."""
        inv = 1.0 / self.v
        return Jet(inv, -self.d1 * inv * inv, (2.0 * self.d1 * self.d1 * inv - self.d2) * inv * inv)

    def __truediv__(self, other: Jet | float) -> Jet:
        return self * _jet(other).reciprocal()

    def __rtruediv__(self, other: Jet | float) -> Jet:
        return _jet(other) * self.reciprocal()

    def __pow__(self, p: float) -> Jet:
        a = self.v
        f1 = p * a ** (p - 1.0)
        f2 = p * (p - 1.0) * a ** (p - 2.0)
        return Jet(a**p, f1 * self.d1, f2 * self.d1 * self.d1 + f1 * self.d2)


def _jet(x: Jet | float) -> Jet:
    return x if isinstance(x, Jet) else Jet(float(x))


def _annuity_series(n: float, x: Jet) -> Jet:
    # (1 - (1+x)^-n) / (2x) = 1/2 sum_{k>=1} (-1)^(k+1) C(n+k-1, k) x^(k-1): no
    # cancellation near x = 0, where the closed form loses its derivatives.
    total = Jet(0.0)
    power = Jet(1.0)
    coefficient = 1.0
    for k in range(1, 200):
        coefficient *= (n + k - 1) / k
        term = power * (coefficient * (1.0 if k % 2 else -1.0))
        total = total + term
        if abs(term.v) + abs(term.d1) + abs(term.d2) < 1e-17 * (abs(total.v) + 1e-300):
            break
        power = power * x
    return total * 0.5


def _compound_price(coupon: float, years: float, y: Jet) -> Jet:
    # P = 100 v^N + c a(y), a(y) = (1 - v^N)/y, N = 2T.
    n = 2.0 * years
    x = y * 0.5
    discount = (1.0 + x) ** (-n)
    if abs(x.v) * (n + 1.0) < _SERIES_LIMIT:
        annuity = _annuity_series(n, x)
    else:
        annuity = (1.0 - discount) / y
    return 100.0 * discount + coupon * annuity


def compound_price(jgb: Jgb, settlement_date: date, yield_: float) -> float:
    """Clean price per 100 at JSDA compound yield ``yield_`` (decimal, semi-annual)."""
    y = _check_yield(jgb, yield_, "compound_yield")
    if y <= -2.0:
        raise InputError(jgb.record, "compound_yield", f"{y!r} is below -200%")
    return _compound_price(jgb.coupon, compound_yield_years(jgb, settlement_date), Jet(y)).v


def compound_price_derivatives(
    jgb: Jgb, settlement_date: date, yield_: float
) -> tuple[float, float, float]:
    """``(P, dP/dy, d2P/dy2)`` of the compound clean price per 100 at ``yield_``."""
    y = _check_yield(jgb, yield_, "compound_yield")
    price = _compound_price(jgb.coupon, compound_yield_years(jgb, settlement_date), Jet(y, 1.0))
    return price.v, price.d1, price.d2


def compound_yield(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """JSDA compound yield (decimal, semi-annual) of ``jgb`` at ``clean_price`` per 100.

    Newton's method on the exact derivative, safeguarded by bisection on a bracket
    (the price falls strictly as the yield rises); converges to 1e-14.
    """
    price = _check_price(jgb, clean_price)
    years = compound_yield_years(jgb, settlement_date)
    coupon = jgb.coupon

    def f(y: float) -> tuple[float, float]:
        jet = _compound_price(coupon, years, Jet(y, 1.0))
        return jet.v - price, jet.d1

    return _solve_decreasing(f, lo=-0.99, hi=1.0, record=jgb.record)


def _solve_decreasing(
    f: Callable[[float], tuple[float, float]], lo: float, hi: float, record: str
) -> float:
    f_lo, _ = f(lo)
    f_hi, _ = f(hi)
    while f_hi > 0 and hi < 1e3:
        lo, f_lo = hi, f_hi
        hi *= 2
        f_hi, _ = f(hi)
    if not (f_lo >= 0 >= f_hi):
        raise InputError(record, "clean_price", "no compound yield in [-99%, 100,000%] matches it")
    y = 0.0 if lo < 0 < hi else (lo + hi) / 2
    for _ in range(200):
        value, slope = f(y)
        if value == 0:
            return y
        if value > 0:
            lo = y
        else:
            hi = y
        step = y - value / slope if slope < 0 else math.nan
        y_next = step if lo < step < hi else (lo + hi) / 2
        if abs(y_next - y) < 1e-15 or hi - lo < 1e-15:
            return y_next
        y = y_next
    return y  # pragma: no cover - bisection halves the bracket; 200 steps always suffice


# --- Quotes -------------------------------------------------------------------------------


def _truncate_percent(yield_: float, decimals: int) -> float:
    # Round away binary noise at 1e-9 of a percent first, then truncate toward zero.
    if not abs(yield_) <= MAX_ABS_YIELD:
        raise ValueError(f"cannot quote a yield of {yield_!r} (beyond +-{MAX_ABS_YIELD:g})")
    percent = Decimal(repr(round(yield_ * 100.0, 9)))
    quantum = Decimal(1).scaleb(-decimals)
    return float(percent.quantize(quantum, rounding=ROUND_DOWN) / 100)


def quote_simple_yield(yield_: float) -> float:
    """Simple yield as quoted: truncated toward zero to 3 decimals of a percent."""
    return _truncate_percent(yield_, 3)


def quote_compound_yield(yield_: float) -> float:
    """Compound yield as JSDA quotes it: truncated toward zero to 3 decimals of a percent."""
    return _truncate_percent(yield_, 3)


def quote_tbill_yield(yield_: float) -> float:
    """T-bill yield as MOF quotes it: truncated toward zero to 4 decimals of a percent.

    >>> quote_tbill_yield(-0.0012349)
    -0.001234
    """
    return _truncate_percent(yield_, 4)
