"""The layers import one way: valuation <- optimizer <- ledger_adapter <- api.

Parses every module's imports (including imports inside functions) and fails on any
import of a higher layer, so the architecture stays visible in the folder list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["valuation", "optimizer", "ledger_adapter", "api"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def _imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add((alias.name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def _modules() -> list[tuple[str, Path]]:
    return [(layer, p) for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))]


@pytest.mark.parametrize(("layer", "path"), _modules(), ids=str)
def test_no_upward_import(layer: str, path: Path) -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {pkg}"
        for pkg, line in sorted(_imported_packages(path))
        if pkg in RANK and RANK[pkg] > RANK[layer]
    ]
    assert not upward, "upward import(s): " + "; ".join(upward)


def test_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from optimizer import problem\n")
    assert ("optimizer", 2) in _imported_packages(bad)
