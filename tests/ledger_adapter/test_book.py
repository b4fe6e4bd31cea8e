"""Loading a book (the Part 2 problem format) onto the ledger."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import execute_plan
from ledger_adapter.model import MARGIN_OBLIGATION
from ledger_adapter.plan import parse_plan
from ledger_adapter.positions import export_holdings, obligations
from valuation.errors import InputError
from valuation.paths import data_dir

from .conftest import ISIN, B, make_plan, small_book


def _rows(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        out[(r["owner"], r["account"], r["isin"], r["pledged_to"])] += r["face"]
    return out


def test_sample_book_round_trips(ledger: EmbeddedLedger) -> None:
    path = data_dir() / "sample_book.json"
    if not path.exists():
        pytest.skip(f"{path} is not there yet")
    book = json.loads(path.read_text(encoding="utf-8"))
    report = load_book(ledger, parse_book(book))
    assert report.obligations == len(book["obligations"])
    owners = sorted({h["owner"] for h in book["holdings"]})
    assert _rows(export_holdings(ledger, owners)) == _rows(book["holdings"])
    seen = {o["id"]: o for o in obligations(ledger, owners)}
    for o in book["obligations"]:
        assert seen[o["id"]]["required_value"] == pytest.approx(o["required_value"], abs=1)
    securities = {s["isin"]: s for s in book["securities"]}
    for c in ledger.active_contracts(owners, MARGIN_OBLIGATION.template_id):
        for isin, value in c.arguments["valuation"].items():
            s = securities[isin]
            ceiling = Decimal(str(s["dirty_price"])) / 100 * Decimal(str(s.get("index_ratio", 1)))
            assert 0 < Decimal(value) <= ceiling, (c.arguments["obligationId"], isin)


def test_loading_twice_changes_nothing(ledger: EmbeddedLedger) -> None:
    book = parse_book(small_book())
    first = load_book(ledger, book)
    end = ledger.ledger_end()
    again = load_book(ledger, book)
    assert not first.already_loaded and again.already_loaded
    assert (again.setup_offset, again.pledges_offset) == (first.setup_offset, first.pledges_offset)
    assert ledger.ledger_end() == end


def _with(path: str, value: Any) -> dict[str, Any]:
    book = small_book()
    record, field = path.split(".")
    name, index = record.rstrip("]").split("[")
    book[name][int(index)][field] = value
    return book


@pytest.mark.parametrize(
    ("book", "record", "field"),
    [
        (_with("holdings[1].isin", "JP0000000000"), "holdings[1]", "isin"),
        (_with("holdings[2].face", -5), "holdings[2]", "face"),
        (_with("holdings[2].face", 1.5), "holdings[2]", "face"),
        (_with("holdings[1].pledged_to", "NOPE"), "holdings[1]", "pledged_to"),
        (_with("holdings[5].pledged_to", "MZH-JSCC"), "holdings[5]", "pledged_to"),  # NOMURA's
        (_with("obligations[0].schedule", "NOPE"), "obligations[0] (MZH-JSCC)", "schedule"),
        (
            _with("obligations[1].required_value", "lots"),
            "obligations[1] (MZH-BOJ)",
            "required_value",
        ),
        (_with("securities[0].dirty_price", None), f"securities ({ISIN[0]})", "dirty_price"),
    ],
)
def test_bad_books_name_the_record_and_field(book: dict[str, Any], record: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_book(book)
    assert (err.value.record, err.value.field) == (record, field)


def test_settlement_date_must_parse() -> None:
    with pytest.raises(InputError, match="settlement_date"):
        parse_book({**small_book(), "settlement_date": "2026-13-01"})


def test_an_ineligible_pledge_loads_at_no_value(ledger: EmbeddedLedger) -> None:
    """A book the optimizer accepts: 5bn of ISIN1 pledged to MZH-BOJ, whose schedule
    excludes ISIN1 (a schedule changed after the pledge). It loads (it failed the
    pledges transaction after the set-up had committed), valued 0, and is released
    freely while the obligation's eligible cover is checked as before."""
    book = small_book()
    book["holdings"].append(
        {
            "owner": "MIZUHO",
            "account": "MZH-01",
            "isin": ISIN[1],
            "face": 5 * B,
            "pledged_to": "MZH-BOJ",
        }
    )
    load_book(ledger, parse_book(book))
    (boj,) = (
        c
        for c in ledger.active_contracts("BOJ", MARGIN_OBLIGATION.template_id)
        if c.arguments["obligationId"] == "MZH-BOJ"
    )
    assert boj.arguments["valuation"][ISIN[1]] == "0.0000000000"
    plan = make_plan(
        [("release", "MZH-BOJ", "MZH-01", ISIN[1], 5 * B, 1)],
        [("MZH-BOJ", "MZH-02", ISIN[2], 10 * B), ("MZH-JSCC", "MZH-01", ISIN[0], 20 * B)],
    )
    assert execute_plan(ledger, parse_plan(plan), parties=["MIZUHO"]).reconciled
