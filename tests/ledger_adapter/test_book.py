"""Loading a book (the Part 2 problem format) onto the ledger."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import execute_plan
from ledger_adapter.model import HOLDING, MARGIN_OBLIGATION
from ledger_adapter.plan import parse_plan
from ledger_adapter.positions import export_holdings, obligations
from ledger_adapter.prior_load import BookConflictError
from ledger_adapter.protocol import ExerciseCommand
from ledger_adapter.rebalance import LiveState
from valuation.errors import InputError
from valuation.paths import data_dir

from .conftest import ISIN, B, assert_sound, make_plan, small_book


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


# --- a book loaded onto a ledger that already holds one ------------------------------


def _face(ledger: EmbeddedLedger) -> int:
    return sum(
        int(c.arguments["face"])
        for c in ledger.active_contracts(["MIZUHO", "NOMURA"], HOLDING.template_id)
    )


def _raised() -> dict[str, Any]:
    book = small_book()
    book["obligations"][0]["required_value"] = 16 * B
    return book


def _repriced() -> dict[str, Any]:
    book = small_book()
    book["securities"][0]["dirty_price"] = 99.5
    return book


def _nomura_elsewhere() -> dict[str, Any]:
    """Another book sharing only an owner: NOMURA's holdings, an obligation to the BoJ
    (no agreement of NOMURA's with the BoJ is on the ledger)."""
    book = small_book()
    book["holdings"] = [{**h, "pledged_to": None} for h in book["holdings"][5:]]
    nomura = {**book["obligations"][2], "id": "NMR-BOJ", "pledgee": "BOJ", "schedule": "BOJ"}
    book["obligations"] = [nomura]
    return book


def _renamed_elsewhere() -> dict[str, Any]:
    """Another book sharing only the agreements: the obligations renamed, held by a new
    owner. The conflict is in its obligations (their pledgor, pledgee and schedule)."""
    book = small_book()
    book["holdings"] = [{**book["holdings"][0], "owner": "SMBC", "pledged_to": None}]
    book["obligations"] = [{**o, "id": f"{o['id']}-2"} for o in book["obligations"]]
    return book


@pytest.mark.parametrize(
    ("changed", "field", "named"),
    [
        (_raised, "obligations", "obligations MZH-BOJ, MZH-JSCC, NMR-JSCC"),
        (_repriced, "obligations", "MIZUHO/JSCC/JSCC"),
        (_nomura_elsewhere, "holdings", "holdings of NOMURA"),
        (_renamed_elsewhere, "obligations", "agreements MIZUHO/BOJ/BOJ"),
    ],
)
def test_a_changed_book_is_refused_and_nothing_written(
    ledger: EmbeddedLedger, changed: Any, field: str, named: str
) -> None:
    """Before the fix the registrar issued every holding again (face doubled) and the
    agreements and obligations were created twice."""
    load_book(ledger, parse_book(small_book()))
    end, face = ledger.ledger_end(), _face(ledger)
    with pytest.raises(BookConflictError) as err:
        load_book(ledger, parse_book(changed()))
    assert (err.value.record, err.value.field) == ("book", field)
    assert named in str(err.value) and "tanpo ledger call" in str(err.value)
    assert (ledger.ledger_end(), _face(ledger)) == (end, face)


class _Clock:
    """Record time the test moves (to take a command past the deduplication window)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 7, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def windowed(ledger_url: str) -> Iterator[tuple[EmbeddedLedger, _Clock]]:
    """A ledger whose deduplication window is one minute, on a clock the test moves."""
    clock = _Clock()
    with EmbeddedLedger(
        ledger_url, max_deduplication_window=timedelta(minutes=1), clock=clock
    ) as opened:
        yield opened, clock
        assert_sound(opened)


def test_the_same_book_is_loaded_after_the_deduplication_window(
    windowed: tuple[EmbeddedLedger, _Clock],
) -> None:
    ledger, clock = windowed
    book = parse_book(small_book())
    first = load_book(ledger, book)
    ledger.submit(  # something else happens on the ledger meanwhile: a margin call
        [_call("MZH-JSCC", ledger, 16 * B)], act_as=["JSCC"], command_id="jscc-call"
    )
    clock.now += timedelta(days=1)  # deduplication alone would apply both steps again
    end, face = ledger.ledger_end(), _face(ledger)
    again = load_book(ledger, book)
    assert again.already_loaded and not again.resumed
    assert (again.setup_offset, again.pledges_offset) == (first.setup_offset, first.pledges_offset)
    assert (ledger.ledger_end(), _face(ledger)) == (end, face)


def _call(obligation: str, ledger: EmbeddedLedger, required: int) -> ExerciseCommand:
    (o,) = (
        c
        for c in ledger.active_contracts("JSCC", MARGIN_OBLIGATION.template_id)
        if c.arguments["obligationId"] == obligation
    )
    return ExerciseCommand(
        o.template_id, o.contract_id, "MarginObligation_Call", {"newRequiredValue": str(required)}
    )


class _CrashBeforePledges:
    """A ledger that dies before the load's second transaction (as a kill -9 would)."""

    def __init__(self, ledger: EmbeddedLedger) -> None:
        self.ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def submit(self, commands: Any, **kwargs: Any) -> Any:
        if kwargs["command_id"].endswith("-pledges"):
            raise KeyboardInterrupt("killed between the set-up and the pledges")
        return self.ledger.submit(commands, **kwargs)


def test_a_load_stopped_after_its_set_up_is_completed_once(
    windowed: tuple[EmbeddedLedger, _Clock],
) -> None:
    ledger, clock = windowed
    book = parse_book(small_book())
    with pytest.raises(KeyboardInterrupt):
        load_book(_CrashBeforePledges(ledger), book)
    assert ledger.ledger_end() == 1 and not LiveState.read(ledger, ["MIZUHO", "NOMURA"]).pledges
    # a margin call lands between the set-up and the resumed load (offset 2)
    ledger.submit([_call("NMR-JSCC", ledger, 3 * B)], act_as=["JSCC"], command_id="jscc-call")
    resumed = load_book(ledger, book)
    assert resumed.resumed and not resumed.already_loaded
    assert (resumed.setup_offset, resumed.pledges_offset) == (1, 3)
    owners = ["MIZUHO", "NOMURA"]
    assert _rows(export_holdings(ledger, owners)) == _rows(small_book()["holdings"])
    clock.now += timedelta(days=1)  # found past the call at offset 2, not by deduplication
    again = load_book(ledger, book)
    assert again.already_loaded and (again.setup_offset, again.pledges_offset) == (1, 3)
    assert ledger.ledger_end() == 3
    assert _rows(export_holdings(ledger, owners)) == _rows(small_book()["holdings"])


def test_a_book_with_nothing_to_load_is_refused_naming_it(ledger: EmbeddedLedger) -> None:
    """Before, the ledger answered 'INVALID_ARGUMENT: commands: must not be empty'."""
    book = small_book()
    book["holdings"], book["obligations"] = [{**book["holdings"][0], "face": 0}], []
    with pytest.raises(InputError) as err:
        load_book(ledger, parse_book(book))
    assert (err.value.record, err.value.field) == ("book", "holdings")
    assert "nothing to load" in str(err.value) and ledger.ledger_end() == 0
