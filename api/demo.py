"""The demo (``tanpo demo``, ``make run``): the main job on the embedded default, end to end.

1. value the sample book (JSDA conventions; DV01, market and collateral value);
2. optimize it (the MIP, against the greedy waterfall) and verify the plan
   independently;
3. carry the plan out on a fresh embedded ledger (SQLite file), run it again to show
   it applies exactly once, reconcile, and check the hash chain and conservation;
4. intraday: the pledgee of the largest covered obligation calls 20% more margin on
   the ledger (``tanpo ledger call``), tanpo re-plans from the ledger's live state
   (``positions.live_book``) within a 5-second budget, verifies, executes and
   reconciles the top-up, and checks the ledger again.

Prints readable tables; ``make run`` calls it.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.connect import open_embedded
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import ExecutionReport, execute_plan
from ledger_adapter.integrity import verify as verify_ledger
from ledger_adapter.invariants import invariant_violations
from ledger_adapter.margin_call import call_margin
from ledger_adapter.plan import parse_plan
from ledger_adapter.positions import live_book
from optimizer.contract import parse_problem
from optimizer.costmodel import resolve
from optimizer.optimize import Method, optimize
from optimizer.plan import Plan, cover_of
from optimizer.problem import Problem
from optimizer.verify import verify
from valuation.risk import dv01

BN = 1e8 * 10  # 1 billion yen (10 oku)
CALL_FACTOR = 1.2
"""The demo's intraday margin call: the requirement goes up by a fifth."""
INTRADAY_TIME_LIMIT_S = 5
"""The intraday re-plan's budget (the morning plan has the book's own)."""


def _bn(yen: float) -> str:
    return f"{yen / BN:,.1f}"


def valuation_table(problem: Problem) -> Table:
    """Per institution: positions, face, market value, DV01 and what is pledged now."""
    settlement = problem.settlement_date
    security = {s.isin: s for s in problem.securities}
    dv01_per_100: dict[str, float] = {}
    for s in problem.securities:
        clean = s.clean_price if s.clean_price is not None else s.dirty_price
        dv01_per_100[s.isin] = dv01(s.bond, settlement, clean)
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in problem.positions:
        s = security[p.isin]
        row = rows[p.owner]
        market = p.face * s.dirty_price / 100.0
        row["positions"] += 1
        row["face"] += p.face
        row["market"] += market
        row["pledged"] += p.pledged_face * s.dirty_price / 100.0
        row["dv01"] += p.face * dv01_per_100[p.isin] / 100.0
    table = Table(title=f"Sample book valued for settlement {settlement} (bn yen)")
    for name in ("institution", "positions", "face", "market value", "pledged", "DV01 (mn/bp)"):
        table.add_column(name, justify="left" if name == "institution" else "right")
    for owner in sorted(rows):
        r = rows[owner]
        table.add_row(
            owner,
            f"{int(r['positions']):,}",
            _bn(r["face"]),
            _bn(r["market"]),
            _bn(r["pledged"]),
            f"{r['dv01'] / 1e6:,.1f}",
        )
    return table


def obligations_table(problem: Problem, plan: Plan) -> Table:
    """Per obligation: requirement, cover before and after the plan, shortfall."""
    cm = resolve(problem)
    before = cover_of(cm, cm.current_lots)
    table = Table(title="Margin obligations: collateral value before and after (bn yen)")
    for name in ("obligation", "pledgee", "required", "before", "after", "short", "moves"):
        table.add_column(name, justify="left" if name in ("obligation", "pledgee") else "right")
    moves: dict[str, int] = defaultdict(int)
    for m in plan.moves:
        moves[m.obligation] += 1
    for o, cover, after in zip(problem.obligations, before, plan.obligations, strict=True):
        table.add_row(
            o.id,
            o.pledgee,
            _bn(o.required_value),
            _bn(float(cover)),
            _bn(after.collateral_value),
            "" if after.shortfall <= 0 else _bn(after.shortfall),
            str(moves[o.id] or ""),
        )
    return table


def plan_summary(plan: Plan) -> Table:
    """The run's status, cost against the greedy waterfall, and proof of optimality."""
    table = Table(title="Optimization", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("method / status", f"{plan.method} / {plan.status.value}")
    table.add_row("termination", plan.termination_condition)
    cost = plan.cost
    table.add_row("total cost (yen)", f"{cost.total:,.0f}")
    table.add_row("  opportunity", f"{cost.opportunity:,.0f}")
    table.add_row("  moves", f"{cost.moves:,.0f}")
    table.add_row("  shortfall penalty", f"{cost.shortfall_penalty:,.0f}")
    if plan.baseline_total is not None:
        saved = plan.baseline_total - cost.total
        table.add_row("greedy waterfall (yen)", f"{plan.baseline_total:,.0f}")
        table.add_row("saved vs greedy (yen)", f"{saved:,.0f}")
    if plan.mip_gap is not None:
        table.add_row("proven gap", f"{plan.mip_gap:.4%}")
    table.add_row("moves", f"{len(plan.moves)}")
    table.add_row("solve seconds", f"{plan.solve_seconds:.2f}")
    if plan.message:
        table.add_row("note", plan.message)
    return table


def execution_table(report: ExecutionReport) -> Table:
    """The plan's transactions on the ledger: command id, moves, status, offset."""
    table = Table(title=f"Plan {report.plan_id} on the embedded ledger")
    for name in ("command id", "moves", "status", "offset"):
        table.add_column(name, justify="right" if name in ("moves", "offset") else "left")
    for unit in report.units:
        offset = "" if unit.offset is None else str(unit.offset)
        table.add_row(unit.command_id, str(unit.moves), unit.status, offset)
    return table


def execute_on_embedded_ledger(
    book_data: object, plan: Plan, ledger_path: Path, console: Console
) -> ExecutionReport:
    """A fresh SQLite ledger at ``ledger_path``: load the book, execute the plan, check.

    Runs the plan twice: the second run must find it applied and change nothing.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{ledger_path.resolve()}"
    executable = parse_plan(plan.to_dict())
    parties = sorted(executable.owners)
    with open_embedded(url, create=True) as ledger:
        loaded = load_book(ledger, parse_book(book_data))
        console.print(
            f"Ledger {url}: loaded {loaded.holdings} holdings, {loaded.agreements} pledge"
            f" agreements, {loaded.obligations} obligations, {loaded.pledges} existing pledges"
        )
        report = execute_plan(ledger, executable, parties=parties)
        again = execute_plan(ledger, executable, parties=parties)
        checks = ledger_checks(ledger)
    console.print(execution_table(report))
    console.print(
        f"Reconciled with the plan's allocations: {'yes' if report.reconciled else 'NO'};"
        f" second run: {again.status}; {checks}"
    )
    return report


def ledger_checks(ledger: EmbeddedLedger) -> str:
    """The ledger's own checks as one line: the hash chain and conservation of face."""
    integrity = verify_ledger(ledger)
    violations = invariant_violations(ledger)
    return (
        f"hash chain over {integrity.transactions} transactions:"
        f" {'ok' if integrity.ok else 'BROKEN'}; face conserved:"
        f" {'yes' if not violations else 'NO'}"
    )


def intraday_margin_call(
    book_data: dict[str, Any], plan: Plan, ledger_path: Path, method: Method, console: Console
) -> Plan | None:
    """After the morning plan: the pledgee of the largest covered obligation calls
    :data:`CALL_FACTOR` x its requirement on the ledger; re-plan from the ledger's live
    state, verify, execute the top-up, reconcile, check the ledger. ``None`` when no
    obligation is covered (nothing to call)."""
    covered = [c for c in plan.obligations if c.shortfall <= 0]
    if not covered:
        return None
    target = max(covered, key=lambda c: c.required_value)
    called = copy.deepcopy(book_data)
    (entry,) = [o for o in called["obligations"] if o["id"] == target.id]
    before = int(entry["required_value"])
    entry["required_value"] = round(before * CALL_FACTOR)
    url = f"sqlite:///{ledger_path.resolve()}"
    with open_embedded(url) as ledger:
        call = call_margin(ledger, parse_book(called), pledgees=[entry["pledgee"]])
        console.print(
            f"Intraday: {entry['pledgee']} calls margin on {target.id}: requirement"
            f" {_bn(before)} -> {_bn(entry['required_value'])} bn yen on the ledger"
            f" ({call.status}, offset {call.offset})"
        )
        pledgors = sorted({str(o["pledgor"]) for o in called["obligations"]})
        live = live_book(ledger, called, pledgors)
        live["solver"] = {**live.get("solver", {}), "time_limit_s": INTRADAY_TIME_LIMIT_S}
        problem = parse_problem(live)
        replan = optimize(problem, method)
        checked = verify(problem, replan.to_dict())
        cover = {c.id: c for c in replan.obligations}[target.id]
        console.print(
            f"Re-plan from the ledger: {len(replan.moves)} moves, cost {_bn(replan.cost.total)}"
            f" bn yen, {target.id} covered {_bn(cover.collateral_value)} of"
            f" {_bn(cover.required_value)} bn; independent check:"
            f" {'verified' if checked.ok else f'NOT verified: {checked}'}"
        )
        if not replan.moves:
            console.print(f"{target.id} is covered as it stands: nothing to pledge")
            return replan
        executable = parse_plan(replan.to_dict())
        report = execute_plan(ledger, executable, parties=sorted(executable.owners))
        checks = ledger_checks(ledger)
    console.print(execution_table(report))
    console.print(f"Top-up reconciled: {'yes' if report.reconciled else 'NO'}; {checks}")
    return replan


def run_demo(book: Path, method: Method, console: Console, ledger_path: Path) -> Plan:
    """Value, optimize, verify ``book``; execute the plan on a fresh embedded ledger."""
    book_data = json.loads(book.read_text(encoding="utf-8"))
    problem = parse_problem(book_data)
    console.print(valuation_table(problem))
    plan = optimize(problem, method)
    report = verify(problem, plan.to_dict())
    console.print(plan_summary(plan))
    console.print(obligations_table(problem, plan))
    verdict = "verified" if report.ok else f"NOT verified: {report}"
    console.print(f"Independent check of the plan: {verdict}")
    if plan.moves:
        execute_on_embedded_ledger(book_data, plan, ledger_path, console)
        intraday_margin_call(book_data, plan, ledger_path, method, console)
    return plan
