"""The embedded ledger: the ``Ledger`` protocol on SQLite (default) or PostgreSQL.

``EmbeddedLedger("sqlite:///book.db")`` is all it takes: the schema is created on first
use. One :meth:`~EmbeddedLedger.submit` is one database transaction holding the
ledger's write lock: check deduplication, interpret the commands
(:mod:`ledger_adapter.engine`), append the transaction to the hash-chained log, update
the contract table, commit (one fsync). Interpretation failures roll everything back,
so a transaction applies entirely or not at all; a crash at any instant leaves the
database as before or as after the commit (SQLite WAL / PostgreSQL WAL recovery).

Reads are projections for the parties asked (:mod:`ledger_adapter.projection`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ledger_adapter.engine import Contract, interpret
from ledger_adapter.errors import DuplicateCommand, InvalidArgument, PermissionDenied
from ledger_adapter.integrity import (
    GENESIS_HASH,
    LogRow,
    parse_party_list,
    party_list,
    stakeholder_key,
    transaction_hash,
)
from ledger_adapter.model import TEMPLATES, TYPES
from ledger_adapter.projection import project
from ledger_adapter.protocol import (
    DEFAULT_USER_ID,
    Command,
    CreatedEvent,
    Parties,
    Transaction,
    TransactionShape,
    party_set,
)
from ledger_adapter.storage import SCHEMA_VERSION, Backend, open_backend
from ledger_adapter.templates import Template, TypeChecker

T = TypeVar("T")

MAX_DEDUPLICATION_WINDOW = timedelta(days=7)
"""Canton's default maximum deduplication duration (participant configuration)."""

_CHUNK = 500  # ids per IN (...) query
_CACHE_SIZE = 200_000  # contracts kept parsed in memory (their content never changes)


@dataclass(frozen=True, slots=True)
class UserRights:
    """A user's rights (Canton ``CanActAs`` / ``CanReadAs``); acting implies reading."""

    act_as: frozenset[str]
    read_as: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """A log row as stored (the operator's view: every node, no projection)."""

    offset: int
    update_id: str
    command_id: str | None
    user_id: str | None
    act_as_json: str
    submission_id: str | None
    workflow_id: str | None
    effective_at: str
    nodes_json: str
    prev_hash: str
    tx_hash: str

    @property
    def act_as(self) -> tuple[str, ...]:
        return tuple(json.loads(self.act_as_json))

    @property
    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = json.loads(self.nodes_json)
        return nodes


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(value: Any) -> str:
    """Compact JSON (one encoder, built once: ``json.dumps`` with options builds one a call)."""
    return _ENCODER.encode(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Hold the ledger's lock for the call: one connection, shared by threads in turn."""

    @functools.wraps(method)
    def wrapper(self: EmbeddedLedger, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class EmbeddedLedger:
    """A durable, single-node Canton-style ledger (implements :class:`~ledger_adapter.protocol.Ledger`).

    Parameters
    ----------
    url
        ``sqlite:///relative.db``, ``sqlite:////absolute.db``, a file path, or
        ``postgresql://user@host/db``.
    user_rights
        Optional ``user_id -> UserRights``; when given, a user may act and read only as
        its rights allow (:class:`~ledger_adapter.errors.PermissionDenied`). ``None``
        (the default, for a single-institution deployment): any user may act as any party.
    max_deduplication_window
        The longest deduplication window a submission may ask for, and the default.
    clock
        Source of record time (tests move it to expire deduplication).
    """

    def __init__(
        self,
        url: str,
        *,
        user_rights: Mapping[str, UserRights] | None = None,
        max_deduplication_window: timedelta = MAX_DEDUPLICATION_WINDOW,
        clock: Callable[[], datetime] = _now,
        templates: Mapping[str, Template] = TEMPLATES,
        types: TypeChecker = TYPES,
    ) -> None:
        self._db: Backend = open_backend(url)
        self.url = url
        self._user_rights = user_rights
        self._max_window = max_deduplication_window
        self._clock = clock
        self._templates = templates
        self._types = types
        self._cache: dict[str, Contract] = {}
        self._lock = threading.RLock()  # an HTTP server may call from several threads
        self._ensure_meta()

    # --- set-up -------------------------------------------------------------------

    def _ensure_meta(self) -> None:
        self._db.execute(
            "INSERT INTO ledger_meta (id, schema_version, ledger_id) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (SCHEMA_VERSION, "tanpo-" + os.urandom(8).hex()),
        )
        version = self._db.query("SELECT schema_version FROM ledger_meta WHERE id = 1")[0][0]
        if version != SCHEMA_VERSION:
            raise InvalidArgument(
                f"ledger schema version {version} is not {SCHEMA_VERSION}", field="ledger"
            )

    @property
    def backend(self) -> Backend:
        """The database (for integrity checks and tests)."""
        return self._db

    @property
    def ledger_id(self) -> str:
        return str(self._db.query("SELECT ledger_id FROM ledger_meta WHERE id = 1")[0][0])

    @_locked
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddedLedger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------

    def _check_rights(self, user_id: str, act_as: frozenset[str], read_as: frozenset[str]) -> None:
        if self._user_rights is None:
            return
        rights = self._user_rights.get(user_id)
        if rights is None:
            raise PermissionDenied(f"user {user_id!r} is not known to this ledger")
        if not act_as <= rights.act_as:
            missing = sorted(act_as - rights.act_as)
            raise PermissionDenied(f"user {user_id!r} may not act as {missing}")
        if not read_as <= rights.read_as | rights.act_as:
            missing = sorted(read_as - rights.read_as - rights.act_as)
            raise PermissionDenied(f"user {user_id!r} may not read as {missing}")

    @_locked
    def submit(
        self,
        commands: Iterable[Command],
        *,
        act_as: Parties,
        read_as: Parties = (),
        command_id: str,
        user_id: str = DEFAULT_USER_ID,
        submission_id: str | None = None,
        deduplication_window: timedelta | None = None,
        workflow_id: str | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Transaction:
        """Commit ``commands`` atomically (see :meth:`Ledger.submit <ledger_adapter.protocol.Ledger.submit>`)."""
        command_list = list(commands)
        if not command_list:
            raise InvalidArgument("must not be empty", field="commands")
        if not command_id:
            raise InvalidArgument("must not be empty", field="commandId")
        acting = party_set(act_as)
        reading = frozenset() if not read_as else party_set(read_as)
        window = self._max_window if deduplication_window is None else deduplication_window
        if not timedelta(0) <= window <= self._max_window:
            raise InvalidArgument(
                f"deduplication window {window} exceeds the maximum {self._max_window}",
                field="deduplicationPeriod",
                code="INVALID_DEDUPLICATION_PERIOD",
            )
        self._check_rights(user_id, acting, reading)
        act_key = _dumps(sorted(acting))
        db = self._db
        db.begin_write()
        try:
            last = db.query(
                "SELECT ledger_offset, tx_hash FROM transactions"
                " ORDER BY ledger_offset DESC LIMIT 1"
            )
            end, head = last[0] if last else (0, GENESIS_HASH)
            now = self._clock()
            dup = db.query(
                "SELECT ledger_offset, recorded_at, submission_id FROM command_dedup"
                " WHERE user_id = ? AND act_as = ? AND command_id = ?",
                (user_id, act_key, command_id),
            )
            if dup and now - datetime.fromisoformat(dup[0][1]) <= window:
                db.rollback()
                original = self.transaction_at(dup[0][0], acting | reading, transaction_shape)
                raise DuplicateCommand(
                    command_id,
                    original=original,
                    completion_offset=dup[0][0],
                    submission_id=dup[0][2],
                )
            offset = int(end) + 1
            seed = os.urandom(16)
            result = interpret(
                command_list,
                act_as=acting,
                read_as=reading,
                templates=self._templates,
                types=self._types,
                load=self._load,
                seed=seed,
                offset=offset,
            )
            update_id = "1220" + hashlib.sha256(seed + offset.to_bytes(8, "big")).hexdigest()
            effective_at = now.isoformat()
            nodes_json = _dumps(result.nodes)
            row: LogRow = (
                offset,
                update_id,
                command_id,
                user_id,
                act_key,
                submission_id,
                workflow_id,
                effective_at,
                nodes_json,
                head,
            )
            tx_hash = transaction_hash(row)
            db.execute(
                "INSERT INTO transactions (ledger_offset, update_id, command_id, user_id, act_as,"
                " submission_id, workflow_id, effective_at, nodes, prev_hash, tx_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, tx_hash),
            )
            self._write_contracts(result.nodes, result.created, result.archived, offset)
            db.execute(
                "INSERT INTO command_dedup (user_id, act_as, command_id, ledger_offset,"
                " submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, act_as, command_id) DO UPDATE SET"
                " ledger_offset = excluded.ledger_offset, submission_id = excluded.submission_id,"
                " recorded_at = excluded.recorded_at",
                (user_id, act_key, command_id, offset, submission_id, effective_at),
            )
            db.commit()
        except BaseException:
            db.rollback()
            raise
        for cid in result.archived:
            self._cache.pop(cid, None)
        return project(
            offset=offset,
            update_id=update_id,
            command_id=command_id,
            submitters=acting,
            workflow_id=workflow_id,
            effective_at=now,
            nodes=result.nodes,
            parties=acting | reading,
            shape=transaction_shape,
        )

    def _write_contracts(
        self,
        nodes: Sequence[Mapping[str, Any]],
        created: Mapping[str, Contract],
        archived: Sequence[str],
        offset: int,
    ) -> None:
        rows: list[tuple[Any, ...]] = []
        for node in nodes:
            if node["k"] != "c" or node["cid"] not in created:
                continue
            rows.append(
                (
                    node["cid"],
                    node["tpl"],
                    _dumps(node["args"]),
                    party_list(node["sig"]),
                    party_list(node["obs"]),
                    stakeholder_key(node["sig"], node["obs"]),
                    offset,
                    node["n"],
                )
            )
        if archived:
            self._db.executemany(
                "DELETE FROM active_contracts WHERE contract_id = ?", [(cid,) for cid in archived]
            )
        if rows:
            self._db.executemany(
                "INSERT INTO active_contracts (contract_id, template_id, arguments, signatories,"
                " observers, stakeholders, created_offset, created_node)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _load(self, contract_ids: Collection[str]) -> dict[str, Contract]:
        """The active contracts among ``contract_ids`` (inside the write transaction)."""
        found: dict[str, Contract] = {}
        ids = list(contract_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            cached = [cid for cid in chunk if cid in self._cache]
            if cached:
                rows = self._db.query(
                    "SELECT contract_id FROM active_contracts"
                    f" WHERE contract_id IN ({','.join('?' * len(cached))})",
                    cached,
                )
                found.update((r[0], self._cache[r[0]]) for r in rows)
            fresh = [cid for cid in chunk if cid not in self._cache]
            if not fresh:
                continue
            for cid, tpl, args, sig, obs, created_offset in self._db.query(
                "SELECT contract_id, template_id, arguments, signatories, observers,"
                " created_offset FROM active_contracts"
                f" WHERE contract_id IN ({','.join('?' * len(fresh))})",
                fresh,
            ):
                template = self._templates.get(tpl)
                if template is None:
                    continue  # a template this build does not know cannot be used
                contract = Contract.of(
                    cid,
                    template,
                    json.loads(args),
                    signatories=frozenset(parse_party_list(sig)),
                    observers=frozenset(parse_party_list(obs)),
                    created_offset=created_offset,
                )
                found[cid] = contract
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[cid] = contract
        return found

    # --- reading ------------------------------------------------------------------

    @_locked
    def ledger_end(self) -> int:
        """The offset of the last committed transaction (0 when there is none)."""
        return int(self._db.query("SELECT COALESCE(MAX(ledger_offset), 0) FROM transactions")[0][0])

    @_locked
    def active_contracts(
        self,
        parties: Parties,
        template_id: str | None = None,
        at_offset: int | None = None,
    ) -> tuple[CreatedEvent, ...]:
        """Contracts active at ``at_offset`` (default: ledger end) that ``parties`` see.

        At the ledger end this reads the active contract table; at an earlier offset it
        replays the log up to that offset (history is kept in the log, not indexed).
        """
        wanted = party_set(parties)
        self._db.begin_read()
        try:
            end = self.ledger_end()
            if at_offset is not None and not 0 <= at_offset <= end:
                raise InvalidArgument(
                    f"offset {at_offset} is after the ledger end {end}",
                    field="activeAtOffset",
                    code="OFFSET_AFTER_LEDGER_END",
                )
            if at_offset is None or at_offset == end:
                rows = self._active_rows(wanted, template_id)
            else:
                rows = self._replayed_rows(at_offset, template_id)
        finally:
            self._db.rollback() if self._db.dialect == "sqlite" else self._db.commit()
        out = []
        for cid, tpl, args, signatories, observers, created_offset, node_id, effective_at in rows:
            wit = tuple(sorted(wanted.intersection([*signatories, *observers])))
            if not wit:
                continue
            out.append(
                CreatedEvent(
                    offset=created_offset,
                    node_id=node_id,
                    contract_id=cid,
                    template_id=tpl,
                    arguments=args,
                    signatories=tuple(signatories),
                    observers=tuple(observers),
                    witness_parties=wit,
                    created_at=datetime.fromisoformat(effective_at),
                )
            )
        return tuple(out)

    def _active_rows(
        self, wanted: frozenset[str], template_id: str | None
    ) -> list[tuple[Any, ...]]:
        params: list[Any] = [f"%,{party},%" for party in sorted(wanted)]
        where = " OR ".join("c.stakeholders LIKE ?" for _ in wanted)
        sql = (
            "SELECT c.contract_id, c.template_id, c.arguments, c.signatories, c.observers,"
            " c.created_offset, c.created_node, t.effective_at FROM active_contracts c"
            " JOIN transactions t ON t.ledger_offset = c.created_offset"
            f" WHERE ({where})"
        )
        if template_id is not None:
            sql += " AND c.template_id = ?"
            params.append(template_id)
        rows = self._db.query(sql + " ORDER BY c.contract_id", params)
        return [
            (cid, tpl, json.loads(a), parse_party_list(s), parse_party_list(o), off, n, at)
            for cid, tpl, a, s, o, off, n, at in rows
        ]

    def _replayed_rows(self, at_offset: int, template_id: str | None) -> list[tuple[Any, ...]]:
        active: dict[str, tuple[Any, ...]] = {}
        for stored in self.stored_transactions(0, at_offset):
            nodes = stored.nodes
            created = {n["cid"] for n in nodes if n["k"] == "c"}
            consumed = {n["cid"] for n in nodes if n["k"] == "e" and n["cons"]}
            for n in nodes:
                if n["k"] == "c" and n["cid"] not in consumed:
                    active[n["cid"]] = (
                        n["cid"],
                        n["tpl"],
                        n["args"],
                        n["sig"],
                        n["obs"],
                        stored.offset,
                        n["n"],
                        stored.effective_at,
                    )
                elif n["k"] == "e" and n["cons"] and n["cid"] not in created:
                    active.pop(n["cid"], None)
        return [row for row in active.values() if template_id in (None, row[1])]

    def stored_transactions(
        self, begin_exclusive: int = 0, end_inclusive: int | None = None, page: int = 500
    ) -> Iterator[StoredTransaction]:
        """The log as stored, in offset order (the operator's view, for audits)."""
        after = begin_exclusive
        while True:
            sql = (
                "SELECT ledger_offset, update_id, command_id, user_id, act_as, submission_id,"
                " workflow_id, effective_at, nodes, prev_hash, tx_hash FROM transactions"
                " WHERE ledger_offset > ?"
            )
            params: list[Any] = [after]
            if end_inclusive is not None:
                sql += " AND ledger_offset <= ?"
                params.append(end_inclusive)
            with self._lock:
                rows = self._db.query(sql + f" ORDER BY ledger_offset LIMIT {int(page)}", params)
            for r in rows:
                yield StoredTransaction(*r)
            if len(rows) < page:
                return
            after = rows[-1][0]

    def _view(
        self, stored: StoredTransaction, parties: frozenset[str], shape: TransactionShape
    ) -> Transaction:
        return project(
            offset=stored.offset,
            update_id=stored.update_id,
            command_id=stored.command_id,
            submitters=frozenset(stored.act_as),
            workflow_id=stored.workflow_id,
            effective_at=datetime.fromisoformat(stored.effective_at),
            nodes=stored.nodes,
            parties=parties,
            shape=shape,
        )

    def transaction_at(
        self,
        offset: int,
        parties: Parties,
        shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Transaction | None:
        """The transaction at ``offset`` as ``parties`` see it (``None``: no such offset)."""
        for stored in self.stored_transactions(offset - 1, offset):
            return self._view(stored, party_set(parties), shape)
        return None

    def updates(
        self,
        begin_exclusive: int,
        parties: Parties,
        *,
        end_inclusive: int | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Iterator[Transaction]:
        """Transactions after ``begin_exclusive`` with events ``parties`` see."""
        wanted = party_set(parties)
        if begin_exclusive < 0:
            raise InvalidArgument("must be >= 0", field="beginExclusive")
        for stored in self.stored_transactions(begin_exclusive, end_inclusive):
            view = self._view(stored, wanted, transaction_shape)
            if view.events:
                yield view
