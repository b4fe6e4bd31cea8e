"""The commit path's shortcuts say what the plain path says.

- The contract cache: a contract another writer consumed is not found, whatever this
  ledger object had cached (the cache is valid only at the log head it recorded).
- The projection given the interpreter's ACS delta equals the one found from the nodes.
- A submit's deferred view (events projected on first read) is the eager view: equal
  both ways, same repr and pickle, the same events whichever is read first.
- Signatories and observers are computed from party-typed fields alone, which is what
  :meth:`Template.parties <ledger_adapter.templates.Template.parties>` remembers them by.
- Daml's implicit ``Archive`` (a short path in the interpreter) needs the signatories.
- Contract ids are whole (66 characters) whichever node begins a block of discriminators,
  and the stream's, though a transaction's first 8 are drawn alone.
- The template and party-set codes a rolled-back transaction assigned are forgotten.
- Contract rows written in batches of a hundred (and the rest one by one) are the rows
  the log says (the fixture's ``verify`` replays it against the table).
- SQLite binds ``None`` and ``bytes`` through identity adapters: the same values; a
  program's own adapter for either is kept.
- A deferred view read first by several threads at once: every one gets the events.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import pickle
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.encoding import contract_key
from ledger_adapter.engine import CID_LENGTH, interpret
from ledger_adapter.errors import AuthorizationError, ContractNotFound
from ledger_adapter.model import HOLDING, TEMPLATES, TYPES
from ledger_adapter.projection import project
from ledger_adapter.protocol import (
    CreateAndExerciseCommand,
    ExerciseCommand,
    Transaction,
    TransactionShape,
)
from ledger_adapter.storage import SqliteBackend

from .conftest import assert_sound
from .test_embedded import H, holding, issue, split

ROOT = Path(__file__).resolve().parents[2]


def test_a_contract_consumed_by_another_writer_is_not_found(ledger_url: str) -> None:
    with EmbeddedLedger(ledger_url) as first, EmbeddedLedger(ledger_url) as second:
        cid = issue(first)
        assert [c.contract_id for c in first.active_contracts("MIZUHO")] == [cid]  # cached
        second.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="elsewhere")
        end = first.ledger_end()
        with pytest.raises(ContractNotFound) as err:
            first.submit([split(cid, 20)], act_as=["MIZUHO"], command_id="here")
        assert err.value.contract_ids == (cid,)
        assert first.ledger_end() == end
        assert_sound(first)


def test_the_cache_survives_own_commits_and_forgets_archived(ledger_url: str) -> None:
    with EmbeddedLedger(ledger_url) as ledger:
        cids = [issue(ledger, cid=f"issue-{i}") for i in range(3)]
        ledger.active_contracts("MIZUHO")
        ledger.submit([split(cids[0], 10)], act_as=["MIZUHO"], command_id="s0")
        with pytest.raises(ContractNotFound):
            ledger.submit([split(cids[0], 10)], act_as=["MIZUHO"], command_id="s0-again")
        ledger.submit([split(cids[1], 10)], act_as=["MIZUHO"], command_id="s1")  # from the cache
        active = {c.contract_id for c in ledger.active_contracts("MIZUHO")}
        assert len(active) == 5 and cids[2] in active and not active & set(cids[:2])
        assert_sound(ledger)


def test_the_collector_is_running_again_after_a_submit(ledger: EmbeddedLedger) -> None:
    assert gc.isenabled()
    cid = issue(ledger)
    with pytest.raises(ContractNotFound):
        ledger.submit([split(cid, 10), split(cid, 20)], act_as=["MIZUHO"], command_id="x")
    assert gc.isenabled()


@pytest.mark.parametrize("shape", list(TransactionShape))
def test_projection_with_the_delta_equals_the_projection_from_nodes(
    loaded: EmbeddedLedger, shape: TransactionShape
) -> None:
    for stored in loaded.stored_transactions():
        nodes = stored.nodes
        created = {n["cid"] for n in nodes if n["k"] == "c"}
        consumed = {n["cid"] for n in nodes if n["k"] == "e" and n["cons"]}
        alive = {cid: None for cid in created - consumed}
        for parties in ({"MIZUHO"}, {"JSCC", "BOJ"}, {"NOMURA", "MIZUHO", "BOJ"}):
            common: dict[str, Any] = {
                "offset": stored.offset,
                "update_id": stored.update_id,
                "command_id": stored.command_id,
                "submitters": frozenset(stored.act_as),
                "workflow_id": stored.workflow_id,
                "effective_at": stored.effective_at,
                "nodes": nodes,
                "parties": frozenset(parties),
                "shape": shape,
            }
            plain = project(**common)
            given = project(**common, delta=(alive, list(consumed - created)))
            assert given == plain
            assert all(dataclasses.is_dataclass(e) for e in plain.events)


@pytest.mark.parametrize("shape", list(TransactionShape))
def test_a_submits_deferred_view_is_the_eager_view(
    ledger: EmbeddedLedger, shape: TransactionShape
) -> None:
    cid = issue(ledger)
    tx = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="s", transaction_shape=shape)
    eager = ledger.transaction_at(tx.offset, ["MIZUHO"], shape)
    assert type(eager) is Transaction and eager.events
    assert tx == eager and eager == tx
    assert repr(tx) == repr(eager)
    assert tx.events is tx.events and tx.created() == eager.created()
    assert [type(e) for e in tx.events] == [type(e) for e in eager.events]  # built as twins
    with pytest.raises(dataclasses.FrozenInstanceError):
        tx.events[0].offset = 0  # type: ignore[misc]
    assert gc.isenabled()  # paused while the events were made, running again
    again = pickle.loads(pickle.dumps(tx))
    assert type(again) is Transaction and again == eager
    assert dataclasses.replace(tx, workflow_id="w") == dataclasses.replace(eager, workflow_id="w")
    assert tx != dataclasses.replace(eager, events=eager.events[:1])
    unread = ledger.submit(
        [split(next(iter(tx.created())).contract_id, 1)],
        act_as=["MIZUHO"],
        command_id="t",
        transaction_shape=shape,
    )
    assert repr(unread) == repr(ledger.transaction_at(unread.offset, ["MIZUHO"], shape))


def test_a_deferred_view_read_first_by_several_threads_at_once(ledger: EmbeddedLedger) -> None:
    """The events are projected on the first read, whichever thread makes it: threads
    racing to read one submit's view all get the eager view's events."""
    issued = [issue(ledger, cid=f"race-{i}") for i in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        for k, cid in enumerate(issued):
            tx = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id=f"r{k}")
            start = threading.Barrier(6)
            seen: list[Any] = []

            def read(
                view: Transaction = tx, go: threading.Barrier = start, out: list[Any] = seen
            ) -> None:
                go.wait()
                out.append(view.events)

            threads = [threading.Thread(target=read) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            eager = ledger.transaction_at(tx.offset, ["MIZUHO"])
            assert eager is not None and len(seen) == 6
            # equal, not always the same tuple: two first readers may both project
            assert all(events == eager.events for events in seen)
    finally:
        sys.setswitchinterval(interval)


class _Poison:
    """A value a signatory or observer clause must not look at."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("parties computed from a non-party field")

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize("template", list(TEMPLATES.values()), ids=lambda t: t.name)
def test_parties_come_from_party_fields_only(template: Any) -> None:
    args: dict[str, Any] = {
        name: ("PARTY_" + name if t == "Party" else "OPT_" + name if "Party" in t else _Poison())
        for name, t in template.fields
    }
    signatories = template.signatories(args)
    observers = template.observers(args)
    assert all(isinstance(p, str) for p in [*signatories, *observers])
    parties = template.parties(args)
    assert parties.signatories == frozenset(signatories)
    assert parties.observers == frozenset(observers) - frozenset(signatories)
    assert template.parties(args) is parties  # remembered


def test_archive_needs_every_signatory(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    archive = ExerciseCommand(HOLDING.template_id, cid, "Archive", {})
    with pytest.raises(AuthorizationError, match="Archive"):
        ledger.submit([archive], act_as=["MIZUHO"], command_id="alone")
    tx = ledger.submit([archive], act_as=["MIZUHO", "BOJ"], command_id="both")
    assert tx.archived_contract_ids() == (cid,)


def test_contract_ids_are_whole_when_a_block_of_nodes_begins_with_an_exercise(
    ledger: EmbeddedLedger,
) -> None:
    """Discriminators come in blocks of 32 nodes; a split's creates (nodes 1 and 2 after
    the exercise at node 0) once got none: 20-character ids."""
    cid = issue(ledger)
    tx = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="split")
    created = [e.contract_id for e in tx.created()]
    assert len(created) == 2 and all(len(c) == CID_LENGTH for c in created)
    assert created[0][20:] != created[1][20:]
    issued = [issue(ledger, cid=f"issue-{i}") for i in range(11)]
    # two creates, then splits: their exercises are nodes 2, 5, ..., 32 (a block's first)
    commands = [holding(), holding(), *(split(c, 10) for c in issued)]
    tx = ledger.submit(commands, act_as=["MIZUHO", "BOJ"], command_id="more")
    ids = [e.contract_id for e in tx.created()]
    assert len(ids) == 24 and all(len(c) == CID_LENGTH for c in ids)
    assert len({c[20:] for c in ids}) == 24


@pytest.mark.parametrize("creates", [1, 7, 8, 9, 40])
def test_contract_ids_are_the_streams_whatever_part_was_drawn_first(creates: int) -> None:
    """A transaction's first nodes' discriminators are drawn alone (a prefix of block
    0); every id is still offset, node id and its 23 bytes of SHAKE-256(seed, block)
    drawn whole, as ids always were."""
    seed, offset = bytes(range(16)), 77
    result = interpret(
        [holding(face=10 + i) for i in range(creates)],
        act_as=frozenset({"MIZUHO", "BOJ"}),
        read_as=frozenset(),
        templates=TEMPLATES,
        types=TYPES,
        load=lambda _ids: {},
        seed=seed,
        offset=offset,
    )
    expected = []
    for node_id in range(creates):
        block = hashlib.shake_256(seed + (node_id // 32).to_bytes(4, "big")).digest(32 * 23)
        suffix = block[(node_id % 32) * 23 : (node_id % 32 + 1) * 23]
        expected.append(f"00{offset:012x}{node_id:06x}{suffix.hex()}")
    assert list(result.created) == expected
    assert [contract_key(c) for c in expected] == list(
        zip(result.created_keys, result.created_discriminators, strict=True)
    )


@pytest.mark.parametrize("leading_splits", [1, 2, 3, 10, 12])
def test_contract_ids_after_exercises_are_the_streams(
    ledger: EmbeddedLedger, leading_splits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creates that follow exercises (each split: an exercise node, then two creates),
    across node 8 (where the first draw ends) and into block 1: every id is offset,
    node id and the 23 bytes of SHAKE-256(seed, block) at that node."""
    issued = [issue(ledger, cid=f"lead-{i}") for i in range(leading_splits)]
    seed = bytes(range(100, 116))
    monkeypatch.setattr("ledger_adapter.embedded.os.urandom", lambda n: seed[:n])
    commands = [*(split(c, 10) for c in issued), holding(), holding(), holding()]
    tx = ledger.submit(commands, act_as=["MIZUHO", "BOJ"], command_id="after-exercises")
    created = tx.created()
    assert len(created) == 2 * leading_splits + 3
    for event in created:
        node_id = event.node_id
        block = hashlib.shake_256(seed + (node_id // 32).to_bytes(4, "big")).digest(32 * 23)
        suffix = block[(node_id % 32) * 23 : (node_id % 32 + 1) * 23]
        assert event.contract_id == f"00{tx.offset:012x}{node_id:06x}{suffix.hex()}"


def test_a_programs_own_sqlite_adapter_is_kept() -> None:
    """``storage`` registers its identity adapters only where the program has none: a
    program that binds ``bytes`` its own way before importing tanpo still does."""
    code = (
        "import sqlite3\n"
        "sqlite3.register_adapter(bytes, lambda b: 'user:' + b.hex())\n"
        "import ledger_adapter.storage\n"
        "c = sqlite3.connect(':memory:')\n"
        "print(c.execute('SELECT typeof(?), ?', (b'ab', b'ab')).fetchone())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "('text', 'user:6162')"


def test_a_party_set_code_of_a_rolled_back_transaction_is_forgotten(ledger_url: str) -> None:
    """Codes a transaction assigns count only once it commits: another writer may give
    the same number to another party set after a rollback (here the deduplication
    insert fails after the contract rows were written, by a trigger of the test's)."""
    with EmbeddedLedger(ledger_url) as first, EmbeddedLedger(ledger_url) as second:
        issue(first, owner="MIZUHO")
        first.backend.execute(
            "CREATE TABLE boom (x INTEGER CHECK (x = 0))"
        )  # a dedup row for command "boom" fails through this trigger's insert
        if first.backend.dialect == "sqlite":
            first.backend.execute(
                "CREATE TRIGGER boom AFTER INSERT ON command_dedup"
                " WHEN NEW.command_id = 'boom' BEGIN INSERT INTO boom VALUES (1); END"
            )
        else:
            first.backend.execute(
                "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN"
                " IF NEW.command_id = 'boom' THEN INSERT INTO boom VALUES (1); END IF;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            first.backend.execute(
                "CREATE TRIGGER boom AFTER INSERT ON command_dedup"
                " FOR EACH ROW EXECUTE FUNCTION boom()"
            )
        # NOMURA's party set gets a code, then the transaction rolls back
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.IntegrityError)):
            first.submit([holding("NOMURA")], act_as=["BOJ", "NOMURA"], command_id="boom")
        second.submit([holding("DAIWA")], act_as=["BOJ", "DAIWA"], command_id="daiwa")
        first.submit([holding("NOMURA")], act_as=["BOJ", "NOMURA"], command_id="nomura")
        owners = {
            c.arguments["owner"]: c.signatories
            for c in first.active_contracts(["MIZUHO", "NOMURA", "DAIWA"])
        }
        assert owners == {
            "MIZUHO": ("BOJ", "MIZUHO"),
            "NOMURA": ("BOJ", "NOMURA"),
            "DAIWA": ("BOJ", "DAIWA"),
        }
        assert_sound(first)


def test_contract_rows_in_batches_are_the_logs(ledger: EmbeddedLedger) -> None:
    issued = ledger.submit([holding(face=1000)] * 250, act_as=["BOJ", "MIZUHO"], command_id="i")
    cids = [e.contract_id for e in issued.created()]
    assert len(cids) == 250
    tx = ledger.submit([split(cid, 10) for cid in cids], act_as=["MIZUHO"], command_id="s")
    assert set(tx.archived_contract_ids()) == set(cids)
    active = {c.contract_id: c.arguments["face"] for c in ledger.active_contracts("MIZUHO")}
    assert active == {e.contract_id: e.arguments["face"] for e in tx.created()}
    assert sorted(active.values()) == ["10"] * 250 + ["990"] * 250


def test_stored_keys_are_the_ids_keys(ledger: EmbeddedLedger) -> None:
    """The interpreter hands the contract table each created contract's key and
    discriminator as it drew them; they are what the id says (``contract_key``), for
    creates in blocks begun by exercises and around a transient contract."""
    issued = [issue(ledger, cid=f"issue-{i}") for i in range(40)]
    transient = CreateAndExerciseCommand(
        H, holding().arguments, "Holding_Split", {"splitFace": "1"}
    )
    commands = [holding(), *(split(c, 10) for c in issued), transient, holding()]
    tx = ledger.submit(commands, act_as=["MIZUHO", "BOJ"], command_id="many")
    rows = ledger.backend.query(
        "SELECT contract_key, discriminator FROM active_contracts WHERE contract_key >= ?",
        (tx.offset << 24,),
    )
    stored = {(int(key), bytes(discriminator)) for key, discriminator in rows}
    assert stored == {contract_key(e.contract_id) for e in tx.created()}
    assert len(stored) == 84  # 2 + 40 x 2 + the transient's 2 (not itself)


def test_bytes_and_none_bind_as_they_are(tmp_path: Path) -> None:
    """The identity adapters ``storage`` registers (a cheaper bind) change no value:
    ``None`` is NULL, ``bytes`` a BLOB of the same bytes."""
    backend = SqliteBackend(tmp_path / "bind.db")
    try:
        backend.execute("CREATE TABLE t (a, b)")
        backend.execute("INSERT INTO t VALUES (?, ?)", (None, b"\x00\x01"))
        assert backend.query("SELECT a, b, typeof(a), typeof(b) FROM t") == [
            (None, b"\x00\x01", "null", "blob")
        ]
    finally:
        backend.close()
