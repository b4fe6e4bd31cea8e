"""``verify`` catches any edited or deleted row (tampering with raw SQL)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.encoding import nodes_of_stored, stored_nodes
from ledger_adapter.integrity import transaction_hash, verify
from ledger_adapter.invariants import invariant_violations

from .conftest import small_book


def _tamper_nodes(ledger: EmbeddedLedger) -> None:
    (stored,) = ledger.backend.query("SELECT nodes FROM transactions WHERE ledger_offset = 2")[0]
    nodes = nodes_of_stored(bytes(stored)).decode()
    doctored = nodes.replace('"face":"5000000000"', '"face":"6000000000"', 1)
    assert doctored != nodes
    ledger.backend.execute(
        "UPDATE transactions SET nodes = ? WHERE ledger_offset = 2",
        (stored_nodes(doctored.encode()),),
    )


def _damage_nodes(ledger: EmbeddedLedger) -> None:
    ledger.backend.execute(
        "UPDATE transactions SET nodes = ? WHERE ledger_offset = 2", (b"not zstd at all",)
    )


def _other_json_nodes(ledger: EmbeddedLedger, *, rehash: bool) -> None:
    """The newest row's nodes replaced by JSON that is not a transaction's; with
    ``rehash`` its hash recomputed too, as a forger rewriting the chain's end would."""
    nodes = b'[{"not": "a node"}]'
    ledger.backend.execute("UPDATE transactions SET nodes = ? WHERE ledger_offset = 3", (nodes,))
    if rehash:
        (row,) = ledger.backend.query(
            "SELECT ledger_offset, update_id, command_id, user_id, act_as, submission_id,"
            " workflow_id, effective_at, prev_hash FROM transactions WHERE ledger_offset = 3"
        )
        *head, prev_hash = row
        forged = transaction_hash((*head, nodes, prev_hash))  # type: ignore[arg-type]
        ledger.backend.execute(
            "UPDATE transactions SET tx_hash = ? WHERE ledger_offset = 3", (forged,)
        )


def _tamper_active_face(ledger: EmbeddedLedger) -> None:
    key, args = ledger.backend.query(
        "SELECT contract_key, arguments FROM active_contracts ORDER BY contract_key LIMIT 1"
    )[0]
    a = json.loads(args)
    a["face"] = str(int(a["face"]) + 1)
    ledger.backend.execute(
        "UPDATE active_contracts SET arguments = ? WHERE contract_key = ?", (json.dumps(a), key)
    )


def _forge_active(ledger: EmbeddedLedger) -> None:
    row = ledger.backend.query(
        "SELECT contract_key, discriminator, template, party_set, arguments"
        " FROM active_contracts ORDER BY contract_key DESC LIMIT 1"
    )[0]
    ledger.backend.execute(
        "INSERT INTO active_contracts (contract_key, discriminator, template, party_set,"
        " arguments) VALUES (?, ?, ?, ?, ?)",
        (row[0] + 1000, *row[1:]),
    )


def _swap_template_code(ledger: EmbeddedLedger) -> None:
    codes = [c for (c,) in ledger.backend.query("SELECT code FROM templates ORDER BY code")]
    ledger.backend.execute(
        "UPDATE active_contracts SET template = ? WHERE contract_key ="
        " (SELECT MIN(contract_key) FROM active_contracts WHERE template = ?)",
        (codes[1], codes[0]),
    )


TAMPERING: dict[str, tuple[Callable[[EmbeddedLedger], object], str]] = {
    "edit a log row": (_tamper_nodes, "does not match its hash"),
    "damage a log row's compressed nodes": (_damage_nodes, "cannot be read"),
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
    "replace a log row's nodes with other JSON": (
        lambda led: _other_json_nodes(led, rehash=False),
        "nodes are not a transaction's (edited)",
    ),
    "rewrite the newest row and its hash": (
        lambda led: _other_json_nodes(led, rehash=True),
        "match their hash but cannot be replayed",
    ),
    "edit an active contract": (_tamper_active_face, "arguments differ from the log"),
    "delete an active contract": (
        lambda led: led.backend.execute(
            "DELETE FROM active_contracts WHERE contract_key ="
            " (SELECT MIN(contract_key) FROM active_contracts)"
        ),
        "missing from the table",
    ),
    "forge an active contract": (_forge_active, "not according to the log"),
    "change a contract's template code": (_swap_template_code, "template_id"),
    "edit a party set": (
        lambda led: led.backend.execute(
            "UPDATE party_sets SET signatories = 'MIZUHO' WHERE code = 1"
        ),
        "signatories",
    ),
    "drop a party set": (
        lambda led: led.backend.execute("DELETE FROM party_sets WHERE code = 1"),
        "not in the tables",
    ),
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


def test_large_nodes_are_stored_compressed_small_ones_as_json(ledger_url: str) -> None:
    """Both stored forms read back as the JSON that was hashed; an edit of either breaks
    the chain."""
    from ledger_adapter.model import HOLDING, HOLDINGS_COLUMN
    from ledger_adapter.protocol import CreateCommand

    ledger = EmbeddedLedger(ledger_url)
    holding = {
        "registrar": "BOJ",
        "owner": "MIZUHO",
        "account": "MZH-01",
        "isin": "JP1000000016",
        "face": "1000",
        "column": HOLDINGS_COLUMN,
        "pledgee": None,
    }
    ledger.submit(
        [CreateCommand(HOLDING.template_id, holding)], act_as=["BOJ", "MIZUHO"], command_id="one"
    )
    many = [CreateCommand(HOLDING.template_id, holding)] * 60
    ledger.submit(many, act_as=["BOJ", "MIZUHO"], command_id="many")
    small, large = (
        bytes(b)
        for (b,) in ledger.backend.query("SELECT nodes FROM transactions ORDER BY ledger_offset")
    )
    assert small[:1] == b"[" and large[:4] == b"\x28\xb5\x2f\xfd"
    assert len(nodes_of_stored(large)) > 8192 > len(large)
    assert [len(t.nodes) for t in ledger.stored_transactions()] == [1, 60]
    assert verify(ledger).ok
    for offset, stored in ((1, small), (2, large)):
        doctored = nodes_of_stored(stored).replace(b'"face":"1000"', b'"face":"1001"', 1)
        ledger.backend.execute(
            "UPDATE transactions SET nodes = ? WHERE ledger_offset = ?",
            (stored_nodes(doctored), offset),
        )
    problems = verify(ledger).problems
    assert sum("does not match its hash" in p for p in problems) == 2, problems
    ledger.close()
