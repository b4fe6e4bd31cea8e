"""``verify`` catches any edited or deleted row (tampering with raw SQL)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.integrity import verify
from ledger_adapter.invariants import invariant_violations

from .conftest import small_book


def _tamper_nodes(ledger: EmbeddedLedger) -> None:
    (nodes,) = ledger.backend.query("SELECT nodes FROM transactions WHERE ledger_offset = 2")[0]
    doctored = nodes.replace('"face":"5000000000"', '"face":"6000000000"', 1)
    assert doctored != nodes
    ledger.backend.execute("UPDATE transactions SET nodes = ? WHERE ledger_offset = 2", (doctored,))


def _tamper_active_face(ledger: EmbeddedLedger) -> None:
    cid, args = ledger.backend.query(
        "SELECT contract_id, arguments FROM active_contracts ORDER BY contract_id LIMIT 1"
    )[0]
    a = json.loads(args)
    a["face"] = str(int(a["face"]) + 1)
    ledger.backend.execute(
        "UPDATE active_contracts SET arguments = ? WHERE contract_id = ?", (json.dumps(a), cid)
    )


def _forge_active(ledger: EmbeddedLedger) -> None:
    row = ledger.backend.query(
        "SELECT template_id, arguments, signatories, observers, stakeholders, created_offset,"
        " created_node FROM active_contracts LIMIT 1"
    )[0]
    ledger.backend.execute(
        "INSERT INTO active_contracts (contract_id, template_id, arguments, signatories,"
        " observers, stakeholders, created_offset, created_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ("00" + "f" * 64, *row),
    )


TAMPERING: dict[str, tuple[Callable[[EmbeddedLedger], None], str]] = {
    "edit a log row": (_tamper_nodes, "does not match its hash"),
    "edit a hash": (
        lambda led: led.backend.execute(
            "UPDATE transactions SET tx_hash = ? WHERE ledger_offset = 1", ("0" * 64,)
        ),
        "does not match its hash",
    ),
    "delete a middle row": (
        lambda led: led.backend.execute("DELETE FROM transactions WHERE ledger_offset = 2"),
        "missing from the log",
    ),
    "delete the newest row": (
        lambda led: led.backend.execute("DELETE FROM transactions WHERE ledger_offset = 3"),
        "not according to the log",
    ),
    "edit an active contract": (_tamper_active_face, "arguments differ from the log"),
    "delete an active contract": (
        lambda led: led.backend.execute(
            "DELETE FROM active_contracts WHERE contract_id ="
            " (SELECT MIN(contract_id) FROM active_contracts)"
        ),
        "missing from the table",
    ),
    "forge an active contract": (_forge_active, "not according to the log"),
    "re-point a deduplication entry": (
        lambda led: led.backend.execute("UPDATE command_dedup SET ledger_offset = 1"),
        "deduplication entry",
    ),
    "delete a deduplication entry": (
        lambda led: led.backend.execute("DELETE FROM command_dedup WHERE ledger_offset = 2"),
        "deduplication entry",
    ),
}


@pytest.fixture
def three_transactions(ledger_url: str) -> EmbeddedLedger:
    ledger = EmbeddedLedger(ledger_url)
    load_book(ledger, parse_book(small_book()))  # offsets 1 (set-up) and 2 (pledges)
    (free,) = [
        c.contract_id
        for c in ledger.active_contracts("NOMURA")
        if c.arguments.get("column") == "HoldingsColumn"
    ]
    from ledger_adapter.model import HOLDING
    from ledger_adapter.protocol import ExerciseCommand

    ledger.submit(
        [ExerciseCommand(HOLDING.template_id, free, "Holding_Split", {"splitFace": "1000"})],
        act_as=["NOMURA"],
        command_id="split",
    )
    assert verify(ledger).ok
    return ledger


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_catches_tampering(three_transactions: EmbeddedLedger, case: str) -> None:
    tamper, message = TAMPERING[case]
    tamper(three_transactions)
    report = verify(three_transactions)
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems
    three_transactions.close()


def test_clean_ledger_verifies_and_reports_its_head(three_transactions: EmbeddedLedger) -> None:
    report = verify(three_transactions)
    assert report.ok and report.transactions == 3 and report.ledger_end == 3
    head = three_transactions.backend.query(
        "SELECT tx_hash FROM transactions WHERE ledger_offset = 3"
    )[0][0]
    assert report.head_hash == head
    assert invariant_violations(three_transactions) == []
    three_transactions.close()
