"""``tanpo data``: rebuild the committed data files, extract official figures, make universes.

- ``tanpo data generate [--out data/] [--check]`` rewrites the generated files
  (``universe.csv``, ``sample_book.json``) byte for byte; ``--check`` only compares.
- ``tanpo data extract [--shared DIR] [--out data/]`` rebuilds the extracts of the
  official files (MOF curve rows, the calibration table) from ``../shared/data``.
- ``tanpo data universe --n N --seed S [--as-of DATE] [-o FILE]`` writes a universe of
  any size (benchmarks), CSV on stdout by default.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from valuation.errors import InputError

data_app = typer.Typer(
    name="data",
    help="Rebuild tanpo's data files, extract official figures, generate JGB universes.",
    no_args_is_help=True,
)


def generated_files() -> dict[Path, str]:
    """Every generated data file (path relative to ``data/`` -> exact text)."""
    from optimizer.sample_book import sample_book_files
    from valuation.reference_data import universe_file

    return {**universe_file(), **sample_book_files()}


def _write_all(files: dict[Path, str], out: Path, check: bool) -> None:
    stale = []
    for rel, text in files.items():
        path = out / rel
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            typer.echo(f"unchanged {path}")
            continue
        stale.append(path)
        if check:
            typer.echo(f"differs   {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote     {path}")
    if check and stale:
        raise typer.Exit(code=1)


@data_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Data folder to write into.")] = Path("data"),
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 if a file differs.")
    ] = False,
) -> None:
    """Regenerate universe.csv and sample_book.json (seeded, byte for byte)."""
    _write_all(generated_files(), out, check)


@data_app.command("extract")
def extract(
    shared: Annotated[
        Path | None,
        typer.Option("--shared", help="Folder holding data/mof and data/jgb_outstanding."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Data folder to write into.")] = Path("data"),
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 if a file differs.")
    ] = False,
) -> None:
    """Rebuild the extracts of the official files (MOF curve rows, calibration table)."""
    from valuation.paths import JGB_OUTSTANDING_PARTS, MOF_PAR_CURVE_PARTS, shared_dir
    from valuation.reference_data import extracted_files

    root = shared if shared is not None else shared_dir()
    if root is None:
        raise InputError("--shared", "path", "no ../shared folder; pass --shared DIR")
    curve = root.joinpath("data", *MOF_PAR_CURVE_PARTS)
    outstanding = root.joinpath("data", *JGB_OUTSTANDING_PARTS)
    for path in (curve, outstanding):
        if not path.is_file():
            raise InputError("--shared", "path", f"{path} does not exist")
    _write_all(extracted_files(curve, outstanding), out, check)


@data_app.command("universe")
def universe(
    n: Annotated[
        int | None, typer.Option("--n", help="Number of issues (default: natural size, 362).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 20260331,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Residual maturities count from this date.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="CSV file (default: stdout).")
    ] = None,
) -> None:
    """Write a seeded JGB universe of any size as CSV."""
    from valuation.universe import generate_universe, universe_csv

    when = None
    if as_of is not None:
        try:
            if len(as_of) != len("YYYY-MM-DD"):  # fromisoformat also takes 20260630
                raise ValueError(as_of)
            when = date.fromisoformat(as_of)
        except ValueError:
            raise InputError("--as-of", "date", f"{as_of!r} is not YYYY-MM-DD") from None
    text = universe_csv(generate_universe(n=n, seed=seed, as_of=when))
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(output), "file", f"cannot write it: {exc.strerror}") from None


def register(app: typer.Typer) -> None:
    """Add ``tanpo data ...`` to ``app``."""
    app.add_typer(data_app)
