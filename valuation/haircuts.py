"""Haircut schedules: eligibility, haircut by residual-maturity bucket, concentration.

Collateral value = market value (dirty, yen) x (1 - haircut) (DOMAIN.md section 4).
A schedule is *data* (``data/schedules/*.csv``, each row citing its source) or comes
inline in an optimizer problem; both become a :class:`HaircutSchedule`.

Residual years = (maturity - settlement) days / 365. The haircut bucket is the first
whose ``max_residual_years`` is >= the residual years (``None`` = no upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from valuation.errors import InputError
from valuation.jgb import BondKind


def residual_years(maturity_date: date, settlement_date: date) -> float:
    """(maturity - settlement) days / 365: the residual maturity every schedule buckets on."""
    return (maturity_date - settlement_date).days / 365.0


@dataclass(frozen=True, slots=True)
class HaircutBucket:
    """Haircut for residual maturities up to ``max_residual_years`` (``None``: no bound)."""

    max_residual_years: float | None
    haircut: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.haircut < 1.0) or math.isnan(self.haircut):
            raise InputError("haircut bucket", "haircut", f"{self.haircut!r} must be in [0, 1)")
        if self.max_residual_years is not None and self.max_residual_years < 0:
            raise InputError(
                "haircut bucket", "max_residual_years", f"{self.max_residual_years!r} is negative"
            )


@dataclass(frozen=True, slots=True)
class MaturityBucketLimit:
    """Concentration limit on everything pledged in a residual-maturity range.

    Collateral value of the bonds with ``min_residual_years < residual <=
    max_residual_years`` is at most ``max_share`` x required value and at most
    ``max_value`` yen (either may be ``None``: no cap).
    """

    min_residual_years: float
    max_residual_years: float | None
    max_share: float | None = None
    max_value: float | None = None

    def contains(self, years: float) -> bool:
        """Whether a bond with ``years`` residual maturity falls in this bucket."""
        upper_ok = self.max_residual_years is None or years <= self.max_residual_years
        return years > self.min_residual_years and upper_ok


def _check_buckets(buckets: tuple[HaircutBucket, ...], record: str, name: str) -> None:
    if not buckets:
        raise InputError(record, name, "needs at least one bucket")
    bounds = [b.max_residual_years for b in buckets]
    if any(b is None for b in bounds[:-1]):
        raise InputError(record, name, "only the last bucket may have no upper bound (null)")
    finite = [b for b in bounds if b is not None]
    if finite != sorted(finite) or len(set(finite)) != len(finite):
        raise InputError(record, name, f"max_residual_years must increase: {bounds}")


def _bucket_haircut(buckets: tuple[HaircutBucket, ...], years: float) -> float | None:
    for bucket in buckets:
        if bucket.max_residual_years is None or years <= bucket.max_residual_years:
            return bucket.haircut
    return None


@dataclass(frozen=True, slots=True)
class HaircutSchedule:
    """A secured party's schedule: which JGBs it takes and at what haircut.

    Parameters
    ----------
    id
        Schedule id (``"JSCC-IRS"``, ``"BOJ"``...).
    eligible_kinds
        Bond kinds accepted.
    min_residual_years, max_residual_years
        Accepted residual-maturity range (``max`` ``None``: no bound).
    haircuts
        Buckets by residual maturity, ascending; the first bucket with
        ``max_residual_years >= residual`` applies.
    kind_haircuts
        Per-kind bucket tables that replace ``haircuts`` for that kind (the BoJ has its
        own table for JGBi).
    isin_haircuts
        Per-ISIN overrides agreed in the collateral agreement; they win over buckets.
    excluded_isins
        ISINs the secured party refuses.
    max_share_per_isin, max_value_per_isin
        Concentration per (ISIN, obligation): collateral value <= share x required value
        and <= yen cap (``None``: no cap).
    bucket_limits
        Concentration per residual-maturity bucket.
    source
        Where the numbers come from.
    """

    id: str
    eligible_kinds: frozenset[BondKind]
    haircuts: tuple[HaircutBucket, ...]
    min_residual_years: float = 0.0
    max_residual_years: float | None = None
    kind_haircuts: Mapping[BondKind, tuple[HaircutBucket, ...]] = field(default_factory=dict)
    isin_haircuts: Mapping[str, float] = field(default_factory=dict)
    excluded_isins: frozenset[str] = frozenset()
    max_share_per_isin: float | None = None
    max_value_per_isin: float | None = None
    bucket_limits: tuple[MaturityBucketLimit, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        record = f"schedule {self.id}"
        if not self.id:
            raise InputError("schedule", "id", "must not be empty")
        if not self.eligible_kinds:
            raise InputError(record, "eligible_kinds", "accepts no bond kind")
        _check_buckets(self.haircuts, record, "haircuts")
        for kind, buckets in self.kind_haircuts.items():
            _check_buckets(buckets, record, f"kind_haircuts[{kind}]")
        if self.min_residual_years < 0:
            raise InputError(record, "min_residual_years", "must be >= 0")
        if (
            self.max_residual_years is not None
            and self.max_residual_years < self.min_residual_years
        ):
            raise InputError(record, "max_residual_years", "is below min_residual_years")
        for isin, h in self.isin_haircuts.items():
            if not (0.0 <= h < 1.0):
                raise InputError(record, f"isin_haircuts[{isin}]", f"{h!r} must be in [0, 1)")
        if self.max_share_per_isin is not None and not (0.0 < self.max_share_per_isin):
            raise InputError(record, "max_share_per_isin", "must be > 0 (or null for no cap)")
        if self.max_value_per_isin is not None and not (0.0 <= self.max_value_per_isin):
            raise InputError(record, "max_value_per_isin", "must be >= 0 (or null for no cap)")

    def is_eligible(self, isin: str, kind: BondKind, years: float) -> bool:
        """Whether the schedule takes this bond at ``years`` residual maturity."""
        if kind not in self.eligible_kinds or isin in self.excluded_isins:
            return False
        if years < self.min_residual_years or years <= 0.0:
            return False
        if self.max_residual_years is not None and years > self.max_residual_years:
            return False
        return self.haircut(isin, kind, years) is not None

    def haircut(self, isin: str, kind: BondKind, years: float) -> float | None:
        """The haircut (decimal) for this bond, or ``None`` when no bucket covers ``years``.

        Eligibility (kinds, range, exclusions) is :meth:`is_eligible`'s business; this
        only reads the tables: ISIN override, then the kind's table, then the default.
        """
        if isin in self.isin_haircuts:
            return self.isin_haircuts[isin]
        return _bucket_haircut(self.kind_haircuts.get(kind, self.haircuts), years)
