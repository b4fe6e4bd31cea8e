"""A ledger in a bad state or at a bad address, from the command line: one line on
stderr naming the file, URL or offset at fault, exit status 2, no traceback, and the
ledger (or another program's file) left as it was.

Each case here was a traceback, an "internal error", a wait of the busy timeout or a
misleading message before its fix: a damaged SQLite file, another program's file with a
``transactions`` table, a log row edited with SQL, a reader while another process holds
the write lock, a server at the URL that is not a Canton participant.
"""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger_adapter.encoding import nodes_of_stored
from tests.api.test_cli_ledger import URL, _one_line_error, loaded_dir, tanpo, workdir

__all__ = ["loaded_dir", "workdir"]  # fixtures, imported to be found


def _log(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT ledger_offset, tx_hash FROM transactions").fetchall()


def test_readers_do_not_wait_for_a_writer(workdir: Path) -> None:
    """Another process holding the write lock (``BEGIN IMMEDIATE``) does not stop
    ``positions`` or ``verify`` (WAL readers): they used to wait the 30 s busy timeout
    and fail, because opening the ledger wrote its meta row."""
    holder = sqlite3.connect(workdir / "ledger.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        shown = tanpo(workdir, "ledger", "positions", "--party", "MIZUHO", "--ledger", URL)
        checked = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert shown.returncode == 0 and "position(s)" in shown.stdout, shown.stderr
    assert checked.returncode == 0 and checked.stdout.startswith("ok: 2 transactions"), checked


def test_a_locked_ledger_is_named(tmp_path: Path) -> None:
    from ledger_adapter.errors import LockedContracts
    from ledger_adapter.storage import SqliteBackend

    path = tmp_path / "locked.db"
    backend = SqliteBackend(path, busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LockedContracts, match=r"locked\.db is locked by another writer") as err:
            backend.begin_write()
        assert "waited 0.05 s" in str(err.value)
        assert err.value.retries_exhausted  # the executor does not wait five times over
    finally:
        backend.close()
        holder.close()


def test_a_read_only_ledger_is_refused_not_retried(tmp_path: Path) -> None:
    """SQLite's "attempt to write a readonly database" is PERMISSION_DENIED, which the
    executor does not retry (as UNAVAILABLE it would be, five times, to no end). The
    file-permission case (``test_read_only_ledger``) skips where the tests run as root;
    ``query_only`` gives SQLite's same error to any user."""
    from ledger_adapter.errors import PermissionDenied
    from ledger_adapter.storage import SqliteBackend

    backend = SqliteBackend(tmp_path / "archive.db")
    try:
        backend.execute("PRAGMA query_only = ON")
        with pytest.raises(PermissionDenied, match=r"archive\.db is read-only") as err:
            backend.execute("CREATE TABLE t (x INTEGER)")
        assert not err.value.retryable
    finally:
        backend.close()


def test_damaged_and_foreign_files(workdir: Path) -> None:
    damaged = workdir / "damaged.db"
    damaged.write_bytes((workdir / "ledger.db").read_bytes())
    with damaged.open("r+b") as f:  # the log's b-tree page: its first cell points nowhere
        f.seek(2 * 4096)
        f.write(b"\xa5" * 4096)
    for argv in (["ledger", "verify"], ["execute", "plan.json"]):
        _one_line_error(
            tanpo(workdir, *argv, "--ledger", "sqlite:///damaged.db"),
            "LEDGER_DAMAGED: SQLite ledger damaged.db is damaged",
            "restore it from a backup",
        )
    (workdir / "notes.db").write_text("meeting notes, not a database\n" * 100)
    _one_line_error(
        tanpo(workdir, "ledger", "init", "--ledger", "sqlite:///notes.db"),
        "notes.db is not a SQLite file",
    )
    other = workdir / "accounting.db"
    with sqlite3.connect(other) as db:  # another program's file, a table of our names
        db.execute("CREATE TABLE transactions (id INTEGER, amount INTEGER)")
        db.execute("INSERT INTO transactions VALUES (1, 100)")
    for argv in (["ledger", "init"], ["execute", "plan.json"]):
        _one_line_error(
            tanpo(workdir, *argv, "--ledger", "sqlite:///accounting.db"),
            "accounting.db is not a tanpo ledger (it holds tables transactions)",
        )
    with sqlite3.connect(other) as db:  # nothing was added to it
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("transactions",)]


def test_a_log_without_its_meta_row_is_not_made_a_new_ledger(workdir: Path) -> None:
    """The ``ledger_meta`` row deleted: every command refuses the file; ``init`` used to
    be the advice, and would have given the existing log a new ledger id."""
    path = workdir / "ledger.db"
    before = _log(path)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM ledger_meta")
    for argv in (["ledger", "init"], ["ledger", "verify"], ["execute", "plan.json"]):
        _one_line_error(
            tanpo(workdir, *argv, "--ledger", URL),
            "LEDGER_DAMAGED: ledger.db holds a ledger log of 2 transaction(s) but not its"
            " ledger_meta row",
            "restore it from a backup",
        )
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM ledger_meta").fetchone() == (0,)
    assert _log(path) == before


def test_read_only_ledger(workdir: Path) -> None:
    path = workdir / "ledger.db"
    path.chmod(0o444)
    try:
        if os.access(path, os.W_OK):
            pytest.skip("running with permission to write any file (root): nothing to refuse")
        done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
        assert done.returncode == 0 and done.stdout.startswith("ok: 2 transactions"), done
        _one_line_error(
            tanpo(workdir, "execute", "plan.json", "--ledger", URL),
            "PERMISSION_DENIED: SQLite ledger ledger.db is read-only",
        )
    finally:
        path.chmod(0o644)


_EDIT_AS_TEXT = "edit the JSON, write it back as text"


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        # an edit through SQL's text functions leaves the column as text: was a TypeError
        (
            _EDIT_AS_TEXT,
            "offset 1: row content does not match its hash",
        ),
        # compressed bytes edited as text (not UTF-8): failed the whole read, UNAVAILABLE
        (
            "UPDATE transactions SET nodes = CAST(X'28B52FFDFFFE' AS TEXT) WHERE ledger_offset = 1",
            "offset 1: stored nodes cannot be read",
        ),
        # valid JSON, not nodes: was a KeyError
        (
            "UPDATE transactions SET nodes = CAST('[{\"x\": 1}]' AS BLOB) WHERE ledger_offset = 2",
            "offset 2: row content does not match its hash",
        ),
        # the contract table edited: was a KeyError in the invariants
        (
            "UPDATE active_contracts SET arguments = '{}'"
            " WHERE rowid = (SELECT min(rowid) FROM active_contracts)",
            "arguments differ from the log",
        ),
    ],
    ids=["nodes-as-text", "compressed-as-text", "nodes-shape", "contract-arguments"],
)
def test_verify_names_the_edited_row(workdir: Path, sql: str, fragment: str) -> None:
    with sqlite3.connect(workdir / "ledger.db") as db:
        if sql == _EDIT_AS_TEXT:  # the JSON edited and written back as text
            (stored,) = db.execute(
                "SELECT nodes FROM transactions WHERE ledger_offset = 1"
            ).fetchone()
            text = nodes_of_stored(bytes(stored)).decode()
            edited = text.replace('"face":"50000000000"', '"face":"51000000000"')
            assert edited != text
            sql, params = "UPDATE transactions SET nodes = ? WHERE ledger_offset = 1", [edited]
        else:
            params = []
        assert db.execute(sql, params).rowcount == 1
    done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    _one_line_error(done, "does not verify", fragment)
    assert fragment in done.stdout.splitlines()[0], done.stdout  # the list, first


@contextmanager
def _server(status: int, content_type: str, body: bytes) -> Iterator[str]:
    """A loopback HTTP server answering every request with ``body``; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "fragment"),
    [
        # another JSON service: was taken for an empty ledger ("obligation ... not on it")
        (200, "application/json", json.dumps({"hello": [1]}).encode(), "unexpected answer"),
        (200, "text/html", b"<html><h1>Welcome to nginx</h1></html>", "the answer is not JSON"),
        (502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>", "HTTP 502: <html>"),
        (401, "application/json", b'{"error": "unauthorized"}', "HTTP 401"),
    ],
    ids=["other-json", "html", "proxy-502", "401"],
)
def test_a_url_that_is_not_a_participant(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    content_type: str,
    body: bytes,
    fragment: str,
) -> None:
    monkeypatch.setenv("TANPO_CANTON_TOKEN", "token")
    monkeypatch.delenv("TANPO_CANTON_TOKEN_FILE", raising=False)
    with _server(status, content_type, body) as url:
        done = tanpo(workdir, "execute", "plan.json", "--ledger", url)
    _one_line_error(done, f"{url}/v2/state/ledger-end", fragment)


def _plan_with(workdir: Path, name: str, **first_move: object) -> str:
    plan = json.loads((workdir / "plan.json").read_text())
    plan["moves"][0].update(first_move)
    (workdir / name).write_text(json.dumps(plan))
    return name


def test_bad_plan_files_are_refused_by_record_and_field(workdir: Path) -> None:
    """Each was a traceback (deep nesting), a silent acceptance (a step or owner of
    the wrong type), an id that looked right in the message but was not (an invisible
    character), or a "stale" plan expecting a negative face (a repeated move)."""
    plan = json.loads((workdir / "plan.json").read_text())
    (workdir / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    repeated = {**plan, "moves": [*plan["moves"], plan["moves"][0]]}
    (workdir / "repeated.json").write_text(json.dumps(repeated))
    cases = [
        ("deep.json", "deep.json: (file): JSON nested too deeply"),
        ("repeated.json", "moves[0] (MZH-JSCC MZH-01 JP1000000016): face: the moves pledge"),
        (_plan_with(workdir, "step.json", step="x"), "moves[0]: step: 'x' must be an integer"),
        (_plan_with(workdir, "half.json", step=1.5), "moves[0]: step: 1.5 must be an integer"),
        (_plan_with(workdir, "owner.json", owner=["MIZUHO"]), "moves[0]: owner: ['MIZUHO']"),
        (
            _plan_with(workdir, "zwsp.json", isin="JP1000000016\u200b"),
            "moves[0]: isin: 'JP1000000016\\u200b' holds an invisible character (U+200B)",
        ),
        (
            _plan_with(workdir, "space.json", account="MZH-01 "),
            "moves[0]: account: 'MZH-01 ' holds an invisible character",
        ),
        (_plan_with(workdir, "huge.json", face=1e300), "moves[0]: face: 1e+300 exceeds"),
    ]
    before = _log(workdir / "ledger.db")
    for name, fragment in cases:
        _one_line_error(tanpo(workdir, "execute", name, "--ledger", URL), fragment)
    assert _log(workdir / "ledger.db") == before


def test_a_byte_order_mark_is_no_error(workdir: Path) -> None:
    text = (workdir / "plan.json").read_text()
    (workdir / "bom.json").write_text(text, encoding="utf-8-sig")  # Windows editors
    done = tanpo(workdir, "execute", "bom.json", "--ledger", URL)
    assert done.returncode == 0 and "match its allocations" in done.stdout, done.stderr
