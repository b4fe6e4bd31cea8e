"""A plan executor as a separate process, for the kill -9 and race tests.

``python -m tests.ledger_adapter.run_executor URL PLAN.json [--per-group]`` prints
``start`` once the plan is read and the ledger opened, then executes; exit 0 when the
plan is applied (or already was), 3 when it is stale, 4 when the ledger refused it.
"""

from __future__ import annotations

import json
import sys

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import PlanRejectedError, StalePlanError, execute_plan
from ledger_adapter.plan import parse_plan


def main(argv: list[str]) -> int:
    url, path = argv[0], argv[1]
    per_group = "--per-group" in argv
    with open(path, encoding="utf-8") as f:
        plan = parse_plan(json.load(f))
    with EmbeddedLedger(url) as ledger:
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
