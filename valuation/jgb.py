"""The JGB definition: what the term sheet says, before any date is rolled.

A :class:`Jgb` is the definition (as Strata's ``FixedCouponBond``); the kernels take its
resolved form, flat arrays of cash-flow dates and amounts
(:mod:`valuation.cashflows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from valuation.closed_set import ClosedSet
from valuation.errors import InputError
from valuation.isin import check_isin

MAX_TERM_YEARS = 50
"""Longest residual maturity a bond may have at settlement. The longest JGB is the
40-year bond (MOF); the margin keeps a typo (2305 for 2035) from reaching the yield
solvers, whose powers overflow over centuries."""


class BondKind(ClosedSet):
    """How a JGB pays, which decides how it is priced and quoted.

    ``fixed``: semi-annual fixed coupon, bullet (2Y..40Y, climate transition bonds);
    ``tbill``: discount bill (Treasury Discount Bill), no coupon;
    ``inflation``: JGBi, principal and coupons scaled by the index ratio.
    """

    FIXED = "fixed"
    TBILL = "tbill"
    INFLATION = "inflation"

    @classmethod
    def noun(cls) -> str:
        """Called a kind in messages and input (``kind``)."""
        return "kind"

    @property
    def code(self) -> int:
        """The integer the numba kernels take for this kind."""
        return _KIND_CODES[self]


_KIND_CODES = {BondKind.FIXED: 0, BondKind.TBILL: 1, BondKind.INFLATION: 2}


@dataclass(frozen=True, slots=True)
class Jgb:
    """A Japanese Government Bond as its term sheet defines it.

    Parameters
    ----------
    isin
        ISIN with a valid check digit (``JP1103801PC7``...).
    kind
        :class:`BondKind`.
    coupon_rate
        Annual coupon as a decimal (0.017 for 1.7%); 0 for a T-bill.
    maturity_date
        Redemption date (unadjusted; coupon dates roll back from it every 6 months).
    issue_date
        Issue (dated) date where known; accrual of the first coupon starts there.
    series
        Human label, e.g. ``"10Y #380"``.
    """

    isin: str
    kind: BondKind
    coupon_rate: float
    maturity_date: date
    issue_date: date | None = None
    series: str = ""

    def __post_init__(self) -> None:
        record = f"bond {self.isin}"
        check_isin(self.isin, record)
        if not isinstance(self.kind, BondKind):
            raise InputError(record, "kind", f"{self.kind!r} is not a BondKind")
        if not (0.0 <= self.coupon_rate < 1.0):
            raise InputError(
                record, "coupon_rate", f"{self.coupon_rate!r} must be a decimal in [0, 1)"
            )
        if self.kind is BondKind.TBILL and self.coupon_rate != 0.0:
            raise InputError(record, "coupon_rate", "a T-bill pays no coupon; use 0")
        if self.issue_date is not None and self.issue_date >= self.maturity_date:
            raise InputError(
                record,
                "issue_date",
                f"{self.issue_date} is not before maturity {self.maturity_date}",
            )

    @property
    def record(self) -> str:
        """How errors name this bond: ``bond JP1103801PC7``."""
        return f"bond {self.isin}"

    def check_settlement(self, settlement_date: date, field: str = "settlement_date") -> date:
        """``settlement_date`` if this bond can settle then, else an :class:`InputError`.

        A bond settles strictly before maturity, at most :data:`MAX_TERM_YEARS` years
        before it, and, where the issue date is known, on or after issue.
        """
        if not isinstance(settlement_date, date):
            raise InputError(self.record, field, f"{settlement_date!r} is not a date")
        if settlement_date >= self.maturity_date:
            raise InputError(
                self.record,
                "maturity_date",
                f"maturity {self.maturity_date} is not after settlement {settlement_date}",
            )
        if (self.maturity_date - settlement_date).days > MAX_TERM_YEARS * 366:
            raise InputError(
                self.record,
                "maturity_date",
                f"maturity {self.maturity_date} is more than {MAX_TERM_YEARS} years after "
                f"settlement {settlement_date}; no JGB runs longer than 40 years",
            )
        if self.issue_date is not None and settlement_date < self.issue_date:
            raise InputError(
                self.record,
                "issue_date",
                f"issue {self.issue_date} is after settlement {settlement_date}",
            )
        return settlement_date

    @property
    def coupon(self) -> float:
        """Annual coupon per 100 face (1.7 for a 1.7% bond)."""
        return self.coupon_rate * 100.0
