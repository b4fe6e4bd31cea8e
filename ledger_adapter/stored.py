"""The embedded ledger's log and contract table as stored: the operator's view.

Audits read these, not a party's projection: :func:`ledger_adapter.integrity.verify`
recomputes the hash chain over :class:`StoredTransaction` rows and compares the
:class:`StoredContract` rows with what the log implies, the model's invariants
(:mod:`ledger_adapter.invariants`) replay every node, and an active-contracts read at an
earlier offset replays the log up to it (:func:`replayed_rows`: history lives in the
log, not in an index; :mod:`ledger_adapter.storage`). The
:class:`~ledger_adapter.embedded.EmbeddedLedger` methods of the same names call these
holding its lock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ledger_adapter.encoding import contract_id_of, loads, nodes_of_stored
from ledger_adapter.storage import Backend

_LOG_ROWS = (
    "SELECT ledger_offset, update_id, command_id, user_id, act_as, submission_id,"
    " workflow_id, effective_at, prev_hash, tx_hash, {nodes} FROM transactions"
)
_NODES = {"sqlite": "CAST(nodes AS BLOB)"}
"""The nodes column read as bytes: in SQLite a value edited with SQL's ``replace`` is
text, and text of compressed bytes is not UTF-8 (reading it as text would fail the
whole query instead of that row's verification)."""


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """A log row as stored (the operator's view: every node, no projection)."""

    offset: int
    update_id: str
    command_id: str | None
    user_id: str | None
    act_as_json: str
    submission_id: str | None
    workflow_id: str | None
    effective_at: str
    prev_hash: str
    tx_hash: str
    nodes_stored: bytes
    """The nodes as stored: JSON, compressed when large (:func:`ledger_adapter.encoding.stored_nodes`)."""

    @property
    def act_as(self) -> tuple[str, ...]:
        return tuple(loads(self.act_as_json))

    @property
    def nodes_json(self) -> str:
        """The nodes' JSON text, as hashed (``CompressionError``/``UnicodeDecodeError``
        when the stored bytes were damaged)."""
        return nodes_of_stored(self.nodes_stored).decode()

    @property
    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = loads(nodes_of_stored(self.nodes_stored))
        return nodes


class StoredContract(NamedTuple):
    """A row of the active contract table as stored, its codes resolved (``None``
    where a code has no row: a damaged table)."""

    contract_id: str
    template_id: str | None
    arguments_json: str
    signatories: str | None
    """``A,B``"""
    observers: str | None
    stakeholders: str | None
    """``,A,B,C,``"""
    created_offset: int
    created_node: int


def log_page(
    db: Backend, after: int, end_inclusive: int | None, page: int
) -> list[StoredTransaction]:
    """Up to ``page`` log rows after offset ``after`` (to ``end_inclusive``), in order."""
    log_rows = _LOG_ROWS.format(nodes=_NODES.get(db.dialect, "nodes"))
    sql = f"{log_rows} WHERE ledger_offset > ?"
    params: list[Any] = [after]
    if end_inclusive is not None:
        sql += " AND ledger_offset <= ?"
        params.append(end_inclusive)
    rows = db.query(sql + f" ORDER BY ledger_offset LIMIT {int(page)}", params)
    return [
        StoredTransaction(off, uid, cmd, user, act, sub, wf, at, prev, tx_hash, _bytes(nodes))
        for off, uid, cmd, user, act, sub, wf, at, prev, tx_hash, nodes in rows
    ]


def _bytes(nodes: bytes | memoryview | str) -> bytes:
    """A nodes column's bytes (text in SQLite only where someone edited it with SQL's
    ``replace``: then it does not verify, it is not a crash)."""
    return nodes.encode() if isinstance(nodes, str) else bytes(nodes)


def stored_contracts(db: Backend, template_ids: Collection[str] = ()) -> list[StoredContract]:
    """The active contract table, codes resolved, in id order (``template_ids``: only
    those templates)."""
    sql = (
        "SELECT c.contract_key, c.discriminator, t.template_id, c.arguments,"
        " p.signatories, p.observers, p.stakeholders FROM active_contracts c"
        " LEFT JOIN templates t ON t.code = c.template"
        " LEFT JOIN party_sets p ON p.code = c.party_set"
    )
    if template_ids:
        sql += f" WHERE t.template_id IN ({','.join('?' * len(template_ids))})"
    return [
        StoredContract(
            contract_id_of(key, bytes(disc)),
            tpl,
            args,
            sig,
            obs,
            holders,
            key >> 24,
            key & 0xFFFFFF,
        )
        for key, disc, tpl, args, sig, obs, holders in db.query(
            sql + " ORDER BY c.contract_key", list(template_ids)
        )
    ]


def replayed_rows(
    log: Iterable[StoredTransaction], template_id: str | None
) -> list[tuple[Any, ...]]:
    """The contracts active after ``log`` (of ``template_id``, or all): (contract id,
    template id, arguments, signatories, observers, created offset, created node,
    effective_at)."""
    active: dict[str, tuple[Any, ...]] = {}
    for stored in log:
        nodes = stored.nodes
        created = {n["cid"] for n in nodes if n["k"] == "c"}
        consumed = {n["cid"] for n in nodes if n["k"] == "e" and n["cons"]}
        for n in nodes:
            if n["k"] == "c" and n["cid"] not in consumed:
                active[n["cid"]] = (
                    n["cid"],
                    n["tpl"],
                    n["args"],
                    n["sig"],
                    n["obs"],
                    stored.offset,
                    n["n"],
                    stored.effective_at,
                )
            elif n["k"] == "e" and n["cons"] and n["cid"] not in created:
                active.pop(n["cid"], None)
    return [row for row in active.values() if template_id in (None, row[1])]
