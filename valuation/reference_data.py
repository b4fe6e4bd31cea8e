"""The project's data files derived from the shared official files, and the universe file.

Two kinds of committed data (``data/``):

- *Extracts* of official figures: the MOF par curve of the sample book's valuation date
  (2026-06-30), the month-end MOF par curves the universe's coupons come from, and the
  calibration table of the universe (from the outstanding-by-issue table). They are
  rebuilt from ``../shared/data`` by ``tanpo data extract``; rows of MOF files are
  copied verbatim.
- *Generated* files: ``data/universe.csv`` (this module) and the sample book
  (:mod:`optimizer.sample_book`), rebuilt byte for byte by ``tanpo data generate``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from valuation.mof import (
    MOF_PAR_CURVE_URL,
    extract_par_curve_rows,
    month_end_dates,
    read_outstanding,
    read_par_yield_curves,
)
from valuation.universe import (
    CALIBRATION_DATE,
    CALIBRATION_FILE,
    DEFAULT_SEED,
    MONTH_END_CURVES_FILE,
    calibration_csv,
    calibration_from_outstanding,
    generate_universe,
    universe_csv,
)

VALUATION_DATE = date(2026, 6, 30)
"""The sample book is valued on the MOF curve of this day (the file's last date)."""

SETTLEMENT_DATE = date(2026, 7, 1)
"""T+1 after :data:`VALUATION_DATE` (Tokyo business days)."""

VALUATION_CURVE_FILE = Path("curves") / f"mof_par_{VALUATION_DATE.isoformat()}.csv"
UNIVERSE_FILE = Path("universe.csv")
MONTH_END_FIRST = date(1990, 1, 1)

_CITATION = (
    f"Source: Ministry of Finance Japan, JGB interest rates (par yield curve, constant "
    f"maturity, in %), {MOF_PAR_CURVE_URL}; rows copied verbatim from jgbcme_all.csv."
)


def extracted_files(curve_path: Path, outstanding_path: Path) -> dict[Path, str]:
    """The extract files (path relative to ``data/`` -> text) from the shared originals."""
    history = read_par_yield_curves(curve_path)
    month_ends = month_end_dates(history, MONTH_END_FIRST, VALUATION_DATE)
    calibration = calibration_from_outstanding(read_outstanding(outstanding_path), CALIBRATION_DATE)
    return {
        VALUATION_CURVE_FILE: extract_par_curve_rows(
            curve_path,
            [VALUATION_DATE],
            [f"MOF JGB par yield curve of {VALUATION_DATE} (values the sample book).", _CITATION],
        ),
        MONTH_END_CURVES_FILE: extract_par_curve_rows(
            curve_path,
            month_ends,
            [
                f"MOF JGB par yield curve on the last business day of each month, "
                f"{month_ends[0]:%Y-%m} to {month_ends[-1]:%Y-%m} (coupons of the synthetic universe).",
                _CITATION,
            ],
        ),
        CALIBRATION_FILE: calibration_csv(calibration),
    }


def universe_file() -> dict[Path, str]:
    """``universe.csv``: the natural-size universe as of the valuation date, default seed."""
    frame = generate_universe(seed=DEFAULT_SEED, as_of=VALUATION_DATE)
    return {UNIVERSE_FILE: universe_csv(frame)}
