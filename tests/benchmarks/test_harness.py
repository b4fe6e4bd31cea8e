"""The benchmark harness never rots: every registered benchmark runs at a tiny size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.harness.registry import REGISTRY, Context, Registry
from benchmarks.harness.report import render_markdown
from benchmarks.harness.runner import discover, main, run

pytest.importorskip("QuantLib")


def test_every_registered_benchmark_runs_quick(tmp_path: Path) -> None:
    status = main(["run", "--quick", "--repeat", "1", "--results-dir", str(tmp_path)])
    assert status == 0
    (path,) = tmp_path.glob("*-quick.json")
    run_data = json.loads(path.read_text())
    names = {b.name for b in REGISTRY.all()}
    assert {"valuation.price_curve", "valuation.scenarios_curve"} <= names
    assert {r["name"] for r in run_data["benchmarks"]} == names
    for result in run_data["benchmarks"]:
        assert result["error"] is None, result["error"]
        assert result["timings"], result["name"]
        assert all(t["met"] is None for t in result["targets"])  # quick: not judged
    assert run_data["machine"]["cpu"]
    assert "numpy" in run_data["machine"]["packages"]
    # Both sides price the same bonds on the same curve: the peer's prices agree.
    metrics = {r["name"]: r["metrics"] for r in run_data["benchmarks"]}
    agreement = {
        "valuation.price_curve": ("max |tanpo - QuantLib| on the sample", 1e-9),
        "valuation.scenarios_curve": (
            "max |tanpo - QuantLib| on the sample, all scenarios",
            1e-9,
        ),
        # central difference of two repricings vs the exact derivative (third order)
        "valuation.dv01_curve": ("max |tanpo - QuantLib| DV01 on the sample", 1e-6),
    }
    for name, (metric, tolerance) in agreement.items():
        assert metrics[name][metric]["value"] <= tolerance, (name, metrics[name][metric])


def test_results_render_to_markdown_with_the_machine(tmp_path: Path) -> None:
    registry = Registry()

    @registry.register("demo.sleepless", "a benchmark that only counts")
    def sleepless(ctx: Context) -> None:
        n = ctx.size(full=1000, quick=10)
        ctx.param(items=n)
        ctx.measure("count", lambda: sum(range(n)), items=n)
        ctx.measure(
            "count slowly",
            lambda: [i for i in range(n)],
            items=n // 10,
            who="peer",
            extrapolate_to=n,
        )
        ratio = ctx.compare("counting", "count", "peer", "count slowly")
        ctx.target("faster than the peer", ratio, ">=", 0.0, "x")
        ctx.note("a note")

    run_data, _ = run(
        [],
        quick=False,
        repeat=2,
        results_dir=tmp_path,
        markdown=tmp_path / "R.md",
        registry=registry,
    )
    (result,) = run_data["benchmarks"]
    assert result["targets"][0]["met"] is True
    assert [t["runs"] for t in result["timings"]] == [2, 2]
    text = (tmp_path / "R.md").read_text()
    assert "## `demo.sleepless`: a benchmark that only counts" in text
    assert run_data["machine"]["cpu"] in text
    assert "| tanpo | count | 1,000 |" in text
    assert "extrapolated" in text and "- a note" in text
    # Quick runs are written but never rendered.
    run([], quick=True, repeat=1, results_dir=tmp_path, markdown=None, registry=registry)
    assert render_markdown(tmp_path).count("## `demo.sleepless`") == 1


def test_registry_refuses_bad_and_duplicate_names() -> None:
    registry = Registry()
    registry.register("area.one", "first")(lambda ctx: None)
    with pytest.raises(ValueError, match="twice"):
        registry.register("area.one", "again")(lambda ctx: None)
    with pytest.raises(ValueError, match=r"area\.what"):
        registry.register("NoArea", "bad")
    assert [b.name for b in registry.select(["area"])] == ["area.one"]
    with pytest.raises(KeyError, match="unknown benchmark"):
        registry.select(["nothing"])


def test_discovery_imports_the_area_modules() -> None:
    assert "valuation" in discover()


def test_ratios_below_one_keep_their_digits() -> None:
    # The ledger's commit against raw SQLite is a ratio below 1 (0.19x): a whole-number
    # format printed it as "0x", which said nothing.
    from benchmarks.harness.report import human_ratio

    assert human_ratio(0.1873) == "0.187x"
    assert human_ratio(12.34) == "12.3x"
    assert human_ratio(3412.7) == "3,413x"
    assert human_ratio(None) == ""
