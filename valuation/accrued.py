"""Accrued interest of JGBs, per 100 face and in yen, exactly as JSDA practice has it.

.. math::

    AI = \\min\\left(c \\cdot \\frac{d}{365},\\ \\frac{c}{2}\\right),
    \\quad d = \\text{days from the last coupon date (exclusive) to settlement (inclusive)}

with ``c`` the annual coupon per 100 face, 29 February *counted* in ``d`` (Act/365), the
half-coupon cap making a 183- or 184-day half year accrue exactly ``c/2``, and the
per-100 value truncated to 7 decimals. The yen amount for a face is
``face x AI / 100`` truncated to the yen (DOMAIN.md section 3; JSDA 公社債の経過利子の
計算方法). Example: 30-year #4 (2.9%, maturity 2030-11-20) settling 2019-11-19 has
``d = 183`` and ``AI = min(2.9 x 183/365, 1.45) = 1.45``.

The first coupon period accrues from the issue date when the :class:`~valuation.jgb.Jgb`
carries one; on a coupon date the accrued interest is zero. A T-bill accrues nothing.
For a JGBi the per-100 value is per 100 of inflation-adjusted principal and the yen
amount is taken on ``face x index_ratio`` (MOF: interest is paid on the adjusted
principal; :mod:`valuation.inflation`).

Arithmetic is exact (:class:`fractions.Fraction` from the decimal coupon), so the
truncations never slip a unit on a binary rounding error.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

from valuation.errors import InputError
from valuation.jgb import BondKind, Jgb
from valuation.schedule import previous_coupon_date

DAYS_PER_YEAR = 365
"""JGB accrual denominator (Act/365, 29 February counted in the numerator)."""
ACCRUED_DECIMALS = 7
"""Accrued interest per 100 face is truncated to this many decimals."""


def exact_decimal(value: float | int | str | Decimal) -> Fraction:
    """``value`` as the exact fraction of its shortest decimal form (0.017 -> 17/1000)."""
    return Fraction(Decimal(str(value)))


def accrual_start_date(jgb: Jgb, settlement_date: date) -> date:
    """The date accrual runs from: the last coupon date, or the issue date if later."""
    jgb.check_settlement(settlement_date)
    start = previous_coupon_date(jgb.maturity_date, settlement_date)
    if jgb.issue_date is not None and jgb.issue_date > start:
        start = jgb.issue_date
    return start


def accrued_days(jgb: Jgb, settlement_date: date) -> int:
    """Days of accrual: last coupon (or issue) date exclusive to settlement inclusive.

    Calendar days, 29 February counted; 0 on a coupon date and for a T-bill.
    """
    if jgb.kind is BondKind.TBILL:
        jgb.check_settlement(settlement_date)
        return 0
    return (settlement_date - accrual_start_date(jgb, settlement_date)).days


def _truncate(value: Fraction, decimals: int) -> Fraction:
    scale = 10**decimals
    return Fraction(math.trunc(value * scale), scale)


def accrued_interest_exact(jgb: Jgb, settlement_date: date) -> Fraction:
    """Accrued interest per 100 face as an exact fraction (capped, truncated to 7 dp)."""
    days = accrued_days(jgb, settlement_date)
    coupon = exact_decimal(jgb.coupon_rate) * 100
    raw = min(coupon * days / DAYS_PER_YEAR, coupon / 2)
    return _truncate(raw, ACCRUED_DECIMALS)


def accrued_interest(jgb: Jgb, settlement_date: date) -> float:
    """Accrued interest per 100 face (per 100 of adjusted principal for a JGBi).

    Parameters
    ----------
    jgb
        The bond (its issue date, when given, starts the first accrual period).
    settlement_date
        Settlement date; strictly before maturity, not before issue.

    Returns
    -------
    float
        ``min(c x days/365, c/2)`` truncated to 7 decimals; e.g. 1.45 for 30y #4
        settling 2019-11-19.

    Raises
    ------
    InputError
        When the bond cannot settle on ``settlement_date``.
    """
    return float(accrued_interest_exact(jgb, settlement_date))


def accrued_amount(
    jgb: Jgb, settlement_date: date, face: int, index_ratio: float | None = None
) -> int:
    """Accrued interest in yen for ``face`` yen of ``jgb``, truncated to the yen.

    ``face x AI / 100`` with ``AI`` the truncated per-100 value; for a JGBi the face is
    first scaled by ``index_ratio`` (the adjusted principal). Never more than
    ``face x AI / 100``.
    """
    if isinstance(face, bool) or not isinstance(face, int) or face < 0:
        raise InputError(jgb.record, "face", f"{face!r} must be a non-negative integer of yen")
    principal = Fraction(face)
    if jgb.kind is BondKind.INFLATION:
        if index_ratio is None or not index_ratio > 0:
            raise InputError(jgb.record, "index_ratio", "a JGBi needs a positive index ratio")
        principal *= exact_decimal(index_ratio)
    return math.floor(principal * accrued_interest_exact(jgb, settlement_date) / 100)
