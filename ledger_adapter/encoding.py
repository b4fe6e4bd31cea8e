"""How the embedded ledger writes values into its tables: compact JSON and party lists.

JSON is written and read with orjson: a 1,000-move plan's log row is ~2 MB of nodes,
which the standard library's encoder takes ~40 ms to write and orjson ~1 ms
(measured on this machine, ``benchmarks/ledger.py``). The text is the same compact
JSON either way (no spaces, UTF-8, keys in insertion order), so rows written before
and after read alike.

Parties are stored as ``A,B`` (party ids hold no comma: the type check refuses one);
the stakeholder column as ``,A,B,C,`` so that a party filter is a substring test.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from ledger_adapter.templates import Stakeholders, stakeholders

JSONDecodeError = orjson.JSONDecodeError
"""Raised by :func:`loads` on text that is not JSON (a ``ValueError``)."""


def dumps(value: Any) -> str:
    """Compact JSON text of ``value`` (Daml-LF JSON values: str, bool, None, lists, dicts)."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``."""
    return orjson.loads(text)


def party_list(parties: Any) -> str:
    """Parties as stored: ``A,B``."""
    return ",".join(parties)


def parse_party_list(text: str) -> list[str]:
    """The parties of a stored ``A,B`` list (``""``: none)."""
    return text.split(",") if text else []


def stakeholder_key(signatories: Any, observers: Any) -> str:
    """``,A,B,C,``: the stakeholders as stored, so a party filter is a substring test."""
    return "," + ",".join(sorted({*signatories, *observers})) + ","


@functools.lru_cache(maxsize=4096)
def stored_parties(parties: Stakeholders) -> tuple[str, str, str]:
    """(signatories, observers, stakeholders) columns of a contract with ``parties``
    (computed once per distinct set: they are shared)."""
    return (
        party_list(parties.signatory_list),
        party_list(parties.observer_list),
        stakeholder_key(parties.signatory_list, parties.observer_list),
    )


@functools.lru_cache(maxsize=4096)
def parties_of_columns(signatories: str, observers: str) -> Stakeholders:
    """The shared :class:`Stakeholders` of a stored row's party columns."""
    return stakeholders(tuple(parse_party_list(signatories)), tuple(parse_party_list(observers)))
