"""Schema versions: a version 1 ledger is refused with a message, or migrated keeping
every hash; a newer one is refused.

``data/ledger_v1.db`` was written by the version 1 code (the commit before schema
version 2): the small book loaded, a one-group plan executed, a split, four
transactions. Among its contracts are ids of 20 characters (the version 1 interpreter
gave a create in a block of nodes that began with an exercise no discriminator); the
migration keeps them and the ledger finds them. On PostgreSQL the same rows are
written into the version 1 tables (:data:`V1_TABLES`, the version 1 DDL). Its
obligations were written before ``ObligationCover`` existed: their pledges cannot be
moved until :func:`migrate_obligations` creates their covers.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger_adapter.book import parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import InterpretationError, InvalidArgument
from ledger_adapter.executor import PlanRejectedError, execute_plan
from ledger_adapter.integrity import verify
from ledger_adapter.invariants import cover_value_violations
from ledger_adapter.margin_call import call_margin
from ledger_adapter.migration import main, migrate_obligations
from ledger_adapter.model import HOLDING, HOLDINGS_COLUMN, PLEDGE, PLEDGE_AGREEMENT
from ledger_adapter.plan import parse_plan
from ledger_adapter.protocol import ExerciseCommand
from ledger_adapter.rebalance import LiveState
from ledger_adapter.storage import open_backend
from valuation.errors import InputError

from .conftest import BACKENDS, ISIN, _postgres_url, assert_sound, make_plan, small_book

V1_FILE = Path(__file__).parent / "data" / "ledger_v1.db"
V1_HEAD = "0a757a3a3c6b0168d7780f3b06fa140a16dad3a5f0126fa1e9f1d38ea94441bf"
V1_TABLES = """
CREATE TABLE ledger_meta (id INTEGER PRIMARY KEY, schema_version INTEGER NOT NULL,
    ledger_id TEXT NOT NULL);
CREATE TABLE transactions (ledger_offset BIGINT PRIMARY KEY, update_id TEXT NOT NULL,
    command_id TEXT, user_id TEXT, act_as TEXT NOT NULL, submission_id TEXT,
    workflow_id TEXT, effective_at TEXT NOT NULL, nodes TEXT NOT NULL,
    prev_hash TEXT NOT NULL, tx_hash TEXT NOT NULL);
CREATE TABLE active_contracts (contract_id TEXT PRIMARY KEY, template_id TEXT NOT NULL,
    arguments TEXT NOT NULL, signatories TEXT NOT NULL, observers TEXT NOT NULL,
    stakeholders TEXT NOT NULL, created_offset BIGINT NOT NULL, created_node INTEGER NOT NULL);
CREATE TABLE command_dedup (user_id TEXT NOT NULL, act_as TEXT NOT NULL,
    command_id TEXT NOT NULL, ledger_offset BIGINT NOT NULL, submission_id TEXT,
    recorded_at TEXT NOT NULL, PRIMARY KEY (user_id, act_as, command_id))
"""
TABLES = ("ledger_meta", "transactions", "active_contracts", "command_dedup")


def _v1_rows() -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(V1_FILE) as conn:
        return {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}


@pytest.fixture(params=BACKENDS)
def v1_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A version 1 ledger: the file itself, or its rows in version 1 tables on PostgreSQL."""
    if request.param == "sqlite":
        shutil.copy(V1_FILE, tmp_path / "v1.db")
        yield f"sqlite:///{tmp_path / 'v1.db'}"
        return
    for url in _postgres_url():
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in V1_TABLES.split(";"):
                conn.execute(statement)
            for table, rows in _v1_rows().items():
                marks = ", ".join(["%s"] * len(rows[0]))
                with conn.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        yield url


def _active_v1() -> set[tuple[Any, ...]]:
    return {row[:5] for row in _v1_rows()["active_contracts"]}


def test_a_version_1_ledger_is_refused_with_the_way_to_migrate_it(v1_url: str) -> None:
    with pytest.raises(InvalidArgument, match="schema version 1") as err:
        EmbeddedLedger(v1_url)
    assert "python -m ledger_adapter.migration" in str(err.value)
    db = open_backend(v1_url)
    assert db.query("SELECT schema_version FROM ledger_meta")[0][0] == 1
    assert not db.has_table("templates")  # nothing was changed
    db.close()


def test_migration_keeps_every_hash_and_contract(v1_url: str) -> None:
    with EmbeddedLedger(v1_url, migrate=True) as ledger:
        report = verify(ledger)
        assert report.ok, report.problems
        assert (report.transactions, report.head_hash) == (4, V1_HEAD)
        stored = {
            (c.contract_id, c.template_id, c.arguments_json, c.signatories, c.observers)
            for c in ledger.stored_contracts()
        }
        assert stored == _active_v1()
        assert any(len(cid) == 20 for cid, *_ in stored)
        assert migrate_obligations(ledger) == 3  # the covers of the obligations
        assert_sound(ledger)
        # the migrated ledger goes on: split a contract with a 20-character id
        short = next(
            c
            for c in ledger.active_contracts("NOMURA", HOLDING.template_id)
            if len(c.contract_id) == 20 and c.arguments["column"] == HOLDINGS_COLUMN
        )
        split = ExerciseCommand(
            HOLDING.template_id, short.contract_id, "Holding_Split", {"splitFace": "1000"}
        )
        tx = ledger.submit([split], act_as=["NOMURA"], command_id="after-migration")
        assert tx.offset == 7 and all(len(e.contract_id) == 66 for e in tx.created())
        assert_sound(ledger)
    with EmbeddedLedger(v1_url) as reopened:  # version 2 now: no flag needed
        assert reopened.ledger_end() == 7


def test_an_obligation_without_a_cover_is_refused_until_migrated(v1_url: str) -> None:
    """Its cover cannot be checked (the cover is what the check reads): a plan moving
    its pledges is refused before submitting, naming it and the migration, and the
    ledger refuses the step too; the migration creates each cover with the value of the
    obligation's live pledges at its valuation (the invariant check holds it to them),
    the plan then goes through; a second run finds
    nothing."""
    with EmbeddedLedger(v1_url, migrate=True) as ledger:
        assert len(cover_value_violations(ledger)) == 3
        revalued = small_book()
        revalued["securities"][0]["dirty_price"] = 80.0
        with pytest.raises(InputError, match="no ObligationCover") as refused:
            call_margin(ledger, parse_book(revalued))  # nothing to recompute
        assert refused.value.field == "id" and "--obligations" in str(refused.value)
        pledges = [
            c
            for c in ledger.active_contracts(["MIZUHO"], PLEDGE.template_id)
            if c.arguments["obligationId"] == "MZH-JSCC"
            and (c.arguments["account"], c.arguments["isin"]) == ("MZH-01", ISIN[0])
        ]
        pledge, face = pledges[0], sum(int(p.arguments["face"]) for p in pledges)
        moves = [("release", "MZH-JSCC", "MZH-01", ISIN[0], 1000, 1)]
        held = LiveState.read(ledger, ["MIZUHO"]).pledged()
        after = [
            (o, acc, i, f - 1000 if (acc, i) == ("MZH-01", ISIN[0]) else f)
            for (o, acc, i), f in held.items()
            if o == "MZH-JSCC"
        ]
        assert face == held[("MZH-JSCC", "MZH-01", ISIN[0])]
        plan = parse_plan(make_plan(moves, after))
        with pytest.raises(PlanRejectedError, match="no ObligationCover") as err:
            execute_plan(ledger, plan, parties=["MIZUHO"])
        assert "MZH-JSCC" in str(err.value) and "--obligations" in str(err.value)
        state = LiveState.read(ledger, ["MIZUHO"])
        (agreement,) = (v for k, v in state.agreements.items() if k[1] == "JSCC")
        step = {
            "obligationCids": [state.obligations["MZH-JSCC"].contract_id],
            "coverCids": [],
            "releases": [{"pledgeCid": pledge.contract_id, "face": "1000"}],
            "pledges": [],
            "pool": [],
        }
        rebalance = ExerciseCommand(
            PLEDGE_AGREEMENT.template_id, agreement, "PledgeAgreement_Rebalance", step
        )
        with pytest.raises(InterpretationError, match="needs the ObligationCover of MZH-JSCC"):
            ledger.submit([rebalance], act_as=["MIZUHO"], command_id="no-cover")
        assert migrate_obligations(ledger) == 3
        assert migrate_obligations(ledger) == 0
        assert_sound(ledger)  # each obligation has one cover, equal to its live pledges
        assert execute_plan(ledger, plan, parties=["MIZUHO"]).reconciled
        assert_sound(ledger)


def test_the_migration_command_reports_the_head(
    v1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([v1_url]) == 0
    out = capsys.readouterr().out
    assert V1_HEAD in out and "4 transactions" in out and "verify ok" in out
    assert main([v1_url]) == 0  # a second run finds nothing to do
    assert main(["--obligations", v1_url]) == 0
    assert "3 obligations given their cover" in capsys.readouterr().out


def test_a_contract_id_not_made_by_this_ledger_stops_the_migration(v1_url: str) -> None:
    db = open_backend(v1_url)
    db.execute(
        "UPDATE active_contracts SET contract_id = ?"
        " WHERE contract_id = (SELECT MIN(contract_id) FROM active_contracts)",
        ("00" + "e" * 64,),
    )
    db.close()
    with pytest.raises(InvalidArgument, match="not migrated"):
        EmbeddedLedger(v1_url, migrate=True)
    db = open_backend(v1_url)
    assert db.query("SELECT schema_version FROM ledger_meta")[0][0] == 1
    db.close()


def test_a_newer_ledger_is_refused(ledger_url: str) -> None:
    EmbeddedLedger(ledger_url).close()
    db = open_backend(ledger_url)
    db.execute("UPDATE ledger_meta SET schema_version = 3")
    db.close()
    with pytest.raises(InvalidArgument, match="newer"):
        EmbeddedLedger(ledger_url)


def test_migrating_no_ledger_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo'd path used to become a new empty ledger, reported "verify ok", exit 0."""
    missing = tmp_path / "ledger_v1.db.bak"
    assert main([f"sqlite:///{missing}"]) == 1
    assert "no ledger there, nothing to migrate" in capsys.readouterr().err
    assert not missing.exists()
    (tmp_path / "empty.db").touch()
    assert main([f"sqlite:///{tmp_path / 'empty.db'}"]) == 1
    with sqlite3.connect(tmp_path / "empty.db") as db:  # no ledger made in it
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
