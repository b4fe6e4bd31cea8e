"""``tanpo demo`` (what ``make run`` runs): the whole pipeline on the sample book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TANPO = Path(sys.executable).with_name("tanpo")


@pytest.mark.parametrize("method", ["greedy", "mip"])
def test_demo_values_optimizes_and_pledges(tmp_path: Path, method: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TANPO_DEBUG"} | {"COLUMNS": "200"}
    done = subprocess.run(
        [str(TANPO), "demo", "--method", method, "--ledger", str(tmp_path / "demo.db")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "Sample book valued for settlement 2026-07-01",
        "MIZUHO",
        "Independent check of the plan: verified",
        "Reconciled with the plan's allocations: yes",
        "second run: already applied",
        "transactions: ok",
        "face conserved: yes",
        "Intraday: ",
        "calls margin on ",
        "Top-up reconciled: yes",
    ):
        assert expected in out, out
    assert (tmp_path / "demo.db").exists()
