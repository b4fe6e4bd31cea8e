"""``tanpo demo``: registers the command; the work lives in :mod:`api.demo`, imported
only when the command runs so other commands start fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``tanpo demo``."""

    @app.command()
    def demo(
        book: Annotated[
            Path | None, typer.Option(help="Problem/book JSON (default: data/sample_book.json)")
        ] = None,
        method: Annotated[str, typer.Option(help="mip or greedy")] = "mip",
        ledger: Annotated[
            Path, typer.Option(help="SQLite file for the demo ledger (recreated each run)")
        ] = Path(".cache/demo/ledger.db"),
    ) -> None:
        """Value the sample book, optimize and verify, then pledge on an embedded ledger."""
        from rich.console import Console

        from api.demo import run_demo
        from optimizer.optimize import Method
        from valuation.paths import data_dir

        run_demo(book or data_dir() / "sample_book.json", Method.parse(method), Console(), ledger)
