"""Ctrl-C in the middle of ``tanpo execute --per-group``, as the console script.

Typer used to turn the ``KeyboardInterrupt`` into a silent exit 130: no word to the
user of what happened. Now the interrupted run says so in one line, exit status 130,
no traceback; what was committed stays, and the same command run again applies each
remaining move exactly once (one transaction per command id) and reconciles.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.testing import substitution_plan, synthetic_book
from tests.api.test_cli_ledger import TANPO, tanpo


def _ledger_end(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM transactions").fetchone()[0])


@pytest.mark.slow
def test_ctrl_c_mid_execution_then_rerun(tmp_path: Path) -> None:
    book = synthetic_book(isins_per_bank=800, obligations_per_bank=4)
    url = "sqlite:///ledger.db"
    with EmbeddedLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        load_book(ledger, parse_book(book))
    loaded = _ledger_end(tmp_path / "ledger.db")
    plan = substitution_plan(book, 400, plan_id="ctrl-c")
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if k not in ("TANPO_DEBUG", "TANPO_LEDGER")}
    child = subprocess.Popen(
        [str(TANPO), "execute", "plan.json", "--per-group", "--ledger", url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        restore_signals=True,
    )
    deadline = time.monotonic() + 60
    while _ledger_end(tmp_path / "ledger.db") < loaded + 5 and time.monotonic() < deadline:
        time.sleep(0.005)  # until some groups are committed
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    interrupted_at = _ledger_end(tmp_path / "ledger.db")
    if child.returncode == 0:
        pytest.skip(f"the plan finished before the interrupt landed ({interrupted_at} tx)")
    assert child.returncode == 130, out + err
    assert "Traceback" not in err
    assert err.splitlines() == [err.strip()] and err.startswith("tanpo: interrupted"), err
    again = tanpo(tmp_path, "execute", "plan.json", "--per-group", "--ledger", url)
    assert again.returncode == 0, again.stderr
    assert "ledger pledges match its allocations" in again.stdout
    groups = {m["group"] for m in plan["moves"]}
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        ids = [c for (c,) in db.execute("SELECT command_id FROM transactions")]
    mine = [c for c in ids if c.startswith("ctrl-c:")]
    assert sorted(mine) == sorted(f"ctrl-c:group-{g}" for g in groups)  # each exactly once
    assert interrupted_at < loaded + len(groups)  # the interrupt landed mid-way
    checked = tanpo(tmp_path, "ledger", "verify", "--ledger", url)
    assert checked.returncode == 0, checked.stderr
