"""``python -m benchmarks``: discover the area modules, run, print, write results.

Usage::

    python -m benchmarks run [NAME|AREA ...] [--quick] [--repeat N] [--results-dir DIR]
                             [--markdown PATH | --no-markdown]
    python -m benchmarks list
    python -m benchmarks render      # rewrite RESULTS.md from the JSON results

Every module ``benchmarks/<area>.py`` (not starting with ``_``; ``data`` and ``harness``
excepted) is imported, which registers its benchmarks; a helper module that registers
nothing (a data generator) is imported harmlessly. ``--quick`` runs each at a
tiny size (the smoke test uses it): results are written but never rendered into
``RESULTS.md``, and targets are not judged.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness.machine import describe_machine
from benchmarks.harness.registry import REGISTRY, Benchmark, Context, Registry
from benchmarks.harness.report import (
    human_rate,
    human_ratio,
    human_seconds,
    render_markdown,
    write_run,
)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = PACKAGE_DIR / "results"
MARKDOWN = PACKAGE_DIR / "RESULTS.md"
NOT_AREAS = frozenset({"data", "harness"})


def discover() -> list[str]:
    """Import every module of the ``benchmarks`` package; return the areas (those that
    registered a benchmark). Helper modules (data generators) are imported harmlessly."""
    for info in pkgutil.iter_modules([str(PACKAGE_DIR)]):
        if info.name.startswith("_") or info.name in NOT_AREAS:
            continue
        importlib.import_module(f"benchmarks.{info.name}")
    return sorted({b.area for b in REGISTRY.all()})


def run_one(bench: Benchmark, *, quick: bool, repeat: int) -> dict[str, Any]:
    """Run one benchmark; an exception is recorded as its error, never raised."""
    ctx = Context(quick=quick, repeat=repeat)
    start = time.perf_counter()
    error = None
    try:
        bench.function(ctx)
    except Exception:  # a broken benchmark must not stop the others
        error = traceback.format_exc()
    return {
        "name": bench.name,
        "description": bench.description,
        "seconds_total": time.perf_counter() - start,
        "params": ctx.params,
        "timings": [t.as_dict() for t in ctx.timings],
        "metrics": ctx.metrics,
        "comparisons": ctx.comparisons,
        "targets": ctx.targets,
        "notes": ctx.notes,
        "error": error,
    }


def _print_result(result: dict[str, Any]) -> None:
    print(f"\n== {result['name']}: {result['description']} ({result['seconds_total']:.1f} s)")
    if result["error"]:
        print(result["error"])
        return
    for t in result["timings"]:
        extra = (
            f"  -> {human_seconds(t['extrapolated_s'])} for {t['extrapolate_to']:,}"
            if t["extrapolated_s"] is not None
            else ""
        )
        print(
            f"  {t['who']:>9} {t['phase']:<28} median {human_seconds(t['median_s']):>9}  "
            f"min {human_seconds(t['min_s']):>9}  x{t['runs']:<3} "
            f"{human_rate(t['items_per_s']):>6}/s{extra}"
        )
    for c in result["comparisons"]:
        print(
            f"  speed-up {c['label']}: {human_ratio(c['speedup_median'])}"
            f" (min {human_ratio(c['speedup_min'])})"
        )
    for t in result["targets"]:
        met = {True: "met", False: "NOT MET", None: "not judged (--quick)"}[t["met"]]
        print(f"  target {t['label']}: {t['value']:,.4g} {t['op']} {t['threshold']:,.4g} {met}")


def write_markdown(results_dir: Path, markdown: Path) -> None:
    """Render ``markdown`` from ``results_dir``, with ``RESULTS_PREFACE.md`` on top."""
    preface_path = PACKAGE_DIR / "RESULTS_PREFACE.md"
    preface = preface_path.read_text(encoding="utf-8") if preface_path.exists() else ""
    markdown.write_text(render_markdown(results_dir, preface), encoding="utf-8")


def run(
    patterns: list[str],
    *,
    quick: bool,
    repeat: int | None,
    results_dir: Path,
    markdown: Path | None,
    registry: Registry = REGISTRY,
) -> tuple[dict[str, Any], Path]:
    """Run the selected benchmarks, write the run's JSON (and ``RESULTS.md``)."""
    selected = registry.select(patterns)
    repeats = repeat if repeat is not None else (2 if quick else 7)
    machine = describe_machine()
    results = []
    for bench in selected:
        result = run_one(bench, quick=quick, repeat=repeats)
        _print_result(result)
        results.append(result)
    try:
        import numba

        machine["numba_threads"] = getattr(numba, "config").NUMBA_NUM_THREADS  # noqa: B009
        machine["numba_threading_layer"] = getattr(numba, "threading_layer")()  # noqa: B009
    except (ImportError, ValueError):  # no parallel kernel ran
        pass
    run_data = {
        "run_id": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "quick": quick,
        "repeat": repeats,
        "machine": machine,
        "benchmarks": results,
    }
    path = write_run(run_data, results_dir)
    print(f"\nresults: {path}")
    if markdown is not None and not quick:
        write_markdown(results_dir, markdown)
        print(f"table:   {markdown}")
    return run_data, path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 if any benchmark failed)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run benchmarks (all when no name given)")
    run_parser.add_argument("names", nargs="*", help="benchmark names or areas")
    run_parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    run_parser.add_argument("--repeat", type=int, default=None, help="runs per phase")
    run_parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    run_parser.add_argument("--markdown", type=Path, default=MARKDOWN)
    run_parser.add_argument("--no-markdown", action="store_true")
    commands.add_parser("list", help="list registered benchmarks")
    commands.add_parser("render", help="rewrite RESULTS.md from benchmarks/results/")
    args = parser.parse_args(argv)
    if args.command == "render":
        write_markdown(RESULTS_DIR, MARKDOWN)
        print(f"table:   {MARKDOWN}")
        return 0

    discover()
    if args.command == "list":
        for bench in REGISTRY.all():
            print(f"{bench.name:<32} {bench.description}")
        return 0
    try:
        run_data, _ = run(
            args.names,
            quick=args.quick,
            repeat=args.repeat,
            results_dir=args.results_dir,
            markdown=None if args.no_markdown else args.markdown,
        )
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    failed = [r["name"] for r in run_data["benchmarks"] if r["error"]]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
