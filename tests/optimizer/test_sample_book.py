"""The sample book: its shape, its pledges, its prices, and that it can (mostly) be covered.

The coverage test solves the LP relaxation of the book (no lots, no movement costs)
with HiGHS: every obligation but the one built to fall short must be fully coverable
by its pledgor's own positions within the schedules' concentration limits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

import highspy
import numpy as np
import pytest

from optimizer.opportunity_costs import on_the_run
from optimizer.sample_book import BookSpec, generate_book, load_sample_book
from optimizer.sample_parties import CSA_ISIN_CAPS, HARD, SHORT_OF_COVER
from valuation.haircuts import HaircutSchedule, schedule_from_dict
from valuation.isin import is_valid_isin
from valuation.jgb import BondKind
from valuation.universe import generate_universe

Book = dict[str, Any]


@pytest.fixture(scope="module")
def book() -> Book:
    return load_sample_book()


@pytest.fixture(scope="module")
def schedules(book: Book) -> dict[str, HaircutSchedule]:
    return {s["id"]: schedule_from_dict(s) for s in book["schedules"]}


def _years(book: Book, security: dict[str, Any]) -> float:
    settlement = date.fromisoformat(book["settlement_date"])
    return (date.fromisoformat(security["maturity_date"]) - settlement).days / 365.0


def _value_per_face(
    book: Book, schedules: dict[str, HaircutSchedule], schedule_id: str, isin: str
) -> float | None:
    """Collateral value per yen of face, recomputed here from the problem alone."""
    s = book_securities(book)[isin]
    schedule = schedules[schedule_id]
    kind, years = BondKind(s["kind"]), _years(book, s)
    if not schedule.is_eligible(isin, kind, years):
        return None
    haircut = schedule.haircut(isin, kind, years)
    assert haircut is not None
    return float(s["dirty_price"] / 100.0 * s.get("index_ratio", 1.0) * (1.0 - haircut))


_SECURITIES: dict[int, dict[str, dict[str, Any]]] = {}


def book_securities(book: Book) -> dict[str, dict[str, Any]]:
    key = id(book)
    if key not in _SECURITIES:
        _SECURITIES[key] = {s["isin"]: s for s in book["securities"]}
    return _SECURITIES[key]


def test_shape(book: Book) -> None:
    owners = {h["owner"] for h in book["holdings"]}
    assert owners == {"MIZUHO", "NOMURA", "SMBC"}
    assert len(book["accounts"]) == 20
    assert len({h["account"] for h in book["holdings"]}) == 20
    assert len(book["obligations"]) == 30
    pledgees = {o["pledgee"] for o in book["obligations"]}
    assert {"JSCC", "BOJ"} <= pledgees and len(pledgees) == 11
    assert not owners & pledgees
    assert 900 <= len({(h["account"], h["isin"]) for h in book["holdings"]}) <= 1200
    assert book["settlement_date"] == "2026-07-01"
    kinds = Counter(o["pledgee"] for o in book["obligations"])
    assert kinds["JSCC"] == 11 and kinds["BOJ"] == 5
    assert {o["schedule"] for o in book["obligations"]} == {s["id"] for s in book["schedules"]}


def test_accounts_belong_to_their_owner(book: Book) -> None:
    owner_of = {a["id"]: a["owner"] for a in book["accounts"]}
    assert all(owner_of[h["account"]] == h["owner"] for h in book["holdings"])


def test_every_isin_is_valid_and_priced(book: Book) -> None:
    securities = book_securities(book)
    assert len(securities) == len(book["securities"])
    assert {h["isin"] for h in book["holdings"]} == set(securities)
    for isin, s in securities.items():
        assert is_valid_isin(isin)
        assert s["dirty_price"] == pytest.approx(s["clean_price"] + s["accrued_interest"], abs=1e-9)
        assert 30.0 < s["clean_price"] < 130.0, s
        assert 0.0 <= s["accrued_interest"] <= s["coupon_rate"] * 100 / 2 + 1e-12
        assert ("index_ratio" in s) == (s["kind"] == "inflation")
        assert date.fromisoformat(s["maturity_date"]) > date(2026, 7, 1)
        if s["kind"] == "tbill":
            assert s["accrued_interest"] == 0.0 and s["dirty_price"] < 100.0


def test_prices_follow_the_curve(book: Book) -> None:
    # 2026-06-30: par yields rise from 1.2% (1Y) to 3.9% (25Y); the 0.1%-coupon 10Y issued
    # in the zero-rate years trade well below par, recent high-coupon ones near par.
    by_series = {s["series"]: s for s in book["securities"]}
    low = [
        s
        for s in book["securities"]
        if s["series"].startswith("10Y") and s["coupon_rate"] == 0.001 and _years(book, s) > 2
    ]
    assert len(low) > 5 and all(s["clean_price"] < 98.0 for s in low)
    near_par = [s for s in by_series.values() if s["series"].startswith("2Y")]
    assert all(abs(s["clean_price"] - 100.0) < 2.0 for s in near_par)


def test_pledges_are_whole_lots_of_the_pledgors_eligible_positions(
    book: Book, schedules: dict[str, HaircutSchedule]
) -> None:
    obligations = {o["id"]: o for o in book["obligations"]}
    pledged = [h for h in book["holdings"] if h["pledged_to"] is not None]
    assert len(pledged) > 100
    for h in pledged:
        o = obligations[h["pledged_to"]]
        assert o["pledgor"] == h["owner"]
        assert h["face"] % o["lot_face"] == 0 and h["face"] > 0
        assert h["face"] >= (o["min_pledge_face"] or 0)
        assert _value_per_face(book, schedules, o["schedule"], h["isin"]) is not None
    # Several rows of one position: at most one free row, one per obligation.
    rows = Counter((h["account"], h["isin"], h["pledged_to"]) for h in book["holdings"])
    assert max(rows.values()) == 1
    assert all(h["face"] > 0 and h["face"] % 100_000_000 == 0 for h in book["holdings"])


def test_existing_pledges_respect_concentration(
    book: Book, schedules: dict[str, HaircutSchedule]
) -> None:
    cover: dict[str, float] = defaultdict(float)
    per_isin: dict[tuple[str, str], float] = defaultdict(float)
    for h in book["holdings"]:
        if h["pledged_to"] is None:
            continue
        o = next(o for o in book["obligations"] if o["id"] == h["pledged_to"])
        value = h["face"] * (_value_per_face(book, schedules, o["schedule"], h["isin"]) or 0.0)
        cover[o["id"]] += value
        per_isin[(o["id"], h["isin"])] += value
    for o in book["obligations"]:
        schedule = schedules[o["schedule"]]
        isins = [i for (oid, i) in per_isin if oid == o["id"]]
        if o["max_isins"] is not None:
            assert len(isins) <= o["max_isins"]
        for isin in isins:
            if schedule.max_share_per_isin is not None:
                assert (
                    per_isin[(o["id"], isin)]
                    <= schedule.max_share_per_isin * o["required_value"] + 1
                )
            if schedule.max_value_per_isin is not None:
                assert per_isin[(o["id"], isin)] <= schedule.max_value_per_isin + 1
    ratios = {o["id"]: cover[o["id"]] / o["required_value"] for o in book["obligations"]}
    assert min(ratios.values()) == 0.0  # new calls with nothing pledged yet
    assert max(ratios.values()) > 1.15  # over-covered: a release is due
    assert sum(0.5 < r < 0.95 for r in ratios.values()) >= 3  # under-covered


def test_opportunity_costs_in_their_documented_ranges(book: Book) -> None:
    costs = {s["isin"]: s["opportunity_cost_bp"] for s in book["securities"]}
    assert all(0.3 <= c <= 35.0 for c in costs.values())
    universe = generate_universe(as_of=date(2026, 6, 30))
    otr = on_the_run(universe) & set(costs)
    assert otr and all(costs[i] >= 10.0 for i in otr)
    for s in book["securities"]:
        if s["kind"] != "fixed":
            assert s["opportunity_cost_bp"] <= 1.5
    assert np.median(list(costs.values())) < 5.0


def _coverage_lp(book: Book, schedules: dict[str, HaircutSchedule]) -> dict[str, float]:
    """Least total shortfall of the LP relaxation; returns the shortfall per obligation."""
    positions: dict[tuple[str, str, str], int] = defaultdict(int)
    for h in book["holdings"]:
        positions[(h["owner"], h["account"], h["isin"])] += h["face"]
    keys = sorted(positions)
    obligations = book["obligations"]
    columns: list[tuple[int, int, float]] = []  # (position, obligation, value per face)
    for j, o in enumerate(obligations):
        for i, (owner, _, isin) in enumerate(keys):
            if owner == o["pledgor"]:
                v = _value_per_face(book, schedules, o["schedule"], isin)
                if v:
                    columns.append((i, j, v))
    n_x, n_o = len(columns), len(obligations)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    scale = 1e9  # decide face in billions of yen
    upper = np.array(
        [positions[keys[i]] / scale for i, _, _ in columns] + [highspy.kHighsInf] * n_o
    )
    h.addVars(n_x + n_o, np.zeros(n_x + n_o), upper)
    h.changeColsCost(n_o, np.arange(n_x, n_x + n_o, dtype=np.int32), np.ones(n_o))

    def row(lower: float, upper_: float, entries: list[tuple[int, float]]) -> None:
        idx = np.array([e[0] for e in entries], dtype=np.int32)
        val = np.array([e[1] for e in entries])
        h.addRow(lower, upper_, len(entries), idx, val)

    by_position: dict[int, list[tuple[int, float]]] = defaultdict(list)
    by_obligation: dict[int, list[tuple[int, float]]] = defaultdict(list)
    by_isin: dict[tuple[int, str], list[tuple[int, float]]] = defaultdict(list)
    for c, (i, j, v) in enumerate(columns):
        by_position[i].append((c, 1.0))
        by_obligation[j].append((c, v))
        by_isin[(j, keys[i][2])].append((c, v))
    for entries in by_position.values():
        row(-highspy.kHighsInf, max(positions[keys[columns[entries[0][0]][0]]] / scale, 0), entries)
    for j, o in enumerate(obligations):
        row(o["required_value"] / scale, highspy.kHighsInf, [*by_obligation[j], (n_x + j, 1.0)])
        schedule = schedules[o["schedule"]]
        for (jj, _), entries in by_isin.items():
            if jj != j:
                continue
            caps = [
                c for c in (
                    None if schedule.max_share_per_isin is None
                    else schedule.max_share_per_isin * o["required_value"],
                    schedule.max_value_per_isin,
                ) if c is not None
            ]  # fmt: skip
            if caps:
                row(-highspy.kHighsInf, min(caps) / scale, entries)
        for limit in schedule.bucket_limits:
            inside = [
                e for (jj, isin), entries in by_isin.items() if jj == j
                and limit.contains(_years(book, book_securities(book)[isin]))
                for e in entries
            ]  # fmt: skip
            if inside and limit.max_share is not None:
                row(-highspy.kHighsInf, limit.max_share * o["required_value"] / scale, inside)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    solution = h.getSolution().col_value
    return {o["id"]: solution[n_x + j] * scale for j, o in enumerate(obligations)}


def test_the_book_can_be_covered_but_for_its_isin_count_limits(
    book: Book, schedules: dict[str, HaircutSchedule]
) -> None:
    # The LP relaxation (no lots, no max_isins) covers every obligation at once ...
    shortfall = _coverage_lp(book, schedules)
    assert max(shortfall.values()) < 1.0
    # ... but CSA-BNP takes at most 2 ISINs of at most 10 billion yen: 24 billion cannot be met.
    short = next(o for o in book["obligations"] if o["id"] == SHORT_OF_COVER)
    assert short["max_isins"] * CSA_ISIN_CAPS["CSA-BNP"] < short["required_value"]


def test_the_hard_obligation_leaves_three_percent_of_slack(
    book: Book, schedules: dict[str, HaircutSchedule]
) -> None:
    hard = next(o for o in book["obligations"] if o["id"] == HARD)
    assert hard["max_isins"] == 3
    cap = CSA_ISIN_CAPS["CSA-CITI"]
    assert hard["required_value"] == 0.97 * 3 * cap
    # SMBC holds at least three ISINs worth the 25 billion cap each under CSA-CITI.
    capacity: dict[str, float] = defaultdict(float)
    for h in book["holdings"]:
        if h["owner"] == hard["pledgor"]:
            v = _value_per_face(book, schedules, hard["schedule"], h["isin"])
            capacity[h["isin"]] += h["face"] * (v or 0.0)
    assert sum(v >= cap for v in capacity.values()) >= 3


def test_same_seed_same_book_and_a_scaled_book() -> None:
    small = BookSpec(accounts=(3, 2, 2), positions_per_account=(10, 20), obligation_rounds=2)
    one, two = generate_book(small), generate_book(small)
    assert one == two
    assert len(one["obligations"]) == 60
    assert len({o["id"] for o in one["obligations"]}) == 60
    assert len(one["accounts"]) == 7
    other = generate_book(BookSpec(seed=1, accounts=(3, 2, 2), positions_per_account=(10, 20)))
    assert other["holdings"] != one["holdings"]


def test_benchmark_books_have_the_asked_size() -> None:
    spec = BookSpec.for_benchmark(positions=1200, obligations=10, seed=3)
    book = generate_book(spec)
    assert len(book["accounts"]) == 60
    assert len(book["obligations"]) == 10
    assert {o["pledgor"] for o in book["obligations"]} == {"MIZUHO", "NOMURA", "SMBC"}
    positions = {(h["account"], h["isin"]) for h in book["holdings"]}
    assert 1000 <= len(positions) <= 1400
