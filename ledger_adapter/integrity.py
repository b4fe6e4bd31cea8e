"""The hash chain over the transaction log and ``verify``, which finds any tampering.

Each transaction's hash covers its every stored column and the previous hash:

.. math:: h_n = \\mathrm{SHA256}(h_{n-1} \\,\\|\\, n \\,\\|\\, \\text{update id} \\,\\|\\,
          \\text{change id} \\,\\|\\, \\dots \\,\\|\\, \\text{nodes})

with :math:`h_0` = 64 zeros, so it is computed incrementally, once per commit.
:func:`verify` recomputes the chain (an edited, inserted or deleted log row breaks it),
then replays the log and compares the active contract table and the deduplication table
with what the log implies, so an edit of derived state is caught as well, and so is a
deleted newest transaction (its contracts and its deduplication entry have no origin). It cannot catch a rewrite of the whole chain and its head by
someone who has the database: anchor the head elsewhere (``tanpo ledger verify`` prints
it) for that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger_adapter.encoding import (
    CompressionError,
    JSONDecodeError,
    loads,
    parse_party_list,
    stakeholder_key,
)

if TYPE_CHECKING:
    from ledger_adapter.embedded import EmbeddedLedger


GENESIS_HASH = "0" * 64
_MAX_PROBLEMS = 50


LogRow = tuple[int, str, str | None, str | None, str, str | None, str | None, str, str | bytes, str]
"""(offset, update_id, command_id, user_id, act_as, submission_id, workflow_id,
effective_at, nodes JSON (text or its UTF-8 bytes), prev_hash): a log row's columns
before its hash (the nodes as JSON, whatever compression stores them)."""


def transaction_hash(row: LogRow) -> str:
    """The chain hash of one log row (hex SHA-256)."""
    (
        offset,
        update_id,
        command_id,
        user_id,
        act_as,
        submission_id,
        workflow_id,
        effective_at,
        nodes_json,
        prev_hash,
    ) = row
    columns = (
        prev_hash,
        str(offset),
        update_id,
        command_id or "",
        user_id or "",
        act_as,
        submission_id or "",
        workflow_id or "",
        effective_at,
        "",  # each column is followed by the separator
    )
    h = hashlib.sha256("\x1f".join(columns).encode())
    h.update(nodes_json.encode() if isinstance(nodes_json, str) else nodes_json)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify` found."""

    transactions: int
    contracts: int
    ledger_end: int
    head_hash: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(ledger: EmbeddedLedger) -> VerifyReport:
    """Check the hash chain and that derived tables agree with the log."""
    db = ledger.backend
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < _MAX_PROBLEMS:
            problems.append(text)

    db.begin_read()
    try:
        expected: dict[str, list[Any]] = {}
        change_ids: dict[tuple[str | None, str, str | None], int] = {}
        previous, last_offset, count = GENESIS_HASH, 0, 0
        for tx in ledger.stored_transactions():
            count += 1
            if tx.offset != last_offset + 1:
                problem(f"offsets {last_offset + 1}..{tx.offset - 1} are missing from the log")
            if tx.prev_hash != previous:
                problem(f"offset {tx.offset}: prev_hash does not match the previous transaction")
            act_key = tx.act_as_json
            change_ids[(tx.user_id, act_key, tx.command_id)] = tx.offset
            try:
                nodes_json = tx.nodes_json
            except (CompressionError, UnicodeDecodeError):
                problem(f"offset {tx.offset}: stored nodes cannot be read (edited)")
                previous, last_offset = tx.tx_hash, tx.offset
                continue
            recomputed = transaction_hash(
                (
                    tx.offset,
                    tx.update_id,
                    tx.command_id,
                    tx.user_id,
                    act_key,
                    tx.submission_id,
                    tx.workflow_id,
                    tx.effective_at,
                    nodes_json,
                    tx.prev_hash,
                )
            )
            hashed = recomputed == tx.tx_hash
            if not hashed:
                problem(f"offset {tx.offset}: row content does not match its hash (edited)")
            previous, last_offset = tx.tx_hash, tx.offset
            try:
                _replay(loads(nodes_json), tx.offset, expected, problem)
            except JSONDecodeError:
                problem(f"offset {tx.offset}: nodes are not valid JSON")
            except (KeyError, TypeError, AttributeError) as exc:  # valid JSON, not our nodes
                # nodes that match their hash were written by a submit: then it is the
                # replay that cannot read them (a bug), not an edit, and it says so
                problem(
                    f"offset {tx.offset}: nodes are not a transaction's (edited)"
                    if not hashed
                    else f"offset {tx.offset}: nodes match their hash but cannot be replayed"
                    f" ({type(exc).__name__}: {exc}): a verify defect or a rewritten chain;"
                    " report it"
                )
        _compare_contracts(ledger, expected, problem)
        _compare_dedup(ledger, change_ids, problem)
    finally:
        db.rollback() if db.dialect == "sqlite" else db.commit()
    return VerifyReport(count, len(expected), last_offset, previous, tuple(problems))


def _replay(
    nodes: list[dict[str, Any]],
    offset: int,
    expected: dict[str, list[Any]],
    problem: Any,
) -> None:
    created = {n["cid"] for n in nodes if n["k"] == "c"}
    consumed = {n["cid"] for n in nodes if n["k"] == "e" and n["cons"]}
    for node in nodes:
        cid = node["cid"]
        if node["k"] == "c" and cid not in consumed:
            expected[cid] = [
                node["tpl"],
                node["args"],
                node["sig"],
                node["obs"],
                stakeholder_key(node["sig"], node["obs"]),
                offset,
                node["n"],
            ]
        elif (
            node["k"] == "e"
            and node["cons"]
            and cid not in created
            and expected.pop(cid, None) is None
        ):
            problem(f"offset {offset}: archives {cid}, which was not active")


def _compare_contracts(
    ledger: EmbeddedLedger, expected: dict[str, list[Any]], problem: Any
) -> None:
    fields = ["template_id", "arguments", "signatories", "observers", "stakeholders"]
    fields += ["created_offset", "created_node"]
    seen = set()
    for cid, tpl, args, sig, obs, holders, created, node in ledger.stored_contracts():
        seen.add(cid)
        if tpl is None or sig is None or obs is None:
            problem(f"contract {cid}: its template or party-set code is not in the tables")
            continue
        want = expected.get(cid)
        if want is None:
            problem(f"contract {cid} is active in the table but not according to the log")
            continue
        try:
            got = [tpl, loads(args), parse_party_list(sig), parse_party_list(obs), holders]
            got += [created, node]
        except JSONDecodeError:
            problem(f"contract {cid}: stored JSON is corrupt")
            continue
        if got != want:
            bad = [f for f, g, w in zip(fields, got, want, strict=True) if g != w]
            problem(f"contract {cid}: {', '.join(bad)} differ from the log")
    for cid in sorted(expected.keys() - seen):
        problem(f"contract {cid} is active according to the log but missing from the table")


def _compare_dedup(
    ledger: EmbeddedLedger,
    change_ids: dict[tuple[str | None, str, str | None], int],
    problem: Any,
) -> None:
    rows = ledger.backend.query(
        "SELECT user_id, act_as, command_id, ledger_offset FROM command_dedup"
    )
    stored = {(u, a, c): o for u, a, c, o in rows}
    for key, offset in stored.items():
        if change_ids.get(key) != offset:
            problem(
                f"deduplication entry {key[2]!r} points at offset {offset}, not its transaction"
            )
    for key in change_ids.keys() - stored.keys():
        if key[2] is not None:
            problem(f"deduplication entry for command {key[2]!r} is missing")
