"""MOF par curve and outstanding-by-issue loaders: synthetic fixtures everywhere, the
real files where ../shared/data exists."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from valuation.errors import InputError
from valuation.mof import (
    extract_par_curve_rows,
    month_end_dates,
    parse_mof_date,
    read_outstanding,
    read_par_yield_curves,
)
from valuation.paths import JGB_OUTSTANDING_PARTS, MOF_PAR_CURVE_PARTS, shared_file

CURVE_EN = (
    "Interest Rate,,,,(Unit : %)\r\n"
    "Date,1Y,2Y,10Y,40Y\r\n"
    "1974/9/24,10.327,9.362,-,-\r\n"
    "2007/11/6,0.7,0.8,1.6,2.3\r\n"
    "2026/6/29,1.173,1.411,2.644,3.715\r\n"
    "2026/6/30,1.165,1.382,2.69,3.792\r\n"
)

CURVE_JA = (
    "国債金利情報,,,(単位 : %)\n"
    "基準日,1年,2年,10年\n"
    "S49.9.24,10.327,9.362,-\n"
    "H31.4.26,-0.152,-0.155,-0.044\n"
    "R1.5.7,-0.151,-0.157,-0.047\n"
)

OUTSTANDING = (
    "Issuance (100 million yen),,,,\n"
    "No.,2Y-481,10Y-381,I10Y-30,C10Y-4\n"
    "Maturity date,20280201,20351220,20350310,20351220\n"
    "20260227,21839,30000,9000.5,2999\n"
    "20260331,21839,39510,9992,0\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------ synthetic: curve


def test_par_curve_tidy_table_skips_dashes_and_converts_percent(tmp_path: Path) -> None:
    history = read_par_yield_curves(_write(tmp_path, "c.csv", CURVE_EN))
    assert history.table.columns == ["curve_date", "tenor_years", "par_yield"]
    assert history.table.height == 2 + 4 + 4 + 4
    curve = history.par_curve(date(2026, 6, 30))
    assert curve.tenor_years == (1.0, 2.0, 10.0, 40.0)
    assert curve.par_yields == (0.01165, 0.01382, 0.0269, 0.03792)
    first = history.par_curve(date(1974, 9, 24))
    assert first.tenor_years == (1.0, 2.0)
    assert curve.par_yield(6.0) == pytest.approx(0.01382 + (0.0269 - 0.01382) / 2)


def test_par_curve_on_or_before_and_missing_date(tmp_path: Path) -> None:
    history = read_par_yield_curves(_write(tmp_path, "c.csv", CURVE_EN))
    assert history.par_curve(date(2026, 6, 28), on_or_before=True).curve_date == date(2007, 11, 6)
    with pytest.raises(InputError, match=r"no curve for 2026-06-28 .*on_or_before"):
        history.par_curve(date(2026, 6, 28))
    with pytest.raises(InputError, match="no curve on or before"):
        history.par_curve(date(1970, 1, 1), on_or_before=True)


def test_japanese_edition_in_shift_jis_with_era_dates(tmp_path: Path) -> None:
    history = read_par_yield_curves(_write(tmp_path, "j.csv", CURVE_JA, "cp932"))
    assert history.dates() == [date(1974, 9, 24), date(2019, 4, 26), date(2019, 5, 7)]
    assert history.par_curve(date(2019, 5, 7)).par_yields == (-0.00151, -0.00157, -0.00047)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/6/30", date(2026, 6, 30)),
        ("2026-06-30", date(2026, 6, 30)),
        ("20260630", date(2026, 6, 30)),
        ("R8.6.30", date(2026, 6, 30)),  # Reiwa 8
        ("H1.1.9", date(1989, 1, 9)),  # Heisei 1
        ("S64.1.7", date(1989, 1, 7)),  # Showa 64
    ],
)
def test_mof_dates(text: str, expected: date) -> None:
    assert parse_mof_date(text, "r", "f") == expected


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("2026/7/1,1.1,1.2x,2.7,3.8", "column 3 (2Y)", "'1.2x' is not a yield"),
        ("2026/7/1,1.1,1.2,2.7", "row", "has 4 cells, the header has 5"),
        ("2026/13/1,1.1,1.2,2.7,3.8", "column 1 (Date)", "not a valid date"),
        ("July 1,1.1,1.2,2.7,3.8", "column 1 (Date)", "is not a date"),
        ("2026/6/30,1.1,1.2,2.7,3.8", "column 1 (Date)", "is not after 2026-06-30"),
    ],
)
def test_malformed_curve_rows_name_line_and_column(
    tmp_path: Path, row: str, field: str, message: str
) -> None:
    path = _write(tmp_path, "bad.csv", CURVE_EN + row + "\r\n")
    with pytest.raises(InputError) as info:
        read_par_yield_curves(path)
    assert info.value.record == "bad.csv line 7"
    assert info.value.field == field
    assert message in info.value.message


def test_curve_without_header_or_with_bad_tenor(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no header line"):
        read_par_yield_curves(_write(tmp_path, "a.csv", "x,y\n1,2\n"))
    with pytest.raises(InputError, match=r"line 1: column 3: 'ten' is not a tenor"):
        read_par_yield_curves(_write(tmp_path, "b.csv", "Date,1Y,ten\n2026/1/5,1,2\n"))


def test_extract_is_read_back_identically(tmp_path: Path) -> None:
    source = _write(tmp_path, "c.csv", CURVE_EN)
    text = extract_par_curve_rows(source, [date(2026, 6, 30)], ["from c.csv"])
    assert text.startswith("# from c.csv\nInterest Rate")
    extract = read_par_yield_curves(_write(tmp_path, "e.csv", text))
    full = read_par_yield_curves(source)
    got, want = extract.par_curve(date(2026, 6, 30)), full.par_curve(date(2026, 6, 30))
    assert (got.tenor_years, got.par_yields) == (want.tenor_years, want.par_yields)
    assert month_end_dates(full, date(2026, 1, 1), date(2026, 6, 30)) == [date(2026, 6, 30)]
    with pytest.raises(InputError, match="no row for 2026-07-01"):
        extract_par_curve_rows(source, [date(2026, 7, 1)], [])


# ------------------------------------------------------------ synthetic: outstanding


def test_outstanding_at_a_month(tmp_path: Path) -> None:
    history = read_outstanding(_write(tmp_path, "o.csv", OUTSTANDING))
    assert history.record_dates == (date(2026, 2, 27), date(2026, 3, 31))
    march = history.at(date(2026, 3, 1))
    assert march.get_column("issue_code").to_list() == ["10Y-381", "2Y-481", "I10Y-30"]
    row = march.row(0, named=True)
    assert row == {
        "issue_code": "10Y-381",
        "program": "10Y",
        "series": 381,
        "maturity_date": date(2035, 12, 20),
        "outstanding_oku": 39510.0,
        "outstanding_yen": 3_951_000_000_000,
    }
    feb = history.at(date(2026, 2, 27))
    assert feb.height == 4
    assert feb.filter(feb["program"] == "I10Y")["outstanding_yen"].item() == 900_050_000_000
    with pytest.raises(InputError, match=r"no month 2026-04 \(file covers 2026-02..2026-03\)"):
        history.at(date(2026, 4, 30))


@pytest.mark.parametrize(
    ("text", "record", "field", "message"),
    [
        (OUTSTANDING.replace("10Y-381", "10Y381"), "o.csv line 2", "column 3", "not an issue code"),
        (OUTSTANDING.replace("10Y-381", "2Y-481"), "o.csv line 2", "column 3", "appears twice"),
        (
            OUTSTANDING.replace("20351220,2035", "20351232,2035"),
            "o.csv line 3",
            "column 3 (10Y-381)",
            "valid date",
        ),
        (
            OUTSTANDING.replace(",39510,", ",n/a,"),
            "o.csv line 5",
            "column 3 (10Y-381)",
            "'n/a' is not an amount",
        ),
        (
            OUTSTANDING.replace(",39510,", ",-5,"),
            "o.csv line 5",
            "column 3 (10Y-381)",
            "'-5' is not an amount",
        ),
        (OUTSTANDING.replace("9992,0\n", "9992\n"), "o.csv line 5", "row", "has 4 cells"),
        (
            OUTSTANDING.replace("Maturity date", "Maturity"),
            "o.csv line 3",
            "column 1",
            "Maturity date",
        ),
    ],
)
def test_malformed_outstanding_names_line_and_column(
    tmp_path: Path, text: str, record: str, field: str, message: str
) -> None:
    with pytest.raises(InputError) as info:
        read_outstanding(_write(tmp_path, "o.csv", text))
    assert (info.value.record, info.value.field) == (record, field)
    assert message in info.value.message


# ------------------------------------------------------------------------ real files

REAL_CURVE = shared_file(*MOF_PAR_CURVE_PARTS)
REAL_OUTSTANDING = shared_file(*JGB_OUTSTANDING_PARTS)
needs_curve = pytest.mark.skipif(
    REAL_CURVE is None,
    reason="../shared/data/mof/jgbcme_all.csv not present (set TANPO_SHARED_DIR)",
)
needs_outstanding = pytest.mark.skipif(
    REAL_OUTSTANDING is None,
    reason="../shared/data/jgb_outstanding/jgbtot.csv not present (set TANPO_SHARED_DIR)",
)


@needs_curve
def test_real_mof_par_curve() -> None:
    assert REAL_CURVE is not None
    history = read_par_yield_curves(REAL_CURVE)
    dates = history.dates()
    assert (dates[0], dates[-1]) == (date(1974, 9, 24), date(2026, 6, 30))
    assert len(dates) == 13248
    last = history.par_curve(date(2026, 6, 30))
    # MOF figures for 2026-06-30 (%): 1Y 1.165, 10Y 2.69, 30Y 3.873, 40Y 3.792.
    by_tenor = dict(zip(last.tenor_years, last.par_yields, strict=True))
    assert len(by_tenor) == 15
    assert (by_tenor[1.0], by_tenor[10.0], by_tenor[30.0], by_tenor[40.0]) == (
        0.01165,
        0.0269,
        0.03873,
        0.03792,
    )
    assert len(history.par_curve(date(1974, 9, 24)).tenor_years) == 9  # 1Y-9Y only


@needs_outstanding
def test_real_outstanding_331_issues_at_2026_03_31() -> None:
    assert REAL_OUTSTANDING is not None
    history = read_outstanding(REAL_OUTSTANDING)
    assert history.issues.height == 1168
    assert (history.record_dates[0], history.record_dates[-1]) == (
        date(2001, 6, 8),
        date(2026, 3, 31),
    )
    march = history.at(date(2026, 3, 31))
    assert march.height == 331
    counts = dict(march.group_by("program").len().iter_rows())
    assert counts == {
        "2Y": 24, "5Y": 36, "10Y": 39, "20Y": 108, "30Y": 89, "40Y": 18,
        "I10Y": 9, "C5Y": 4, "C10Y": 4,
    }  # fmt: skip
    newest_10y = march.filter(march["issue_code"] == "10Y-381").row(0, named=True)
    assert newest_10y["maturity_date"] == date(2035, 12, 20)
    assert newest_10y["outstanding_oku"] == 39510.0
