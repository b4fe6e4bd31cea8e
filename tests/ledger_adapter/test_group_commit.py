"""Group commit: submissions queued while the ledger is busy share one database commit,
each still its own atomic transaction (``ledger_adapter.group_commit``).

The tests hold the ledger's lock while threads submit, so the group is known: every
thread has queued before the lock is let go, and the first to take it leads them all.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger_adapter import group_commit
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.protocol import (
    ContractNotFound,
    CreatedEvent,
    DuplicateCommand,
    InterpretationError,
    InvalidArgument,
    LockedContracts,
    Transaction,
    Unavailable,
)

from .conftest import POSTGRES_ENV, assert_sound
from .test_embedded import holding, issue, split


def _submit_together(
    ledger: EmbeddedLedger,
    calls: list[Callable[[], Transaction]],
    before_release: Callable[[], None] | None = None,
) -> list[Transaction | BaseException]:
    """Run ``calls`` in threads that queue, in order, while the ledger's lock is held,
    then let them go: one group (of up to ``MAX_GROUP``). Each call's transaction or
    error, in order."""
    out: list[Transaction | BaseException | None] = [None] * len(calls)

    def run(k: int) -> None:
        try:
            out[k] = calls[k]()
        except BaseException as exc:
            out[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    with ledger._lock:  # the group is made by holding the lock
        for k, thread in enumerate(threads):
            thread.start()  # one at a time: they queue in the order given
            deadline = time.monotonic() + 10
            while ledger.group_commit.queued < k + 1:
                assert time.monotonic() < deadline, "the submissions did not queue"
                time.sleep(0.001)
        if before_release is not None:
            before_release()
    for thread in threads:
        thread.join()
    assert all(o is not None for o in out)
    return [o for o in out if o is not None]


def _issuer(ledger: EmbeddedLedger, owner: str, command_id: str) -> Callable[[], Transaction]:
    return lambda: ledger.submit([holding(owner)], act_as=["BOJ", owner], command_id=command_id)


def test_queued_submissions_share_one_commit(ledger: EmbeddedLedger) -> None:
    commits = ledger.group_commit.commits
    owners = ["MIZUHO", "NOMURA", "SMBC", "MUFG"]
    results = _submit_together(ledger, [_issuer(ledger, o, f"g-{o}") for o in owners])
    assert ledger.group_commit.commits == commits + 1  # one database commit for four
    assert all(isinstance(r, Transaction) for r in results)
    txs = [r for r in results if isinstance(r, Transaction)]
    assert sorted(tx.offset for tx in txs) == [1, 2, 3, 4]  # each its own offset
    assert len({tx.update_id for tx in txs}) == 4
    for owner, tx in zip(owners, txs, strict=True):
        (event,) = tx.events
        assert isinstance(event, CreatedEvent)
        assert event.arguments["owner"] == owner
        assert [c.contract_id for c in ledger.active_contracts(owner)] == [event.contract_id]
    # the log reads back as four transactions, hash-chained (assert_sound at teardown)
    assert [t.command_id for t in ledger.stored_transactions()] == [
        tx.command_id for tx in sorted(txs, key=lambda t: t.offset)
    ]


def test_a_refused_submission_leaves_the_rest_of_its_group(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger, "MIZUHO", 1000, cid="first")
    missing = cid[:-4] + "0000" if not cid.endswith("0000") else cid[:-4] + "1111"
    results = _submit_together(
        ledger,
        [
            lambda: ledger.submit([split(cid, 400)], act_as=["MIZUHO"], command_id="ok-1"),
            lambda: ledger.submit([split(missing, 1)], act_as=["MIZUHO"], command_id="bad"),
            _issuer(ledger, "NOMURA", "ok-2"),
        ],
    )
    assert isinstance(results[0], Transaction)
    assert isinstance(results[1], ContractNotFound)
    assert isinstance(results[2], Transaction)
    assert [results[0].offset, results[2].offset] == [2, 3]  # the refused one took no offset
    faces = sorted(int(c.arguments["face"]) for c in ledger.active_contracts("MIZUHO"))
    assert faces == [400, 600]
    # the refused one's change id was rolled back with it: it may be submitted again
    fixed = ledger.submit([holding("MIZUHO", 5)], act_as=["BOJ", "MIZUHO"], command_id="bad")
    assert fixed.offset == 4


def test_the_same_command_twice_in_one_group_applies_once(ledger: EmbeddedLedger) -> None:
    results = _submit_together(
        ledger, [_issuer(ledger, "MIZUHO", "twice"), _issuer(ledger, "MIZUHO", "twice")]
    )
    applied = [r for r in results if isinstance(r, Transaction)]
    duplicates = [r for r in results if isinstance(r, DuplicateCommand)]
    assert len(applied) == 1 and len(duplicates) == 1
    assert duplicates[0].completion_offset == applied[0].offset == 1
    assert len(ledger.active_contracts("MIZUHO")) == 1


def test_a_group_that_cannot_commit_fails_every_member(tmp_path: Path) -> None:
    """Nothing of a failed group is on the ledger, every caller hears of it, and each
    may resubmit with the same command id."""
    path = tmp_path / "ledger.db"
    with EmbeddedLedger(str(path)) as ledger:
        ledger.backend._conn.execute("PRAGMA busy_timeout = 50")  # type: ignore[attr-defined]
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        calls = [_issuer(ledger, o, f"c-{o}") for o in ("MIZUHO", "NOMURA", "SMBC")]
        results: list[Any] = _submit_together(ledger, calls)
        assert all(isinstance(r, LockedContracts) for r in results), results
        other.execute("ROLLBACK")
        other.close()
        assert ledger.ledger_end() == 0
        assert [call().offset for call in calls] == [1, 2, 3]
        assert_sound(ledger)


def test_an_interrupted_leader_fails_its_group_cleanly(
    ledger: EmbeddedLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the thread leading a group: the group is rolled back, the leader
    stops, the other members are told to resubmit; nothing is half applied."""
    real = ledger._apply
    calls = 0

    def interrupted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(ledger, "_apply", interrupted)
    results = _submit_together(
        ledger, [_issuer(ledger, o, f"i-{o}") for o in ("MIZUHO", "NOMURA", "SMBC")]
    )
    assert sum(isinstance(r, KeyboardInterrupt) for r in results) == 1  # the leader's own
    others = [r for r in results if not isinstance(r, KeyboardInterrupt)]
    assert all(isinstance(r, Exception) and "resubmit" in str(r) for r in others), others
    assert ledger.ledger_end() == 0
    monkeypatch.undo()
    for owner in ("MIZUHO", "NOMURA", "SMBC"):
        _issuer(ledger, owner, f"i-{owner}")()
    assert ledger.ledger_end() == 3


def test_a_commit_that_fails_after_its_members_applied(tmp_path: Path) -> None:
    """A real write failure at COMMIT (the file may not grow: SQLITE_FULL / IOERR):
    every member fails, even one refused because a group-mate consumed its contract
    (that group-mate is not on the ledger), and nothing of the group is."""
    path = tmp_path / "ledger.db"
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a signal
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    with EmbeddedLedger(str(path)) as ledger:
        cid = issue(ledger, "MIZUHO", 1000, cid="first")
        size = path.with_name(path.name + "-wal").stat().st_size
        try:
            results = _submit_together(
                ledger,
                [
                    lambda: ledger.submit([split(cid, 400)], act_as=["MIZUHO"], command_id="a"),
                    lambda: ledger.submit([split(cid, 300)], act_as=["MIZUHO"], command_id="b"),
                ],
                before_release=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard)),
            )
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)
        assert all(isinstance(r, Unavailable) for r in results), results
        assert ledger.ledger_end() == 1
        assert [c.contract_id for c in ledger.active_contracts("MIZUHO")] == [cid]
        # told to resubmit with the same command id, each applies (b now meets a's split)
        assert ledger.submit([split(cid, 400)], act_as=["MIZUHO"], command_id="a").offset == 2
        with pytest.raises(ContractNotFound):
            ledger.submit([split(cid, 300)], act_as=["MIZUHO"], command_id="b")
        assert_sound(ledger)


def test_a_full_queue_is_committed_in_groups_of_at_most_max_group(
    ledger: EmbeddedLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "MAX_GROUP", 2)
    commits = ledger.group_commit.commits
    owners = [f"BANK{k}" for k in range(5)]
    results = _submit_together(ledger, [_issuer(ledger, o, f"q-{o}") for o in owners])
    assert [r.offset for r in results if isinstance(r, Transaction)] == [1, 2, 3, 4, 5]
    assert ledger.group_commit.commits == commits + 3  # 2 + 2 + 1, in arrival order


def test_an_interrupted_waiter_is_withdrawn(ledger: EmbeddedLedger) -> None:
    """Ctrl-C in a thread waiting for its turn: its submission leaves the queue and is
    never committed (no caller left to answer); the one ahead of it commits."""
    results = [None, None]

    def run(k: int, command_id: str) -> None:
        try:
            results[k] = _issuer(ledger, "MIZUHO", command_id)()
        except BaseException as exc:
            results[k] = exc

    first = threading.Thread(target=run, args=(0, "ahead"))
    second = threading.Thread(target=run, args=(1, "interrupted"))
    with ledger._lock:  # the first reaches the front and waits for the lock
        first.start()
        while ledger.group_commit.queued < 1:
            time.sleep(0.001)
        second.start()
        while ledger.group_commit.queued < 2:
            time.sleep(0.001)
        interrupt = ctypes.py_object(KeyboardInterrupt)
        assert ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(second.ident), interrupt)
        with ledger.group_commit._turn:
            ledger.group_commit._turn.notify_all()  # wake it: the interrupt lands in its wait
        second.join(timeout=10)
        assert isinstance(results[1], KeyboardInterrupt)
        assert ledger.group_commit.queued == 1
    first.join(timeout=10)
    assert isinstance(results[0], Transaction)
    assert [t.command_id for t in ledger.stored_transactions()] == ["ahead"]


def _refuse_command(ledger: EmbeddedLedger, command_id: str) -> None:
    """A trigger that makes the database refuse the log row of ``command_id``."""
    if ledger.backend.dialect == "sqlite":
        ledger.backend.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON transactions"
            f" WHEN NEW.command_id = '{command_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    else:
        ledger.backend.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.command_id = '{command_id}' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$"
        )
        ledger.backend.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON transactions"
            " FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


def test_a_statement_the_database_refuses_fails_that_member_alone(
    ledger: EmbeddedLedger,
) -> None:
    """On PostgreSQL a failed statement aborts the transaction until a rollback to the
    member's savepoint, which recovers it: the others commit."""
    _refuse_command(ledger, "bad")
    results = _submit_together(
        ledger,
        [
            _issuer(ledger, "MIZUHO", "good-1"),
            _issuer(ledger, "NOMURA", "bad"),
            _issuer(ledger, "SMBC", "good-2"),
        ],
    )
    assert isinstance(results[0], Transaction) and isinstance(results[2], Transaction)
    assert isinstance(results[1], Exception) and "refused" in str(results[1])
    assert [t.command_id for t in ledger.stored_transactions()] == ["good-1", "good-2"]


def test_an_interruption_after_the_commit_landed_still_answers_the_group(
    ledger: EmbeddedLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing just after COMMIT returned: the group is on the ledger, so its
    members get their transactions (the leader its interruption)."""
    backend = ledger.backend
    real_commit = backend.commit

    def commit_then_interrupt() -> None:
        real_commit()
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "commit", commit_then_interrupt)
    results = _submit_together(
        ledger, [_issuer(ledger, o, f"l-{o}") for o in ("MIZUHO", "NOMURA", "SMBC")]
    )
    monkeypatch.undo()
    assert isinstance(results[0], KeyboardInterrupt)  # the first queued leads
    assert [r.offset for r in results[1:] if isinstance(r, Transaction)] == [2, 3]
    assert ledger.ledger_end() == 3
    with pytest.raises(DuplicateCommand):  # the leader's own landed too
        _issuer(ledger, "MIZUHO", "l-MIZUHO")()


def test_a_thread_holding_the_ledgers_lock_may_submit(ledger: EmbeddedLedger) -> None:
    """A submitter already inside the ledger's lock commits alone at once (queueing
    would wait for itself) while another waits at the front of the queue."""
    waiting: list[Any] = []
    other = threading.Thread(target=lambda: waiting.append(_issuer(ledger, "NOMURA", "o")()))
    with ledger._lock:
        other.start()
        deadline = time.monotonic() + 10
        while ledger.group_commit.queued < 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        inside = _issuer(ledger, "MIZUHO", "inside")()
        assert inside.offset == 1
    other.join(timeout=10)
    assert isinstance(waiting[0], Transaction) and waiting[0].offset == 2


def test_a_submit_from_inside_a_commit_is_refused(tmp_path: Path) -> None:
    """Code a commit runs (here the ledger's clock) cannot submit: a transaction cannot
    hold another. It is refused, and the outer transaction is unharmed."""
    nested: list[BaseException] = []
    ledger: EmbeddedLedger

    def clock() -> datetime:
        try:
            _issuer(ledger, "NOMURA", "nested")()
        except BaseException as exc:
            nested.append(exc)
        return datetime.now(UTC)

    with EmbeddedLedger(str(tmp_path / "l.db"), clock=clock) as ledger:
        tx = ledger.submit([holding("MIZUHO")], act_as=["BOJ", "MIZUHO"], command_id="outer")
        assert tx.offset == 1 and ledger.ledger_end() == 1
        assert isinstance(nested[0], InterpretationError)
        assert "cannot contain another" in str(nested[0])
        assert_sound(ledger)


def test_an_overlong_command_id_is_refused_before_it_queues(ledger: EmbeddedLedger) -> None:
    with pytest.raises(InvalidArgument, match=r"commandId: 256 characters; at most 255"):
        _issuer(ledger, "MIZUHO", "c" * 256)()
    assert _issuer(ledger, "MIZUHO", "c" * 255)().offset == 1


def test_a_lost_postgresql_connection_is_opened_again(ledger: EmbeddedLedger) -> None:
    """The server ends the ledger's session (a restart, an operator's kill): the next
    transaction opens a new connection, instead of every call failing for ever."""
    if ledger.backend.dialect != "postgresql":
        pytest.skip("a PostgreSQL session to lose")
    import psycopg

    pid = ledger.backend.query("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(Unavailable):
        _issuer(ledger, "MIZUHO", "first")()  # the loss is found by this one
    assert _issuer(ledger, "MIZUHO", "first")().offset == 1  # resubmitted: a new session
