"""Haircut schedules: the data files, their loader, the JSON form, and the numba kernel
held to its plain-Python twin."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.collateral import (
    collateral_values,
    collateral_values_reference,
    haircuts,
    haircuts_reference,
    residual_years_array,
)
from valuation.errors import InputError
from valuation.haircuts import (
    SCHEDULE_COLUMNS,
    HaircutBucket,
    HaircutSchedule,
    MaturityBucketLimit,
    read_schedule,
    read_schedules,
    residual_years,
    schedule_from_dict,
    schedule_to_dict,
)
from valuation.isin import make_isin
from valuation.jgb import BondKind
from valuation.paths import data_dir

SCHEDULES = data_dir() / "schedules"
FIXED, TBILL, INFLATION = BondKind.FIXED, BondKind.TBILL, BondKind.INFLATION
ISIN = "JP1103451GC0"


@pytest.fixture(scope="module")
def schedules() -> dict[str, HaircutSchedule]:
    return read_schedules(SCHEDULES)


def test_the_three_schedules_load(schedules: dict[str, HaircutSchedule]) -> None:
    assert sorted(schedules) == ["BCBS-IOSCO", "BOJ", "JSCC"]
    for schedule in schedules.values():
        assert schedule.eligible_kinds == {FIXED, TBILL, INFLATION}
        assert schedule.source


# Residual years -> haircut, each row from the cited table.
@pytest.mark.parametrize(
    ("schedule_id", "kind", "years", "expected", "source"),
    [
        ("BOJ", TBILL, 0.25, 0.01, "BoJ rev. 11 Oct 2024: <=1y 99%"),
        ("BOJ", FIXED, 1.0, 0.01, "BoJ: <=1y 99% (edge belongs to the lower bucket)"),
        ("BOJ", FIXED, 3.0, 0.01, "BoJ: 1-5y 99%"),
        ("BOJ", FIXED, 7.5, 0.02, "BoJ: 5-10y 98%"),
        ("BOJ", FIXED, 15.0, 0.03, "BoJ: 10-20y 97%"),
        ("BOJ", FIXED, 25.0, 0.05, "BoJ: 20-30y 95%"),
        ("BOJ", FIXED, 39.0, 0.06, "BoJ: >30y 94%"),
        ("BOJ", INFLATION, 0.5, 0.05, "BoJ: JGBi <=1y 95%"),
        ("BOJ", INFLATION, 4.0, 0.05, "BoJ: JGBi 1-5y 95%"),
        ("BOJ", INFLATION, 8.9, 0.06, "BoJ: JGBi 5-10y 94%"),
        ("BCBS-IOSCO", FIXED, 0.9, 0.005, "BCBS-IOSCO App. B: <=1y 0.5%"),
        ("BCBS-IOSCO", FIXED, 4.0, 0.02, "BCBS-IOSCO App. B: 1-5y 2%"),
        ("BCBS-IOSCO", FIXED, 30.0, 0.04, "BCBS-IOSCO App. B: >5y 4%"),
        ("JSCC", FIXED, 0.5, 0.01, "JSCC-style configuration: about 99%"),
        ("JSCC", FIXED, 35.0, 0.08, "JSCC-style configuration: about 92%"),
    ],
)
def test_published_haircuts(
    schedules: dict[str, HaircutSchedule],
    schedule_id: str,
    kind: BondKind,
    years: float,
    expected: float,
    source: str,
) -> None:
    schedule = schedules[schedule_id]
    assert schedule.is_eligible(ISIN, kind, years), source
    assert schedule.haircut(ISIN, kind, years) == expected, source


# Each edge where the neighbouring buckets differ: the edge belongs to the lower bucket
# ("up to 5 years", "more than 5 years and up to 10 years": BoJ; "<= 1 year": BCBS-IOSCO).
EDGES = [
    ("BOJ", FIXED, 5.0, 0.01, 0.02),
    ("BOJ", FIXED, 10.0, 0.02, 0.03),
    ("BOJ", FIXED, 20.0, 0.03, 0.05),
    ("BOJ", FIXED, 30.0, 0.05, 0.06),
    ("BOJ", INFLATION, 5.0, 0.05, 0.06),
    ("BCBS-IOSCO", FIXED, 1.0, 0.005, 0.02),
    ("BCBS-IOSCO", FIXED, 5.0, 0.02, 0.04),
]


@pytest.mark.parametrize(("schedule_id", "kind", "edge", "at_edge", "past_edge"), EDGES)
def test_bucket_edge_belongs_to_the_lower_bucket(
    schedules: dict[str, HaircutSchedule],
    schedule_id: str,
    kind: BondKind,
    edge: float,
    at_edge: float,
    past_edge: float,
) -> None:
    schedule = schedules[schedule_id]
    # Residual years come from dates: (maturity - settlement) days / 365, so a bond
    # maturing 365 x edge days after settlement sits exactly on the edge.
    settlement = date(2025, 11, 6)
    on_edge = settlement + timedelta(days=round(365 * edge))
    maturities = [on_edge, on_edge + timedelta(days=1)]
    years = [residual_years(m, settlement) for m in maturities]
    assert years[0] == edge
    np.testing.assert_array_equal(residual_years_array(maturities, settlement), years)
    expected = [at_edge, past_edge]
    assert [schedule.haircut(ISIN, kind, y) for y in years] == expected
    assert haircuts_reference(schedule, [ISIN] * 2, [kind] * 2, years) == expected
    assert haircuts(schedule, [ISIN] * 2, [kind.code] * 2, years).tolist() == expected


def test_residual_years_are_days_over_365() -> None:
    # Act/365 fixed, 29 February counted in the days (ARCHITECTURE.md, "Contracts").
    settlement = date(2027, 3, 20)
    maturities = [date(2028, 3, 20), date(2027, 9, 20)]
    assert residual_years(maturities[0], settlement) == 366 / 365
    assert residual_years(maturities[1], settlement) == 184 / 365
    assert residual_years_array(maturities, settlement).tolist() == [366 / 365, 184 / 365]


def test_boj_jgbi_table_ends_at_ten_years(schedules: dict[str, HaircutSchedule]) -> None:
    assert not schedules["BOJ"].is_eligible(ISIN, INFLATION, 10.5)


def test_bcbs_fx_mismatch_adds_eight_percent(schedules: dict[str, HaircutSchedule]) -> None:
    bcbs = schedules["BCBS-IOSCO"]
    assert bcbs.fx_mismatch_haircut == 0.08
    fx = bcbs.with_fx_mismatch()
    assert fx.id == "BCBS-IOSCO-FX"
    assert [b.haircut for b in fx.haircuts] == [0.085, 0.1, 0.12]
    assert fx.fx_mismatch_haircut is None
    with pytest.raises(InputError, match="has none"):
        fx.with_fx_mismatch()


def test_concentration_rows(schedules: dict[str, HaircutSchedule]) -> None:
    assert schedules["JSCC"].max_share_per_isin == 0.5
    assert schedules["BOJ"].max_share_per_isin is None
    assert schedules["BCBS-IOSCO"].bucket_limits == (MaturityBucketLimit(10.0, None, 0.6, None),)


def test_every_row_cites_a_source_and_a_status() -> None:
    for path in SCHEDULES.glob("*.csv"):
        rows = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        ]
        assert rows[0] == ",".join(SCHEDULE_COLUMNS)
        assert len(rows) > 5


@pytest.mark.parametrize("schedule_id", ["BOJ", "JSCC", "BCBS-IOSCO"])
def test_json_form_round_trips(schedules: dict[str, HaircutSchedule], schedule_id: str) -> None:
    schedule = schedules[schedule_id]
    data = schedule_to_dict(schedule)
    assert {"id", "eligible_kinds", "haircuts", "max_share_per_isin"} <= set(data)
    assert data["haircuts"][-1]["max_residual_years"] is None
    assert schedule_from_dict(data) == schedule


# ----------------------------------------------------------------- malformed files

GOOD = (
    ",".join(SCHEDULE_COLUMNS) + "\n"
    "id,,,,,T,published,src\n"
    "eligible_kind,fixed,,,,,published,src\n"
    "haircut,,,0,1,0.01,published,src\n"
    "haircut,,,1,,0.02,published,src\n"
)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (GOOD.replace("0.02,published", "0.0x,published"), 5, "value", "'0.0x' is not a number"),
        (GOOD.replace("haircut,,,1,,", "haircut,,,2,,"), 5, "min_residual_years", "leaves a gap"),
        (GOOD.replace("fixed,,,,,published", "fixed,,,,,guess"), 3, "status", "'guess'"),
        (
            GOOD.replace(
                "eligible_kind,fixed,,,,,published,src", "eligible_kind,fixed,,,,,published,"
            ),
            3,
            "source",
            "cite",
        ),
        (GOOD.replace("eligible_kind,fixed", "eligible_kind,floating"), 3, "kind", "unknown kind"),
        (GOOD.replace("eligible_kind,fixed", "eligibility,fixed"), 3, "field", "unknown field"),
        (
            GOOD + "haircut,,,0,1,1.5,published,src\n".replace(",,,0,1", ",inflation,,0,1"),
            6,
            "value",
            "in [0, 1)",
        ),
        (GOOD + "excluded_isin,,JP1103451GC1,,,,published,src\n", 6, "isin", "check digit"),
        (GOOD + "haircut,,,0,1\n", 6, "row", "has 5 cells"),
    ],
)
def test_malformed_schedule_names_line_and_column(
    tmp_path: Path, text: str, line: int, column: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# a comment line\n" + text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_schedule(path)
    assert info.value.record == f"bad.csv line {line + 1}"
    assert info.value.field == column
    assert message in info.value.message


def test_duplicate_ids_and_missing_default_table(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(GOOD)
    (tmp_path / "b.csv").write_text(GOOD)
    with pytest.raises(InputError, match="used twice"):
        read_schedules(tmp_path)
    only_kind = GOOD.replace("haircut,,,", "haircut,fixed,,")
    (tmp_path / "b.csv").write_text(only_kind)
    with pytest.raises(InputError, match="no default haircut table"):
        read_schedule(tmp_path / "b.csv")


# ----------------------------------------------------- kernel against its Python twin

ISINS = [make_isin(f"JP110{n:03d}1S4") for n in range(40)]


def _schedule_strategy() -> st.SearchStrategy[HaircutSchedule]:
    def build(
        edges: list[float],
        cuts: list[float],
        open_end: bool,
        kinds: set[BondKind],
        jgbi: bool,
        lo: float,
        span: float | None,
        overrides: dict[int, float],
        excluded: set[int],
    ) -> HaircutSchedule:
        edges = sorted(set(edges))
        bounds: list[float | None] = list(edges)
        if open_end:
            bounds.append(None)
        buckets = tuple(HaircutBucket(b, cuts[i % len(cuts)]) for i, b in enumerate(bounds))
        return HaircutSchedule(
            id="H",
            eligible_kinds=frozenset(kinds),
            haircuts=buckets,
            min_residual_years=lo,
            max_residual_years=None if span is None else lo + span,
            kind_haircuts={INFLATION: buckets[:1]} if jgbi else {},
            isin_haircuts={ISINS[i]: h for i, h in overrides.items()},
            excluded_isins=frozenset(ISINS[i] for i in excluded),
        )

    years = st.floats(0.0, 45.0, allow_nan=False)
    return st.builds(
        build,
        st.lists(
            st.sampled_from([0.5, 1.0, 2.0, 5.0, 7.0, 10.0, 20.0, 30.0]), min_size=1, max_size=6
        ),
        st.lists(st.floats(0.0, 0.5, allow_nan=False), min_size=1, max_size=6),
        st.booleans(),
        st.sets(st.sampled_from(list(BondKind)), min_size=1),
        st.booleans(),
        st.sampled_from([0.0, 0.0, 1.0, 3.0]),
        st.one_of(st.none(), years),
        st.dictionaries(st.integers(0, 39), st.floats(0.0, 0.9), max_size=5),
        st.sets(st.integers(0, 39), max_size=5),
    )


@settings(max_examples=150, deadline=None)
@given(
    schedule=_schedule_strategy(),
    bonds=st.lists(
        st.tuples(
            st.integers(0, 39),
            st.sampled_from(list(BondKind)),
            st.one_of(
                st.floats(-1.0, 45.0, allow_nan=False), st.sampled_from([0.0, 1.0, 5.0, 10.0, 30.0])
            ),
        ),
        max_size=60,
    ),
)
def test_haircut_kernel_matches_reference(
    schedule: HaircutSchedule, bonds: list[tuple[int, BondKind, float]]
) -> None:
    isins = [ISINS[i] for i, _, _ in bonds]
    kinds = [k for _, k, _ in bonds]
    years = [y for _, _, y in bonds]
    got = haircuts(
        schedule, isins, np.array([k.code for k in kinds], dtype=np.int64), np.array(years)
    )
    want = haircuts_reference(schedule, isins, kinds, years)
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float64))


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.just(math.nan), st.floats(0.0, 0.99)),
            st.floats(1.0, 200.0),
            st.integers(0, 10**12).map(float),
            st.floats(0.9, 1.3),
        ),
        max_size=50,
    )
)
def test_collateral_values_match_reference_and_never_exceed_market_value(
    rows: list[tuple[float, float, float, float]],
) -> None:
    h, p, f, r = (list(col) for col in zip(*rows, strict=True)) if rows else ([], [], [], [])
    got = collateral_values(np.array(h, dtype=np.float64), p, f, r)
    want = collateral_values_reference(h, p, f, r)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0.0)
    market = np.array(p) / 100.0 * np.array(f) * np.array(r) if rows else np.array([])
    assert np.all(got <= market * (1 + 1e-15))


def test_collateral_value_of_a_position(schedules: dict[str, HaircutSchedule]) -> None:
    # 10 billion face of a 7.5y bond at dirty 98.5 under the BoJ: 98.5% x 98% of face.
    h = haircuts(schedules["BOJ"], [ISIN], [FIXED.code], [7.5])
    assert h[0] == 0.02
    value = collateral_values(h, [98.5], [10_000_000_000])[0]
    assert value == pytest.approx(0.985 * 1e10 * 0.98, rel=1e-15)
    # A JGBi with index ratio 1.05: market value is scaled by the ratio.
    h = haircuts(schedules["BOJ"], [ISIN], [INFLATION.code], [4.0])
    assert collateral_values(h, [100.0], [1e9], [1.05])[0] == pytest.approx(1e9 * 1.05 * 0.95)


def test_bad_arrays_are_input_errors(schedules: dict[str, HaircutSchedule]) -> None:
    with pytest.raises(InputError, match="kind_codes"):
        haircuts(schedules["BOJ"], [ISIN], [7], [1.0])
    with pytest.raises(InputError, match="residual_years: has shape"):
        haircuts(schedules["BOJ"], [ISIN], [0], [1.0, 2.0])
    with pytest.raises(InputError, match="NaN"):
        haircuts(schedules["BOJ"], [ISIN], [0], [math.nan])


def test_every_field_of_the_file_format(tmp_path: Path) -> None:
    path = tmp_path / "csa.csv"
    path.write_text(
        GOOD
        + "haircut,inflation,,0,10,0.07,configuration,src\n"
        + "residual_range,,,0.05,30,,configuration,src\n"
        + f"isin_haircut,,{ISIN},,,0.15,configuration,src\n"
        + "excluded_isin,,JP1103821S45,,,,configuration,src\n"
        + "max_share_per_isin,,,,,0.25,configuration,src\n"
        + "max_value_per_isin,,,,,5e9,configuration,src\n"
        + "bucket_max_share,,,10,,0.5,configuration,src\n"
        + "bucket_max_value,,,10,,2e10,configuration,src\n"
        + "fx_mismatch_haircut,,,,,0.08,published,src\n",
        encoding="utf-8",
    )
    s = read_schedule(path)
    assert (s.id, s.source) == ("T", "src")
    assert (s.min_residual_years, s.max_residual_years) == (0.05, 30.0)
    assert s.kind_haircuts == {INFLATION: (HaircutBucket(10.0, 0.07),)}
    assert s.isin_haircuts == {ISIN: 0.15}
    assert s.excluded_isins == {"JP1103821S45"}
    assert (s.max_share_per_isin, s.max_value_per_isin) == (0.25, 5e9)
    assert s.bucket_limits == (MaturityBucketLimit(10.0, None, 0.5, 2e10),)
    assert s.fx_mismatch_haircut == 0.08
    assert not s.is_eligible(ISIN, FIXED, 0.01)  # below the residual range
    assert s.haircut(ISIN, FIXED, 3.0) == 0.15  # the override wins over the bucket
    assert not s.is_eligible("JP1103821S45", FIXED, 3.0)
    assert schedule_from_dict(schedule_to_dict(s)) == s
