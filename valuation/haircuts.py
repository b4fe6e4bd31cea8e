"""Haircut schedules: eligibility, haircut by residual-maturity bucket, concentration.

Collateral value = market value (dirty, yen) x (1 - haircut) (DOMAIN.md section 4).
A schedule is *data* (``data/schedules/*.csv``, each row citing its source) or comes
inline in an optimizer problem; both become a :class:`HaircutSchedule`.

Residual years = (maturity - settlement) days / 365. The haircut bucket is the first
whose ``max_residual_years`` is >= the residual years (``None`` = no upper bound).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from valuation.errors import InputError
from valuation.isin import check_isin
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
    fx_mismatch_haircut
        Add-on the schedule prescribes when the collateral currency (yen) differs from
        the settlement currency (BCBS-IOSCO: 8%); ``None`` where it says nothing.
        :meth:`with_fx_mismatch` applies it.
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
    fx_mismatch_haircut: float | None = None

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
        if self.fx_mismatch_haircut is not None and not (0.0 <= self.fx_mismatch_haircut < 1.0):
            raise InputError(record, "fx_mismatch_haircut", "must be in [0, 1)")

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

    def with_fx_mismatch(self, id: str | None = None) -> HaircutSchedule:
        """This schedule for a settlement currency other than yen: every haircut plus
        :attr:`fx_mismatch_haircut` (BCBS-IOSCO Appendix B: 8%), under a new ``id``
        (default ``<id>-FX``)."""
        addon = self.fx_mismatch_haircut
        if addon is None:
            raise InputError(f"schedule {self.id}", "fx_mismatch_haircut", "the schedule has none")

        def bump(buckets: tuple[HaircutBucket, ...]) -> tuple[HaircutBucket, ...]:
            return tuple(
                HaircutBucket(b.max_residual_years, round(b.haircut + addon, 12)) for b in buckets
            )

        return replace(
            self,
            id=id or f"{self.id}-FX",
            haircuts=bump(self.haircuts),
            kind_haircuts={k: bump(v) for k, v in self.kind_haircuts.items()},
            isin_haircuts={i: round(h + addon, 12) for i, h in self.isin_haircuts.items()},
            source=f"{self.source}; plus FX-mismatch add-on {addon:g}",
            fx_mismatch_haircut=None,
        )


# ------------------------------------------------------------------ schedule data files

SCHEDULE_COLUMNS = (
    "field",
    "kind",
    "isin",
    "min_residual_years",
    "max_residual_years",
    "value",
    "status",
    "source",
)
"""Columns of a ``data/schedules/*.csv`` file (one row per fact, each with its source)."""

ROW_STATUSES = ("published", "configuration", "unconfirmed")
"""``published``: typed from the cited text; ``configuration``: chosen here where the
secured party publishes nothing; ``unconfirmed``: from a secondary source."""

_FIELDS = (
    "id",
    "eligible_kind",
    "residual_range",
    "haircut",
    "isin_haircut",
    "excluded_isin",
    "max_share_per_isin",
    "max_value_per_isin",
    "bucket_max_share",
    "bucket_max_value",
    "fx_mismatch_haircut",
)


def _number(text: str, record: str, column: str, *, optional: bool = False) -> float | None:
    text = text.strip()
    if not text:
        if optional:
            return None
        raise InputError(record, column, "is empty; a number is required")
    try:
        value = float(text)
    except ValueError:
        raise InputError(record, column, f"{text!r} is not a number") from None
    if math.isnan(value):
        raise InputError(record, column, "is NaN")
    return value


def read_schedule(path: str | Path) -> HaircutSchedule:
    """Load one haircut schedule file (``data/schedules/*.csv``).

    Lines starting with ``#`` are comments. Haircut rows of one table (default or one
    kind) must be contiguous buckets from 0 years; every row needs a ``status`` and a
    ``source``.

    Raises
    ------
    InputError
        Naming ``<file> line N`` and the column at fault.
    """
    path = Path(path)
    lines = [
        (n, line)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(path.name, "header", "the file is empty")
    rows = list(csv.reader(line for _, line in lines))
    header_line = lines[0][0]
    if tuple(c.strip() for c in rows[0]) != SCHEDULE_COLUMNS:
        raise InputError(
            f"{path.name} line {header_line}", "header", f"expected {','.join(SCHEDULE_COLUMNS)}"
        )
    schedule_id = ""
    source = ""
    kinds: set[BondKind] = set()
    range_min, range_max = 0.0, None
    tables: dict[BondKind | None, list[tuple[float, float | None, float, str]]] = {}
    isin_haircuts: dict[str, float] = {}
    excluded: set[str] = set()
    share: float | None = None
    cap: float | None = None
    bucket_caps: dict[tuple[float, float | None], list[float | None]] = {}
    fx: float | None = None
    for (n, _), row in zip(lines[1:], rows[1:], strict=True):
        record = f"{path.name} line {n}"
        if len(row) != len(SCHEDULE_COLUMNS):
            raise InputError(
                record, "row", f"has {len(row)} cells, expected {len(SCHEDULE_COLUMNS)}"
            )
        cell = dict(zip(SCHEDULE_COLUMNS, (c.strip() for c in row), strict=True))
        name = cell["field"]
        if name not in _FIELDS:
            raise InputError(
                record, "field", f"unknown field {name!r}; expected one of {', '.join(_FIELDS)}"
            )
        if cell["status"] not in ROW_STATUSES:
            raise InputError(
                record, "status", f"{cell['status']!r}; expected one of {', '.join(ROW_STATUSES)}"
            )
        if not cell["source"]:
            raise InputError(record, "source", "every row must cite its source")
        lo = _number(cell["min_residual_years"], record, "min_residual_years", optional=True)
        hi = _number(cell["max_residual_years"], record, "max_residual_years", optional=True)
        kind = BondKind.parse(cell["kind"], record) if cell["kind"] else None
        if name == "id":
            schedule_id, source = cell["value"], cell["source"]
        elif name == "eligible_kind":
            if kind is None:
                raise InputError(record, "kind", "eligible_kind needs a kind")
            kinds.add(kind)
        elif name == "residual_range":
            range_min, range_max = lo or 0.0, hi
        elif name == "haircut":
            value = _number(cell["value"], record, "value")
            assert value is not None
            tables.setdefault(kind, []).append((lo or 0.0, hi, value, record))
        elif name in ("isin_haircut", "excluded_isin"):
            isin = check_isin(cell["isin"], record)
            if name == "excluded_isin":
                excluded.add(isin)
            else:
                value = _number(cell["value"], record, "value")
                assert value is not None
                isin_haircuts[isin] = value
        elif name == "max_share_per_isin":
            share = _number(cell["value"], record, "value", optional=True)
        elif name == "max_value_per_isin":
            cap = _number(cell["value"], record, "value", optional=True)
        elif name in ("bucket_max_share", "bucket_max_value"):
            limit = bucket_caps.setdefault((lo or 0.0, hi), [None, None])
            limit[0 if name == "bucket_max_share" else 1] = _number(cell["value"], record, "value")
        else:  # fx_mismatch_haircut
            fx = _number(cell["value"], record, "value")
    if not schedule_id:
        raise InputError(path.name, "id", "no 'id' row names the schedule")
    if None not in tables:
        raise InputError(path.name, "haircut", "no default haircut table (rows with empty kind)")
    buckets = {k: _buckets(rows_, path.name) for k, rows_ in tables.items()}
    return HaircutSchedule(
        id=schedule_id,
        eligible_kinds=frozenset(kinds),
        haircuts=buckets.pop(None),
        min_residual_years=range_min,
        max_residual_years=range_max,
        kind_haircuts={k: v for k, v in buckets.items() if k is not None},
        isin_haircuts=isin_haircuts,
        excluded_isins=frozenset(excluded),
        max_share_per_isin=share,
        max_value_per_isin=cap,
        bucket_limits=tuple(
            MaturityBucketLimit(lo, hi, max_share=v[0], max_value=v[1])
            for (lo, hi), v in bucket_caps.items()
        ),
        source=source,
        fx_mismatch_haircut=fx,
    )


def _buckets(
    rows: list[tuple[float, float | None, float, str]], file: str
) -> tuple[HaircutBucket, ...]:
    expected_lo = 0.0
    out: list[HaircutBucket] = []
    for lo, hi, value, record in rows:
        if lo != expected_lo:
            raise InputError(
                record,
                "min_residual_years",
                f"{lo:g} leaves a gap: the previous bucket ends at {expected_lo:g}",
            )
        try:
            out.append(HaircutBucket(hi, value))
        except InputError as exc:
            raise InputError(record, "value", exc.message) from None
        expected_lo = math.inf if hi is None else hi
    return tuple(out)


def read_schedules(directory: str | Path) -> dict[str, HaircutSchedule]:
    """Every ``*.csv`` schedule in ``directory``, by id (ids must be unique)."""
    schedules: dict[str, HaircutSchedule] = {}
    for path in sorted(Path(directory).glob("*.csv")):
        schedule = read_schedule(path)
        if schedule.id in schedules:
            raise InputError(path.name, "id", f"schedule id {schedule.id!r} is used twice")
        schedules[schedule.id] = schedule
    return schedules


# ------------------------------------------------------------- the problem's JSON form


def _buckets_json(buckets: tuple[HaircutBucket, ...]) -> list[dict[str, float | None]]:
    return [{"max_residual_years": b.max_residual_years, "haircut": b.haircut} for b in buckets]


def schedule_to_dict(schedule: HaircutSchedule) -> dict[str, Any]:
    """The schedule in the optimizer problem's ``schedules[]`` form (issue Part 2).

    Optional extras beyond the fixed fields: ``kind_haircuts``, ``bucket_limits``,
    ``source``, ``fx_mismatch_haircut`` (only when present).
    """
    out: dict[str, Any] = {
        "id": schedule.id,
        "eligible_kinds": sorted(k.value for k in schedule.eligible_kinds),
        "min_residual_years": schedule.min_residual_years,
        "max_residual_years": schedule.max_residual_years,
        "haircuts": _buckets_json(schedule.haircuts),
        "max_share_per_isin": schedule.max_share_per_isin,
        "max_value_per_isin": schedule.max_value_per_isin,
        "isin_haircuts": dict(sorted(schedule.isin_haircuts.items())),
        "excluded_isins": sorted(schedule.excluded_isins),
    }
    if schedule.kind_haircuts:
        out["kind_haircuts"] = {
            k.value: _buckets_json(v) for k, v in sorted(schedule.kind_haircuts.items())
        }
    if schedule.bucket_limits:
        out["bucket_limits"] = [
            {
                "min_residual_years": b.min_residual_years,
                "max_residual_years": b.max_residual_years,
                "max_share": b.max_share,
                "max_value": b.max_value,
            }
            for b in schedule.bucket_limits
        ]
    if schedule.fx_mismatch_haircut is not None:
        out["fx_mismatch_haircut"] = schedule.fx_mismatch_haircut
    if schedule.source:
        out["source"] = schedule.source
    return out


def _parse_buckets(value: Any, record: str, name: str) -> tuple[HaircutBucket, ...]:
    if not isinstance(value, list):
        raise InputError(record, name, "must be a list of {max_residual_years, haircut}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or "haircut" not in item:
            raise InputError(record, f"{name}[{i}]", "needs max_residual_years and haircut")
        try:
            bound = item.get("max_residual_years")
            out.append(
                HaircutBucket(None if bound is None else float(bound), float(item["haircut"]))
            )
        except (TypeError, ValueError):
            raise InputError(record, f"{name}[{i}]", f"{dict(item)!r} holds a non-number") from None
        except InputError as exc:
            raise InputError(record, f"{name}[{i}].{exc.field}", exc.message) from None
    return tuple(out)


def _opt_float(data: Mapping[str, Any], key: str, record: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(record, key, f"{value!r} is not a number") from None


def schedule_from_dict(data: Mapping[str, Any], record: str = "schedule") -> HaircutSchedule:
    """Parse the problem's ``schedules[]`` form (the inverse of :func:`schedule_to_dict`)."""
    sid = data.get("id")
    if not isinstance(sid, str) or not sid:
        raise InputError(record, "id", "must be a non-empty string")
    record = f"schedule {sid}"
    kinds_raw = data.get("eligible_kinds")
    if not isinstance(kinds_raw, list):
        raise InputError(record, "eligible_kinds", "must be a list of kinds")
    kind_tables = data.get("kind_haircuts") or {}
    if not isinstance(kind_tables, Mapping):
        raise InputError(record, "kind_haircuts", "must map a kind to a bucket list")
    limits = []
    for i, b in enumerate(data.get("bucket_limits") or []):
        lo = _opt_float(b, "min_residual_years", f"{record} bucket_limits[{i}]")
        limits.append(
            MaturityBucketLimit(
                lo or 0.0,
                _opt_float(b, "max_residual_years", f"{record} bucket_limits[{i}]"),
                max_share=_opt_float(b, "max_share", f"{record} bucket_limits[{i}]"),
                max_value=_opt_float(b, "max_value", f"{record} bucket_limits[{i}]"),
            )
        )
    return HaircutSchedule(
        id=sid,
        eligible_kinds=frozenset(BondKind.parse(k, record, "eligible_kinds") for k in kinds_raw),
        haircuts=_parse_buckets(data.get("haircuts"), record, "haircuts"),
        min_residual_years=_opt_float(data, "min_residual_years", record) or 0.0,
        max_residual_years=_opt_float(data, "max_residual_years", record),
        kind_haircuts={
            BondKind.parse(k, record, "kind_haircuts"): _parse_buckets(
                v, record, f"kind_haircuts.{k}"
            )
            for k, v in kind_tables.items()
        },
        isin_haircuts={
            check_isin(i, record): float(h) for i, h in (data.get("isin_haircuts") or {}).items()
        },
        excluded_isins=frozenset(check_isin(i, record) for i in data.get("excluded_isins") or []),
        max_share_per_isin=_opt_float(data, "max_share_per_isin", record),
        max_value_per_isin=_opt_float(data, "max_value_per_isin", record),
        bucket_limits=tuple(limits),
        source=str(data.get("source") or ""),
        fx_mismatch_haircut=_opt_float(data, "fx_mismatch_haircut", record),
    )
