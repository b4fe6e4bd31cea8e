"""A stored transaction as some parties see it: the projection (DOMAIN.md section 7).

Daml's ledger model: a party sees an action when it is an *informee* of it, and then
it sees the action's whole subtree. Informees of a create: the contract's stakeholders;
of a consuming exercise: the contract's stakeholders and the actors; of a
non-consuming exercise: its signatories and the actors. Two shapes (Canton
``TransactionShape``):

- ledger effects: every create and exercise whose witnesses (informees of the node or
  of an ancestor) include a requested party, with ``witness_parties`` = those parties;
- ACS delta: the created contracts that survive the transaction and the archived
  contracts that existed before it, visible to the requested parties that are their
  stakeholders (Canton's ACS-delta witness rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger_adapter.protocol import (
    ArchivedEvent,
    CreatedEvent,
    Event,
    ExercisedEvent,
    Transaction,
    TransactionShape,
)

Node = Mapping[str, Any]


def informees(node: Node) -> frozenset[str]:
    """The parties informed of ``node`` itself (not counting its ancestors)."""
    if node["k"] == "c" or node["cons"]:
        return frozenset(node["sig"]) | frozenset(node["obs"]) | frozenset(node.get("act", ()))
    return frozenset(node["sig"]) | frozenset(node["act"])


def witnesses(nodes: Sequence[Node]) -> list[frozenset[str]]:
    """For each node, the parties that see it: its informees and its ancestors'."""
    out: list[frozenset[str]] = []
    stack: list[tuple[int, frozenset[str]]] = []  # (last descendant, witnesses) of open exercises
    for node in nodes:
        n = node["n"]
        while stack and stack[-1][0] < n:
            stack.pop()
        seen = informees(node) | (stack[-1][1] if stack else frozenset())
        out.append(seen)
        if node["k"] == "e" and node["last"] > n:
            stack.append((node["last"], seen))
    return out


def project(
    *,
    offset: int,
    update_id: str,
    command_id: str | None,
    submitters: frozenset[str],
    workflow_id: str | None,
    effective_at: datetime,
    nodes: Sequence[Node],
    parties: frozenset[str],
    shape: TransactionShape,
) -> Transaction:
    """The transaction as ``parties`` see it (possibly without events)."""
    events: list[Event] = []
    if shape is TransactionShape.LEDGER_EFFECTS:
        for node, seen in zip(nodes, witnesses(nodes), strict=True):
            wit = tuple(sorted(seen & parties))
            if wit:
                events.append(_event(node, offset, effective_at, wit))
    else:
        created = {node["cid"] for node in nodes if node["k"] == "c"}
        consumed = {node["cid"] for node in nodes if node["k"] == "e" and node["cons"]}
        for node in nodes:
            cid = node["cid"]
            if node["k"] == "c" and cid in consumed:
                continue
            if node["k"] == "e" and (not node["cons"] or cid in created):
                continue
            # signatories and observers are disjoint: no duplicates to remove
            holders = [p for p in node["sig"] if p in parties]
            holders += [p for p in node["obs"] if p in parties]
            if not holders:
                continue
            wit = tuple(sorted(holders)) if len(holders) > 1 else tuple(holders)
            if node["k"] == "c":
                events.append(_event(node, offset, effective_at, wit))
            else:
                events.append(ArchivedEvent(offset, node["n"], cid, node["tpl"], wit))
    return Transaction(
        update_id=update_id,
        offset=offset,
        effective_at=effective_at,
        record_time=effective_at,
        events=tuple(events),
        command_id=command_id if submitters & parties else None,
        workflow_id=workflow_id,
    )


def _event(node: Node, offset: int, effective_at: datetime, wit: tuple[str, ...]) -> Event:
    if node["k"] == "c":
        return CreatedEvent(
            offset=offset,
            node_id=node["n"],
            contract_id=node["cid"],
            template_id=node["tpl"],
            arguments=node["args"],
            signatories=tuple(node["sig"]),
            observers=tuple(node["obs"]),
            witness_parties=wit,
            created_at=effective_at,
        )
    return ExercisedEvent(
        offset=offset,
        node_id=node["n"],
        contract_id=node["cid"],
        template_id=node["tpl"],
        choice=node["ch"],
        argument=node["arg"],
        acting_parties=tuple(node["act"]),
        consuming=node["cons"],
        witness_parties=wit,
        last_descendant_node_id=node["last"],
    )
