"""``tanpo optimize`` and ``tanpo verify`` run as the user runs them: through the entry
point in-process (the ``tanpo`` fixture), one run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Tanpo
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem

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


def test_optimize_writes_a_plan_with_the_contract_fields(tmp_path: Path, tanpo: Tanpo) -> None:
    path = _write_problem(tmp_path)
    out = tmp_path / "plan.json"
    for method in ("greedy", "mip"):
        result = tanpo("optimize", str(path), "-o", str(out), "--method", method)
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
        check = tanpo("verify", str(path), str(out))
        assert check.returncode == 0 and "plan verified" in check.stdout


def test_optimize_prints_json_to_stdout_without_output_file(tmp_path: Path) -> None:
    result = _tanpo("optimize", str(_write_problem(tmp_path)), "--method", "greedy")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["method"] == "greedy"


def test_bad_input_is_one_line_naming_the_record(tmp_path: Path) -> None:
    """Through the console script: exit 2, one line, no traceback."""
    path = _write_problem(tmp_path)
    data = json.loads(path.read_text())
    data["holdings"][1]["face"] = 123
    path.write_text(json.dumps(data))
    result = _tanpo("optimize", str(path))
    assert result.returncode == 2
    assert "holdings[1]" in result.stderr and "face" in result.stderr
    assert "Traceback" not in result.stderr


def _mutated(tmp_path: Path, mutate: object) -> Path:
    data = json.loads(_write_problem(tmp_path).read_text())
    assert callable(mutate)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))  # NaN is written as the JSON extension NaN
    return path


BAD_PROBLEMS = [
    ("pledged face off the lot", lambda d: d["holdings"][1].update(face=LOT + 7), "holdings[1]", "face"),
    ("unknown ISIN", lambda d: d["holdings"][0].update(isin=isin(9)), "holdings[0]", "isin"),
    ("unknown schedule", lambda d: d["obligations"][0].update(schedule="X"), "obligations[0] (IM)", "schedule"),
    ("negative amount", lambda d: d["obligations"][0].update(required_value=-1), "obligations[0] (IM)", "required_value"),
    ("pledgor holds nothing", lambda d: (d["obligations"][0].update(pledgor="GHOST"), d["holdings"][1].update(pledged_to=None)), "obligations[0] (IM)", "pledgor"),
    ("missing field", lambda d: d["securities"][1].pop("maturity_date"), "securities[1]", "maturity_date"),
    ("wrong type", lambda d: d["obligations"][0].update(lot_face="100000000"), "obligations[0] (IM)", "lot_face"),
    ("NaN", lambda d: d["securities"][0].update(dirty_price=float("nan")), "securities[0]", "dirty_price"),
    ("duplicate id", lambda d: d["securities"].append(dict(d["securities"][0])), "securities[2]", "isin"),
    ("another owner's obligation", lambda d: d["holdings"].append({**d["holdings"][1], "owner": "OTHER"}), "holdings[2]", "pledged_to"),
    ("malformed date", lambda d: d.update(settlement_date="25/11/2026"), "problem", "settlement_date"),
    ("JGBi without its index ratio", lambda d: d["securities"][0].update(kind="inflation"), "securities[0]", "index_ratio"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "mutate", "record", "field"), BAD_PROBLEMS, ids=[b[0] for b in BAD_PROBLEMS]
)
def test_each_bad_problem_is_one_line_naming_record_and_field(
    tmp_path: Path, tanpo: Tanpo, name: str, mutate: object, record: str, field: str
) -> None:
    result = tanpo("optimize", str(_mutated(tmp_path, mutate)))
    assert result.returncode == 2, f"{name}: {result}"
    assert result.stdout == ""  # no plan written for a problem that is not valid
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{name}: {result.stderr}"
    assert lines[0].startswith(f"tanpo: error: {record}") and f": {field}: " in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "is empty"), (b"{not json", "(json)"), (b"\x89PNG\r\n\x1a\n\x00\xff", "not UTF-8"), (None, "cannot read")],
    ids=["empty", "not JSON", "binary", "directory"],
)  # fmt: skip
def test_unreadable_problem_files_are_one_line(
    tmp_path: Path, tanpo: Tanpo, content: bytes | None, words: str
) -> None:
    path = tmp_path / "p.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result = tanpo("optimize", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and words in lines[0], result.stderr
