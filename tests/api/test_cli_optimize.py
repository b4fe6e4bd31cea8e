"""``tanpo optimize`` and ``tanpo verify`` run as the user runs them: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.optimizer.factory import bond, holding, obligation, problem

ROOT = Path(__file__).resolve().parents[2]


def _tanpo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write_problem(tmp_path: Path) -> Path:
    data = problem([bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
                   [holding(1, 10), holding(2, 8, pledged_to="IM")], [obligation("IM", 12)], move_cost=1000)  # fmt: skip
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    return path


def test_optimize_writes_a_plan_with_the_contract_fields(tmp_path: Path) -> None:
    path = _write_problem(tmp_path)
    out = tmp_path / "plan.json"
    for method in ("greedy", "mip"):
        result = _tanpo("optimize", str(path), "-o", str(out), "--method", method)
        assert result.returncode == 0, result.stderr
        assert "verified" in result.stdout
        plan = json.loads(out.read_text())
        assert plan["status"] in ("optimal", "feasible")
        for name in (
            "objective_value",
            "objective_bound",
            "mip_gap",
            "solve_seconds",
            "allocations",
            "moves",
            "obligations",
            "cost",
            "baseline",
            "plan_id",
        ):
            assert name in plan
        assert set(plan["cost"]) == {"opportunity", "moves", "shortfall_penalty", "total"}
        assert plan["baseline"]["method"] == "greedy"
        for move in plan["moves"]:
            assert {"action", "obligation", "account", "isin", "face", "group", "reason"} <= set(
                move
            )
        assert plan["verification"]["ok"]
        check = _tanpo("verify", str(path), str(out))
        assert check.returncode == 0 and "plan verified" in check.stdout


def test_optimize_prints_json_to_stdout_without_output_file(tmp_path: Path) -> None:
    result = _tanpo("optimize", str(_write_problem(tmp_path)), "--method", "greedy")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["method"] == "greedy"


def test_bad_input_is_one_line_naming_the_record(tmp_path: Path) -> None:
    path = _write_problem(tmp_path)
    data = json.loads(path.read_text())
    data["holdings"][1]["face"] = 123
    path.write_text(json.dumps(data))
    result = _tanpo("optimize", str(path))
    assert result.returncode == 2
    assert "holdings[1]" in result.stderr and "face" in result.stderr
    assert "Traceback" not in result.stderr
