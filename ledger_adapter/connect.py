"""One ledger URL, one ``Ledger``: the embedded ledger or a Canton participant.

``sqlite:///relative.db``, ``sqlite:////absolute.db`` and ``postgresql://...`` open the
embedded ledger (:class:`~ledger_adapter.embedded.EmbeddedLedger`); ``http://`` and
``https://`` reach a participant's JSON Ledger API v2
(:func:`ledger_adapter.canton.connect`, token from ``$TANPO_CANTON_TOKEN`` or
``$TANPO_CANTON_TOKEN_FILE``). Callers (the CLI, later the HTTP service and batch runs)
take any of them through the same protocol.
"""

from __future__ import annotations

from pathlib import Path

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.protocol import Ledger
from ledger_adapter.storage import (
    open_backend,
    refuse_foreign_tables,
    refuse_headless_log,
    stored_schema_version,
)
from valuation.errors import InputError

EMBEDDED_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")
REMOTE_SCHEMES = ("http://", "https://")


def is_embedded(url: str) -> bool:
    """Whether ``url`` names an embedded ledger (SQLite file or PostgreSQL)."""
    return url.startswith(EMBEDDED_SCHEMES)


def open_embedded(url: str, *, create: bool = False) -> EmbeddedLedger:
    """The embedded ledger at ``url``; unless ``create`` it must have been initialised
    (a missing SQLite file, an empty one or an empty database is an error)."""
    if not is_embedded(url):
        raise InputError(
            "--ledger", url, "needs an embedded ledger: sqlite:///path.db or postgresql://..."
        )
    if not create:
        path = Path(url.removeprefix("sqlite:///"))
        if url.startswith("sqlite:///") and not path.exists():  # do not make the file
            raise InputError("--ledger", url, "no ledger there; run tanpo ledger init first")
        backend = open_backend(url)
        try:
            version = stored_schema_version(backend)
            if version is None:
                refuse_foreign_tables(backend)
                refuse_headless_log(backend)
        finally:
            backend.close()
        if version is None:  # an empty file or database
            raise InputError("--ledger", url, "no ledger there; run tanpo ledger init first")
    return EmbeddedLedger(url)


def open_ledger(url: str) -> Ledger:
    """The ledger at ``url``: embedded (must exist) or a Canton participant over HTTP."""
    if url.startswith(REMOTE_SCHEMES):
        from ledger_adapter.canton import connect

        return connect(url)
    if is_embedded(url):
        return open_embedded(url)
    raise InputError(
        "--ledger",
        url,
        "unknown ledger URL; use sqlite:///path.db, postgresql://... or http(s)://participant",
    )
