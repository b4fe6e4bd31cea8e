"""The fused ``PledgeAgreement_Rebalance`` makes exactly the generic interpreter's transaction.

Random rebalance batches (Hypothesis) over a loaded book, valid and not: releases of
other agreements' pledges or of more face than pledged, pledges of ineligible ISINs,
of more than is free, of positions held in several lots (a merge), pool entries that
are not what they claim, an obligation or a cover named twice, a cover missing or of
another agreement, several steps settling the same obligation (the batch threads its
new cover), exercises of the agreement's choice directly, submitters without authority. Each is
interpreted twice from the same contracts and seed, with the fused body and without:
the nodes (hence the log row, its hash and every contract id), the created and
archived contracts, the results and the projection are equal, or both fail with the
same error. A success never needs the generic rerun; the fused body is really used.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.engine import Contract, Interpretation, interpret
from ledger_adapter.fused import FUSED
from ledger_adapter.integrity import transaction_hash
from ledger_adapter.model import (
    HOLDING,
    HOLDINGS_COLUMN,
    PLEDGE,
    REBALANCE_BATCH,
    TEMPLATES,
    TYPES,
)
from ledger_adapter.projection import project
from ledger_adapter.protocol import (
    Command,
    CreateAndExerciseCommand,
    ExerciseCommand,
    TransactionShape,
)
from ledger_adapter.rebalance import agreement_rebalance
from ledger_adapter.testing import synthetic_book

LOT = 100_000_000
SEED = b"fused-vs-generic"


class Book:
    """A loaded book's active contracts, with the lists the strategies draw from."""

    def __init__(self, ledger: EmbeddedLedger) -> None:
        self.contracts: dict[str, Contract] = {}
        for created in ledger.active_contracts(["BANK1", "JSCC", "BOJ"]):
            template = TEMPLATES[created.template_id]
            args = dict(created.arguments)
            self.contracts[created.contract_id] = Contract(
                created.contract_id, template, args, template.parties(args), created.offset
            )
        by_template: dict[str, list[Contract]] = {}
        for c in self.contracts.values():
            by_template.setdefault(c.template.name, []).append(c)
        self.holdings = by_template["Holding"]
        self.free = [c for c in self.holdings if c.args["column"] == HOLDINGS_COLUMN]
        self.pledges = by_template["Pledge"]
        self.obligations = by_template["MarginObligation"]
        self.covers = by_template["ObligationCover"]
        self.agreements = by_template["PledgeAgreement"]
        self.isins = sorted({c.args["isin"] for c in self.holdings})
        self.free_isins = sorted({c.args["isin"] for c in self.free})
        self.end = ledger.ledger_end()

    def load(self, contract_ids: Collection[str]) -> dict[str, Contract]:
        return {cid: self.contracts[cid] for cid in contract_ids if cid in self.contracts}


@pytest.fixture(scope="module")
def book() -> Iterator[Book]:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = EmbeddedLedger(str(Path(tmp) / "book.db"))
        load_book(
            ledger,
            parse_book(synthetic_book(isins_per_bank=8, obligations_per_bank=4, lots=4)),
        )
        # some positions in several lots, so that a pledge may need a merge
        for i, free in enumerate(
            [c for c in ledger.active_contracts("BANK1", HOLDING.template_id) if not i_pledged(c)]
        ):
            if i % 2 == 0:
                ledger.submit(
                    [
                        ExerciseCommand(
                            HOLDING.template_id,
                            free.contract_id,
                            "Holding_Split",
                            {"splitFace": str(LOT)},
                        )
                    ],
                    act_as=["BANK1"],
                    command_id=f"split-{i}",
                )
        yield Book(ledger)
        ledger.close()


def i_pledged(event: Any) -> bool:
    return bool(event.arguments["column"] != HOLDINGS_COLUMN)


def _face(draw: st.DrawFn, most: int) -> str:
    """Face in lots, sometimes half a lot (partial releases leave remainders)."""
    return str(draw(st.integers(1, most)) * LOT // draw(st.sampled_from([1, 1, 1, 2])))


def _sometimes(draw: st.DrawFn) -> bool:
    """True about one time in eight: the place for an invalid choice."""
    return draw(st.sampled_from([False] * 7 + [True]))


@st.composite
def steps(draw: st.DrawFn, book: Book) -> dict[str, Any]:
    """A step under one agreement: mostly valid, with an invalid choice here and there."""
    agreement = draw(st.sampled_from(book.agreements))
    pledgee = agreement.args["pledgee"]
    mine = [o for o in book.obligations if o.args["pledgee"] == pledgee]
    obligations = draw(
        st.lists(
            st.sampled_from(book.obligations if _sometimes(draw) else mine),
            min_size=1,
            max_size=3,
            unique_by=lambda c: c.contract_id,
        )
    )
    oids = [o.args["obligationId"] for o in obligations]
    theirs = [p for p in book.pledges if p.args["obligationId"] in oids]
    released = draw(
        st.lists(
            st.sampled_from(book.pledges if _sometimes(draw) or not theirs else theirs),
            max_size=3,
            unique_by=lambda c: c.contract_id,
        )
    )
    releases = [
        {
            "pledgeCid": p.contract_id,
            "face": _face(draw, 6)
            if _sometimes(draw)
            else str(min(int(p.args["face"]), int(_face(draw, 4)))),
        }
        for p in released
    ]
    pledges = [
        {
            "obligationId": "NO-SUCH-OBLIGATION"
            if _sometimes(draw)
            else draw(st.sampled_from(oids)),
            "account": "BANK1-01",
            "isin": draw(st.sampled_from(book.isins if _sometimes(draw) else book.free_isins)),
            "face": _face(draw, 4),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    named = [o.contract_id for o in obligations]
    if _sometimes(draw):  # an obligation named twice
        named.append(draw(st.sampled_from(named)))
    covers = [c.contract_id for c in book.covers if c.args["obligationId"] in oids]
    if _sometimes(draw) and covers:  # one missing
        covers.pop(draw(st.integers(0, len(covers) - 1)))
    if _sometimes(draw):  # one more, maybe of another agreement, maybe twice
        covers.append(draw(st.sampled_from(book.covers)).contract_id)
    return {
        "agreementCid": agreement.contract_id,
        "obligationCids": named,
        "coverCids": covers,
        "releases": releases,
        "pledges": pledges,
    }


def _entry(c: Contract) -> dict[str, str]:
    return {
        "cid": c.contract_id,
        "account": c.args["account"],
        "isin": c.args["isin"],
        "face": c.args["face"],
    }


@st.composite
def pool_entries(
    draw: st.DrawFn, book: Book, batch_steps: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The free holdings of the positions pledged (as the executor gives them), plus
    now and then one more, one whose face is not true, or a pledged holding."""
    positions = {(p["account"], p["isin"]) for step in batch_steps for p in step["pledges"]}
    entries = [_entry(c) for c in book.free if (c.args["account"], c.args["isin"]) in positions]
    if _sometimes(draw):
        entries.append(_entry(draw(st.sampled_from(book.free))))
    if entries and _sometimes(draw):  # a claim that is not true
        entries[0] = {**entries[0], "face": str(int(entries[0]["face"]) + LOT)}
    if _sometimes(draw):  # a pledged holding claimed as free
        pledged = [c for c in book.holdings if c.args["column"] != HOLDINGS_COLUMN]
        entries.append(_entry(draw(st.sampled_from(pledged))))
    return entries


@st.composite
def submissions(draw: st.DrawFn, book: Book) -> tuple[list[Command], frozenset[str]]:
    if draw(st.integers(0, 4)) == 0:  # the agreement's choice exercised directly
        step = draw(steps(book))
        commands: list[Command] = [agreement_rebalance(step, draw(pool_entries(book, [step])))]
    else:
        batch_steps = draw(st.lists(steps(book), min_size=1, max_size=3))
        batch = {"steps": batch_steps, "pool": draw(pool_entries(book, batch_steps))}
        commands = [
            CreateAndExerciseCommand(
                REBALANCE_BATCH.template_id, {"pledgor": "BANK1"}, "RebalanceBatch_Execute", batch
            )
        ]
    act_as = {"JSCC"} if _sometimes(draw) else draw(st.sampled_from([{"BANK1"}, {"BANK1", "BOJ"}]))
    return commands, frozenset(act_as)


def _run(
    book: Book, commands: list[Command], act_as: frozenset[str], fused: bool
) -> Interpretation | Exception:
    try:
        return interpret(
            commands,
            act_as=act_as,
            read_as=frozenset(),
            templates=TEMPLATES,
            types=TYPES,
            load=book.load,
            seed=SEED,
            offset=book.end + 1,
            fused=FUSED if fused else None,
        )
    except Exception as exc:  # compared below
        return exc


def _projection(result: Interpretation, act_as: frozenset[str], shape: TransactionShape) -> Any:
    return project(
        offset=7,
        update_id="u",
        command_id="c",
        submitters=act_as,
        workflow_id=None,
        effective_at=datetime(2026, 7, 1, tzinfo=UTC),
        nodes=result.nodes,
        parties=act_as,
        shape=shape,
        delta=(result.created, result.archived),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fused_and_generic_make_the_same_transaction(book: Book, data: st.DataObject) -> None:
    commands, act_as = data.draw(submissions(book))
    generic = _run(book, commands, act_as, fused=False)
    fused = _run(book, commands, act_as, fused=True)
    if isinstance(generic, Exception):
        event(f"fails: {type(generic).__name__} {str(generic).split(': ', 1)[1][:50]}")
        assert type(fused) is type(generic) and str(fused) == str(generic)
        return
    event(f"commits {sum(n.get('ch') == 'Holding_Merge' for n in generic.nodes)} merges")
    assert isinstance(fused, Interpretation), fused
    assert not fused.generic_rerun
    assert fused.nodes == generic.nodes
    nodes_json = orjson.dumps(fused.nodes)
    assert nodes_json == orjson.dumps(generic.nodes)
    row: Any = (book.end + 1, "u", "c", "user", '["BANK1"]', None, None, "t", nodes_json, "0" * 64)
    assert transaction_hash(row) == transaction_hash(
        (*row[:8], orjson.dumps(generic.nodes), row[9])
    )
    assert fused.created == generic.created and fused.archived == generic.archived
    assert fused.results == generic.results
    for shape in TransactionShape:
        assert _projection(fused, act_as, shape) == _projection(generic, act_as, shape)


def test_a_plan_commits_through_the_fused_body(book: Book) -> None:
    """A valid plan (a release and a pledge under one agreement) takes the fused path."""
    agreement = book.agreements[0]
    pledgee = agreement.args["pledgee"]
    pledge = next(p for p in book.pledges if p.args["pledgee"] == pledgee)
    obligation = next(
        o for o in book.obligations if o.args["obligationId"] == pledge.args["obligationId"]
    )
    free = next(c for c in book.free if int(c.args["face"]) >= 2 * LOT)
    (cover,) = (c for c in book.covers if c.args["obligationId"] == obligation.args["obligationId"])
    step = {
        "agreementCid": agreement.contract_id,
        "obligationCids": [obligation.contract_id],
        "coverCids": [cover.contract_id],
        "releases": [{"pledgeCid": pledge.contract_id, "face": str(LOT)}],
        "pledges": [
            {
                "obligationId": obligation.args["obligationId"],
                "account": free.args["account"],
                "isin": free.args["isin"],
                "face": str(LOT),
            }
        ],
    }
    pool = [
        {
            "cid": free.contract_id,
            "account": free.args["account"],
            "isin": free.args["isin"],
            "face": free.args["face"],
        }
    ]
    commands: list[Command] = [
        CreateAndExerciseCommand(
            REBALANCE_BATCH.template_id,
            {"pledgor": "BANK1"},
            "RebalanceBatch_Execute",
            {"steps": [step], "pool": pool},
        )
    ]
    fused = _run(book, commands, frozenset({"BANK1"}), fused=True)
    generic = _run(book, commands, frozenset({"BANK1"}), fused=False)
    assert isinstance(fused, Interpretation) and isinstance(generic, Interpretation)
    assert not fused.generic_rerun and fused.nodes == generic.nodes
    assert [n.get("ch") for n in fused.nodes if n["k"] == "e"] == [
        "RebalanceBatch_Execute",
        "PledgeAgreement_Rebalance",
        "Archive",
        "Holding_Release",
        "Holding_Pledge",
        "ObligationCover_Settle",
    ]
    assert PLEDGE.template_id in {n["tpl"] for n in fused.nodes if n["k"] == "c"}
