"""``tanpo data`` run as the real console script."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Tanpo
from valuation.isin import is_valid_isin
from valuation.paths import data_dir

TANPO = Path(sys.executable).with_name("tanpo")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TANPO_DEBUG"}
    return subprocess.run(
        [str(TANPO), "data", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_universe_of_any_size_on_stdout(tanpo: Tanpo) -> None:
    done = _run("universe", "--n", "50", "--seed", "3", "--as-of", "2026-06-30")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 50
    assert all(is_valid_isin(r["isin"]) for r in rows)
    # The same seed gives the same file in another process (this one).
    again = tanpo("data", "universe", "--n", "50", "--seed", "3", "--as-of", "2026-06-30")
    assert again.stdout == done.stdout


def test_universe_bad_input_is_one_line() -> None:
    done = _run("universe", "--as-of", "2026-13-01")
    assert done.returncode == 2
    assert done.stderr.strip() == "tanpo: error: --as-of: date: '2026-13-01' is not YYYY-MM-DD"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--n", "0"), "universe: n: 0 must be in 1..100,000"),
        (("--n", "100000000000"), "universe: n: 100000000000 must be in 1..100,000"),
        (("--n", "5", "--as-of", "20260630"), "--as-of: date: '20260630' is not YYYY-MM-DD"),
        (("--n", "5", "-o", "/"), "/: file: cannot write it: Is a directory"),
    ],
)
def test_universe_bad_arguments(tanpo: Tanpo, args: tuple[str, ...], message: str) -> None:
    done = tanpo("data", "universe", *args)
    assert (done.returncode, done.stderr) == (2, f"tanpo: error: {message}\n")


def test_generate_check_and_rewrite(tanpo: Tanpo, tmp_path: Path) -> None:
    out = tmp_path / "data"
    shutil.copytree(data_dir(), out)
    (out / "universe.csv").write_text("stale\n")
    checked = tanpo("data", "generate", "--check", "--out", str(out))
    assert checked.returncode == 1, checked.stderr
    assert f"differs   {out / 'universe.csv'}" in checked.stdout
    assert f"unchanged {out / 'sample_book.json'}" in checked.stdout
    assert (out / "universe.csv").read_text() == "stale\n"  # --check writes nothing
    assert tanpo("data", "generate", "--out", str(out)).returncode == 0
    assert (out / "universe.csv").read_bytes() == (data_dir() / "universe.csv").read_bytes()


def test_extract_without_shared_folder_is_a_clear_error(tmp_path: Path) -> None:
    done = _run("extract", "--shared", str(tmp_path), "--out", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
