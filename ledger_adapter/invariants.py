"""The model's invariants, checked over the whole log (tests call this after every scenario).

1. **Conservation** (Book-Entry Transfer Act, DOMAIN.md section 6): per (owner, isin)
   the face in holdings and pledge columns together is unchanged by every transaction,
   except the declared ones: *issuance* (a top-level create of a ``Holding``, the
   registrar crediting an account), *redemption* (a top-level archive of a
   ``Holding``), and *transfer of title* (``Holding_Transfer``) and *enforcement*
   (``Holding_Enforce``), which move face between owners but conserve it per ISIN.
2. **Backing**: every active ``Pledge`` is backed by an active pledge-column
   ``Holding`` of the same pledgor (owner), pledgee, account, ISIN and face, and every
   pledge-column entry backs exactly one active pledge.
3. **Positivity**: every active ``Holding`` and ``Pledge`` has a positive face.

The check is the operator's (it reads every transaction, not a party's projection).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from ledger_adapter.model import HOLDING, PLEDGE, PLEDGE_COLUMN

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


def conservation_violations(ledger: EmbeddedLedger) -> list[str]:
    """Transactions that change an owner's face of an ISIN without declaring why."""
    problems: list[str] = []
    holdings: dict[str, tuple[str, str, int]] = {}  # active Holding cid -> (owner, isin, face)
    h_tpl = HOLDING.template_id
    for tx in ledger.stored_transactions():
        nodes = tx.nodes
        delta: dict[tuple[str, str], int] = defaultdict(int)
        created_here = {n["cid"] for n in nodes if n["k"] == "c"}
        for n in nodes:
            if n["tpl"] != h_tpl:
                continue
            if n["k"] == "c":
                a = n["args"]
                holdings[n["cid"]] = (a["owner"], a["isin"], int(a["face"]))
                delta[(a["owner"], a["isin"])] += int(a["face"])
            elif n["cons"]:
                gone = holdings.pop(n["cid"], None)
                if gone is None:
                    if n["cid"] not in created_here:
                        problems.append(f"offset {tx.offset}: archives unknown holding {n['cid']}")
                    continue
                delta[(gone[0], gone[1])] -= gone[2]
        changed = {k: v for k, v in delta.items() if v != 0}
        if not changed:
            continue
        roots = _top_level(nodes)
        issuance = any(r["k"] == "c" and r["tpl"] == h_tpl for r in roots)
        redemption = any(
            r["k"] == "e" and r["tpl"] == h_tpl and r["ch"] == "Archive" for r in roots
        )
        if issuance or redemption:
            continue
        if any(n["k"] == "e" and n.get("ch") in _TITLE_MOVES for n in nodes):
            per_isin: dict[str, int] = defaultdict(int)
            for (_, isin), v in changed.items():
                per_isin[isin] += v
            bad = {isin: v for isin, v in per_isin.items() if v != 0}
            if bad:
                problems.append(f"offset {tx.offset}: a title move changes total face {bad}")
            continue
        problems.append(f"offset {tx.offset}: face not conserved per (owner, isin): {changed}")
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


def invariant_violations(ledger: EmbeddedLedger) -> list[str]:
    """All of the model's invariant violations (empty when the ledger is sound)."""
    return conservation_violations(ledger) + backing_violations(ledger)
