"""A deterministic, seeded JGB universe shaped like the real one.

The generator reproduces the *shape* of the JGBs outstanding at a calibration date:
for every program and residual-maturity year it creates as many issues as the
calibration table holds (scaled to ``n`` issues by largest remainder), places their
maturities on the program's maturity grid (:mod:`valuation.programs`), dates them back
by the tenor, sets each coupon from the MOF par yield of the issue month (0.1% steps,
0.1% minimum), draws each amount outstanding around the cell's mean, numbers the series
so the newest carries the real newest number, and codes a valid ISIN the way JGB ISINs
are coded.

Calibration: ``data/calibration/jgb_outstanding_2026-03-31.csv``, the count and amount
of issues outstanding per program and residual year at 2026-03-31 (331 issues),
computed from the outstanding-by-issue table compiled by J. Nakajima (Hitotsubashi
University IER Discussion Paper A.758) by :func:`calibration_from_outstanding`.
T-bills are not in that table: their counts and sizes are configuration
(:data:`TBILL_CALIBRATION`). Coupons: ``data/curves/mof_par_month_end.csv`` (MOF par
yields on the last business day of each month, rows copied verbatim).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from valuation.errors import InputError
from valuation.jgb import BondKind, Jgb
from valuation.mof import OutstandingHistory, ParCurve, ParCurveHistory, read_par_yield_curves
from valuation.paths import data_dir
from valuation.programs import (
    PROGRAM_RULES,
    Program,
    ProgramRule,
    jgb_isin,
    maturity_slots,
    original_issue_date,
)

CALIBRATION_DATE = date(2026, 3, 31)
DEFAULT_SEED = 20260331
MAX_UNIVERSE_SIZE = 100_000
"""Most issues a universe may have: the synthetic series numbering (3 characters per
program) runs out near 200,000, and a typo (1e11) would otherwise allocate for minutes."""
CALIBRATION_FILE = Path("calibration") / "jgb_outstanding_2026-03-31.csv"
MONTH_END_CURVES_FILE = Path("curves") / "mof_par_month_end.csv"
NAKAJIMA = (
    "J. Nakajima, amounts outstanding per JGB issue (jgbtot.csv), "
    "Hitotsubashi University IER Discussion Paper A.758"
)

SIZE_SIGMA = 0.15
"""Log-normal dispersion of an issue's amount around its cell's mean (chosen)."""

TBILL_LAST_SERIES = 1370
"""T-bill #1370 was issued in March 2026 (ISIN JP1743701S35); bills share one numbering."""

CALIBRATION_COLUMNS = ("program", "residual_year", "issues", "outstanding_oku", "max_series")


@dataclass(frozen=True, slots=True)
class CalibrationCell:
    """Issues of one program whose residual maturity is in ``[y, y + 1)`` years.

    ``outstanding_oku`` is their total amount outstanding in 100 million yen;
    ``max_series`` the newest series number among them.
    """

    program: Program
    residual_year: int
    issues: int
    outstanding_oku: float
    max_series: int


@dataclass(frozen=True, slots=True)
class Calibration:
    """The calibration table and its date."""

    as_of: date
    cells: tuple[CalibrationCell, ...]

    def counts(self) -> dict[Program, int]:
        """Issues per program."""
        out: dict[Program, int] = {}
        for c in self.cells:
            out[c.program] = out.get(c.program, 0) + c.issues
        return out


TBILL_CALIBRATION = (
    CalibrationCell(Program.TB3M, 0, 13, 13 * 40_000.0, TBILL_LAST_SERIES),
    CalibrationCell(Program.TB6M, 0, 6, 6 * 30_000.0, TBILL_LAST_SERIES),
    CalibrationCell(Program.TB1Y, 0, 12, 12 * 30_000.0, TBILL_LAST_SERIES),
)
"""Configuration, unconfirmed: 3-month bills weekly (13 outstanding, about 4 trillion
yen each), 6-month and 1-year bills monthly (about 3 trillion yen each)."""

CORE_CPI_CHANGE = {
    2013: 0.004, 2014: 0.026, 2015: 0.005, 2016: -0.003, 2017: 0.005, 2018: 0.009,
    2019: 0.006, 2020: -0.002, 2021: -0.002, 2022: 0.023, 2023: 0.031, 2024: 0.025,
    2025: 0.030, 2026: 0.020,
}  # fmt: skip
"""Approximate yearly change of Japan's core CPI (ex fresh food), rounded; for synthetic
JGBi index ratios only. Configuration, unconfirmed (Statistics Bureau of Japan)."""


# ----------------------------------------------------------------------- calibration


def calibration_from_outstanding(history: OutstandingHistory, month: date) -> Calibration:
    """Count and amount per (program, residual year) of the issues outstanding in ``month``.

    Programs tanpo does not model (15-year floaters, old 4/6-year bonds) are left out.
    """
    frame = history.at(month)
    as_of = next(d for d in history.record_dates if (d.year, d.month) == (month.year, month.month))
    cells: dict[tuple[Program, int], list[float]] = {}
    for row in frame.iter_rows(named=True):
        try:
            program = Program(row["program"])
        except ValueError:
            continue
        year = (row["maturity_date"] - as_of).days // 365
        cell = cells.setdefault((program, year), [0, 0.0, 0])
        cell[0] += 1
        cell[1] += row["outstanding_oku"]
        cell[2] = max(cell[2], row["series"])
    order = list(Program)
    return Calibration(
        as_of,
        tuple(
            CalibrationCell(p, y, int(v[0]), round(v[1], 2), int(v[2]))
            for (p, y), v in sorted(cells.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))
        ),
    )


def calibration_csv(calibration: Calibration) -> str:
    """The calibration table as the committed CSV (comment lines cite the source)."""
    out = io.StringIO()
    out.write(f"# JGBs outstanding at {calibration.as_of} per program and residual year\n")
    out.write(f"# (residual_year = floor((maturity - {calibration.as_of}) days / 365)).\n")
    out.write(f"# Source: {NAKAJIMA}. Regenerate: tanpo data extract.\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CALIBRATION_COLUMNS)
    for c in calibration.cells:
        writer.writerow(
            [c.program.value, c.residual_year, c.issues, f"{c.outstanding_oku:g}", c.max_series]
        )
    return out.getvalue()


def read_calibration(path: str | Path | None = None) -> Calibration:
    """Read a calibration CSV (default: the committed 2026-03-31 table)."""
    path = Path(path) if path is not None else data_dir() / CALIBRATION_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next((i for i, line in enumerate(lines) if not line.startswith("#")), None)
    if header is None or tuple(lines[header].split(",")) != CALIBRATION_COLUMNS:
        raise InputError(path.name, "header", f"expected {','.join(CALIBRATION_COLUMNS)}")
    as_of_text = lines[0].split(" at ")[1].split(" ")[0] if " at " in lines[0] else ""
    try:
        as_of = date.fromisoformat(as_of_text)
    except ValueError:
        raise InputError(f"{path.name} line 1", "as_of", "needs '... at YYYY-MM-DD ...'") from None
    cells = []
    for n, row in enumerate(csv.reader(lines[header + 1 :]), start=header + 2):
        record = f"{path.name} line {n}"
        if len(row) != len(CALIBRATION_COLUMNS):
            raise InputError(record, "row", f"has {len(row)} cells")
        try:
            cells.append(
                CalibrationCell(
                    Program.parse(row[0], record),
                    int(row[1]),
                    int(row[2]),
                    float(row[3]),
                    int(row[4]),
                )
            )
        except ValueError as exc:
            raise InputError(record, "row", str(exc)) from None
    return Calibration(as_of, tuple(cells))


# ------------------------------------------------------------------------- generator


def apportion(weights: Sequence[int], total: int) -> list[int]:
    """Split ``total`` in proportion to ``weights`` by largest remainder (ties: first)."""
    whole = sum(weights)
    if whole <= 0 or total < 0:
        raise InputError("universe", "n", f"cannot split {total} over weights summing to {whole}")
    exact = [w * total / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _index_ratio(issue_date: date, as_of: date) -> float:
    ratio = 1.0
    for year in range(issue_date.year, as_of.year + 1):
        start = max(issue_date, date(year, 1, 1))
        end = min(as_of, date(year + 1, 1, 1))
        if end > start:
            ratio *= (1.0 + CORE_CPI_CHANGE.get(year, 0.0)) ** ((end - start).days / 365.0)
    return round(ratio, 5)


def _coupon(rule: ProgramRule, curve: ParCurve) -> float:
    if rule.is_bill:
        return 0.0
    if rule.kind is BondKind.INFLATION:
        return rule.min_coupon_rate
    steps = round(curve.par_yield(rule.tenor_years) * 1000.0)
    return round(max(rule.min_coupon_rate, steps / 1000.0), 3)


@dataclass(frozen=True, slots=True)
class _Draft:
    program: Program
    issue_date: date
    maturity_date: date
    outstanding_oku: int


def _window(rule: ProgramRule, as_of: date, year: int) -> list[date]:
    if rule.is_bill:
        return maturity_slots(rule, as_of, as_of + timedelta(days=rule.tenor_days))
    start = as_of + timedelta(days=365 * year)
    slots = maturity_slots(rule, start - timedelta(days=1), start + timedelta(days=364))
    if not slots:  # a grid coarser than the window: take the next slot after it
        slots = maturity_slots(rule, start, start + timedelta(days=366 * 2))[:1]
    return [s for s in slots if s > as_of]


def _drafts(
    cell: CalibrationCell, count: int, as_of: date, rng: np.random.Generator
) -> Iterable[_Draft]:
    rule = PROGRAM_RULES[cell.program]
    slots = _window(rule, as_of, cell.residual_year)
    if not slots:
        raise InputError(
            f"calibration {cell.program} year {cell.residual_year}", "as_of", "no maturity slot"
        )
    offset = float(rng.random())
    mean = cell.outstanding_oku / cell.issues
    for i in range(count):
        maturity = slots[min(int((i + offset) * len(slots) / count), len(slots) - 1)]
        spread = int(rng.integers(0, rule.issue_spread_months + 1))
        issue = original_issue_date(rule, maturity, spread)
        while issue > as_of and spread > 0:
            spread -= 1
            issue = original_issue_date(rule, maturity, spread)
        issue = min(issue, as_of)
        z = float(rng.standard_normal())
        size = max(1, round(mean * math.exp(SIZE_SIGMA * z - SIZE_SIGMA**2 / 2)))
        yield _Draft(cell.program, issue, maturity, size)


def generate_universe(
    n: int | None = None,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    calibration: Calibration | None = None,
    curves: ParCurveHistory | None = None,
) -> pl.DataFrame:
    """A seeded universe of ``n`` JGBs (default: the calibration's natural size, 362).

    Parameters
    ----------
    n
        Number of issues; cells of the calibration are scaled by largest remainder.
    seed
        Seed of the numpy PCG64 generator; same inputs, same universe, byte for byte.
    as_of
        Date the residual maturities are counted from (default: the calibration date).
    calibration, curves
        Defaults: the committed calibration table and month-end MOF par curves.

    Returns
    -------
    polars.DataFrame
        ``isin, program, series, kind, coupon_rate, issue_date, maturity_date,
        outstanding_yen, index_ratio``; sorted by program and series.
    """
    calibration = calibration or read_calibration()
    curves = curves or read_par_yield_curves(data_dir() / MONTH_END_CURVES_FILE)
    as_of = as_of or calibration.as_of
    cells = [c for c in calibration.cells if c.issues > 0] + list(TBILL_CALIBRATION)
    natural = sum(c.issues for c in cells)
    n = natural if n is None else n
    if not 1 <= n <= MAX_UNIVERSE_SIZE:
        raise InputError("universe", "n", f"{n} must be in 1..{MAX_UNIVERSE_SIZE:,}")
    counts = apportion([c.issues for c in cells], n)
    rng = np.random.default_rng(seed)
    drafts: list[_Draft] = []
    for cell, count in zip(cells, counts, strict=True):
        drafts.extend(_drafts(cell, count, as_of, rng))
    return _number_and_price(drafts, cells, as_of, curves)


def _number_and_price(
    drafts: list[_Draft], cells: list[CalibrationCell], as_of: date, curves: ParCurveHistory
) -> pl.DataFrame:
    newest: dict[str, int] = {}
    for c in cells:
        family = "TB" if PROGRAM_RULES[c.program].is_bill else c.program.value
        newest[family] = max(newest.get(family, 0), c.max_series)
    families: dict[str, list[_Draft]] = {}
    for d in drafts:
        family = "TB" if PROGRAM_RULES[d.program].is_bill else d.program.value
        families.setdefault(family, []).append(d)
    first_curve = curves.dates()[0]
    curve_cache: dict[tuple[int, int], ParCurve] = {}
    rows: list[tuple[object, ...]] = []
    for family, members in families.items():
        members.sort(key=lambda d: (d.issue_date, d.maturity_date, d.program.value))
        first = max(1, newest[family] - len(members) + 1)
        for k, d in enumerate(members):
            rule = PROGRAM_RULES[d.program]
            key = (d.issue_date.year, d.issue_date.month)
            if key not in curve_cache:
                curve_cache[key] = curves.par_curve(
                    max(d.issue_date, first_curve), on_or_before=True
                )
            series = first + k
            rows.append(
                (
                    jgb_isin(d.program, series, d.issue_date),
                    d.program.value,
                    series,
                    rule.kind.value,
                    _coupon(rule, curve_cache[key]),
                    d.issue_date,
                    d.maturity_date,
                    d.outstanding_oku * 100_000_000,
                    _index_ratio(d.issue_date, as_of) if rule.kind is BondKind.INFLATION else 1.0,
                )
            )
    frame = pl.DataFrame(rows, schema=UNIVERSE_SCHEMA, orient="row")
    order = {p.value: i for i, p in enumerate(Program)}
    frame = frame.sort(pl.col("program").replace_strict(order), "series")
    duplicates = frame.filter(pl.col("isin").is_duplicated())
    if not duplicates.is_empty():
        raise InputError("universe", "isin", f"duplicate ISIN {duplicates['isin'][0]}")
    return frame


UNIVERSE_SCHEMA = {
    "isin": pl.String,
    "program": pl.String,
    "series": pl.Int64,
    "kind": pl.String,
    "coupon_rate": pl.Float64,
    "issue_date": pl.Date,
    "maturity_date": pl.Date,
    "outstanding_yen": pl.Int64,
    "index_ratio": pl.Float64,
}


def universe_csv(frame: pl.DataFrame) -> str:
    """The universe as CSV text, formatted explicitly so output is byte-stable."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(UNIVERSE_SCHEMA)
    for r in frame.iter_rows(named=True):
        writer.writerow(
            [
                r["isin"], r["program"], r["series"], r["kind"], f"{r['coupon_rate']:.3f}",
                r["issue_date"].isoformat(), r["maturity_date"].isoformat(),
                r["outstanding_yen"], f"{r['index_ratio']:.5f}",
            ]
        )  # fmt: skip
    return out.getvalue()


def read_universe(path: str | Path) -> pl.DataFrame:
    """Read a universe CSV written by :func:`universe_csv`."""
    return pl.read_csv(Path(path), schema=UNIVERSE_SCHEMA, try_parse_dates=True)


def universe_bonds(frame: pl.DataFrame) -> list[Jgb]:
    """The universe as :class:`~valuation.jgb.Jgb` definitions."""
    return [
        Jgb(
            isin=r["isin"],
            kind=BondKind(r["kind"]),
            coupon_rate=r["coupon_rate"],
            maturity_date=r["maturity_date"],
            issue_date=r["issue_date"],
            series=f"{r['program']} #{r['series']}",
        )
        for r in frame.iter_rows(named=True)
    ]
