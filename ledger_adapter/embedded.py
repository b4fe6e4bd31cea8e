"""The embedded ledger: the ``Ledger`` protocol on SQLite (default) or PostgreSQL.

``EmbeddedLedger("sqlite:///book.db")`` is all it takes: the schema is created on first
use. One :meth:`~EmbeddedLedger.submit` is one ledger transaction, written under the
ledger's write lock: claim the command's change id (deduplication: one insert that
finds a resubmission by its key), interpret the commands (:mod:`ledger_adapter.engine`),
append the transaction to the hash-chained log, update the contract table, commit
(one fsync): seven statements for a small transaction. Interpretation failures roll
everything back, the claim included, so a transaction applies entirely or not at all;
a crash at any instant leaves the database as before or as after the commit (SQLite
WAL / PostgreSQL WAL recovery). Submissions that queue while another commits share
one database commit, each in its own savepoint (:mod:`ledger_adapter.group_commit`).

Reads are projections for the parties asked (:mod:`ledger_adapter.projection`).

The interpreter reads contracts through a cache that is exact at the log head it
recorded (:mod:`ledger_adapter.contract_cache`): contracts loaded by earlier
transactions and those an active-contracts read at the ledger end returned are used
without a query as long as no other writer has moved the head. Rows are written as
compact JSON by orjson (:mod:`ledger_adapter.encoding`), the log's nodes compressed,
contracts keyed by integers with coded templates and parties (:mod:`ledger_adapter.storage`,
:mod:`ledger_adapter.codes`), and Python's cyclic garbage collector waits until a
submit returns (its passes over the heap were a fifth of a large commit).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson

from ledger_adapter.codes import Codes
from ledger_adapter.contract_cache import ContractCache, ContractRow, Head
from ledger_adapter.encoding import (
    MAX_OFFSET,
    contract_id_of,
    contract_key,
    dumps,
    loads,
    party_tuple,
    stored_nodes,
)
from ledger_adapter.engine import Contract, FusedBodies, Interpretation, interpret
from ledger_adapter.errors import (
    DuplicateCommand,
    InterpretationError,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)
from ledger_adapter.fused import FUSED
from ledger_adapter.group_commit import GroupCommit, Submission, failed_group
from ledger_adapter.integrity import GENESIS_HASH, LogRow, transaction_hash
from ledger_adapter.model import OBLIGATION_COVER, TEMPLATES, TYPES
from ledger_adapter.projection import project
from ledger_adapter.protocol import (
    DEFAULT_USER_ID,
    Command,
    CreatedEvent,
    Parties,
    Transaction,
    TransactionShape,
    UserRights,
    party_set,
)
from ledger_adapter.storage import SCHEMA_VERSION, Backend, open_backend, prepare_schema
from ledger_adapter.stored import (
    StoredContract,
    StoredTransaction,
    log_page,
    replayed_rows,
    stored_contracts,
)
from ledger_adapter.templates import Template
from ledger_adapter.typecheck import TypeChecker

T = TypeVar("T")

MAX_DEDUPLICATION_WINDOW = timedelta(days=7)
"""Canton's default maximum deduplication duration (participant configuration)."""

_CHUNK = 500  # ids per IN (...) query

MAX_ID_LENGTH = 255
"""The longest command, submission, workflow or user id (Daml-LF ``LedgerString``, as
Canton's JSON API checks it; PostgreSQL's index would refuse ~2,700 bytes only)."""

_CONTRACT_ROWS = (
    "SELECT contract_key, discriminator, template, party_set, arguments FROM active_contracts"
)
"""A stored contract: key, discriminator, template and party-set codes (resolved by
:class:`~ledger_adapter.codes.Codes`), arguments JSON."""


_ROWS_PER_STATEMENT = 100
"""Contract rows deleted or inserted by one statement at most (500 parameters: under
SQLite's and PostgreSQL's limits)."""


_FEW_ROWS = 10
"""Up to this many rows left over go as one statement of their own size (a one-move
transaction's three inserts: 22,000 instructions less than three steps of one); more
would each be a statement to prepare (~300,000 instructions for a 42-row ``VALUES``)
for little gain, so they go one row a statement."""


@functools.cache
def _delete_rows(n: int) -> str:
    """The statement deleting ``n`` contract rows by key (an ``IN`` list)."""
    return f"DELETE FROM active_contracts WHERE contract_key IN ({', '.join('?' * n)})"


@functools.cache
def _insert_rows(n: int) -> str:
    """The statement inserting ``n`` contract rows (a multi-row ``VALUES``)."""
    return (
        "INSERT INTO active_contracts (contract_key, discriminator, template, party_set,"
        " arguments) VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * n)
    )


_CLAIM = (
    "INSERT INTO command_dedup (user_id, act_as, command_id, ledger_offset, submission_id,"
    " recorded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, act_as, command_id) DO NOTHING"
)
"""A submission's change id, claimed before interpretation (one statement: the row is
new, as it is for all but a resubmission; a rollback takes it back)."""
_RECLAIM = (
    "UPDATE command_dedup SET ledger_offset = ?, submission_id = ?, recorded_at = ?"
    " WHERE user_id = ? AND act_as = ? AND command_id = ?"
)
"""The change id taken over from a commit outside the deduplication window."""


def _now() -> datetime:
    return datetime.now(UTC)


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Hold the ledger's lock for the call: one connection, shared by threads in turn."""

    @functools.wraps(method)
    def wrapper(self: EmbeddedLedger, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _collection_deferred(method: Callable[..., T]) -> Callable[..., T]:
    """Pause Python's cyclic garbage collector for the call (if it was running).

    A 1,000-move transaction allocates ~60,000 containers, most of them kept (nodes,
    contracts, events); the collector's passes over the whole heap (the contract cache,
    the caller's state) then run inside the commit, measured at ~20 ms of a ~90 ms
    commit. The transaction makes no reference cycles, so nothing piles up: the
    collection runs after the call, outside the ledger's lock.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper


@dataclasses.dataclass(slots=True, frozen=True)
class _Applied:
    """A group member written inside the open database transaction."""

    pending: Submission
    result: Interpretation
    offset: int
    update_id: str
    effective_at: datetime
    tx_hash: str


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
    fused
        Fused choice bodies (:mod:`ledger_adapter.fused`; ``None``: the generic
        interpreter alone).
    migrate
        Migrate a ledger of an older schema version (:mod:`ledger_adapter.migration`)
        instead of refusing it.
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
        fused: FusedBodies | None = FUSED,
        migrate: bool = False,
    ) -> None:
        self._db: Backend = open_backend(url)
        try:
            prepare_schema(self._db, migrate=migrate)
        except BaseException:
            self._db.close()
            raise
        self.url = url
        self._user_rights = user_rights
        self._max_window = max_deduplication_window
        self._clock = clock
        self._templates = templates
        self._types = types
        self._fused = fused
        self._cache = ContractCache(templates)
        self._codes = Codes(self._db)
        self._lock = threading.RLock()  # an HTTP server may call from several threads
        self._group = GroupCommit(self._lock, self._commit_group)
        self._ensure_meta()

    # --- set-up -------------------------------------------------------------------

    def _ensure_meta(self) -> None:
        # Read first: the insert takes the write lock, and a reader (positions, verify)
        # must not wait for a writer holding it (SQLite WAL lets it read meanwhile).
        meta = "SELECT schema_version FROM ledger_meta WHERE id = 1"
        if not self._db.query(meta):
            self._db.execute(
                "INSERT INTO ledger_meta (id, schema_version, ledger_id) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (SCHEMA_VERSION, "tanpo-" + os.urandom(8).hex()),
            )
        version = self._db.query(meta)[0][0]
        if version != SCHEMA_VERSION:
            raise InvalidArgument(
                f"ledger schema version {version} is not {SCHEMA_VERSION}", field="ledger"
            )

    @property
    def backend(self) -> Backend:
        """The database (for integrity checks and tests)."""
        return self._db

    @property
    def group_commit(self) -> GroupCommit:
        """Group commit's queue and counts (database commits, submissions they held)."""
        return self._group

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
        rights.check(user_id, act_as, read_as)

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
        """Commit ``commands`` atomically (see :meth:`Ledger.submit <ledger_adapter.protocol.Ledger.submit>`).

        Submissions from several threads at once are committed in groups
        (:mod:`ledger_adapter.group_commit`): each is its own transaction, atomic and
        in the log at its own offset, and none returns before the database commit that
        holds it is durable.
        """
        command_list = list(commands)
        if not command_list:
            raise InvalidArgument("must not be empty", field="commands")
        if not command_id:
            raise InvalidArgument("must not be empty", field="commandId")
        for name, value in (
            ("commandId", command_id),
            ("submissionId", submission_id),
            ("workflowId", workflow_id),
            ("userId", user_id),
        ):
            if value is not None and len(value) > MAX_ID_LENGTH:
                raise InvalidArgument(
                    f"{len(value)} characters; at most {MAX_ID_LENGTH} (a Daml LedgerString)",
                    field=name,
                )
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
        pending = Submission(
            commands=command_list,
            acting=acting,
            reading=reading,
            act_key=dumps(sorted(acting)),
            command_id=command_id,
            user_id=user_id,
            submission_id=submission_id,
            window=window,
            workflow_id=workflow_id,
            shape=transaction_shape,
        )
        return self._group.submit(pending)

    @_collection_deferred
    def _commit_group(self, group: list[Submission]) -> None:
        """Apply ``group`` in one database transaction, each submission inside its own
        savepoint when there are several, and commit once (one fsync); each gets its
        outcome or its error (called by :class:`~ledger_adapter.group_commit.GroupCommit`
        under the ledger's lock)."""
        db = self._db
        several = len(group) > 1
        applied: list[_Applied] = []
        committing = False
        try:
            db.begin_write()
            end, head = self._head()
            self._cache.at((end, head))  # another writer committed: forget what we knew
            for pending in group:
                if several:
                    db.execute("SAVEPOINT submission")
                    mark = self._codes.mark()
                try:
                    result, update_id, tx_hash, now = self._apply(pending, end, head)
                except Exception as exc:
                    pending.error = exc
                    if several:
                        if not db.in_transaction:
                            raise  # the database ended the whole transaction: the group fails
                        db.execute("ROLLBACK TO submission")
                        db.execute("RELEASE submission")
                        self._codes.rolled_back_to(mark)
                    continue
                if several:
                    db.execute("RELEASE submission")
                end, head = end + 1, tx_hash
                covers = [c for c in result.created.values() if c.template is OBLIGATION_COVER]
                self._cache.committed(result.archived, (end, head), covers)
                applied.append(_Applied(pending, result, end, update_id, now, tx_hash))
            if not applied:
                db.rollback()
                self._codes.rolled_back()
                return
            self._cache.invalidate()  # until the commit is known to have landed
            committing = True
            db.commit()
        except BaseException as exc:
            landed = self._landed(applied) if committing else self._rolled_back()
            if not landed:
                self._codes.rolled_back()
                failed_group(group, exc, landed=landed)
                if not isinstance(exc, Exception):
                    raise  # the leader's thread was interrupted: so it stops
                return
            self._answer(applied)  # the commit landed before the interruption
            raise
        self._answer(applied)

    def _rolled_back(self) -> bool:
        """After a failure before COMMIT was sent: roll back what is open (if the
        connection is gone, its transaction went with it); nothing landed."""
        self._cache.invalidate()
        with contextlib.suppress(Exception):  # the connection is gone: nothing to roll back
            self._db.rollback()
        return False

    def _landed(self, applied: list[_Applied]) -> bool | None:
        """After a failure inside a group: roll back what is open and tell whether the
        group's commit landed all the same (an interruption after COMMIT returned):
        its last transaction's row is in the log, or not, or ``None``: unknown (the
        database cannot be asked)."""
        self._cache.invalidate()
        try:
            self._db.rollback()
        except Exception:  # the connection is gone, and its open transaction with it
            if not applied:
                return False
            return None
        if not applied:
            return False
        try:
            last = applied[-1]
            rows = self._db.query(
                "SELECT tx_hash FROM transactions WHERE ledger_offset = ?", (last.offset,)
            )
        except Exception:  # the connection is gone, and its open transaction with it
            return None
        return bool(rows) and rows[0][0] == last.tx_hash

    def _answer(self, applied: list[_Applied]) -> None:
        """The group committed: its new codes are facts, the cache is at its head, and
        each member applied gets its transaction as its parties see it."""
        self._codes.committed()
        self._cache.head = (applied[-1].offset, applied[-1].tx_hash)
        for a in applied:
            pending = a.pending
            pending.outcome = project(
                offset=a.offset,
                update_id=a.update_id,
                command_id=pending.command_id,
                submitters=pending.acting,
                workflow_id=pending.workflow_id,
                effective_at=a.effective_at,
                nodes=a.result.nodes,
                parties=pending.acting | pending.reading,
                shape=pending.shape,
                delta=(a.result.created, a.result.archived),
                deferred=True,
            )

    def _apply(
        self, pending: Submission, end: int, head: str
    ) -> tuple[Interpretation, str, str, datetime]:
        """Write ``pending``'s transaction after the log head ``(end, head)`` (inside the
        write transaction): claim its change id, interpret, append the log row, update
        the contract table. Returns the interpretation, update id, hash and record time."""
        db = self._db
        now = self._clock()
        effective_at = now.isoformat()
        offset = end + 1
        change = (pending.user_id, pending.act_key, pending.command_id)
        if not db.execute(_CLAIM, (*change, offset, pending.submission_id, effective_at)):
            self._seen_before(
                change, now, pending.window, pending.acting | pending.reading, pending.shape
            )
            db.execute(_RECLAIM, (offset, pending.submission_id, effective_at, *change))
        if offset > MAX_OFFSET:
            raise InterpretationError(f"the ledger is full: offset {offset} > {MAX_OFFSET}")
        seed = os.urandom(16)
        result = interpret(
            pending.commands,
            act_as=pending.acting,
            read_as=pending.reading,
            templates=self._templates,
            types=self._types,
            load=self._load,
            seed=seed,
            offset=offset,
            fused=self._fused,
        )
        if not db.in_transaction:  # the database rolled it back under us (SQLITE_FULL, IOERR)
            raise Unavailable(
                f"{db.location}: the database ended the transaction during interpretation;"
                " nothing was written: resubmit with the same command id"
            )
        update_id = "1220" + hashlib.sha256(seed + offset.to_bytes(8, "big")).hexdigest()
        nodes_json = orjson.dumps(result.nodes)
        row: LogRow = (
            offset,
            update_id,
            pending.command_id,
            pending.user_id,
            pending.act_key,
            pending.submission_id,
            pending.workflow_id,
            effective_at,
            nodes_json,
            head,
        )
        tx_hash = transaction_hash(row)
        db.execute(
            "INSERT INTO transactions (ledger_offset, update_id, command_id, user_id, act_as,"
            " submission_id, workflow_id, effective_at, prev_hash, tx_hash, nodes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*row[:8], head, tx_hash, stored_nodes(nodes_json)),
        )
        self._write_contracts(result)
        return result, update_id, tx_hash, now

    def _seen_before(
        self,
        change: tuple[str, str, str],
        now: datetime,
        window: timedelta,
        parties: frozenset[str],
        shape: TransactionShape,
    ) -> None:
        """The change id ``change`` was committed before: raise
        :class:`~ledger_adapter.errors.DuplicateCommand` (the caller rolls back) if that was
        within ``window``; else return (its entry is then the caller's to take over)."""
        (offset, recorded_at, submission_id), *_ = self._db.query(
            "SELECT ledger_offset, recorded_at, submission_id FROM command_dedup"
            " WHERE user_id = ? AND act_as = ? AND command_id = ?",
            change,
        )
        if now - datetime.fromisoformat(recorded_at) <= window:
            raise DuplicateCommand(
                change[2],
                original=self.transaction_at(offset, parties, shape),
                completion_offset=offset,
                submission_id=submission_id,
            )

    def _write_contracts(self, result: Interpretation) -> None:
        """Delete the archived contracts' rows, insert the created ones' (in creation
        order: their keys ascend, so the inserts append to the b-tree).

        Up to :data:`_ROWS_PER_STATEMENT` rows go as one statement (an ``IN`` list, a
        multi-row ``VALUES``; :meth:`_write_batched`): a plan's 1,426 deletes and 2,842
        inserts took 5.8 ms as one statement a row, 4.6 ms so (*ad hoc*, SQLite; the
        same rows), and a one-move transaction's three inserts are one statement. The
        values are built a column at a time into one flat list (2.5 -> 1.9 ms for those
        rows: no tuple per row), the keys and discriminators as the interpreter drew
        them (parsing them from the ids took ~1.5 ms of a plan's commit).
        """
        codes = self._codes
        template_code, party_set_code = codes.templates.get, codes.party_sets.get
        contracts = list(result.created.values())
        row_values: list[Any] = [None] * (5 * len(contracts))  # row after row, column by column:
        row_values[0::5] = result.created_keys  # (encoding.contract_key)
        row_values[1::5] = result.created_discriminators
        row_values[2::5] = [
            template_code(c.template.template_id) or codes.template(c.template.template_id)
            for c in contracts
        ]
        row_values[3::5] = [
            party_set_code(c.parties) or codes.party_set(c.parties) for c in contracts
        ]
        row_values[4::5] = [orjson.dumps(c.args).decode() for c in contracts]
        keys: list[Any] = [int(cid[2:20], 16) for cid in result.archived]
        self._write_batched(_delete_rows, keys, 1)
        self._write_batched(_insert_rows, row_values, 5)

    def _write_batched(
        self, statement: Callable[[int], str], values: list[Any], width: int
    ) -> None:
        """Run ``statement(n)`` over the rows of ``values`` (``width`` values a row, one
        row after the other): :data:`_ROWS_PER_STATEMENT` rows at a time, then the rest
        as one statement if they are few (:data:`_FEW_ROWS`), else one row a statement."""
        n = _ROWS_PER_STATEMENT * width
        whole = len(values) - len(values) % n
        for start in range(0, whole, n):
            self._db.execute(statement(_ROWS_PER_STATEMENT), values[start : start + n])
        rest = values[whole:]
        if len(rest) > _FEW_ROWS * width:
            rows = zip(*(rest[i::width] for i in range(width)), strict=True)
            self._db.executemany(statement(1), rows)
        elif rest:
            self._db.execute(statement(len(rest) // width), rest)

    def _head(self) -> Head:
        """(offset, tx_hash) of the newest log row (inside a transaction)."""
        last = self._db.query(
            "SELECT ledger_offset, tx_hash FROM transactions ORDER BY ledger_offset DESC LIMIT 1"
        )
        return (int(last[0][0]), str(last[0][1])) if last else (0, GENESIS_HASH)

    def _load(self, contract_ids: Collection[str]) -> dict[str, Contract]:
        """The active contracts among ``contract_ids`` (inside the write transaction):
        cached ones without a query (:mod:`ledger_adapter.contract_cache`), the others
        read in chunks of ids."""
        found, missing = self._cache.split(contract_ids)
        if not missing:
            return found
        wanted: dict[int, list[tuple[bytes, str]]] = {}
        for cid in missing:
            parsed = contract_key(cid)
            if parsed is not None:  # else not an id this ledger makes: not found
                wanted.setdefault(parsed[0], []).append((parsed[1], cid))
        keys = list(wanted)
        read: dict[str, Contract] = {}
        codes = self._codes
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            for key, discriminator, template_code, party_code, arguments in self._db.query(
                f"{_CONTRACT_ROWS} WHERE contract_key IN ({','.join('?' * len(chunk))})", chunk
            ):
                template_id = codes.template_id(template_code)
                columns = codes.party_columns(party_code)
                if template_id is None or columns is None:
                    continue  # a code no table holds: as the join it replaces, not found
                for asked, cid in wanted[key]:
                    if asked != bytes(discriminator):
                        continue
                    row: ContractRow = (cid, template_id, arguments, *columns, key >> 24)
                    contract = self._cache.parse(row)
                    if contract is not None:  # else a template this build does not know
                        read[cid] = contract
        self._cache.add(read)
        found.update(read)
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
            end, head = self._head()
            if at_offset is not None and not 0 <= at_offset <= end:
                raise InvalidArgument(
                    f"offset {at_offset} is after the ledger end {end}",
                    field="activeAtOffset",
                    code="OFFSET_AFTER_LEDGER_END",
                )
            if at_offset is None or at_offset == end:
                stored = self._active_rows(wanted, template_id)
                # the interpreter's cache gets its own parse: the executor reads before it submits
                self._cache.add_rows((r[:6] for r in stored), (end, head))
                rows = [
                    (cid, tpl, loads(a), party_tuple(s), party_tuple(o), off, n, at)
                    for cid, tpl, a, s, o, off, n, at in stored
                ]
            else:
                rows = replayed_rows(self.stored_transactions(0, at_offset), template_id)
        finally:
            self._db.rollback() if self._db.dialect == "sqlite" else self._db.commit()
        out = []
        # a book's contracts share a handful of party sets and their transactions' times
        witnesses: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}
        times: dict[str, datetime] = {}
        for cid, tpl, args, signatories, observers, created_offset, node_id, effective_at in rows:
            sig, obs = tuple(signatories), tuple(observers)
            wit = witnesses.get((sig, obs))
            if wit is None:
                wit = witnesses[sig, obs] = tuple(sorted(wanted.intersection([*sig, *obs])))
            if not wit:
                continue
            created_at = times.get(effective_at)
            if created_at is None:
                created_at = times[effective_at] = datetime.fromisoformat(effective_at)
            out.append(
                CreatedEvent(
                    offset=created_offset,
                    node_id=node_id,
                    contract_id=cid,
                    template_id=tpl,
                    arguments=args,
                    signatories=sig,
                    observers=obs,
                    witness_parties=wit,
                    created_at=created_at,
                )
            )
        return tuple(out)

    def _active_rows(
        self, wanted: frozenset[str], template_id: str | None
    ) -> list[tuple[Any, ...]]:
        """(contract id, template id, arguments JSON, signatories, observers, created
        offset, created node, effective_at) of the active contracts ``wanted`` see."""
        params: list[Any] = [f"%,{party},%" for party in sorted(wanted)]
        where = " OR ".join("p.stakeholders LIKE ?" for _ in wanted)
        sql = (
            "SELECT c.contract_key, c.discriminator, t.template_id, c.arguments,"
            " p.signatories, p.observers, x.effective_at FROM active_contracts c"
            " JOIN templates t ON t.code = c.template JOIN party_sets p ON p.code = c.party_set"
            " JOIN transactions x ON x.ledger_offset = c.contract_key / 16777216"
            f" WHERE ({where})"
        )
        if template_id is not None:
            sql += " AND t.template_id = ?"
            params.append(template_id)
        return [
            (contract_id_of(key, bytes(disc)), tpl, args, sig, obs, key >> 24, key & 0xFFFFFF, at)
            for key, disc, tpl, args, sig, obs, at in self._db.query(
                sql + " ORDER BY c.contract_key", params
            )
        ]

    def stored_transactions(
        self, begin_exclusive: int = 0, end_inclusive: int | None = None, page: int = 500
    ) -> Iterator[StoredTransaction]:
        """The log as stored, in offset order (the operator's view, for audits)."""
        after = begin_exclusive
        while True:
            with self._lock:
                rows = log_page(self._db, after, end_inclusive, page)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].offset

    @_locked
    def known_parties(self) -> frozenset[str]:
        """Every party a contract on this ledger has named as signatory or observer,
        archived ones included (the operator's view: a party no contract ever named is
        most likely a misspelling)."""
        rows = self._db.query("SELECT signatories, observers FROM party_sets")
        return frozenset(p for row in rows for column in row for p in str(column).split(",") if p)

    @_locked
    def stored_contracts(self, template_ids: Collection[str] = ()) -> list[StoredContract]:
        """The active contract table as stored, codes resolved, in id order (the
        operator's view, for audits; ``template_ids``: only those templates)."""
        return stored_contracts(self._db, template_ids)

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
