"""``tanpo`` subcommands: ledger (filled in by its part)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's subcommands to ``app``."""
