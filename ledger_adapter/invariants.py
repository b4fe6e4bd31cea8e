"""The model's invariants, checked over the whole log (tests call this after every scenario).

1. **Conservation** (Book-Entry Transfer Act, DOMAIN.md section 6): per (owner, isin)
   the face in holdings and pledge columns together changes by exactly what the
   transaction declares, and by nothing else it does: *issuance* (a top-level create
   of a ``Holding``, the registrar crediting an account), *redemption* (a top-level
   archive of a ``Holding``), *transfer of title* (``Holding_Transfer``: the entry's
   face from its owner to ``newOwner``) and *enforcement* (``Holding_Enforce``: from
   the owner to the pledgee). Pledges, releases, splits, merges and rebalances
   declare nothing: their change must be zero.
2. **Backing**: every active ``Pledge`` is backed by an active pledge-column
   ``Holding`` of the same pledgor (owner), pledgee, account, ISIN and face, and every
   pledge-column entry backs exactly one active pledge.
3. **Positivity**: every active ``Holding`` and ``Pledge`` has a positive face.
4. **Cover value**: every active ``MarginObligation`` has one active ``ObligationCover``
   (same obligation id, pledgor and pledgee) whose ``value`` equals, exactly (as
   ``Decimal``), the sum over its active pledges of face x the obligation's current
   valuation of the ISIN (0 where the valuation lacks it); the cover check reads the
   value instead of the pledges.

The check is the operator's (it reads every transaction, not a party's projection).
"""

from __future__ import annotations

import json
from collections import ChainMap, Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger_adapter.model import (
    HOLDING,
    MARGIN_OBLIGATION,
    OBLIGATION_COVER,
    PLEDGE,
    PLEDGE_COLUMN,
)
from ledger_adapter.model.obligation import cover_of
from ledger_adapter.templates import Args

if TYPE_CHECKING:
    from ledger_adapter.embedded import EmbeddedLedger

_TITLE_MOVES = frozenset({"Holding_Transfer", "Holding_Enforce"})


def _top_level(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    roots, covered = [], -1
    for node in nodes:
        if node["n"] > covered:
            roots.append(node)
            covered = node["last"] if node["k"] == "e" else node["n"]
    return roots


def _declared(
    nodes: list[dict[str, Any]], holding: Callable[[str], Args | None]
) -> dict[tuple[str, str], int]:
    """The face changes per (owner, isin) a transaction declares: issuance (+face of a
    top-level ``Holding`` create), redemption (-face of a top-level ``Holding``
    archive), and each title move (face from the entry's owner to the new owner:
    ``newOwner`` of a transfer, the pledgee of an enforced entry)."""
    h_tpl = HOLDING.template_id
    declared: dict[tuple[str, str], int] = defaultdict(int)
    for root in _top_level(nodes):
        if root["tpl"] != h_tpl:
            continue
        if root["k"] == "c":
            a = root["args"]
            declared[(a["owner"], a["isin"])] += int(a["face"])
        elif root["ch"] == "Archive" and (a := holding(root["cid"])) is not None:
            declared[(a["owner"], a["isin"])] -= int(a["face"])
    for n in nodes:
        if n["k"] != "e" or n["tpl"] != h_tpl or n["ch"] not in _TITLE_MOVES:
            continue
        a = holding(n["cid"])
        if a is None:
            continue  # reported as an unknown holding
        taker = n["arg"]["newOwner"] if n["ch"] == "Holding_Transfer" else a["pledgee"]
        declared[(a["owner"], a["isin"])] -= int(a["face"])
        declared[(str(taker), a["isin"])] += int(a["face"])
    return declared


def conservation_violations(ledger: EmbeddedLedger) -> list[str]:
    """Transactions whose face per (owner, isin) changes by other than what they declare.

    The change of every (owner, isin) over all holdings and pledge columns must equal
    the declared one (:func:`_declared`): zero for pledges, releases, splits, merges
    and rebalances, whatever else the same transaction does.
    """
    problems: list[str] = []
    holdings: dict[str, Args] = {}  # active Holding cid -> its arguments
    h_tpl = HOLDING.template_id
    for tx in ledger.stored_transactions():
        nodes = tx.nodes
        here = {n["cid"]: n["args"] for n in nodes if n["k"] == "c" and n["tpl"] == h_tpl}
        holding = ChainMap(holdings, here).get  # before this transaction, or created in it
        delta: dict[tuple[str, str], int] = defaultdict(int)
        for n in nodes:
            if n["tpl"] != h_tpl:
                continue
            if n["k"] == "c":
                a = n["args"]
                delta[(a["owner"], a["isin"])] += int(a["face"])
            elif n["cons"]:
                a = holding(n["cid"])
                if a is None:
                    problems.append(f"offset {tx.offset}: archives unknown holding {n['cid']}")
                    continue
                delta[(a["owner"], a["isin"])] -= int(a["face"])
        declared = _declared(nodes, holding)
        changed = {
            k: delta.get(k, 0) - declared.get(k, 0)
            for k in sorted(delta.keys() | declared.keys())
            if delta.get(k, 0) != declared.get(k, 0)
        }
        if changed:
            problems.append(
                f"offset {tx.offset}: face not conserved per (owner, isin) beyond issuance,"
                f" redemption and title moves: {changed}"
            )
        consumed = {n["cid"] for n in nodes if n["k"] == "e" and n["cons"]}
        for cid in consumed:  # the active holdings after this transaction
            holdings.pop(cid, None)
        holdings.update((cid, args) for cid, args in here.items() if cid not in consumed)
    return problems


def backing_violations(ledger: EmbeddedLedger) -> list[str]:
    """Active pledges without their pledge-column entry, and the reverse."""
    problems: list[str] = []
    rows = ledger.stored_contracts((HOLDING.template_id, PLEDGE.template_id))
    holdings = {
        r.contract_id: json.loads(r.arguments_json)
        for r in rows
        if r.template_id == HOLDING.template_id
    }
    pledges = {
        r.contract_id: json.loads(r.arguments_json)
        for r in rows
        if r.template_id == PLEDGE.template_id
    }
    for cid, h in holdings.items():
        if int(h["face"]) <= 0:
            problems.append(f"holding {cid} has face {h['face']}")
    backing = Counter(p["holdingCid"] for p in pledges.values())
    for cid, p in pledges.items():
        h = holdings.get(p["holdingCid"])
        if int(p["face"]) <= 0:
            problems.append(f"pledge {cid} has face {p['face']}")
        if h is None:
            problems.append(f"pledge {cid} ({p['obligationId']}) has no active pledge-column entry")
            continue
        want = (p["pledgor"], p["pledgee"], p["account"], p["isin"], p["face"], PLEDGE_COLUMN)
        got = (h["owner"], h["pledgee"], h["account"], h["isin"], h["face"], h["column"])
        if want != got:
            problems.append(
                f"pledge {cid} and its entry {p['holdingCid']} disagree: {want} vs {got}"
            )
    for cid, h in holdings.items():
        if h["column"] == PLEDGE_COLUMN and backing[cid] != 1:
            problems.append(f"pledge-column entry {cid} backs {backing[cid]} pledges, not 1")
    return problems


def cover_value_violations(ledger: EmbeddedLedger) -> list[str]:
    """Obligations without exactly one cover, and covers whose ``value`` is not the
    collateral value of the obligation's live pledges at its current valuation."""
    problems: list[str] = []
    templates = (MARGIN_OBLIGATION.template_id, OBLIGATION_COVER.template_id, PLEDGE.template_id)
    rows = ledger.stored_contracts(templates)
    live: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
    covers: dict[tuple[str, str, str], list[tuple[str, Decimal]]] = defaultdict(list)
    obligations: list[tuple[str, tuple[str, str, str], Args]] = []
    for r in rows:
        a = json.loads(r.arguments_json)
        key = (a["obligationId"], a["pledgor"], a["pledgee"])
        if r.template_id == PLEDGE.template_id:
            live[key].append((a["isin"], int(a["face"])))
        elif r.template_id == OBLIGATION_COVER.template_id:
            covers[key].append((r.contract_id, Decimal(a["value"])))
        else:
            obligations.append((r.contract_id, key, a))
    valuations: dict[tuple[str, str, str], Args] = {}
    for cid, key, a in obligations:
        valuations[key] = a["valuation"]
        if len(covers.get(key, [])) != 1:
            problems.append(
                f"obligation {key[0]} ({cid}) has {len(covers.get(key, []))} covers, not 1"
                " (none: written before covers existed, not migrated)"
            )
    for key, found in covers.items():
        want = cover_of(valuations.get(key, {}), live.get(key, []))
        for cid, value in found:
            if value != want:
                problems.append(
                    f"cover {cid} of {key[0]} has value {value},"
                    f" its live pledges are worth {want} at the obligation's valuation"
                )
    return problems


def invariant_violations(ledger: EmbeddedLedger) -> list[str]:
    """All of the model's invariant violations (empty when the ledger is sound)."""
    return (
        conservation_violations(ledger)
        + backing_violations(ledger)
        + cover_value_violations(ledger)
    )
