"""Clean -> dirty price for problem inputs that quote ``clean_price``.

The one place the optimizer turns a clean price into the dirty price that collateral
value is computed from, so that it can switch to part 1's valuation core
(``valuation.accrued``) in one line once that lands.

JGB accrued interest (DOMAIN.md section 3, JSDA practice): Act/365 counting 29 Feb,
days from the last coupon date (exclusive) to settlement (inclusive), capped at half
the annual coupon, per-100 value truncated to 7 decimals. T-bills accrue nothing.
"""

from __future__ import annotations

import math
from datetime import date

from valuation.errors import InputError
from valuation.jgb import BondKind, Jgb
from valuation.schedule import previous_coupon_date


def accrued_per_100(bond: Jgb, settlement_date: date) -> float:
    """Accrued interest per 100 face at ``settlement_date`` (JSDA convention).

    .. math:: AI = \\min\\left(c \\cdot \\frac{d}{365}, \\frac{c}{2}\\right)

    with ``c`` the annual coupon per 100 and ``d`` the days since the last coupon date
    (or the issue date in a first coupon period), truncated to 7 decimals.
    E.g. 30y #4 (2.9%) settling 2019-11-19, 183 days: 1.45 (DOMAIN.md section 3).
    """
    if bond.kind is BondKind.TBILL or bond.coupon_rate == 0.0:
        return 0.0
    start = previous_coupon_date(bond.maturity_date, settlement_date)
    if bond.issue_date is not None and bond.issue_date > start:
        start = bond.issue_date
    days = (settlement_date - start).days
    coupon = bond.coupon
    raw = min(coupon * days / 365.0, coupon / 2.0)
    return math.floor(raw * 1e7 + 1e-6) / 1e7


def dirty_from_clean(bond: Jgb, clean_price: float, settlement_date: date) -> float:
    """Dirty price per 100 face = clean price + accrued interest.

    Raises
    ------
    InputError
        For an inflation-indexed bond: its dirty price needs the index ratio, so the
        input must give ``dirty_price``.
    """
    if bond.kind is BondKind.INFLATION:
        raise InputError(
            f"bond {bond.isin}",
            "clean_price",
            "an inflation-indexed JGB needs dirty_price (its value depends on the index ratio)",
        )
    return clean_price + accrued_per_100(bond, settlement_date)
