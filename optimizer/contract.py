"""Parse and validate the problem contract (issue "Part 2") into a :class:`Problem`.

Every bad record gets an :class:`~valuation.errors.InputError` naming it and the field
(``holdings[12] (MIZUHO/MZH-01/JP1103801PC7): face: -5 is negative``); all of them are
collected and raised together (:class:`~valuation.errors.MultipleInputError` when more
than one). Nothing valid is dropped: holdings of one (owner, account, isin) given in
several rows (free and pledged parts) are merged into one :class:`Position`. Unknown
fields are ignored so the contract can grow optional fields.

A JGBi (kind ``inflation``) needs its ``index_ratio`` (the MOF indexation coefficient):
its prices are per 100 of adjusted principal, so its market value is face x
index_ratio x dirty_price / 100 (DOMAIN.md section 3; :mod:`valuation.inflation`), and
``clean_price`` + accrued interest gives the dirty price exactly as for a fixed JGB.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from optimizer.problem import (
    Costs,
    Limits,
    Obligation,
    Position,
    Problem,
    Security,
    SolverOptions,
)
from optimizer.stress import scenario_errors
from valuation.accrued import accrued_interest
from valuation.errors import InputError, MultipleInputError
from valuation.haircuts import HaircutBucket, HaircutSchedule, MaturityBucketLimit
from valuation.inflation import check_index_ratio
from valuation.jgb import BondKind, Jgb

T = TypeVar("T")
DIRTY_TOLERANCE = 1e-6
"""Per 100 face: how far a given dirty price may sit from clean + accrued interest
(JSDA accrued interest is truncated to 7 decimals)."""
_MISSING = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Record:
    """Reads typed fields of one input record, collecting errors instead of raising."""

    def __init__(self, name: str, data: object, errors: list[InputError]) -> None:
        self.name = name
        self.errors = errors
        if isinstance(data, Mapping):
            self.data: Mapping[str, Any] = data
        else:
            self.data = {}
            self.fail("(record)", f"expected an object, got {type(data).__name__}")

    def fail(self, field: str, message: str) -> None:
        self.errors.append(InputError(self.name, field, message))

    def _get(self, field: str, required: bool) -> Any:
        value = self.data.get(field, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(field, "is missing")
            return None
        return value

    def text(self, field: str, required: bool = True) -> str | None:
        value = self._get(field, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"{value!r} must be a non-empty string")
            return None
        return value.strip()

    def number(
        self,
        field: str,
        required: bool = True,
        minimum: float | None = None,
        strict: bool = False,
        maximum: float | None = None,
    ) -> float | None:
        value = self._get(field, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(field, f"{value!r} is not a number")
            return None
        x = float(value)
        if not math.isfinite(x):
            self.fail(field, f"{value!r} is not finite")
            return None
        if minimum is not None and (x < minimum or (strict and x == minimum)):
            word = (
                "negative"
                if minimum == 0 and not strict
                else f"not {'>' if strict else '>='} {minimum:g}"
            )
            self.fail(field, f"{value!r} is {word}")
            return None
        if maximum is not None and x > maximum:
            self.fail(field, f"{value!r} is above {maximum:g}")
            return None
        return x

    def integer(self, field: str, required: bool = True, minimum: int | None = None) -> int | None:
        x = self.number(field, required, minimum=minimum)
        if x is None:
            return None
        raw = self.data[field]
        if isinstance(raw, int):  # exact: a float would round faces beyond 2**53 yen
            return raw
        if x != math.floor(x):
            self.fail(field, f"{raw!r} must be a whole number")
            return None
        return int(x)

    def day(self, field: str, required: bool = True) -> date | None:
        value = self._get(field, required)
        if value is None:
            return None
        try:
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.fail(field, f"{value!r} is not a date (YYYY-MM-DD)")
            return None

    def items(self, field: str, required: bool = True) -> list[Any]:
        value = self._get(field, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(field, "must be a list")
            return []
        return value

    def mapping(self, field: str) -> Mapping[str, Any]:
        value = self._get(field, False)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(field, "must be an object")
            return {}
        return value

    def guarded(self, build: Callable[[], T]) -> T | None:
        """Run a constructor whose ``__post_init__`` raises :class:`InputError`."""
        try:
            return build()
        except InputError as exc:
            self.fail(
                exc.field,
                f"{exc.message} ({exc.record})" if exc.record != self.name else exc.message,
            )
            return None


def _security(
    index: int, data: object, settlement: date | None, errors: list[InputError]
) -> Security | None:
    isin = data.get("isin") if isinstance(data, Mapping) else None
    r = _Record(f"securities[{index}] ({isin})" if isin else f"securities[{index}]", data, errors)
    isin_text = r.text("isin")
    kind_value = r._get("kind", True)
    kind = None
    if kind_value is not None:
        try:
            kind = BondKind.parse(kind_value, r.name)
        except InputError as exc:
            r.fail("kind", exc.message)
    coupon_rate = r.number("coupon_rate", minimum=0.0, maximum=0.999)
    maturity = r.day("maturity_date")
    issue = r.day("issue_date", required=False)
    dirty = r.number("dirty_price", required=False, minimum=0.0, strict=True)
    clean = r.number("clean_price", required=False, minimum=0.0, strict=True)
    opportunity = r.number("opportunity_cost_bp", minimum=0.0)
    index_ratio = _index_ratio(r, kind)
    scenarios: dict[str, float] = {}
    for name, price in r.mapping("scenario_dirty_prices").items():
        if isinstance(price, bool) or not isinstance(price, int | float) or not price > 0:
            r.fail(f"scenario_dirty_prices[{name}]", f"{price!r} must be a positive price")
        else:
            scenarios[str(name)] = float(price)
    if (
        dirty is None
        and clean is None
        and "dirty_price" not in r.data
        and "clean_price" not in r.data
    ):
        r.fail("dirty_price", "is missing (give dirty_price or clean_price)")
    if None in (isin_text, kind, coupon_rate, maturity, opportunity, index_ratio) or (
        dirty is None and clean is None
    ):
        return None
    assert isin_text is not None and kind is not None and coupon_rate is not None
    assert maturity is not None and opportunity is not None and index_ratio is not None
    bond = r.guarded(
        lambda: Jgb(isin_text, kind, coupon_rate, maturity, issue, str(r.data.get("series", "")))
    )
    if bond is None:
        return None
    if settlement is not None and maturity <= settlement:
        r.fail("maturity_date", f"{maturity} is not after the settlement date {settlement}")
        return None
    if clean is not None and settlement is not None:
        from_clean = clean + accrued_interest(bond, settlement)
        if dirty is None:
            dirty = from_clean
        elif abs(dirty - from_clean) > DIRTY_TOLERANCE:
            r.fail(
                "dirty_price",
                f"{dirty!r} is not clean_price {clean!r} + accrued interest {from_clean - clean:.7f} = {from_clean:.7f}",
            )
            return None
    if dirty is None:  # no settlement date (reported on its own): nothing to price by
        return None
    return Security(bond, dirty, opportunity, clean, scenarios, index_ratio)


def _index_ratio(r: _Record, kind: BondKind | None) -> float | None:
    """A JGBi's indexation coefficient (required); 1 for every other kind."""
    value = r._get("index_ratio", kind is BondKind.INFLATION)
    if kind is not BondKind.INFLATION:
        if value is not None and value != 1:
            r.fail("index_ratio", f"{value!r} given for a {kind or 'non-JGBi'} bond")
            return None
        return 1.0
    if value is None:
        return None  # reported missing
    try:
        return check_index_ratio(value, r.name)  # NaN and infinities fail its range
    except InputError as exc:
        r.fail("index_ratio", exc.message)
        return None


def _buckets(r: _Record, field: str, rows: list[Any]) -> tuple[HaircutBucket, ...]:
    buckets: list[HaircutBucket] = []
    for j, row in enumerate(rows):
        b = _Record(f"{r.name} {field}[{j}]", row, r.errors)
        upper = b.number("max_residual_years", required=False, minimum=0.0)
        haircut = b.number("haircut", minimum=0.0, maximum=0.999999)
        if haircut is not None:
            bucket = b.guarded(partial(HaircutBucket, upper, haircut))
            if bucket is not None:
                buckets.append(bucket)
    return tuple(buckets)


def _schedule(index: int, data: object, errors: list[InputError]) -> HaircutSchedule | None:
    sid = data.get("id") if isinstance(data, Mapping) else None
    r = _Record(f"schedules[{index}] ({sid})" if sid else f"schedules[{index}]", data, errors)
    before = len(errors)
    schedule_id = r.text("id")
    kinds: set[BondKind] = set()
    for kind in r.items("eligible_kinds"):
        try:
            kinds.add(BondKind.parse(kind, r.name, "eligible_kinds"))
        except InputError as exc:
            r.fail("eligible_kinds", exc.message)
    haircuts = _buckets(r, "haircuts", r.items("haircuts"))
    kind_haircuts: dict[BondKind, tuple[HaircutBucket, ...]] = {}
    for kind_name, rows in r.mapping("kind_haircuts").items():
        try:
            kind = BondKind.parse(kind_name, r.name, "kind_haircuts")
        except InputError as exc:
            r.fail("kind_haircuts", exc.message)
            continue
        if not isinstance(rows, list):
            r.fail(f"kind_haircuts[{kind_name}]", "must be a list of buckets")
            continue
        kind_haircuts[kind] = _buckets(r, f"kind_haircuts[{kind_name}]", rows)
    isin_haircuts: dict[str, float] = {}
    for isin, h in r.mapping("isin_haircuts").items():
        if isinstance(h, bool) or not isinstance(h, int | float) or not 0.0 <= h < 1.0:
            r.fail(f"isin_haircuts[{isin}]", f"{h!r} must be a decimal in [0, 1)")
        else:
            isin_haircuts[str(isin)] = float(h)
    excluded_rows = r.items("excluded_isins", required=False)
    for j, x in enumerate(excluded_rows):
        if not isinstance(x, str):
            r.fail(f"excluded_isins[{j}]", f"{x!r} is not an ISIN")
    excluded = frozenset(x for x in excluded_rows if isinstance(x, str))
    limits: list[MaturityBucketLimit] = []
    for j, row in enumerate(r.items("bucket_limits", required=False)):
        b = _Record(f"{r.name} bucket_limits[{j}]", row, errors)
        lower = b.number("min_residual_years", required=False, minimum=0.0) or 0.0
        upper = b.number("max_residual_years", required=False, minimum=0.0)
        share = b.number("max_share", required=False, minimum=0.0)
        value = b.number("max_value", required=False, minimum=0.0)
        limits.append(MaturityBucketLimit(lower, upper, share, value))
    min_years = r.number("min_residual_years", required=False, minimum=0.0) or 0.0
    max_years = r.number("max_residual_years", required=False, minimum=0.0)
    share = r.number("max_share_per_isin", required=False, minimum=0.0, strict=True)
    cap = r.number("max_value_per_isin", required=False, minimum=0.0)
    if len(errors) > before or schedule_id is None:
        return None
    return r.guarded(
        lambda: HaircutSchedule(
            id=schedule_id,
            eligible_kinds=frozenset(kinds),
            haircuts=haircuts,
            min_residual_years=min_years,
            max_residual_years=max_years,
            kind_haircuts=kind_haircuts,
            isin_haircuts=isin_haircuts,
            excluded_isins=excluded,
            max_share_per_isin=share,
            max_value_per_isin=cap,
            bucket_limits=tuple(limits),
            source=str(r.data.get("source", "")),
        )
    )


def _obligation(
    index: int,
    data: object,
    schedules: Mapping[str, HaircutSchedule],
    schedule_ids: set[str],
    errors: list[InputError],
) -> Obligation | None:
    oid = data.get("id") if isinstance(data, Mapping) else None
    r = _Record(f"obligations[{index}] ({oid})" if oid else f"obligations[{index}]", data, errors)
    before = len(errors)
    obligation_id = r.text("id")
    pledgor = r.text("pledgor")
    pledgee = r.text("pledgee", required=False) or ""
    schedule = r.text("schedule")
    if schedule is not None and schedule not in schedule_ids:
        r.fail(
            "schedule",
            f"unknown schedule {schedule!r}; known: {', '.join(sorted(schedule_ids)) or 'none'}",
        )
    required = r.number("required_value", minimum=0.0)
    lot = r.integer("lot_face", minimum=1)
    min_pledge = r.integer("min_pledge_face", required=False, minimum=0)
    max_isins = r.integer("max_isins", required=False, minimum=1)
    mta = r.number("min_transfer_value", required=False, minimum=0.0)
    scenarios = tuple(str(s) for s in r.items("stress_scenarios", required=False))
    if len(errors) > before:
        return None
    assert obligation_id and pledgor and schedule and required is not None and lot is not None
    return Obligation(
        obligation_id,
        pledgor,
        pledgee,
        schedule,
        required,
        lot,
        min_pledge,
        max_isins,
        mta,
        scenarios,
    )


def _positions(
    rows: list[Any],
    isins: set[str],
    obligations: Mapping[str, Obligation],
    obligation_ids: set[str],
    errors: list[InputError],
) -> tuple[Position, ...]:
    """Holdings merged per (owner, account, isin); ``obligation_ids`` are every id the
    input gives, so a row pledged to an obligation with an error of its own is not also
    called unknown (that error is reported once, at the obligation)."""
    face: dict[tuple[str, str, str], int] = {}
    pledged: dict[tuple[str, str, str], dict[str, int]] = {}
    for index, data in enumerate(rows):
        label = (
            "/".join(str(data.get(k)) for k in ("owner", "account", "isin"))
            if isinstance(data, Mapping)
            else ""
        )
        r = _Record(f"holdings[{index}] ({label})" if label else f"holdings[{index}]", data, errors)
        before = len(errors)
        owner = r.text("owner")
        account = r.text("account")
        isin = r.text("isin")
        amount = r.integer("face", minimum=0)
        target = r.text("pledged_to", required=False)
        if isin is not None and isin not in isins:
            r.fail("isin", f"unknown ISIN {isin!r}: not among the problem's securities")
        if target is not None:
            obligation = obligations.get(target)
            if obligation is None and target not in obligation_ids:
                r.fail("pledged_to", f"unknown obligation {target!r}")
            elif obligation is not None:
                if owner is not None and owner != obligation.pledgor:
                    r.fail(
                        "pledged_to",
                        f"obligation {target} is owed by {obligation.pledgor}, not {owner}",
                    )
                if amount is not None and amount % obligation.lot_face:
                    r.fail(
                        "face",
                        f"pledged face {amount} is not a multiple of obligation {target}'s lot_face {obligation.lot_face}",
                    )
        if len(errors) > before:
            continue
        assert owner and account and isin and amount is not None
        key = (owner, account, isin)
        face[key] = face.get(key, 0) + amount
        if target is not None:
            parts = pledged.setdefault(key, {})
            parts[target] = parts.get(target, 0) + amount
    return tuple(Position(k[0], k[1], k[2], f, pledged.get(k, {})) for k, f in face.items())


def parse_problem(data: object) -> Problem:
    """Validate the problem contract and build the :class:`Problem`.

    Raises
    ------
    InputError
        One bad field, naming its record.
    MultipleInputError
        Several bad fields, every one listed.
    """
    errors: list[InputError] = []
    top = _Record("problem", data, errors)
    if errors:
        raise errors[0]
    settlement = top.day("settlement_date")

    securities: list[Security] = []
    seen_isins: set[str] = set()
    raw_isins: set[str] = set()
    for i, row in enumerate(top.items("securities")):
        if isinstance(row, Mapping) and isinstance(row.get("isin"), str):
            raw_isins.add(row["isin"])
        security = _security(i, row, settlement, errors)
        if security is None:
            continue
        if security.isin in seen_isins:
            errors.append(
                InputError(f"securities[{i}] ({security.isin})", "isin", "duplicate ISIN")
            )
            continue
        seen_isins.add(security.isin)
        securities.append(security)

    schedules: dict[str, HaircutSchedule] = {}
    schedule_ids: set[str] = set()
    for i, row in enumerate(top.items("schedules")):
        if isinstance(row, Mapping) and isinstance(row.get("id"), str):
            if row["id"] in schedule_ids:
                errors.append(
                    InputError(f"schedules[{i}] ({row['id']})", "id", "duplicate schedule id")
                )
                continue
            schedule_ids.add(row["id"])
        schedule = _schedule(i, row, errors)
        if schedule is not None:
            schedules[schedule.id] = schedule

    obligations: dict[str, Obligation] = {}
    obligation_rows: dict[str, int] = {}
    obligation_ids: set[str] = set()
    for i, row in enumerate(top.items("obligations")):
        if isinstance(row, Mapping) and isinstance(row.get("id"), str):
            obligation_ids.add(row["id"].strip())
        obligation = _obligation(i, row, schedules, schedule_ids, errors)
        if obligation is None:
            continue
        if obligation.id in obligations:
            errors.append(
                InputError(f"obligations[{i}] ({obligation.id})", "id", "duplicate obligation id")
            )
            continue
        obligations[obligation.id] = obligation
        obligation_rows[obligation.id] = i

    positions = _positions(top.items("holdings"), raw_isins, obligations, obligation_ids, errors)
    owners = {p.owner for p in positions if p.face > 0}
    for obligation in obligations.values():
        if obligation.pledgor not in owners:
            errors.append(
                InputError(
                    f"obligations[{obligation_rows[obligation.id]}] ({obligation.id})",
                    "pledgor",
                    f"{obligation.pledgor!r} holds nothing in this problem",
                )
            )

    costs_r = _Record("costs", top.data.get("costs", {}) or {}, errors)
    default_costs = Costs()
    costs = Costs(
        horizon_days=_or(
            costs_r.number("horizon_days", required=False, minimum=0.0), default_costs.horizon_days
        ),
        move_cost=_or(
            costs_r.number("move_cost", required=False, minimum=0.0), default_costs.move_cost
        ),
        shortfall_penalty_per_yen=_or(
            costs_r.number("shortfall_penalty_per_yen", required=False, minimum=0.0, strict=True),
            default_costs.shortfall_penalty_per_yen,
        ),
    )
    limits_r = _Record("limits", top.data.get("limits", {}) or {}, errors)
    limits = Limits(max_moves=limits_r.integer("max_moves", required=False, minimum=0))
    solver_r = _Record("solver", top.data.get("solver", {}) or {}, errors)
    defaults = SolverOptions()
    solver = SolverOptions(
        time_limit_s=_or(
            solver_r.number("time_limit_s", required=False, minimum=0.0, strict=True),
            defaults.time_limit_s,
        ),
        mip_rel_gap=_or(
            solver_r.number("mip_rel_gap", required=False, minimum=0.0), defaults.mip_rel_gap
        ),
        threads=solver_r.integer("threads", required=False, minimum=1),
        seed=_or(solver_r.integer("seed", required=False, minimum=0), defaults.seed),
    )
    errors += scenario_errors(
        data,
        settlement,
        securities,
        schedules,
        obligations=obligations.values(),
        positions=positions,
    )
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleInputError(errors)
    assert settlement is not None
    return Problem(
        settlement,
        tuple(securities),
        positions,
        schedules,
        tuple(obligations.values()),
        costs,
        limits,
        solver,
    )


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem JSON file (:func:`parse_problem`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), "(file)", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), "(file)", f"not UTF-8 text (byte {exc.start}): is it a problem JSON?"
        ) from None
    if not text.strip():
        raise InputError(str(path), "(file)", "is empty: expected a problem JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), "(json)", f"line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return parse_problem(data)
