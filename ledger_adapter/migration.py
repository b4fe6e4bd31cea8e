"""Migrating a ledger to the current schema, keeping every hash of its chain.

Version 1 (the first release) kept the log's nodes as JSON text in the middle of the
row and keyed the active contracts by their id as text. Version 2
(:mod:`ledger_adapter.storage`) stores the nodes last in the row (compressed when
large) and keys contracts by the integer their id begins with. The hash chain covers
the nodes' JSON text, which the migration stores unchanged, so every ``tx_hash`` (and the
head an operator anchored elsewhere) stays what it was; :func:`migrate_to_current`
checks the head after the copy.

The whole migration is one database transaction holding the ledger's write lock: a
crash or an error leaves the version 1 ledger as it was. It refuses (changing nothing)
a contract whose id does not begin with its offset and node id, which no ledger of
this project made.

Stop every process of the older tanpo first (their statements would meet the new
tables and fail), then run it once, after a backup::

    python -m ledger_adapter.migration sqlite:///path/to/ledger.db

or open the ledger with ``EmbeddedLedger(url, migrate=True)``.

**Obligations written before covers.** The collateral value pledged to an
obligation is its ``ObligationCover``, which the cover check reads; a ledger written
before has none, and the ledger refuses every rebalance step that moves such an
obligation's pledges (the executor names it before submitting), rather than check
cover against nothing. :func:`migrate_obligations` creates each missing cover (its
pledgee, with the value of the obligation's live pledges at its valuation; one
transaction per pledgee); the obligations themselves are untouched. The schema migration does not do
this (it keeps every hash and writes no transaction)::

    python -m ledger_adapter.migration --obligations sqlite:///path/to/ledger.db
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger_adapter.codes import Codes
from ledger_adapter.encoding import contract_key, parties_of_columns, stored_nodes
from ledger_adapter.errors import InvalidArgument, LedgerError
from ledger_adapter.model import MARGIN_OBLIGATION, OBLIGATION_COVER, PLEDGE
from ledger_adapter.model.obligation import cover_create_args, cover_of, numeric_text
from ledger_adapter.protocol import Command, CreateCommand
from ledger_adapter.storage import SCHEMA_VERSION, Backend, open_backend, stored_schema_version

if TYPE_CHECKING:
    from ledger_adapter.embedded import EmbeddedLedger

_PAGE = 500  # log rows copied at a time


def _head(db: Backend, table: str) -> tuple[int, str] | None:
    rows = db.query(
        f"SELECT ledger_offset, tx_hash FROM {table} ORDER BY ledger_offset DESC LIMIT 1"
    )
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _check_contract_ids(db: Backend) -> None:
    for cid, offset, node in db.query(
        "SELECT contract_id, created_offset, created_node FROM active_contracts"
    ):
        parsed = contract_key(cid)
        if parsed is None or parsed[0] != (int(offset) << 24) + int(node):
            raise InvalidArgument(
                f"contract {cid} (created at offset {offset}, node {node}) does not have an"
                " id of the form 00 + offset + node id (+ 46 hex digits); not migrated",
                field="ledger",
            )


def _copy_log(db: Backend) -> None:
    after = 0
    while True:
        rows = db.query(
            "SELECT ledger_offset, update_id, command_id, user_id, act_as, submission_id,"
            " workflow_id, effective_at, prev_hash, tx_hash, nodes FROM transactions"
            f" WHERE ledger_offset > ? ORDER BY ledger_offset LIMIT {_PAGE}",
            (after,),
        )
        if not rows:
            return
        db.executemany(
            "INSERT INTO transactions_v2 (ledger_offset, update_id, command_id, user_id,"
            " act_as, submission_id, workflow_id, effective_at, prev_hash, tx_hash, nodes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row[:10], stored_nodes(str(row[10]).encode())) for row in rows],
        )
        after = rows[-1][0]


def _copy_contracts(db: Backend) -> None:
    codes = Codes(db)
    rows = [
        (
            int(cid[2:20], 16),
            bytes.fromhex(cid[20:]),
            codes.template(template_id),
            codes.party_set(parties_of_columns(signatories, observers)),
            arguments,
        )
        for cid, template_id, arguments, signatories, observers in db.query(
            "SELECT contract_id, template_id, arguments, signatories, observers"
            " FROM active_contracts ORDER BY created_offset, created_node"
        )
    ]
    db.executemany(
        "INSERT INTO active_contracts_v2 (contract_key, discriminator, template, party_set,"
        " arguments) VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def _from_version_1(db: Backend) -> None:
    _check_contract_ids(db)
    head = _head(db, "transactions")
    db.create_schema(suffix="_v2")
    _copy_log(db)
    _copy_contracts(db)
    if _head(db, "transactions_v2") != head:
        raise LedgerError(f"migration copied the log to a different head than {head}")
    for table in ("transactions", "active_contracts"):
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_v2 RENAME TO {table}")
    db.execute("UPDATE ledger_meta SET schema_version = 2 WHERE id = 1")


def migrate_to_current(db: Backend, version: int) -> None:
    """Migrate the ledger in ``db`` from schema ``version`` to :data:`SCHEMA_VERSION`
    in one transaction (a concurrent migration of the same ledger waits, then finds
    nothing to do)."""
    if version != 1:
        raise InvalidArgument(f"no migration from schema version {version}", field="ledger")
    db.begin_write()
    try:
        if stored_schema_version(db) == 1:
            _from_version_1(db)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def obligation_migration_commands(ledger: EmbeddedLedger) -> dict[str, list[Command]]:
    """Per pledgee, the creates of the covers its obligations lack, each with the
    collateral value of the obligation's active pledges (same obligation id, pledgor
    and pledgee) at its valuation."""
    templates = (MARGIN_OBLIGATION.template_id, OBLIGATION_COVER.template_id, PLEDGE.template_id)
    rows = ledger.stored_contracts(templates)
    live: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
    covered: set[tuple[str, str, str]] = set()
    obligations: list[dict[str, Any]] = []
    for r in rows:
        a: dict[str, Any] = json.loads(r.arguments_json)
        key = (a["obligationId"], a["pledgor"], a["pledgee"])
        if r.template_id == PLEDGE.template_id:
            live[key].append((a["isin"], int(a["face"])))
        elif r.template_id == OBLIGATION_COVER.template_id:
            covered.add(key)
        else:
            obligations.append(a)
    commands: dict[str, list[Command]] = defaultdict(list)
    for o in obligations:
        key = (o["obligationId"], o["pledgor"], o["pledgee"])
        if key in covered:
            continue
        covered.add(key)
        args = cover_create_args(o["pledgee"], o["pledgor"], o["obligationId"])
        args["value"] = numeric_text(cover_of(o["valuation"], live.get(key, [])))
        commands[o["pledgee"]].append(CreateCommand(OBLIGATION_COVER.template_id, args))
    return dict(commands)


def migrate_obligations(ledger: EmbeddedLedger, *, user_id: str = "tanpo") -> int:
    """Create the cover of every obligation written before covers (module docstring);
    one transaction per pledgee, idempotent (a second run finds none). Returns how many."""
    done = 0
    for pledgee, commands in sorted(obligation_migration_commands(ledger).items()):
        ledger.submit(
            commands,
            act_as=[pledgee],
            command_id=f"migrate-pledged-{pledgee}-{ledger.ledger_end()}",
            user_id=user_id,
        )
        done += len(commands)
    return done


def _refuse_no_ledger(url: str) -> None:
    """A URL naming no ledger (a typo'd file, an empty database) is an error, not a new
    empty ledger reported as migrated."""
    if not url.startswith(("postgresql://", "postgres://")):
        path = Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url)
        if not path.exists():
            raise InvalidArgument(f"{url}: no ledger there, nothing to migrate", field="ledger")
    backend = open_backend(url)
    try:
        if stored_schema_version(backend) is None:
            raise InvalidArgument(f"{url}: no ledger there, nothing to migrate", field="ledger")
    finally:
        backend.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m ledger_adapter.migration [--obligations] URL``: migrate the schema
    (and, with ``--obligations``, create the covers of obligations written before them), verify,
    print the head."""
    from ledger_adapter.embedded import EmbeddedLedger
    from ledger_adapter.integrity import verify

    args = sys.argv[1:] if argv is None else argv
    obligations = "--obligations" in args
    args = [a for a in args if a != "--obligations"]
    if len(args) != 1:
        sys.stderr.write("usage: python -m ledger_adapter.migration [--obligations] LEDGER_URL\n")
        return 2
    migrated = 0
    try:
        _refuse_no_ledger(args[0])
        with EmbeddedLedger(args[0], migrate=True) as ledger:
            if obligations:
                migrated = migrate_obligations(ledger)
            report = verify(ledger)
    except LedgerError as exc:
        sys.stderr.write(f"tanpo: {exc}\n")
        return 1
    status = "ok" if report.ok else "PROBLEMS: " + "; ".join(report.problems)
    if obligations:
        sys.stdout.write(f"{migrated} obligations given their cover\n")
    sys.stdout.write(
        f"schema version {SCHEMA_VERSION}; {report.transactions} transactions,"
        f" {report.contracts} active contracts; head {report.head_hash}; verify {status}\n"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
