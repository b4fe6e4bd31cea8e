"""The embedded ledger's Canton semantics: atomicity, authorization, privacy,
deduplication, contention, offsets, projections, durability."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger_adapter.embedded import EmbeddedLedger, UserRights
from ledger_adapter.model import HOLDING, HOLDINGS_COLUMN, PLEDGE_AGREEMENT
from ledger_adapter.protocol import (
    ArchivedEvent,
    AuthorizationError,
    ContractNotFound,
    CreateCommand,
    CreatedEvent,
    DuplicateCommand,
    ExerciseCommand,
    ExercisedEvent,
    InterpretationError,
    InvalidArgument,
    Ledger,
    PermissionDenied,
    TransactionShape,
)

from .conftest import ISIN, POSTGRES_ENV, assert_sound

H = HOLDING.template_id


def holding(owner: str = "MIZUHO", face: int = 1000, isin: str = ISIN[0]) -> CreateCommand:
    return CreateCommand(
        H,
        {
            "registrar": "BOJ",
            "owner": owner,
            "account": f"{owner}-01",
            "isin": isin,
            "face": str(face),
            "column": HOLDINGS_COLUMN,
            "pledgee": None,
        },
    )


def issue(ledger: Ledger, owner: str = "MIZUHO", face: int = 1000, cid: str = "issue") -> str:
    tx = ledger.submit([holding(owner, face)], act_as=["BOJ", owner], command_id=cid)
    (event,) = tx.events
    assert isinstance(event, CreatedEvent)
    return event.contract_id


def split(cid: str, face: int) -> ExerciseCommand:
    return ExerciseCommand(H, cid, "Holding_Split", {"splitFace": str(face)})


def test_postgres_backend_is_configured() -> None:
    """Every ledger test also runs on PostgreSQL when a server is given."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:port/db"
            " (each test gets its own schema)"
        )


def test_is_a_ledger(ledger: EmbeddedLedger) -> None:
    assert isinstance(ledger, Ledger)
    assert ledger.ledger_end() == 0
    assert ledger.active_contracts("MIZUHO") == ()


def test_create_needs_every_signatory(ledger: EmbeddedLedger) -> None:
    with pytest.raises(AuthorizationError, match="signatories"):
        ledger.submit([holding()], act_as=["MIZUHO"], command_id="c1")
    assert ledger.ledger_end() == 0


def test_exercise_needs_the_controllers(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    # BOJ (registrar) sees the holding but is not its controller
    with pytest.raises(AuthorizationError, match="controllers"):
        ledger.submit([split(cid, 10)], act_as=["BOJ"], command_id="c2")
    tx = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="c3")
    assert tx.archived_contract_ids() == (cid,)
    assert sorted(int(e.arguments["face"]) for e in tx.created()) == [10, 990]


def test_a_transaction_is_all_or_nothing(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    end = ledger.ledger_end()
    too_big = ExerciseCommand(H, cid, "Holding_Split", {"splitFace": "99999"})
    with pytest.raises(InterpretationError, match="splitFace"):
        ledger.submit(
            [holding("NOMURA"), too_big],  # the create is valid; the split is not
            act_as=["BOJ", "MIZUHO", "NOMURA"],
            command_id="c4",
        )
    assert ledger.ledger_end() == end
    assert [c.contract_id for c in ledger.active_contracts(["MIZUHO", "NOMURA"])] == [cid]


def test_consumed_contract_in_the_same_transaction_is_not_found(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    with pytest.raises(ContractNotFound) as err:
        ledger.submit([split(cid, 10), split(cid, 20)], act_as=["MIZUHO"], command_id="c5")
    assert err.value.contract_ids == (cid,)


def test_contention_names_the_contract_and_changes_nothing(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="first")
    end = ledger.ledger_end()
    with pytest.raises(ContractNotFound) as err:
        ledger.submit([split(cid, 20)], act_as=["MIZUHO"], command_id="second")
    assert err.value.code == "CONTRACT_NOT_FOUND"
    assert cid in str(err.value) and err.value.contract_ids == (cid,)
    assert ledger.ledger_end() == end


def test_privacy_a_non_stakeholder_sees_nothing_and_cannot_use_it(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    issue(ledger, "NOMURA", cid="issue-nomura")
    assert {c.arguments["owner"] for c in ledger.active_contracts("NOMURA")} == {"NOMURA"}
    assert len(ledger.active_contracts("BOJ")) == 2  # the registrar keeps both accounts
    assert all(e.witness_parties == ("NOMURA",) for e in ledger.active_contracts("NOMURA"))
    # exercising another's contract: not found, exactly as for an archived one
    with pytest.raises(ContractNotFound) as err:
        ledger.submit([split(cid, 1)], act_as=["NOMURA"], command_id="peek")
    assert err.value.contract_ids == (cid,)
    # the update stream is a projection too
    updates = list(ledger.updates(0, "NOMURA"))
    assert [u.offset for u in updates] == [2]
    assert updates[0].command_id == "issue-nomura"
    for tx in ledger.updates(0, "BOJ"):
        assert tx.command_id in {"issue", "issue-nomura"}


def test_command_id_shown_only_to_submitters(ledger: EmbeddedLedger) -> None:
    ledger.submit(
        [
            CreateCommand(
                PLEDGE_AGREEMENT.template_id,
                {
                    "pledgor": "MIZUHO",
                    "pledgee": "JSCC",
                    "registrar": "BOJ",
                    "agreementId": "a",
                    "scheduleId": "JSCC",
                },
            )
        ],
        act_as=["MIZUHO", "JSCC"],
        command_id="agree",
    )
    cid = issue(ledger)
    (tx,) = list(ledger.updates(1, "BOJ"))
    assert tx.command_id == "issue"
    ledger.submit([split(cid, 1)], act_as=["MIZUHO"], command_id="split")
    (as_boj,) = list(ledger.updates(2, "BOJ"))
    assert as_boj.command_id is None  # BOJ saw it but did not submit it


def test_deduplication_returns_the_original_outcome(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    first = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="dup")
    with pytest.raises(DuplicateCommand) as err:
        ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="dup", submission_id="s2")
    assert err.value.code == "DUPLICATE_COMMAND"
    assert err.value.completion_offset == first.offset
    assert err.value.original is not None
    assert err.value.original.update_id == first.update_id
    assert err.value.original.events == first.events
    assert ledger.ledger_end() == first.offset


def test_change_id_includes_user_and_act_as(ledger: EmbeddedLedger) -> None:
    a = issue(ledger, "MIZUHO", cid="same")
    b = issue(ledger, "NOMURA", cid="same")  # other act_as set: another change
    assert a != b
    c = ledger.submit(
        [holding("MIZUHO")], act_as=["BOJ", "MIZUHO"], command_id="same", user_id="other-user"
    )
    assert c.offset == 3


def test_deduplication_window_expires(tmp_path: Path) -> None:
    now = [datetime(2026, 7, 1, tzinfo=UTC)]
    with EmbeddedLedger(str(tmp_path / "w.db"), clock=lambda: now[0]) as ledger:
        issue(ledger, cid="again")
        with pytest.raises(DuplicateCommand):
            issue(ledger, cid="again")
        now[0] += timedelta(minutes=10)
        with pytest.raises(DuplicateCommand):
            ledger.submit(
                [holding()],
                act_as=["BOJ", "MIZUHO"],
                command_id="again",
                deduplication_window=timedelta(minutes=11),
            )
        tx = ledger.submit(
            [holding()],
            act_as=["BOJ", "MIZUHO"],
            command_id="again",
            deduplication_window=timedelta(minutes=5),
        )
        assert tx.offset == 2
        with pytest.raises(InvalidArgument, match="exceeds the maximum"):
            ledger.submit(
                [holding()],
                act_as=["BOJ", "MIZUHO"],
                command_id="x",
                deduplication_window=timedelta(days=30),
            )
        assert_sound(ledger)


def test_a_failed_submission_claims_no_change_id(tmp_path: Path) -> None:
    """The change id is claimed before interpretation: a failure must take the claim
    back, both for a new id and for the takeover of an expired one."""
    now = [datetime(2026, 7, 1, tzinfo=UTC)]
    with EmbeddedLedger(str(tmp_path / "f.db"), clock=lambda: now[0]) as ledger:
        cid = issue(ledger)
        ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="old")
        dedup = "SELECT command_id, ledger_offset, recorded_at FROM command_dedup ORDER BY 1"
        before = ledger.backend.query(dedup)
        now[0] += timedelta(minutes=10)
        for command_id in ("new", "old"):  # a new id; an expired one taken over
            with pytest.raises(ContractNotFound):
                ledger.submit(
                    [split(cid, 20)],
                    act_as=["MIZUHO"],
                    command_id=command_id,
                    deduplication_window=timedelta(minutes=5),
                )
        assert ledger.backend.query(dedup) == before
        fresh = issue(ledger, cid="fresh")
        tx = ledger.submit([split(fresh, 20)], act_as=["MIZUHO"], command_id="new")
        assert tx.offset == 4
        assert_sound(ledger)


@pytest.mark.parametrize("n", [3, 57, 105, 213])
def test_contract_rows_of_any_count(ledger: EmbeddedLedger, n: int) -> None:
    """Rows go 100 to a statement, a few left over as one statement, more one a
    statement: every count lands (the fixture verifies the tables against the log)."""
    tx = ledger.submit(
        [holding(face=i + 1) for i in range(n)], act_as=["BOJ", "MIZUHO"], command_id="mint"
    )
    cids = [e.contract_id for e in tx.created()]
    assert len(cids) == n
    archive = [ExerciseCommand(H, cid, "Archive", {}) for cid in cids[: n - 2]]
    ledger.submit(archive, act_as=["BOJ", "MIZUHO"], command_id="burn")
    assert [c.contract_id for c in ledger.active_contracts("MIZUHO")] == cids[n - 2 :]


def test_contracts_with_codes_another_writer_made_are_read(ledger_url: str) -> None:
    """Contract rows are read without joining the code tables: a template and party set
    coded by another writer are looked up, then remembered."""
    with EmbeddedLedger(ledger_url) as first, EmbeddedLedger(ledger_url) as second:
        issue(first)  # first knows the Holding template and (BOJ, MIZUHO)
        cid = issue(second, "NOMURA", cid="by-second")  # a party set first never coded
        tx = first.submit([split(cid, 10)], act_as=["NOMURA"], command_id="split")
        assert sorted(e.arguments["face"] for e in tx.created()) == ["10", "990"]
        assert_sound(first)


def test_offsets_increase_and_history_is_queryable(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    tx = ledger.submit([split(cid, 10)], act_as=["MIZUHO"], command_id="s")
    assert tx.offset == 2 == ledger.ledger_end()
    assert [c.contract_id for c in ledger.active_contracts("MIZUHO", at_offset=1)] == [cid]
    assert {c.contract_id for c in ledger.active_contracts("MIZUHO", at_offset=2)} == {
        e.contract_id for e in tx.created()
    }
    assert ledger.active_contracts("MIZUHO", at_offset=0) == ()
    with pytest.raises(InvalidArgument, match="after the ledger end"):
        ledger.active_contracts("MIZUHO", at_offset=3)
    assert [t.offset for t in ledger.updates(1, "MIZUHO")] == [2]
    assert [t.offset for t in ledger.updates(0, "MIZUHO", end_inclusive=1)] == [1]


def test_ledger_effects_shape_shows_exercises(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    tx = ledger.submit(
        [split(cid, 10)],
        act_as=["MIZUHO"],
        command_id="s",
        transaction_shape=TransactionShape.LEDGER_EFFECTS,
    )
    kinds = [type(e).__name__ for e in tx.events]
    assert kinds == ["ExercisedEvent", "CreatedEvent", "CreatedEvent"]
    exercise = tx.events[0]
    assert isinstance(exercise, ExercisedEvent)
    assert exercise.choice == "Holding_Split" and exercise.consuming
    assert exercise.acting_parties == ("MIZUHO",) and exercise.last_descendant_node_id == 2
    acs = next(iter(ledger.updates(1, "MIZUHO")))
    assert [type(e) for e in acs.events] == [ArchivedEvent, CreatedEvent, CreatedEvent]


def test_user_rights_are_enforced(tmp_path: Path) -> None:
    rights = {"mizuho-ops": UserRights(frozenset({"MIZUHO"}))}
    with EmbeddedLedger(str(tmp_path / "r.db"), user_rights=rights) as ledger:
        with pytest.raises(PermissionDenied, match="no CanActAs right"):
            ledger.submit(
                [holding()], act_as=["BOJ", "MIZUHO"], command_id="x", user_id="mizuho-ops"
            )
        with pytest.raises(PermissionDenied, match="not known"):
            ledger.submit([holding()], act_as=["MIZUHO"], command_id="x", user_id="nobody")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (CreateCommand(H, {"registrar": "BOJ"}), "missing field"),
        (CreateCommand("#nope:M:T", {}), "unknown template"),
        (CreateCommand(H, {**holding().arguments, "face": 10}), "Int64 as a string"),
        (CreateCommand(H, {**holding().arguments, "face": "1e3"}), "Int64 as a string"),
        (CreateCommand(H, {**holding().arguments, "column": "Side"}), "is not one of"),
        (CreateCommand(H, {**holding().arguments, "extra": "x"}), "unknown field"),
        (ExerciseCommand(H, "00ab", "Holding_Fly", {}), "no choice"),
    ],
)
def test_bad_commands_are_invalid_arguments(
    ledger: EmbeddedLedger, command: Any, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ledger.submit([command], act_as=["BOJ", "MIZUHO"], command_id="bad")
    assert ledger.ledger_end() == 0


def test_ensure_clause_is_checked(ledger: EmbeddedLedger) -> None:
    with pytest.raises(InterpretationError, match="precondition"):
        ledger.submit([holding(face=0)], act_as=["BOJ", "MIZUHO"], command_id="zero")


def test_empty_submission_is_rejected(ledger: EmbeddedLedger) -> None:
    with pytest.raises(InvalidArgument, match="commands"):
        ledger.submit([], act_as=["MIZUHO"], command_id="none")
    with pytest.raises(InvalidArgument, match="commandId"):
        ledger.submit([holding()], act_as=["MIZUHO"], command_id="")


def test_state_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    with EmbeddedLedger(url) as ledger:
        cid = issue(ledger)
        ledger_id = ledger.ledger_id
    with EmbeddedLedger(url) as reopened:
        assert reopened.ledger_id == ledger_id
        assert [c.contract_id for c in reopened.active_contracts("MIZUHO")] == [cid]
        with pytest.raises(DuplicateCommand):
            issue(reopened)
        assert_sound(reopened)


def test_bad_urls_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unsupported ledger URL"):
        EmbeddedLedger("mysql://x")
    with pytest.raises(InvalidArgument, match="does not exist"):
        EmbeddedLedger(str(tmp_path / "missing" / "x.db"))


def test_threads_share_one_ledger_safely(ledger: EmbeddedLedger) -> None:
    """An HTTP server may submit from several threads: each transaction stays whole
    (committed alone or in a group, ``ledger_adapter.group_commit``), reads between."""
    import threading

    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                cid = issue(ledger, f"BANK{k}", cid=f"t{k}-{i}")
                ledger.submit([split(cid, 1)], act_as=[f"BANK{k}"], command_id=f"s{k}-{i}")
                ledger.active_contracts(f"BANK{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert ledger.ledger_end() == 80
    assert len(ledger.active_contracts("BOJ")) == 80
    for k in range(4):  # each thread's own contracts as it made them, whatever the groups
        faces = sorted(int(c.arguments["face"]) for c in ledger.active_contracts(f"BANK{k}"))
        assert faces == [1] * 10 + [999] * 10
