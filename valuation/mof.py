"""Loaders for the official JGB data formats: the MOF par yield curve and issue amounts.

Two files, read as published, into tidy polars tables:

- The Ministry of Finance JGB par yield curve (``jgbcme_all.csv``, "Interest Rate"
  historical data; constant-maturity par yields 1Y-40Y in percent, daily since
  1974-09-24). A title line, a header ``Date,1Y,2Y,...,40Y`` (the Japanese edition:
  ``基準日,1年,...``), then one row per business day; ``-`` where a tenor did not
  exist yet. The English edition dates rows ``2026/6/30``; the Japanese edition uses
  era dates (``S49.9.24``, ``H31.4.26``, ``R1.5.7``); both parse. Encodings UTF-8 and
  Shift_JIS (cp932) are accepted, CRLF or LF.
  Source: MOF, "Interest Rate" (https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/).
- Monthly amounts outstanding per JGB issue (``jgbtot.csv``), in 100 million yen: row 2
  holds issue codes (``10Y-381``, ``20Y-195``, ``I10Y-30`` for JGBi, ``C10Y-4`` for
  climate transition bonds, ``F15Y-..`` for 15-year floaters), row 3 maturity dates
  (``YYYYMMDD``), then one row per month. Compiled by J. Nakajima, Hitotsubashi
  University IER Discussion Paper A.758 (cite when used).

Malformed input raises :class:`~valuation.errors.InputError` naming the file, line and
column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from valuation.errors import InputError

_ERA_BASE = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
"""Gregorian year = base + era year (Meiji, Taisho, Showa, Heisei, Reiwa)."""

_ERA_DATE = re.compile(r"^([MTSHR])(\d{1,2})\.(\d{1,2})\.(\d{1,2})$")
_SLASH_DATE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TENOR = re.compile(r"^(\d+)\s*(?:Y|年)$")
_ISSUE_CODE = re.compile(r"^([A-Z]?)(\d+)Y-(\d+)$")

MISSING = "-"
"""How the MOF file marks a tenor that did not exist on that day."""


def decode_text(raw: bytes) -> str:
    """MOF files come as UTF-8 (with or without BOM) or Shift_JIS; decode either."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("file", "encoding", "neither UTF-8 nor Shift_JIS (cp932)")


def parse_mof_date(text: str, record: str, field: str) -> date:
    """A date as MOF and the outstanding table write it.

    ``2026/6/30``, ``2026-06-30``, ``20260630`` or a Japanese era date ``R8.6.30``
    (Reiwa 8 = 2026; ``S`` Showa, ``H`` Heisei, ``R`` Reiwa...).
    """
    value = text.strip()
    match = _SLASH_DATE.match(value) or _COMPACT_DATE.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    elif era := _ERA_DATE.match(value):
        year = _ERA_BASE[era.group(1)] + int(era.group(2))
        month, day = int(era.group(3)), int(era.group(4))
    else:
        raise InputError(record, field, f"{text!r} is not a date (2026/6/30, 20260630 or R8.6.30)")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InputError(record, field, f"{text!r} is not a valid date: {exc}") from None


def _read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(decode_text(path.read_bytes()).splitlines()))


# --------------------------------------------------------------------------- par curve


@dataclass(frozen=True, slots=True)
class ParCurve:
    """The MOF par yield curve of one day.

    Parameters
    ----------
    curve_date
        The business day the yields are for.
    tenor_years
        Tenors in years, ascending (1, 2, ..., 10, 15, 20, 25, 30, 40).
    par_yields
        Par yields as decimals (0.0269 for 2.69%), one per tenor.
    source
        Where the figures come from.
    """

    curve_date: date
    tenor_years: tuple[float, ...]
    par_yields: tuple[float, ...]
    source: str = ""

    def __post_init__(self) -> None:
        record = f"par curve {self.curve_date}"
        if not self.tenor_years:
            raise InputError(record, "tenor_years", "has no tenor")
        if len(self.tenor_years) != len(self.par_yields):
            raise InputError(record, "par_yields", "needs one yield per tenor")
        if any(b <= a for a, b in zip(self.tenor_years, self.tenor_years[1:], strict=False)):
            raise InputError(record, "tenor_years", f"must increase: {self.tenor_years}")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(tenor_years, par_yields) as float64 arrays."""
        return np.array(self.tenor_years, dtype=np.float64), np.array(
            self.par_yields, dtype=np.float64
        )

    def par_yield(self, tenor_years: float) -> float:
        """The par yield at ``tenor_years``, linear between the published tenors, flat beyond."""
        tenors, yields = self.arrays()
        return float(np.interp(tenor_years, tenors, yields))


@dataclass(frozen=True, slots=True)
class ParCurveHistory:
    """Every day of a MOF par curve file as a tidy table.

    ``table`` has one row per (date, tenor) that was published: ``curve_date`` (Date),
    ``tenor_years`` (Float64), ``par_yield`` (Float64, decimal), sorted by both.
    """

    table: pl.DataFrame
    source: str

    def dates(self) -> list[date]:
        """The curve dates in the file, ascending."""
        return list(self.table.get_column("curve_date").unique(maintain_order=True))

    def par_curve(self, curve_date: date, *, on_or_before: bool = False) -> ParCurve:
        """The curve of ``curve_date``.

        With ``on_or_before`` the latest curve on or before it (a holiday gets the
        previous business day's curve); otherwise the date must be in the file.
        """
        dates = self.dates()
        if on_or_before:
            earlier = [d for d in dates if d <= curve_date]
            if not earlier:
                raise InputError(self.source, "curve_date", f"no curve on or before {curve_date}")
            curve_date = earlier[-1]
        rows = self.table.filter(pl.col("curve_date") == curve_date)
        if rows.is_empty():
            raise InputError(
                self.source,
                "curve_date",
                f"no curve for {curve_date} (file covers {dates[0]}..{dates[-1]}; "
                "pass on_or_before=True for the last earlier business day)",
            )
        return ParCurve(
            curve_date=curve_date,
            tenor_years=tuple(rows.get_column("tenor_years").to_list()),
            par_yields=tuple(rows.get_column("par_yield").to_list()),
            source=self.source,
        )


def _find_header(rows: Sequence[Sequence[str]], source: str, first: tuple[str, ...]) -> int:
    for i, row in enumerate(rows):
        if row and row[0].strip() in first:
            return i
    raise InputError(source, "header", f"no header line starting with {' or '.join(first)}")


def read_par_yield_curves(path: str | Path) -> ParCurveHistory:
    """Read a MOF par yield curve CSV (``jgbcme_all.csv`` or a one-day extract).

    Lines before the ``Date``/``基準日`` header (the title, ``# comments``) are skipped.
    Yields are divided by 100 (the file is in percent); ``-`` and empty cells are
    tenors not published that day.

    Raises
    ------
    InputError
        Naming ``<file> line N`` and the column for a bad date, a yield that is not a
        number, a row with the wrong number of cells, a date out of order or repeated.
    """
    path = Path(path)
    return parse_par_yield_curves(_read_rows(path), source=path.name)


def parse_par_yield_curves(rows: Sequence[Sequence[str]], source: str) -> ParCurveHistory:
    """:func:`read_par_yield_curves` on rows already split into cells."""
    h = _find_header(rows, source, ("Date", "基準日"))
    header = [c.strip() for c in rows[h]]
    tenors: list[float] = []
    for j, name in enumerate(header[1:], start=1):
        match = _TENOR.match(name)
        if not match:
            raise InputError(
                f"{source} line {h + 1}", f"column {j + 1}", f"{name!r} is not a tenor"
            )
        tenors.append(float(match.group(1)))
    dates: list[date] = []
    tenor_col: list[float] = []
    yield_col: list[float] = []
    previous: date | None = None
    for i in range(h + 1, len(rows)):
        row = rows[i]
        if not row or all(not c.strip() for c in row):
            continue
        record = f"{source} line {i + 1}"
        if len(row) != len(header):
            raise InputError(record, "row", f"has {len(row)} cells, the header has {len(header)}")
        day = parse_mof_date(row[0], record, f"column 1 ({header[0]})")
        if previous is not None and day <= previous:
            raise InputError(record, f"column 1 ({header[0]})", f"{day} is not after {previous}")
        previous = day
        for j, cell in enumerate(row[1:], start=1):
            text = cell.strip()
            if text in (MISSING, ""):
                continue
            try:
                value = float(text)
            except ValueError:
                raise InputError(
                    record, f"column {j + 1} ({header[j]})", f"{text!r} is not a yield in %"
                ) from None
            dates.append(day)
            tenor_col.append(tenors[j - 1])
            yield_col.append(round(value / 100.0, 12))  # 1.382 -> 0.01382, not 0.013819999...
    if not dates:
        raise InputError(source, "rows", "no yields after the header")
    table = pl.DataFrame(
        {"curve_date": dates, "tenor_years": tenor_col, "par_yield": yield_col},
        schema={"curve_date": pl.Date, "tenor_years": pl.Float64, "par_yield": pl.Float64},
    )
    return ParCurveHistory(table=table, source=source)


# ------------------------------------------------------------------- outstanding by issue


def parse_issue_code(code: str, record: str, field: str) -> tuple[str, int]:
    """``"10Y-381"`` -> ``("10Y", 381)``; ``"I10Y-30"`` -> ``("I10Y", 30)``."""
    match = _ISSUE_CODE.match(code.strip())
    if not match:
        raise InputError(record, field, f"{code!r} is not an issue code like 10Y-381 or I10Y-30")
    prefix, years, series = match.groups()
    return f"{prefix}{years}Y", int(series)


@dataclass(frozen=True, slots=True)
class OutstandingHistory:
    """The outstanding-by-issue table.

    ``issues``: one row per issue (``issue_code``, ``program``, ``series``,
    ``maturity_date``) in file order. ``amounts``: long table of the non-zero cells
    (``record_date``, ``issue_code``, ``outstanding_oku`` in 100 million yen).
    ``record_dates``: every monthly row's date, ascending.
    """

    issues: pl.DataFrame
    amounts: pl.DataFrame
    record_dates: tuple[date, ...]
    source: str

    def at(self, month: date) -> pl.DataFrame:
        """The issues outstanding at the record date in ``month``'s year and month.

        Columns: ``issue_code``, ``program``, ``series``, ``maturity_date``,
        ``outstanding_oku`` (100 million yen), ``outstanding_yen`` (Int64), sorted by
        program and series. Only issues with a positive amount are listed.
        """
        matches = [d for d in self.record_dates if (d.year, d.month) == (month.year, month.month)]
        if not matches:
            dates = self.record_dates
            raise InputError(
                self.source,
                "record_date",
                f"no month {month:%Y-%m} (file covers {dates[0]:%Y-%m}..{dates[-1]:%Y-%m})",
            )
        rows = self.amounts.filter(
            (pl.col("record_date") == matches[0]) & (pl.col("outstanding_oku") > 0)
        )
        return (
            rows.join(self.issues, on="issue_code", how="left")
            .with_columns(
                (pl.col("outstanding_oku") * 1e8).round(0).cast(pl.Int64).alias("outstanding_yen")
            )
            .select(
                "issue_code",
                "program",
                "series",
                "maturity_date",
                "outstanding_oku",
                "outstanding_yen",
            )
            .sort("program", "series")
        )


def read_outstanding(path: str | Path) -> OutstandingHistory:
    """Read the monthly outstanding-by-issue CSV (``jgbtot.csv``).

    Raises
    ------
    InputError
        Naming ``<file> line N`` and the column for a bad issue code or maturity, a
        repeated issue, a row of the wrong width, an amount that is not a number >= 0.
    """
    path = Path(path)
    return parse_outstanding(_read_rows(path), source=path.name)


def parse_outstanding(rows: Sequence[Sequence[str]], source: str) -> OutstandingHistory:
    """:func:`read_outstanding` on rows already split into cells."""
    h = _find_header(rows, source, ("No.",))
    codes_row = rows[h]
    if h + 1 >= len(rows) or rows[h + 1][0].strip() != "Maturity date":
        raise InputError(f"{source} line {h + 2}", "column 1", "expected the 'Maturity date' row")
    maturity_row = rows[h + 1]
    width = len(codes_row)
    if len(maturity_row) != width:
        raise InputError(
            f"{source} line {h + 2}", "row", f"has {len(maturity_row)} cells, codes row has {width}"
        )
    codes: list[str] = []
    programs: list[str] = []
    series: list[int] = []
    maturities: list[date] = []
    seen: set[str] = set()
    for j in range(1, width):
        code = codes_row[j].strip()
        program, number = parse_issue_code(code, f"{source} line {h + 1}", f"column {j + 1}")
        if code in seen:
            raise InputError(f"{source} line {h + 1}", f"column {j + 1}", f"{code} appears twice")
        seen.add(code)
        codes.append(code)
        programs.append(program)
        series.append(number)
        maturities.append(
            parse_mof_date(maturity_row[j], f"{source} line {h + 2}", f"column {j + 1} ({code})")
        )
    months: list[date] = []
    record_dates: list[date] = []
    amount_codes: list[str] = []
    amounts: list[float] = []
    previous: date | None = None
    for i in range(h + 2, len(rows)):
        row = rows[i]
        if not row or all(not c.strip() for c in row):
            continue
        record = f"{source} line {i + 1}"
        if len(row) != width:
            raise InputError(record, "row", f"has {len(row)} cells, the codes row has {width}")
        day = parse_mof_date(row[0], record, "column 1 (record date)")
        if previous is not None and day <= previous:
            raise InputError(record, "column 1 (record date)", f"{day} is not after {previous}")
        previous = day
        months.append(day)
        for j in range(1, width):
            text = row[j].strip()
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not value >= 0.0:  # also catches NaN
                raise InputError(
                    record,
                    f"column {j + 1} ({codes[j - 1]})",
                    f"{text!r} is not an amount >= 0 in 100 million yen",
                )
            if value > 0.0:
                record_dates.append(day)
                amount_codes.append(codes[j - 1])
                amounts.append(value)
    if previous is None:
        raise InputError(source, "rows", "no monthly rows after the maturity row")
    issues = pl.DataFrame(
        {"issue_code": codes, "program": programs, "series": series, "maturity_date": maturities},
        schema={
            "issue_code": pl.String,
            "program": pl.String,
            "series": pl.Int64,
            "maturity_date": pl.Date,
        },
    )
    long = pl.DataFrame(
        {"record_date": record_dates, "issue_code": amount_codes, "outstanding_oku": amounts},
        schema={"record_date": pl.Date, "issue_code": pl.String, "outstanding_oku": pl.Float64},
    )
    return OutstandingHistory(
        issues=issues, amounts=long, record_dates=tuple(months), source=source
    )


# ------------------------------------------------------------------------------ extracts

MOF_PAR_CURVE_URL = (
    "https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/historical/jgbcme_all.csv"
)


def extract_par_curve_rows(path: str | Path, keep: Sequence[date], preamble: Sequence[str]) -> str:
    """A small MOF-format extract of the par curve file: its header and the rows of ``keep``.

    Rows are copied verbatim (so the extract *is* the published figures) after
    ``# preamble`` lines; :func:`read_par_yield_curves` reads the result. Every date in
    ``keep`` must be in the file.
    """
    path = Path(path)
    lines = decode_text(path.read_bytes()).splitlines()
    h = _find_header([line.split(",") for line in lines], path.name, ("Date", "基準日"))
    wanted = set(keep)
    out = [f"# {line}" for line in preamble] + lines[: h + 1]
    found: set[date] = set()
    for i in range(h + 1, len(lines)):
        first = lines[i].split(",", 1)[0]
        if not first.strip():
            continue
        day = parse_mof_date(first, f"{path.name} line {i + 1}", "column 1")
        if day in wanted:
            out.append(lines[i])
            found.add(day)
    missing = sorted(wanted - found)
    if missing:
        raise InputError(path.name, "curve_date", f"no row for {', '.join(map(str, missing))}")
    return "\n".join(out) + "\n"


def month_end_dates(history: ParCurveHistory, first: date, last: date) -> list[date]:
    """The last curve date of every month from ``first``'s month to ``last``'s."""
    by_month: dict[tuple[int, int], date] = {}
    for d in history.dates():
        if date(first.year, first.month, 1) <= d <= last:
            by_month[(d.year, d.month)] = d
    return [by_month[k] for k in sorted(by_month)]
