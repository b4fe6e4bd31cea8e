"""``tanpo value INPUT.json [-o OUT.json]``: value JGBs by the Japanese conventions.

Input (issue 3, "CLI contract")::

    {"settlement_date": "2025-11-06",
     "curve": {"zero_rates": [{"tenor_years": 0.5, "rate": 0.004}, ...]},   (optional)
     "bonds": [{"isin": "JP1103801...", "kind": "fixed", "coupon_rate": 0.017,
                "maturity_date": "2035-09-20", "clean_price": 100.22,       (optional)
                "face": 1000000000}]}                                       (optional)

``kind`` is ``fixed``, ``tbill`` or ``inflation`` (with ``index_ratio``); a bond may
also give ``issue_date``. Output, JSON on stdout (or ``-o``), one record per valid bond
in input order::

    {"settlement_date": ..., "bonds": [{"isin", "accrued_interest", "clean_price",
     "dirty_price", "simple_yield", "compound_yield", "model_dirty_price" (with a
     curve), "dv01", "accrued_amount", "market_value" (yen, with a face)}]}

Meaning of the numbers:

* prices and ``accrued_interest`` per 100 face (JSDA accrued: Act/365, capped at half
  a coupon, truncated to 7 dp); ``dirty_price = clean_price + accrued_interest``;
* ``simple_yield``: the Japanese simple yield, as quoted (truncated to 3 dp of a
  percent); for a T-bill its yield ``(100 - P)/P x 365/days`` as MOF quotes it
  (truncated toward zero to 4 dp of a percent);
* ``compound_yield``: JSDA's semi-annual compound yield, truncated to 3 dp of a percent;
* ``dv01``: price change per 100 face for a 1bp fall of the (unrounded) compound yield;
* ``model_dirty_price``: dirty price per 100 face discounted on the curve;
* ``accrued_amount``: yen, ``face x accrued_interest / 100`` truncated to the yen;
  ``market_value``: yen, ``face x clean_price / 100 + accrued_amount``;
* a JGBi (``inflation``) is quoted as the market quotes it: ``clean_price``,
  ``accrued_interest``, ``dirty_price``, ``model_dirty_price``, ``dv01`` per 100 of
  *inflation-adjusted* principal; the yen figures use ``face x index_ratio``.

Without ``clean_price`` the clean price comes from the curve when one is given, else
the price fields are ``null``. Rates and yields are decimals (0.017). A JGBi's cash
flows (coupons and the par-floored redemption, :mod:`valuation.cashflows`) are
discounted on the same curve, so give a real curve for a book of JGBi.

Limits that catch typos before they reach the solvers: ``settlement_date`` within the
Tokyo calendar's years (1949-2099), a maturity at most 50 years after settlement, a
face up to 10**15 yen, a price whose yield is below 100,000,000%.

A bad bond (unknown kind, a date that does not parse, a maturity not after settlement,
a negative face...) gets one line on stderr naming it and the field, e.g.
``tanpo: error: bonds[1] (JP1103801PC7): maturity_date: '2035-13-20' is not a date``;
the valid bonds are still valued and written, and the exit status is 2.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from valuation.accrued import accrued_amount, accrued_interest
from valuation.calendar import FIRST_YEAR, LAST_YEAR
from valuation.errors import InputError
from valuation.inflation import check_index_ratio
from valuation.jgb import MAX_TERM_YEARS, BondKind, Jgb
from valuation.risk import dv01
from valuation.yields import (
    compound_yield,
    quote_compound_yield,
    quote_simple_yield,
    quote_tbill_yield,
    simple_yield,
    tbill_yield,
)

EXIT_BAD_BONDS = 2
MAX_FACE = 10**15
"""Largest face (yen) of one bond: a quadrillion yen, about the whole JGB market. Money
is written as binary floats, exact to the yen only below 2**53 (~9e15)."""
FIRST_SETTLEMENT = date(FIRST_YEAR, 1, 1)
LAST_SETTLEMENT = date(LAST_YEAR - MAX_TERM_YEARS - 1, 12, 31)
"""Settlement dates the Tokyo calendar covers with every payment up to maturity: the
latest maturity (50 x 366 days on) and its roll past 31 Dec stay inside LAST_YEAR."""
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_BOND_FIELDS = frozenset(
    {
        "isin",
        "kind",
        "coupon_rate",
        "maturity_date",
        "issue_date",
        "clean_price",
        "face",
        "index_ratio",
    }
)


@dataclass(frozen=True, slots=True)
class BondInput:
    """One valid bond of the input, ready to value."""

    index: int
    record: str
    jgb: Jgb
    clean_price: float | None
    face: int | None
    index_ratio: float | None


def _parse_date(value: object, record: str, field: str) -> date:
    # Only YYYY-MM-DD: date.fromisoformat alone also takes 20251106 and 2025-W45-4.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InputError(record, field, f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(record, field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parse_number(value: object, record: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(record, field, f"{value!r} is not a number")
    return float(value)


def _parse_bond(index: int, raw: object, settlement_date: date) -> BondInput:
    isin = raw.get("isin") if isinstance(raw, Mapping) else None
    record = f"bonds[{index}]" + (f" ({isin})" if isinstance(isin, str) else "")
    if not isinstance(raw, Mapping):
        raise InputError(record, "bond", "must be an object with isin, kind, coupon_rate...")
    unknown = sorted(set(raw) - _BOND_FIELDS)
    if unknown:
        raise InputError(
            record, unknown[0], f"unknown field; expected some of {', '.join(sorted(_BOND_FIELDS))}"
        )
    for field in ("isin", "kind", "maturity_date"):
        if field not in raw:
            raise InputError(record, field, "is required")
    kind = BondKind.parse(raw["kind"], record)
    if kind is not BondKind.TBILL and "coupon_rate" not in raw:
        raise InputError(record, "coupon_rate", "is required for a coupon bond")
    coupon_rate = _parse_number(raw.get("coupon_rate", 0.0), record, "coupon_rate")
    maturity_date = _parse_date(raw["maturity_date"], record, "maturity_date")
    issue_date = (
        _parse_date(raw["issue_date"], record, "issue_date") if "issue_date" in raw else None
    )
    clean_price = None
    if raw.get("clean_price") is not None:
        clean_price = _parse_number(raw["clean_price"], record, "clean_price")
        if clean_price <= 0:
            raise InputError(record, "clean_price", f"{clean_price!r} must be positive")
    face = raw.get("face")
    if face is not None and (isinstance(face, bool) or not isinstance(face, int) or face < 0):
        raise InputError(record, "face", f"{face!r} must be a non-negative integer of yen")
    if face is not None and face > MAX_FACE:
        raise InputError(record, "face", f"{face!r} yen is more than {MAX_FACE:,} (10**15)")
    index_ratio = None
    if kind is BondKind.INFLATION:
        if raw.get("index_ratio") is None:
            raise InputError(record, "index_ratio", "an inflation bond needs its index_ratio")
        index_ratio = check_index_ratio(raw["index_ratio"], record)
    elif raw.get("index_ratio") is not None:
        raise InputError(record, "index_ratio", f"only an inflation bond has one, not {kind}")
    try:
        jgb = Jgb(str(isin), kind, coupon_rate, maturity_date, issue_date)
        jgb.check_settlement(settlement_date)
    except InputError as exc:  # re-name the record as the input file does
        raise InputError(record, exc.field, exc.message) from None
    return BondInput(index, record, jgb, clean_price, face, index_ratio)


def _model_dirty_prices(
    curve_raw: object, bonds: Sequence[BondInput], settlement_date: date
) -> list[float]:
    """Dirty price per 100 face of each bond from the curve (:mod:`valuation.pricing`)."""
    # numba loads only when a curve is given: ~1 s that plain valuations need not pay
    from valuation.curve import ZeroCurve
    from valuation.pricing import dirty_prices_from_curve

    if not isinstance(curve_raw, Mapping) or not isinstance(curve_raw.get("zero_rates"), list):
        raise InputError("curve", "zero_rates", "must be a list of {tenor_years, rate}")
    points: list[tuple[float, float]] = []
    for i, node in enumerate(curve_raw["zero_rates"]):
        if not isinstance(node, Mapping):
            raise InputError("curve", f"zero_rates[{i}]", "must be {tenor_years, rate}")
        points.append(
            (
                _parse_number(node.get("tenor_years"), "curve", f"zero_rates[{i}].tenor_years"),
                _parse_number(node.get("rate"), "curve", f"zero_rates[{i}].rate"),
            )
        )
    curve = ZeroCurve.from_points(points)
    if not bonds:
        return []
    prices = dirty_prices_from_curve(
        [b.jgb for b in bonds], settlement_date, curve, [b.index_ratio for b in bonds]
    )
    return [float(p) for p in prices]


def value_bond(bond: BondInput, settlement_date: date, model_dirty: float | None) -> dict[str, Any]:
    """The output record of one bond (see the module docstring for each field)."""
    jgb = bond.jgb
    ratio = bond.index_ratio if bond.index_ratio is not None else 1.0
    accrued = accrued_interest(jgb, settlement_date)
    out: dict[str, Any] = {"isin": jgb.isin, "accrued_interest": accrued}
    model_real = None if model_dirty is None else model_dirty / ratio
    clean = bond.clean_price
    if clean is None and model_real is not None:
        clean = model_real - accrued
    if clean is not None and clean <= 0:
        raise InputError(bond.record, "clean_price", f"the curve gives no positive price ({clean})")
    out["clean_price"] = clean
    out["dirty_price"] = None if clean is None else clean + accrued
    if clean is None:
        out.update(simple_yield=None, compound_yield=None)
    elif jgb.kind is BondKind.TBILL:
        out["simple_yield"] = quote_tbill_yield(tbill_yield(jgb, settlement_date, clean))
    else:
        out["simple_yield"] = quote_simple_yield(simple_yield(jgb, settlement_date, clean))
    if clean is not None:
        out["compound_yield"] = quote_compound_yield(compound_yield(jgb, settlement_date, clean))
    if model_real is not None:
        out["model_dirty_price"] = model_real
    out["dv01"] = None if clean is None else dv01(jgb, settlement_date, clean)
    if bond.face is not None:
        amount = accrued_amount(jgb, settlement_date, bond.face, bond.index_ratio)
        out["accrued_amount"] = amount
        out["market_value"] = None if clean is None else bond.face * ratio * clean / 100.0 + amount
    return out


def value_document(document: object) -> tuple[dict[str, Any], list[InputError]]:
    """Value every valid bond of an input document; return the output and bond errors.

    Raises
    ------
    InputError
        When the document as a whole is unusable (no settlement date, bad curve).
    """
    if not isinstance(document, Mapping):
        raise InputError("input", "document", "must be a JSON object")
    if "settlement_date" not in document:
        raise InputError("input", "settlement_date", "is required")
    settlement_date = _parse_date(document["settlement_date"], "input", "settlement_date")
    if not FIRST_SETTLEMENT <= settlement_date <= LAST_SETTLEMENT:
        raise InputError(
            "input",
            "settlement_date",
            f"{settlement_date} is outside {FIRST_SETTLEMENT}..{LAST_SETTLEMENT} "
            "(the Tokyo calendar's years, less the longest term)",
        )
    raw_bonds = document.get("bonds")
    if not isinstance(raw_bonds, list):
        raise InputError("input", "bonds", "must be a list of bonds")
    errors: list[InputError] = []
    bonds: list[BondInput] = []
    for i, raw in enumerate(raw_bonds):
        try:
            bonds.append(_parse_bond(i, raw, settlement_date))
        except InputError as exc:
            errors.append(exc)
    models: list[float | None] = [None] * len(bonds)
    if document.get("curve") is not None:
        models = list(_model_dirty_prices(document["curve"], bonds, settlement_date))
    records: list[dict[str, Any]] = []
    for bond, model in zip(bonds, models, strict=True):
        try:
            records.append(value_bond(bond, settlement_date, model))
        except InputError as exc:  # name the bond as the input file does
            errors.append(InputError(bond.record, exc.field, exc.message))
    errors.sort(key=lambda e: _index_of(e.record))
    return {"settlement_date": settlement_date.isoformat(), "bonds": records}, errors


def _index_of(record: str) -> int:
    try:
        return int(record.split("[", 1)[1].split("]", 1)[0])
    except (IndexError, ValueError):
        return -1


def _load(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), "file", f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "file", f"is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InputError(str(path), "json", "the file is empty; expected a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), "json", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise InputError(str(path), "json", "nested too deeply to read") from None


def value_command(
    input_path: Annotated[Path, typer.Argument(help="Input JSON (settlement_date, bonds, curve).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write JSON here instead of stdout.")
    ] = None,
) -> None:
    """Value JGBs: accrued interest, prices, simple/compound yields, DV01, market value."""
    result, errors = value_document(_load(input_path))
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(output), "file", f"cannot write it: {exc.strerror}") from None
    for error in errors:
        sys.stderr.write(f"tanpo: error: {error}\n")
    if errors:
        raise typer.Exit(EXIT_BAD_BONDS)


def register(app: typer.Typer) -> None:
    """Add ``tanpo value`` to ``app``."""
    app.command(name="value")(value_command)
