"""How the embedded ledger writes values into its tables: compact JSON and party lists.

JSON is written and read with orjson: a 1,000-move plan's log row is ~2 MB of nodes,
which the standard library's encoder takes ~40 ms to write and orjson ~1 ms
(measured on this machine, ``benchmarks/ledger.py``). The text is the same compact
JSON either way (no spaces, UTF-8, keys in insertion order), so rows written before
and after read alike.

Parties are stored as ``A,B`` (party ids hold no comma: the type check refuses one);
the stakeholder column as ``,A,B,C,`` so that a party filter is a substring test.

The log's nodes are stored compressed with Zstandard (level 1) when they are large
(:data:`SMALL_NODES`): a 1,000-move plan's 2 MB of nodes become ~240 KB in ~2 ms, 430
fewer pages for SQLite to write and fsync (~0.01-0.02 ms each here, more when the
disk is shared). The hash chain covers the JSON text, not the stored bytes, so
compressing an old log changes no hash.

A contract id is ``"00"`` + offset (12 hex digits) + node id (6) + a 23-byte
discriminator (46), so the active contract table keys a contract by the integer
offset x 2^24 + node id (:func:`contract_key`) and keeps the discriminator as bytes:
an integer b-tree key instead of 66 characters of text.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import orjson
import zstandard

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


@functools.lru_cache(maxsize=4096)
def party_tuple(text: str) -> tuple[str, ...]:
    """The parties of a stored ``A,B`` list as a tuple (parsed once per distinct list:
    a ledger has a handful, read back once per contract)."""
    return tuple(text.split(",")) if text else ()


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


_ZSTD_LEVEL = 1
_codecs = threading.local()  # zstandard's (de)compressor objects are not thread-safe


def compress(text: bytes) -> bytes:
    """``text`` as one Zstandard frame (level 1, content size recorded)."""
    compressor = getattr(_codecs, "compressor", None)
    if compressor is None:
        compressor = _codecs.compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
    return compressor.compress(text)


def decompress(blob: bytes) -> bytes:
    """The bytes :func:`compress` was given (``zstandard.ZstdError`` if ``blob`` is not a frame)."""
    decompressor = getattr(_codecs, "decompressor", None)
    if decompressor is None:
        decompressor = _codecs.decompressor = zstandard.ZstdDecompressor()
    return decompressor.decompress(blob)


SMALL_NODES = 1024
"""Nodes of fewer JSON bytes are stored as they are. A one-move transaction's 2.7 KB
compress to 0.8 KB in ~7 us (~60,000 instructions under callgrind, where the stream
code counts more than it costs): its log row then shares a leaf with others instead of
taking one of its own, so a commit writes 7.7 WAL pages instead of 8.6 (the log's
pages 2.1 -> 1.4 a commit, the header page that records the file's growth 1.0 ->
0.74: measured over 1,000 one-move commits), and each page written and fsynced
costs ~15 us here (1 -> 8 pages a commit: 184 -> 309 us). (It was 8,192 when a
one-move log row was 3.7 KB and the cost was read from instruction counts alone.) A
plan's 2 MB compress at 1 ns a byte."""


def stored_nodes(nodes_json: bytes) -> bytes:
    """The log's nodes as stored: JSON as it is below :data:`SMALL_NODES` bytes, else compressed."""
    return nodes_json if len(nodes_json) < SMALL_NODES else compress(nodes_json)


def nodes_of_stored(blob: bytes) -> bytes:
    """The nodes' JSON from :func:`stored_nodes`' bytes (a JSON array begins with ``[``;
    a Zstandard frame with 0x28)."""
    return blob if blob[:1] == b"[" else decompress(blob)


CompressionError = zstandard.ZstdError
"""Raised by :func:`decompress` on bytes that are not a Zstandard frame."""

MAX_OFFSET = (1 << 39) - 1
"""The last offset whose contracts' keys fit a signed 64-bit integer (offset x 2^24 +
node id): 5.5e11 transactions, 17 years at 1,000 a second."""

_CONTRACT_ID = re.compile(r"00[0-9a-f]{18}(?:[0-9a-f]{46})?")


def contract_key(contract_id: str) -> tuple[int, bytes] | None:
    """(offset x 2^24 + node id, discriminator) of an id this ledger makes, else ``None``.

    Ids of 20 characters (no discriminator) are accepted: ledgers written before a fix
    of the interpreter hold some (a create in a block of 32 nodes that began with an
    exercise got an empty discriminator); they are still unique (offset, node id).
    """
    if len(contract_id) not in (20, 66) or _CONTRACT_ID.fullmatch(contract_id) is None:
        return None
    return int(contract_id[2:20], 16), bytes.fromhex(contract_id[20:])


def contract_id_of(key: int, discriminator: bytes) -> str:
    """The contract id of a stored (key, discriminator): the inverse of :func:`contract_key`."""
    return f"00{key >> 24:012x}{key & 0xFFFFFF:06x}{discriminator.hex()}"
