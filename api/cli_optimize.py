"""``tanpo optimize PROBLEM.json [-o PLAN.json] [--method mip|greedy]`` and ``tanpo verify``.

``optimize`` reads a problem (contract: issue "Part 2"), writes the plan as JSON (to
``-o`` or stdout) with its independent verification attached, and prints a one-screen
summary when writing to a file. Exit status: 0 with a plan, 1 when the plan's status is
``error`` (the plan is still written, its message says why), 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def _summary(plan: dict[str, Any], verified: bool, violations: list[str]) -> str:
    cost = plan["cost"]
    baseline = plan.get("baseline") or {}
    lines = [
        f"status {plan['status']} ({plan['termination_condition']}), method {plan['method']}, "
        f"{plan['solve_seconds']:.2f} s, plan_id {plan['plan_id']}",
        f"cost {cost['total']:,.0f} yen = opportunity {cost['opportunity']:,.0f} + moves "
        f"{cost['moves']:,.0f} + shortfall penalty {cost['shortfall_penalty']:,.0f}",
    ]
    if plan.get("objective_bound") is not None:
        lines.append(f"bound {plan['objective_bound']:,.0f} yen, gap {100 * plan['mip_gap']:.3f}%")
    if baseline.get("total") is not None:
        saving = baseline["total"] - cost["total"]
        lines.append(f"greedy waterfall {baseline['total']:,.0f} yen (saves {saving:,.0f})")
    short = [o for o in plan["obligations"] if o["shortfall"] > 0]
    lines.append(f"{len(plan['moves'])} moves in {len({m['group'] for m in plan['moves']})} groups; "
                 f"{len(short)} of {len(plan['obligations'])} obligations short")  # fmt: skip
    for o in short[:10]:
        lines.append(f"  {o['id']}: short {o['shortfall']:,.0f} yen: {o['binding']}")
    lines.append("verified" if verified else f"VERIFICATION FAILED: {len(violations)} violation(s)")
    lines.extend(f"  {v}" for v in violations[:20])
    if plan.get("message"):
        lines.append(plan["message"])
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add ``optimize`` and ``verify`` to ``app``."""

    @app.command()
    def optimize(
        problem: Annotated[Path, typer.Argument(help="Problem JSON (issue Part 2 contract).")],
        output: Annotated[
            Path | None,
            typer.Option("-o", "--output", help="Write the plan here (default: stdout)."),
        ] = None,
        method: Annotated[str, typer.Option(help="mip (default) or greedy.")] = "mip",
        time_limit: Annotated[
            float | None, typer.Option(help="Override solver.time_limit_s (seconds).")
        ] = None,
        mip_gap: Annotated[float | None, typer.Option(help="Override solver.mip_rel_gap.")] = None,
    ) -> None:
        """Choose the cheapest-to-deliver allocation and the moves to reach it."""
        import dataclasses

        from optimizer.contract import load_problem
        from optimizer.optimize import Method
        from optimizer.optimize import optimize as run
        from optimizer.verify import verify

        parsed = load_problem(problem)
        chosen = Method.parse(method, "options")
        if time_limit is not None or mip_gap is not None:
            solver = dataclasses.replace(
                parsed.solver,
                time_limit_s=parsed.solver.time_limit_s if time_limit is None else time_limit,
                mip_rel_gap=parsed.solver.mip_rel_gap if mip_gap is None else mip_gap,
            )
            parsed = dataclasses.replace(parsed, solver=solver)
        plan = run(parsed, chosen)
        report = verify(parsed, plan)
        data = plan.to_dict()
        violations = [str(v) for v in report.violations]
        data["verification"] = {"ok": report.ok, "violations": violations}
        text = json.dumps(data, indent=1, allow_nan=False)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8")
            typer.echo(_summary(data, report.ok, violations))
        if data["status"] == "error" or not report.ok:
            raise typer.Exit(1)

    @app.command("verify")
    def verify_plan(
        problem: Annotated[Path, typer.Argument(help="Problem JSON.")],
        plan: Annotated[Path, typer.Argument(help="Plan JSON written by tanpo optimize.")],
    ) -> None:
        """Re-derive a plan's feasibility and cost from its problem; list every violation."""
        from optimizer.contract import load_problem
        from optimizer.verify import verify
        from valuation.errors import InputError

        parsed = load_problem(problem)
        try:
            data = json.loads(plan.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(str(plan), "(json)", str(exc)) from None
        report = verify(parsed, data)
        typer.echo(str(report))
        if not report.ok:
            raise typer.Exit(1)
