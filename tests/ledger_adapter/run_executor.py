"""A plan executor as a separate process, for the kill -9 and race tests.

``python -m tests.ledger_adapter.run_executor URL PLAN.json [--per-group] [--die-at=POINT]``
prints ``start`` once the plan is read and the ledger opened, ``submit`` when its first
transaction goes to the ledger, then executes; exit 0 when the plan is applied (or
already was), 3 when it is stale, 4 when the ledger refused it.

``--die-at`` kills the process with SIGKILL at a given instant of its first commit:
``in-commit`` (the log row, contract rows and deduplication row written, COMMIT not
yet issued) or ``after-commit`` (COMMIT returned, the executor not yet told).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import PlanRejectedError, StalePlanError, execute_plan
from ledger_adapter.plan import parse_plan

DIE_AT = ("in-commit", "after-commit")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _instrument(ledger: EmbeddedLedger, die_at: str | None) -> None:
    """Print ``submit`` before the first submission; kill at ``die_at`` of its commit."""
    submit, backend = ledger.submit, ledger.backend
    commit = backend.commit

    def first_submit(*args: Any, **kwargs: Any) -> Any:
        print("submit", flush=True)
        ledger.submit = submit  # type: ignore[method-assign]
        return submit(*args, **kwargs)

    def dying_commit() -> None:
        if die_at == "in-commit":
            _die()
        commit()
        _die()

    ledger.submit = first_submit  # type: ignore[method-assign]
    if die_at is not None:
        backend.commit = dying_commit  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    url, path = argv[0], argv[1]
    per_group = "--per-group" in argv
    die_at = next((a.split("=", 1)[1] for a in argv if a.startswith("--die-at=")), None)
    assert die_at in (None, *DIE_AT), die_at
    with open(path, encoding="utf-8") as f:
        plan = parse_plan(json.load(f))
    with EmbeddedLedger(url) as ledger:
        _instrument(ledger, die_at)
        print("start", flush=True)
        try:
            report = execute_plan(ledger, plan, parties=plan.owners, per_group=per_group)
        except StalePlanError as exc:
            print(f"stale: {exc}", flush=True)
            return 3
        except PlanRejectedError as exc:
            print(f"rejected: {exc}", flush=True)
            return 4
    print(f"{report.status} reconciled={report.reconciled}", flush=True)
    return 0 if report.reconciled else 5


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
