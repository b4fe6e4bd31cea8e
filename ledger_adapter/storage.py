"""Where the embedded ledger keeps its state: one schema on SQLite or PostgreSQL.

Tables (the same on both databases; only a few column types are spelled differently),
schema version 2:

``ledger_meta``
    One row: schema version and ledger id.
``transactions``
    The append-only log, the source of truth: one row per committed transaction with
    its offset (strictly increasing from 1), update id, change id (user, act_as,
    command id), time, ``prev_hash``/``tx_hash`` (the hash chain) and, last, the nodes
    as JSON, Zstandard-compressed when large (:func:`ledger_adapter.encoding.stored_nodes`). Last, so
    that reading a row's other columns (the head hash before every commit, a
    contract's creation time) never walks a large transaction's overflow pages.
``active_contracts``
    The active contract set, derived from the log, keyed by the integer offset x 2^24 +
    node id that begins every contract id (the rest of the id, 23 bytes, is the
    ``discriminator``); the template and the (signatories, observers) set as small
    integer codes into ``templates`` and ``party_sets``; the arguments as JSON.
``templates``, ``party_sets``
    The codes: template id; signatories and observers (``A,B``) and stakeholders
    (``,A,B,C,``, for filtering by party). Few rows, never changed once written.
``command_dedup``
    The change ids (user_id, act_as set, command_id) with the offset they committed at.

Designed for commit latency: in SQLite's WAL every page a transaction dirties costs
a 4 KiB write before the fsync, so a transaction must touch few pages. Contract keys
begin with their offset and node id, so new contracts append to the end of the
``active_contracts`` b-tree (one page for all of a transaction's creates) and recent
archives land on the same page; the log appends; history (which contract was active at
an old offset) is answered by replaying the log rather than kept in an index. Version 2
halved the pages of a 1,000-move plan (991 -> ~380: compressed nodes, integer keys,
coded template and parties) and the contract table's insert and delete time.

Version 1 files (nodes as text in the middle of the log row, contracts keyed by their
id as text) are refused with a message saying how to migrate them
(:mod:`ledger_adapter.migration`, which keeps every hash of the chain).

Writers are serialized (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``SELECT ... FOR UPDATE``
on ``ledger_meta``), which is what gives each transaction the next offset and makes a
use of a contract consumed by a concurrent transaction fail as not found. Durability:
SQLite in WAL mode with ``synchronous=FULL`` (one fsync of the WAL per commit);
PostgreSQL with its default ``synchronous_commit=on``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from ledger_adapter.errors import (
    InvalidArgument,
    LedgerError,
    LockedContracts,
    PermissionDenied,
    Unavailable,
)

SCHEMA_VERSION = 2

_TABLES = """
CREATE TABLE IF NOT EXISTS ledger_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    ledger_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions{suffix} (
    ledger_offset {offset_pk},
    update_id TEXT NOT NULL,
    command_id TEXT,
    user_id TEXT,
    act_as TEXT NOT NULL,
    submission_id TEXT,
    workflow_id TEXT,
    effective_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    nodes {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    code INTEGER PRIMARY KEY,
    template_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS party_sets (
    code INTEGER PRIMARY KEY,
    signatories TEXT NOT NULL,
    observers TEXT NOT NULL,
    stakeholders TEXT NOT NULL,
    UNIQUE (signatories, observers)
);
CREATE TABLE IF NOT EXISTS active_contracts{suffix} (
    contract_key {offset_pk},
    discriminator {blob} NOT NULL,
    template INTEGER NOT NULL,
    party_set INTEGER NOT NULL,
    arguments TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS command_dedup (
    user_id TEXT NOT NULL,
    act_as TEXT NOT NULL,
    command_id TEXT NOT NULL,
    ledger_offset BIGINT NOT NULL,
    submission_id TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (user_id, act_as, command_id)
){without_rowid};
"""


class Backend(Protocol):
    """The few database operations the embedded ledger needs (``?`` placeholders)."""

    dialect: str
    location: str

    def create_schema(self, suffix: str = "") -> None:
        """Create the tables that are missing (``suffix``: the log and contract tables
        under other names, for a migration)."""
        ...

    def has_table(self, name: str) -> bool: ...

    def table_names(self) -> list[str]:
        """The tables of the database (SQLite) or of the current schema (PostgreSQL)."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the rows it changed (an insert ``ON CONFLICT DO NOTHING``:
        1 if it inserted, 0 if the row was there)."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def begin_write(self) -> None:
        """Start a transaction holding the ledger's write lock."""
        ...

    def begin_read(self) -> None:
        """Start a read-only transaction (one consistent snapshot)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    @property
    def in_transaction(self) -> bool:
        """A transaction is still open: the database has not ended it (SQLite rolls back
        by itself on SQLITE_FULL or IOERR; a PostgreSQL transaction a failed statement
        aborted is still open, for a rollback to a savepoint)."""
        ...

    def close(self) -> None: ...


def _bind_as_they_are() -> None:
    """Identity adapters for ``bytes`` and ``None`` in :mod:`sqlite3` (process-wide; they
    change no value bound, only its cost).

    Python 3.11's :mod:`sqlite3` binds ``int``, ``float`` and ``str`` parameters
    directly but looks every other one up as an adapter; with none registered it asks
    the protocol type for ``__adapt__``, and that failed look-up formats an
    ``AttributeError`` message before it is dropped: ~2,300 instructions for each
    ``None`` and ``bytes`` bound. A one-move commit binds seven (the submission and
    workflow ids, the log's nodes, three discriminators): ~16,000 of its ~1,010,000
    instructions (callgrind). Registered, ``bytes`` is bound through ``bytes(value)``
    (the same object) and ``None`` through an empty dict's ``get`` (``None``), both C
    calls (*ad hoc*, timeit: an insert of three ``None`` 2,880 -> 2,190 ns, of three
    ``bytes`` 3,230 -> 2,690).

    A program that registered its own adapter for either type keeps it (its values are
    then bound as it says, and tanpo's rows as before, at the old cost). Otherwise the
    one effect outside tanpo: ``sqlite3.adapt(None)`` and ``sqlite3.adapt(b"...")``
    return the value instead of raising ``ProgrammingError``.
    """
    registered = sqlite3.adapters
    if (bytes, sqlite3.PrepareProtocol) not in registered:
        sqlite3.register_adapter(bytes, bytes)
    if (type(None), sqlite3.PrepareProtocol) not in registered:
        sqlite3.register_adapter(type(None), cast(Callable[[None], None], {}.get))


_bind_as_they_are()


class SqliteBackend:
    """SQLite in WAL mode, ``synchronous=FULL``, writers serialized by ``BEGIN IMMEDIATE``."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.location = str(path)
        self._busy_timeout_s = busy_timeout_ms / 1000
        if not path.parent.exists():
            raise InvalidArgument(f"directory {path.parent} does not exist", field="ledger")
        if path.is_dir():
            raise InvalidArgument(f"{path} is a directory, not a ledger file", field="ledger")
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, cached_statements=256
            )
        except sqlite3.Error as exc:  # e.g. no permission to read the file
            raise Unavailable(f"cannot open SQLite ledger {path}: {exc}") from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if str(exc) == "file is not a database":  # SQLITE_NOTADB: another file
                raise InvalidArgument(
                    f"{path} is not a SQLite file, so not a tanpo ledger", field="ledger"
                ) from exc
            raise self._error(exc) from exc

    def create_schema(self, suffix: str = "") -> None:
        ddl = _TABLES.format(
            offset_pk="INTEGER PRIMARY KEY",
            blob="BLOB",
            without_rowid=" WITHOUT ROWID",
            suffix=suffix,
        )
        for statement in ddl.split(";"):  # executescript would commit an open transaction
            if statement.strip():
                self.execute(statement)

    def has_table(self, name: str) -> bool:
        found = self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(found)

    def table_names(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return [str(name) for (name,) in rows]

    # query, execute and executemany catch errors themselves rather than through a
    # wrapper taking a closure: they run ~10 times per one-move transaction.

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return int(self._conn.execute(sql, params).rowcount)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def begin_write(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def close(self) -> None:
        self._conn.close()

    def _error(self, exc: sqlite3.DatabaseError) -> Exception:
        """The ledger error of a SQLite failure (a constraint broken stays itself: a bug)."""
        if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
            return exc
        if "locked" in str(exc) or "busy" in str(exc):
            # SQLite's busy handler has already retried for the whole timeout (writes
            # begin IMMEDIATE, so no lock upgrade fails at once): a caller's own retry
            # loop would only multiply the wait (the executor's five: ~150 s)
            locked = LockedContracts(
                f"SQLite ledger {self.location} is locked by another writer"
                f" (waited {self._busy_timeout_s:g} s): {exc}"
            )
            locked.retries_exhausted = self._busy_timeout_s > 0
            return locked
        if "readonly" in str(exc):  # retrying does not help: the file's permissions
            return PermissionDenied(
                f"SQLite ledger {self.location} is read-only: {exc} (tanpo writes the file"
                " and, beside it, its -wal and -shm files)"
            )
        if type(exc) is sqlite3.DatabaseError:  # SQLITE_CORRUPT, SQLITE_NOTADB
            return LedgerError(
                f"SQLite ledger {self.location} is damaged: {exc}; restore it from a backup",
                code="LEDGER_DAMAGED",
            )
        return Unavailable(f"SQLite ledger {self.location}: {exc}")


class PostgresBackend:
    """PostgreSQL through psycopg 3; writers serialized by a row lock on ``ledger_meta``."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.location = url.rsplit("@", maxsplit=1)[-1]  # never echo a password
        self._psycopg = psycopg
        self._url = url
        self._conn = self._connect()
        self._in_tx = False

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            return psycopg.connect(self._url, autocommit=True)
        except psycopg.Error as exc:
            raise Unavailable(f"cannot connect to PostgreSQL {self.location}: {exc}") from exc

    def create_schema(self, suffix: str = "") -> None:
        ddl = _TABLES.format(
            offset_pk="BIGINT PRIMARY KEY", blob="BYTEA", without_rowid="", suffix=suffix
        )
        statements = [statement for statement in ddl.split(";") if statement.strip()]
        if self._in_tx:  # a migration: inside its transaction
            for statement in statements:
                self.execute(statement)
            return
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(7231)")  # one creator at a time
            for statement in statements:
                self._conn.execute(statement)

    def has_table(self, name: str) -> bool:
        found = self.query("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(found[0][0])

    def table_names(self) -> list[str]:
        rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return [str(name) for (name,) in rows]

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._guard(
            lambda: self._conn.execute(self._sql(sql), params).fetchall()
        )
        return rows

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        rowcount: int = self._guard(lambda: self._conn.execute(self._sql(sql), params).rowcount)
        return rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        def run() -> None:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), list(rows))

        self._guard(run)

    def begin_write(self) -> None:
        self.execute("BEGIN")
        self._in_tx = True
        self.execute("SELECT id FROM ledger_meta WHERE id = 1 FOR UPDATE")

    def begin_read(self) -> None:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._in_tx = True

    def commit(self) -> None:
        self.execute("COMMIT")
        self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._in_tx = False
            self._conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        # INERROR: a statement failed; a rollback to a savepoint recovers the transaction
        status = self._conn.info.transaction_status
        usable = (
            self._psycopg.pq.TransactionStatus.INTRANS,
            self._psycopg.pq.TransactionStatus.INERROR,
        )
        return self._in_tx and status in usable

    def close(self) -> None:
        self._conn.close()

    def _guard(self, action: Any) -> Any:
        psycopg = self._psycopg
        if self._conn.closed and not self._in_tx:  # lost earlier (server restart, a kill):
            self._conn = self._connect()  # a new one, between transactions only
        try:
            return action()
        except psycopg.errors.LockNotAvailable as exc:
            raise LockedContracts(f"the ledger is locked by another writer: {exc}") from exc
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL ledger {self.location}: {exc}") from exc


def open_backend(url: str) -> SqliteBackend | PostgresBackend:
    """Open ``sqlite:///relative/path``, ``sqlite:////absolute/path``, a bare file path,
    or ``postgresql://user@host/db`` (the schema: :func:`prepare_schema`)."""
    backend: SqliteBackend | PostgresBackend
    if url.startswith(("postgresql://", "postgres://")):
        backend = PostgresBackend(url)
    elif url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite://")
        if not rest.startswith("/") or rest == "/":
            raise InvalidArgument(
                f"{url!r}: write sqlite:///relative/path or sqlite:////absolute/path",
                field="ledger",
            )
        backend = SqliteBackend(Path(rest[1:]))
    elif "://" in url:
        raise InvalidArgument(
            f"{url!r}: unsupported ledger URL (sqlite:///path or postgresql://...)",
            field="ledger",
        )
    else:
        backend = SqliteBackend(Path(url))
    return backend


def stored_schema_version(backend: Backend) -> int | None:
    """The schema version a database holds (``None``: no ledger in it yet)."""
    if not backend.has_table("ledger_meta"):
        return None
    rows = backend.query("SELECT schema_version FROM ledger_meta WHERE id = 1")
    return int(rows[0][0]) if rows else None


LEDGER_TABLES = frozenset(
    {"ledger_meta", "transactions", "templates", "party_sets", "active_contracts", "command_dedup"}
)


def refuse_foreign_tables(backend: Backend) -> None:
    """A database without a ledger that holds something else is not made one.

    A SQLite file is the ledger: any table that is not the ledger's means another
    program's file, and so does any table without ``ledger_meta`` (created first: a
    ``transactions`` table alone is another program's). In PostgreSQL the schema may
    be shared; only a table of the ledger's names without ``ledger_meta`` is refused
    (its schema is created in one transaction, so a half-made ledger cannot be the
    reason).
    """
    present = set(backend.table_names())
    if backend.dialect == "sqlite":
        ours = LEDGER_TABLES if "ledger_meta" in present else frozenset()
        foreign = sorted(present - ours)
    else:
        foreign = sorted(present & LEDGER_TABLES) if "ledger_meta" not in present else []
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InvalidArgument(
            f"{backend.location} is not a tanpo ledger (it holds tables {shown});"
            " give a new file or an empty schema",
            field="ledger",
        )


def refuse_headless_log(backend: Backend) -> None:
    """A log without its ``ledger_meta`` row (deleted, or the file damaged) is not
    made a new ledger: that would give its transactions a new ledger id."""
    if not backend.has_table("transactions"):
        return
    (count,) = backend.query("SELECT COUNT(*) FROM transactions")[0]
    if count:
        raise LedgerError(
            f"{backend.location} holds a ledger log of {count} transaction(s) but not its"
            " ledger_meta row (schema version and ledger id): the file was edited or is"
            " damaged; restore it from a backup (initialising it again would give the log"
            " a new ledger id)",
            code="LEDGER_DAMAGED",
        )


def prepare_schema(backend: Backend, *, migrate: bool = False) -> None:
    """Create the tables of a new ledger, accept one of this version, migrate an older
    one when ``migrate`` (else refuse it, saying how), refuse a newer one."""
    version = stored_schema_version(backend)
    if version is None:
        refuse_foreign_tables(backend)
        refuse_headless_log(backend)
        backend.create_schema()
    elif version < SCHEMA_VERSION:
        if not migrate:
            raise InvalidArgument(
                f"{backend.location} holds a ledger of schema version {version}; this tanpo"
                f" reads version {SCHEMA_VERSION}. Back the ledger up, then migrate it once:"
                " python -m ledger_adapter.migration URL (every hash of the chain is kept)",
                field="ledger",
            )
        from ledger_adapter.migration import migrate_to_current

        migrate_to_current(backend, version)
    elif version > SCHEMA_VERSION:
        raise InvalidArgument(
            f"{backend.location} holds a ledger of schema version {version}, newer than"
            f" this tanpo reads ({SCHEMA_VERSION}): upgrade tanpo",
            field="ledger",
        )
