"""The seeded JGB universe: calibrated shape, real conventions, valid ISINs, scaling."""

from __future__ import annotations

from collections import Counter
from datetime import date

import polars as pl
import pytest

from valuation.isin import is_valid_isin
from valuation.mof import read_outstanding
from valuation.paths import JGB_OUTSTANDING_PARTS, shared_file
from valuation.programs import PROGRAM_RULES, Program, jgb_isin
from valuation.universe import (
    CALIBRATION_DATE,
    TBILL_CALIBRATION,
    apportion,
    calibration_from_outstanding,
    generate_universe,
    read_calibration,
    read_universe,
    universe_bonds,
    universe_csv,
)

CALIBRATION = read_calibration()


@pytest.fixture(scope="module")
def universe() -> pl.DataFrame:
    return generate_universe()


def _residual_year(maturity: date, as_of: date = CALIBRATION_DATE) -> int:
    return (maturity - as_of).days // 365


def test_calibration_table_is_the_real_universe_at_2026_03_31() -> None:
    assert CALIBRATION.as_of == CALIBRATION_DATE
    counts = CALIBRATION.counts()
    assert sum(counts.values()) == 331
    assert counts == {
        Program.Y2: 24, Program.Y5: 36, Program.Y10: 39, Program.Y20: 108, Program.Y30: 89,
        Program.Y40: 18, Program.I10: 9, Program.C5: 4, Program.C10: 4,
    }  # fmt: skip


def test_natural_size_reproduces_counts_per_program_and_residual_year(
    universe: pl.DataFrame,
) -> None:
    assert universe.height == 331 + sum(c.issues for c in TBILL_CALIBRATION) == 362
    got = Counter(
        (Program(r["program"]), _residual_year(r["maturity_date"]))
        for r in universe.iter_rows(named=True)
    )
    want = Counter(
        {(c.program, c.residual_year): c.issues for c in CALIBRATION.cells + TBILL_CALIBRATION}
    )
    assert got == want


def test_amounts_outstanding_match_the_calibration(universe: pl.DataFrame) -> None:
    totals = dict(universe.group_by("program").agg(pl.col("outstanding_yen").sum()).iter_rows())
    want: Counter[Program] = Counter()
    for c in CALIBRATION.cells + TBILL_CALIBRATION:
        want[c.program] += c.outstanding_oku * 1e8
    counts = universe.group_by("program").len().rows()
    for program, count in counts:
        # log-normal sizes with sigma 0.15 around each cell's mean: 4 standard errors
        tolerance = 4 * 0.15 / count**0.5
        assert totals[program] == pytest.approx(want[Program(program)], rel=tolerance), program
    assert universe["outstanding_yen"].min() > 0
    assert (universe["outstanding_yen"] % 100_000_000 == 0).all()  # whole 100 million yen


def test_maturity_dates_follow_each_programs_rule(universe: pl.DataFrame) -> None:
    for r in universe.iter_rows(named=True):
        rule = PROGRAM_RULES[Program(r["program"])]
        maturity: date = r["maturity_date"]
        if rule.weekly:
            assert maturity.weekday() == 0, r
        elif rule.is_bill:
            assert maturity.weekday() < 5 and 20 <= maturity.day <= 22, r
        else:
            assert maturity.month in rule.maturity_months, r
            assert maturity.day == rule.maturity_day, r
        assert r["issue_date"] < maturity
        assert r["issue_date"] <= CALIBRATION_DATE < maturity
    y40 = universe.filter(pl.col("program") == "40Y")["maturity_date"]
    assert {(d.month, d.day) for d in y40} == {(3, 20)}
    jgbi = universe.filter(pl.col("program") == "I10Y")["maturity_date"]
    assert {(d.month, d.day) for d in jgbi} == {(3, 10)}
    two = universe.filter(pl.col("program") == "2Y")["maturity_date"]
    assert {d.day for d in two} == {1}


def test_coupons_are_plausible_for_their_issue_date(universe: pl.DataFrame) -> None:
    coupons = universe.filter(pl.col("kind") != "tbill")
    assert (coupons["coupon_rate"] >= 0.001).all()
    assert all(abs(c * 1000 - round(c * 1000)) < 1e-9 for c in coupons["coupon_rate"])
    assert (universe.filter(pl.col("kind") == "tbill")["coupon_rate"] == 0.0).all()
    # Near zero in the negative-rate years, rising since.
    ten = universe.filter(pl.col("program") == "10Y")
    zirp = ten.filter(pl.col("issue_date").is_between(date(2016, 3, 1), date(2021, 12, 31)))
    assert zirp.height > 5 and zirp["coupon_rate"].max() <= 0.002
    recent = ten.filter(pl.col("issue_date") >= date(2025, 1, 1))
    assert recent["coupon_rate"].min() >= 0.012
    thirty = universe.filter(pl.col("program") == "30Y")
    assert thirty["coupon_rate"].max() >= 0.025  # 30Y issued in 2000 or 2025-26


def test_series_continue_the_real_numbering(universe: pl.DataFrame) -> None:
    newest = {c.program: c.max_series for c in CALIBRATION.cells}
    for program in (Program.Y2, Program.Y10, Program.Y20, Program.Y30, Program.I10):
        series = sorted(universe.filter(pl.col("program") == program.value)["series"])
        assert series[-1] == newest[program]
        assert series == list(range(series[0], series[-1] + 1))
    bills = sorted(universe.filter(pl.col("kind") == "tbill")["series"])
    assert bills[-1] == 1370 and bills == list(range(bills[0], 1371))


def test_isins_are_valid_unique_and_coded_like_jgbs(universe: pl.DataFrame) -> None:
    assert universe["isin"].n_unique() == universe.height
    for r in universe.iter_rows(named=True):
        isin = r["isin"]
        assert is_valid_isin(isin), isin
        assert isin == jgb_isin(Program(r["program"]), r["series"], r["issue_date"])
        if r["kind"] != "tbill":
            assert isin[3:5] == PROGRAM_RULES[Program(r["program"])].isin_code
            assert isin[5:8] == f"{r['series']:03d}"


@pytest.mark.parametrize(
    ("program", "series", "issued", "isin"),
    [
        (Program.Y10, 345, date(2016, 12, 20), "JP1103451GC0"),
        (Program.Y10, 352, date(2018, 10, 1), "JP1103521JA8"),
        (Program.Y10, 382, date(2026, 4, 1), "JP1103821S45"),
        (Program.Y2, 484, date(2026, 5, 1), "JP1024841S56"),
        (Program.Y5, 127, date(2016, 3, 1), "JP1051271G37"),
        (Program.Y20, 119, date(2010, 7, 1), "JP1201191A72"),
        (Program.Y40, 11, date(2018, 5, 1), "JP1400111J52"),
        (Program.Y40, 4, date(2011, 5, 1), "JP1400041B55"),
        (Program.Y30, 4, date(2000, 11, 20), "JP1300041009"),
        (Program.TB3M, 1370, date(2026, 3, 1), "JP1743701S35"),
        (Program.TB1Y, 1380, date(2026, 5, 1), "JP1743801S59"),
    ],
)
def test_isin_layout_reproduces_published_isins(
    program: Program, series: int, issued: date, isin: str
) -> None:
    assert jgb_isin(program, series, issued) == isin


def test_real_series_get_their_real_isin(universe: pl.DataFrame) -> None:
    ten = (
        universe.filter(pl.col("series") == 345)
        .filter(pl.col("program") == "10Y")
        .row(0, named=True)
    )
    assert (ten["maturity_date"], ten["isin"]) == (date(2026, 12, 20), "JP1103451GC0")


def test_same_seed_same_universe_other_seed_other_universe(universe: pl.DataFrame) -> None:
    assert generate_universe().equals(universe)
    other = generate_universe(seed=1)
    assert not other.equals(universe)
    assert other.height == universe.height


def test_scaling_keeps_the_shape() -> None:
    big = generate_universe(n=3620, seed=5)
    assert big.height == 3620
    assert big["isin"].n_unique() == 3620
    counts = dict(big.group_by("program").len().iter_rows())
    cells = list(CALIBRATION.cells) + list(TBILL_CALIBRATION)
    want: Counter[str] = Counter()
    for cell, k in zip(cells, apportion([c.issues for c in cells], 3620), strict=True):
        want[cell.program.value] += k
    assert counts == dict(want)
    assert counts["20Y"] == pytest.approx(1080, abs=2)
    small = generate_universe(n=20, seed=5)
    assert small.height == 20


def test_large_universe_has_unique_valid_isins() -> None:
    big = generate_universe(n=20_000, seed=11)
    assert big["isin"].n_unique() == 20_000
    assert all(is_valid_isin(i) for i in big["isin"].sample(500, seed=1))


def test_apportion_is_exact_and_deterministic() -> None:
    assert apportion([1, 1, 1], 2) == [1, 1, 0]
    assert apportion([108, 89, 4], 201) == [108, 89, 4]
    assert sum(apportion([3, 5, 7, 11], 1000)) == 1000


def test_csv_round_trip_and_bond_definitions(universe: pl.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "u.csv"
    path.write_text(universe_csv(universe))
    back = read_universe(path)
    assert back.equals(universe)
    bonds = universe_bonds(universe)
    assert len(bonds) == universe.height
    assert bonds[0].series.endswith(f"#{universe['series'][0]}")
    jgbi = universe.filter(pl.col("program") == "I10Y")["index_ratio"]
    assert (jgbi > 1.0).all() and (jgbi < 1.3).all()


@pytest.mark.skipif(
    shared_file(*JGB_OUTSTANDING_PARTS) is None,
    reason="../shared/data/jgb_outstanding/jgbtot.csv not present (set TANPO_SHARED_DIR)",
)
def test_generator_counts_equal_the_real_file() -> None:
    path = shared_file(*JGB_OUTSTANDING_PARTS)
    assert path is not None
    real = read_outstanding(path).at(CALIBRATION_DATE)
    assert calibration_from_outstanding(read_outstanding(path), CALIBRATION_DATE) == CALIBRATION
    generated = generate_universe().filter(pl.col("kind") != "tbill")
    assert dict(generated.group_by("program").len().iter_rows()) == dict(
        real.group_by("program").len().iter_rows()
    )
    # Generated at the calibration date, most series even mature on their real day.
    real_maturity = {
        (r["program"], r["series"]): r["maturity_date"] for r in real.iter_rows(named=True)
    }
    same = sum(
        real_maturity[(r["program"], r["series"])] == r["maturity_date"]
        for r in generated.iter_rows(named=True)
    )
    assert same >= 0.85 * 331  # 293 at the default seed
