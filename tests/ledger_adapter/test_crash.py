"""kill -9 at random points, then re-run: every move applied exactly once; racing executors
(in two processes, and on two threads sharing one ledger, whose submissions may share a
database commit).

Real processes on a real SQLite file: the executor runs in a child process that is
killed with SIGKILL at random moments while it commits a plan one group per
transaction (and, separately, while it commits a large plan as one transaction). After
each kill the ledger verifies and its invariants hold; a final run completes the plan,
and each command id appears in the log exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import ExecutionReport, StalePlanError, execute_plan
from ledger_adapter.plan import parse_plan
from ledger_adapter.rebalance import LiveState
from ledger_adapter.testing import substitution_plan, synthetic_book

from .conftest import assert_sound

ROOT = Path(__file__).resolve().parents[2]


def _start(url: str, plan: Path, *flags: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger_adapter.run_executor", url, str(plan), *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _setup(tmp_path: Path, groups: int, isins: int = 400) -> tuple[str, Path, dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    book = synthetic_book(isins_per_bank=isins, obligations_per_bank=4)
    with EmbeddedLedger(url) as ledger:
        load_book(ledger, parse_book(book))
    plan = substitution_plan(book, groups, plan_id="crash-plan")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return url, path, plan


def _check(url: str, plan: dict[str, Any], *, complete: bool) -> Counter[str]:
    with EmbeddedLedger(url) as ledger:
        assert_sound(ledger)
        commands = Counter(tx.command_id for tx in ledger.stored_transactions())
        if complete:
            target = parse_plan(plan).allocations
            pledged = LiveState.read(ledger, ["BANK1"]).pledged()
            assert pledged == dict(target)
    assert all(n == 1 for n in commands.values()), commands.most_common(3)
    return commands


def _kill_while_submitting(url: str, path: Path, delay: float, *flags: str) -> None:
    """Start an executor, wait until it submits, SIGKILL it ``delay`` seconds later."""
    child = _start(url, path, *flags)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "start", child.stderr
    if child.stdout.readline().strip() == "submit":  # else: nothing left to submit
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    child.communicate(timeout=120)


def _ledger_end(url: str) -> int:
    with EmbeddedLedger(url) as ledger:
        return ledger.ledger_end()


@pytest.mark.slow
def test_kill_9_during_per_group_execution_then_rerun(tmp_path: Path) -> None:
    url, path, plan = _setup(tmp_path, groups=600, isins=1400)
    rng = random.Random(20260701)
    ends = [_ledger_end(url)]
    for _ in range(4):
        _kill_while_submitting(url, path, rng.uniform(0.0, 0.4), "--per-group")
        _check(url, plan, complete=False)  # before or after each transaction, never between
        ends.append(_ledger_end(url))
    assert ends[-1] > ends[0], ends  # the kills landed while groups were committing
    done = _start(url, path, "--per-group")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, out + err
    commands = _check(url, plan, complete=True)
    groups = {m["group"] for m in plan["moves"]}
    assert {f"crash-plan:group-{g}" for g in groups} <= set(commands)
    again = _start(url, path, "--per-group")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "already applied" in out


@pytest.mark.slow
def test_kill_9_during_one_large_transaction(tmp_path: Path) -> None:
    """Killed inside its commit (rows written, COMMIT not issued): nothing of the plan;
    at random instants of the submission: none or all of it; just after COMMIT: all of
    it, and the re-run finds it applied."""
    url, path, plan = _setup(tmp_path, groups=300, isins=800)
    end = _ledger_end(url)
    dying = _start(url, path, "--die-at=in-commit")
    assert dying.wait(timeout=120) == -signal.SIGKILL
    assert "crash-plan:all" not in _check(url, plan, complete=False)
    assert _ledger_end(url) == end
    rng = random.Random(7)
    for _ in range(2):
        _kill_while_submitting(url, path, rng.uniform(0.0, 0.1))
        if "crash-plan:all" in _check(url, plan, complete=False):
            _check(url, plan, complete=True)  # committed before the kill: all of it
    dying = _start(url, path, "--die-at=after-commit")
    out, _ = dying.communicate(timeout=120)
    assert dying.returncode == -signal.SIGKILL or "already applied" in out
    _check(url, plan, complete=True)
    done = _start(url, path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and "already applied" in out, out + err
    _check(url, plan, complete=True)


@pytest.mark.slow
def test_two_executors_race_on_the_same_plan(tmp_path: Path) -> None:
    url, path, plan = _setup(tmp_path, groups=60)
    children = [_start(url, path, "--per-group") for _ in range(2)]
    outputs = [c.communicate(timeout=120) for c in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, out + err
    _check(url, plan, complete=True)


@pytest.mark.slow
def test_two_different_plans_race_on_the_same_holdings(tmp_path: Path) -> None:
    url, path, _ = _setup(tmp_path, groups=40)
    book = synthetic_book(isins_per_bank=400, obligations_per_bank=4)
    other = substitution_plan(book, 40, seed=99, plan_id="other-plan")
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    children = [_start(url, path), _start(url, other_path)]
    codes = sorted(c.wait(timeout=120) for c in children)
    assert codes == [0, 3], [c.communicate() for c in children]  # one applies, one is stale
    with EmbeddedLedger(url) as ledger:
        assert_sound(ledger)


def _race_in_threads(url: str, plans: list[dict[str, Any]], *, per_group: bool) -> list[Any]:
    """Executors on threads of one process, sharing one ``EmbeddedLedger`` (its
    submissions may share commits: ``ledger_adapter.group_commit``); each one's report
    or error."""
    outcomes: list[Any] = [None] * len(plans)
    with EmbeddedLedger(url) as ledger:
        start = threading.Barrier(len(plans))

        def run(k: int) -> None:
            start.wait()
            try:
                outcomes[k] = execute_plan(
                    ledger, parse_plan(plans[k]), parties=["BANK1"], per_group=per_group
                )
            except Exception as exc:
                outcomes[k] = exc

        threads = [threading.Thread(target=run, args=(k,)) for k in range(len(plans))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert_sound(ledger)
    return outcomes


def test_executor_threads_race_on_the_same_plan_in_one_process(tmp_path: Path) -> None:
    """Two executors of one plan on threads sharing a ledger: each group applied once
    (a duplicate inside a shared commit counts as applied), the target reached."""
    url, _, plan = _setup(tmp_path, groups=30)
    outcomes = _race_in_threads(url, [plan, plan], per_group=True)
    assert all(isinstance(o, ExecutionReport) and o.reconciled for o in outcomes), outcomes
    _check(url, plan, complete=True)


def test_executor_threads_race_different_plans_on_the_same_holdings(tmp_path: Path) -> None:
    """Two plans wanting the same holdings, on threads sharing a ledger. Each as one
    transaction: one applies, the other stops as stale. One group a transaction: their
    groups interleave, each applied once or not at all, and a plan stops as stale at
    the first group the other took from it."""
    url, _, plan = _setup(tmp_path, groups=20)
    book = synthetic_book(isins_per_bank=400, obligations_per_bank=4)
    other = substitution_plan(book, 20, seed=99, plan_id="other-plan")
    outcomes = _race_in_threads(url, [plan, other], per_group=False)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["ExecutionReport", "StalePlanError"], outcomes
    _check(url, plan if isinstance(outcomes[0], ExecutionReport) else other, complete=True)
    (tmp_path / "per-group").mkdir()
    url, _, plan = _setup(tmp_path / "per-group", groups=20)
    outcomes = _race_in_threads(url, [plan, other], per_group=True)
    assert all(isinstance(o, ExecutionReport | StalePlanError) for o in outcomes), outcomes
    _check(url, plan, complete=False)  # sound, every command id once
