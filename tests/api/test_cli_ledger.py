"""``tanpo ledger ...`` and ``tanpo execute``: in this process through :func:`api.cli.main`
(what the console script calls), and once as the real console script.

Every error is one line on stderr, exit status 2, never a traceback: hostile input
included (a missing file, a directory, bad JSON or UTF-8, a SQLite file of another
program, an empty one, a version 1 ledger, an unknown URL, a participant that is down).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from tests.ledger_adapter.conftest import ISIN, B, make_plan, small_book

TANPO = Path(sys.executable).with_name("tanpo")
URL = "sqlite:///ledger.db"
V1_FILE = Path(__file__).resolve().parents[1] / "ledger_adapter" / "data" / "ledger_v1.db"


@dataclass(frozen=True)
class Done:
    """What a run of ``tanpo`` left: exit status, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def tanpo(cwd: Path, *argv: str) -> Done:
    """``tanpo <argv>`` run in ``cwd`` in this process (no interpreter start-up)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv, os.getcwd(), os.environ.pop("TANPO_DEBUG", None)
    sys.argv = ["tanpo", *argv]
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = saved[0]
        os.chdir(saved[1])
        if saved[2] is not None:
            os.environ["TANPO_DEBUG"] = saved[2]
    return Done(code, out.getvalue(), err.getvalue())


def console_script(cwd: Path, *argv: str) -> Done:
    """``tanpo <argv>`` as the installed console script, in a new process."""
    env = {k: v for k, v in os.environ.items() if k not in ("TANPO_DEBUG", "TANPO_LEDGER")}
    done = subprocess.run(
        [str(TANPO), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def _one_line_error(done: Done, *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tanpo: error: "), done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def loaded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the small book, a plan, and a ledger made by init + load."""
    directory = tmp_path_factory.mktemp("cli")
    (directory / "book.json").write_text(json.dumps(small_book()))
    plan = make_plan(
        [
            ("pledge", "MZH-JSCC", "MZH-01", ISIN[1], 12 * B, 1),
            ("release", "MZH-JSCC", "MZH-01", ISIN[0], 12 * B, 1),
        ],
        [
            ("MZH-JSCC", "MZH-01", ISIN[0], 8 * B),
            ("MZH-JSCC", "MZH-01", ISIN[1], 12 * B),
            ("MZH-BOJ", "MZH-02", ISIN[2], 10 * B),
        ],
    )
    (directory / "plan.json").write_text(json.dumps(plan))
    done = tanpo(directory, "ledger", "init", "--ledger", URL)
    assert done.returncode == 0 and "is empty" in done.stdout, done.stderr
    done = tanpo(directory, "ledger", "load", "book.json", "--ledger", URL)
    assert done.returncode == 0 and "loaded: 5 holdings" in done.stdout, done.stderr
    again = tanpo(directory, "ledger", "load", "book.json", "--ledger", URL)
    assert again.returncode == 0 and "was already loaded" in again.stdout, again.stderr
    return directory


@pytest.fixture
def workdir(loaded_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the loaded directory."""
    for name in ("book.json", "plan.json", "ledger.db"):
        shutil.copy(loaded_dir / name, tmp_path / name)
    return tmp_path


def test_positions_of_a_party_no_contract_names_is_an_error(workdir: Path) -> None:
    """A misspelt party is refused by name, not answered with zero positions."""
    shown = tanpo(workdir, "ledger", "positions", "--party", "MIZUHO", "--ledger", URL)
    assert shown.returncode == 0 and "MZH-01" in shown.stdout, shown.stderr
    for argv in (["--party", "MIZHUO"], ["--party", "MIZUHO", "--party", "MIZHUO", "--export"]):
        done = tanpo(workdir, "ledger", "positions", *argv, "--ledger", URL)
        assert done.returncode == 2 and done.stdout == "", done.stdout
        assert "--party" in done.stderr and "'MIZHUO'" in done.stderr, done.stderr
        assert "MIZUHO" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_execute_positions_verify(workdir: Path) -> None:
    done = console_script(workdir, "execute", "plan.json", "--ledger", URL)
    assert done.returncode == 0, done.stderr
    assert ":all: 2 move(s) committed at offset 3" in done.stdout
    assert "ledger pledges match its allocations" in done.stdout
    again = tanpo(workdir, "execute", "plan.json", "--ledger", URL)
    assert again.returncode == 0 and "already applied" in again.stdout, again.stderr
    shown = tanpo(workdir, "ledger", "positions", "--party", "JSCC", "--ledger", URL)
    assert shown.returncode == 0, shown.stderr
    assert "MIZUHO" in shown.stdout and "NOMURA" in shown.stdout and "MZH-BOJ" not in shown.stdout
    export = tanpo(workdir, "ledger", "positions", "--party", "MIZUHO", "--export", "--ledger", URL)
    rows: list[dict[str, Any]] = json.loads(export.stdout)
    assert {(r["isin"], r["face"]) for r in rows if r["pledged_to"] == "MZH-JSCC"} == {
        (ISIN[0], 8 * B),
        (ISIN[1], 12 * B),
    }
    done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    assert done.returncode == 0 and done.stdout.startswith("ok: 3 transactions"), done.stderr
    with sqlite3.connect(workdir / "ledger.db") as db:  # tamper with the log
        db.execute("UPDATE transactions SET effective_at = '2020-01-01T00:00:00+00:00'")
    _one_line_error(tanpo(workdir, "ledger", "verify", "--ledger", URL), "does not verify")


def test_errors_are_one_line(workdir: Path) -> None:
    _one_line_error(
        tanpo(workdir, "ledger", "verify", "--ledger", "sqlite:///none.db"), "tanpo ledger init"
    )
    (workdir / "bad.json").write_text('{"moves": [{"action": "lend"}]}')
    _one_line_error(tanpo(workdir, "execute", "bad.json", "--ledger", URL), "moves[0]", "action")
    stale = make_plan(
        [("release", "MZH-JSCC", "MZH-01", ISIN[0], B, 1)],
        [("MZH-JSCC", "MZH-01", ISIN[0], 15 * B)],
    )  # expects 16bn pledged before, 15bn after; the ledger has 20bn
    (workdir / "stale.json").write_text(json.dumps(stale))
    _one_line_error(tanpo(workdir, "execute", "stale.json", "--ledger", URL), "is stale", "re-plan")


def test_hostile_input_is_one_line(workdir: Path) -> None:
    (workdir / "folder").mkdir()
    (workdir / "bytes.json").write_bytes(b'{"moves": "\xff"}')
    (workdir / "broken.json").write_text('{"moves": [')
    plan = json.loads((workdir / "plan.json").read_text())
    nan = {**plan, "moves": [{**plan["moves"][0], "face": float("nan")}]}
    (workdir / "nan.json").write_text(json.dumps(nan))  # Python's json writes NaN
    for path, fragment in [
        ("missing.json", "no such file"),
        ("folder", "is a directory"),
        ("bytes.json", "not UTF-8"),
        ("broken.json", "not valid JSON"),
        ("nan.json", "moves[0]: face"),
    ]:
        _one_line_error(tanpo(workdir, "execute", path, "--ledger", URL), fragment)
    _one_line_error(tanpo(workdir, "ledger", "load", "folder", "--ledger", URL), "directory")
    with sqlite3.connect(workdir / "other.db") as db:
        db.execute("CREATE TABLE accounts (id INTEGER)")
    (workdir / "empty.db").touch()
    shutil.copy(V1_FILE, workdir / "v1.db")
    for ledger, fragment in [
        ("sqlite:///other.db", "not a tanpo ledger (it holds tables accounts)"),
        ("sqlite:///empty.db", "tanpo ledger init"),
        ("sqlite:///v1.db", "python -m ledger_adapter.migration"),
        ("sqlite:///folder", "folder is a directory, not a ledger file"),
        ("ftp://x", "unknown"),
        ("http://127.0.0.1:9", "UNAVAILABLE"),
        ("postgresql://tanpo@127.0.0.1:9/none", "UNAVAILABLE"),  # psycopg's is two lines
    ]:
        _one_line_error(tanpo(workdir, "execute", "plan.json", "--ledger", ledger), fragment)
    _one_line_error(tanpo(workdir, "ledger", "init", "--ledger", "sqlite:///other.db"), "accounts")
    with sqlite3.connect(workdir / "other.db") as db:  # nothing was added to it
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("accounts",)]


@contextmanager
def _participant(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, user: str, party: str
) -> Iterator[str]:
    """A loopback Canton participant serving ``workdir``'s ledger over JSON Ledger API
    v2, with ``$TANPO_CANTON_TOKEN`` set to ``user``'s token (``user`` acts as ``party``
    only); yields its URL."""
    from ledger_adapter.canton import UserRights, user_token
    from ledger_adapter.canton.server import JsonApiServer
    from ledger_adapter.embedded import EmbeddedLedger

    secret = "cli-test-secret-0123456789-0123456789"
    users = {user: UserRights(frozenset({party}))}
    monkeypatch.setenv("TANPO_CANTON_TOKEN", user_token(user, secret=secret))
    with (
        EmbeddedLedger(f"sqlite:///{workdir / 'ledger.db'}") as embedded,
        JsonApiServer(embedded, users=users, secret=secret) as server,
    ):
        yield server.url


def test_execute_over_the_json_api(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--ledger http://...``: the same commands through a (loopback) Canton participant.

    The participant serves the loaded SQLite ledger over JSON Ledger API v2; the CLI takes
    its token from ``$TANPO_CANTON_TOKEN`` and acts as the plan's pledgor.
    """
    with _participant(workdir, monkeypatch, "mizuho-ops", "MIZUHO") as url:
        done = tanpo(workdir, "execute", "plan.json", "--ledger", url)
        again = tanpo(workdir, "execute", "plan.json", "--ledger", url)
        shown = tanpo(workdir, "ledger", "positions", "--party", "NOMURA", "--ledger", url)
    assert done.returncode == 0, done.stderr
    assert "ledger pledges match its allocations" in done.stdout
    assert again.returncode == 0 and "already applied" in again.stdout, again.stderr
    # MIZUHO's user may not read as NOMURA: refused in one line, no leak, no traceback.
    _one_line_error(shown, "NOMURA")
    done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    assert done.returncode == 0, done.stderr


def _today(workdir: Path, **changes: Any) -> None:
    """``today.json``: the small book with MZH-JSCC called to 16bn and ISIN0 at 99."""
    book = small_book()
    book["obligations"][0]["required_value"] = 16 * B
    book["securities"][0]["dirty_price"] = 99.0
    for record, value in changes.items():
        name, index, field = record.split(".")
        book[name][int(index)][field] = value
    (workdir / "today.json").write_text(json.dumps(book))


def test_call_moves_requirements_and_valuations(workdir: Path) -> None:
    _today(workdir)
    refused = tanpo(workdir, "ledger", "load", "today.json", "--ledger", URL)
    _one_line_error(refused, "book: obligations: the ledger already holds", "tanpo ledger call")
    done = tanpo(workdir, "ledger", "call", "today.json", "--ledger", URL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "MZH-JSCC (MIZUHO to JSCC): requirement 15,000,000,000 -> 16,000,000,000,"
        " 1 ISIN(s) revalued",
        "MZH-BOJ (MIZUHO to BOJ): requirement 8,000,000,000 unchanged, 1 ISIN(s) revalued",
        "NMR-JSCC (NOMURA to JSCC): requirement 4,000,000,000 unchanged, 1 ISIN(s) revalued",
        done.stdout.splitlines()[-1],
    ]
    assert "3 obligation(s) of BOJ, JSCC committed at offset 3" in done.stdout
    again = tanpo(workdir, "ledger", "call", "today.json", "--ledger", URL, "--party", "JSCC")
    assert again.returncode == 0, again.stderr
    assert "nothing to change: 2 obligation(s) of JSCC match the ledger" in again.stdout
    _one_line_error(
        tanpo(workdir, "ledger", "call", "today.json", "--ledger", URL, "--party", "MIZUHO"),
        "MIZUHO: not the pledgee",
    )
    _today(workdir, **{"obligations.1.required_value": "lots"})
    _one_line_error(
        tanpo(workdir, "ledger", "call", "today.json", "--ledger", URL),
        "obligations[1] (MZH-BOJ): required_value",
    )
    done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    assert done.returncode == 0 and done.stdout.startswith("ok: 3 transactions"), done.stderr


def test_call_over_the_json_api(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JSCC's operator calls through a (loopback) participant; it may not act for BOJ."""
    _today(workdir)
    with _participant(workdir, monkeypatch, "jscc-ops", "JSCC") as url:
        everyone = tanpo(workdir, "ledger", "call", "today.json", "--ledger", url)
        done = tanpo(workdir, "ledger", "call", "today.json", "--ledger", url, "--party", "JSCC")
        again = tanpo(workdir, "ledger", "call", "today.json", "--ledger", url, "--party", "JSCC")
    _one_line_error(everyone, "BOJ")  # no right to act (or read) as BOJ
    assert done.returncode == 0, done.stderr
    assert "MZH-JSCC (MIZUHO to JSCC): requirement 15,000,000,000 -> 16,000,000,000" in done.stdout
    assert "2 obligation(s) of JSCC committed at offset 3" in done.stdout
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stderr
    done = tanpo(workdir, "ledger", "verify", "--ledger", URL)
    assert done.returncode == 0 and done.stdout.startswith("ok: 3 transactions"), done.stderr
