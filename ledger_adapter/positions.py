"""A party's positions on the ledger, and the export to re-plan from them.

:func:`positions` lists what a party sees: its holdings by column and the pledges it is
party to (as pledgor or pledgee). :func:`export_holdings` writes the pledgors' live
holdings in the Part 2 problem ``holdings`` format (owner, account, isin, face,
pledged_to), so a plan made stale by another transaction can be re-made from the ledger:
replace a problem's ``holdings`` with this list and optimize again; :func:`live_book`
does that and also takes each obligation's requirement as the ledger has it now (after
a pledgee's margin call, :mod:`ledger_adapter.margin_call`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger_adapter.model import HOLDING, MARGIN_OBLIGATION, PLEDGE, PLEDGE_COLUMN
from ledger_adapter.protocol import Ledger, Parties, party_set


@dataclass(frozen=True, slots=True)
class Position:
    """Face of one (owner, account, isin) in one column, as a party sees it."""

    owner: str
    account: str
    isin: str
    column: str
    pledgee: str | None
    obligation: str | None
    face: int


def positions(ledger: Ledger, parties: Parties) -> list[Position]:
    """Holdings ``parties`` see, aggregated by (owner, account, isin, column, obligation)."""
    seen = party_set(parties)
    contracts = ledger.active_contracts(seen)
    backing = {
        c.arguments["holdingCid"]: c.arguments["obligationId"]
        for c in contracts
        if c.template_id == PLEDGE.template_id
    }
    totals: dict[tuple[Any, ...], int] = defaultdict(int)
    for c in contracts:
        if c.template_id != HOLDING.template_id:
            continue
        a = c.arguments
        obligation = backing.get(c.contract_id) if a["column"] == PLEDGE_COLUMN else None
        key = (a["owner"], a["account"], a["isin"], a["column"], a["pledgee"], obligation)
        totals[key] += int(a["face"])
    return [
        Position(owner, account, isin, column, pledgee, obligation, face)
        for (owner, account, isin, column, pledgee, obligation), face in sorted(
            totals.items(), key=_sort_key
        )
    ]


def _sort_key(item: tuple[tuple[Any, ...], int]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in item[0])


def export_holdings(ledger: Ledger, owners: Iterable[str]) -> list[dict[str, Any]]:
    """The owners' holdings in the problem format, pledged rows naming their obligation.

    A pledge-column entry a pledge does not back (it cannot happen on a sound ledger)
    is exported with ``pledged_to`` = ``"<pledgee>?"`` so it is never taken for free.
    """
    wanted = party_set(list(owners))
    rows: dict[tuple[str, str, str, str | None], int] = defaultdict(int)
    for p in positions(ledger, wanted):
        if p.owner not in wanted:
            continue
        pledged_to = None
        if p.column == PLEDGE_COLUMN:
            pledged_to = p.obligation or f"{p.pledgee}?"
        rows[(p.owner, p.account, p.isin, pledged_to)] += p.face
    return [
        {"owner": o, "account": a, "isin": i, "face": face, "pledged_to": t}
        for (o, a, i, t), face in sorted(rows.items(), key=lambda r: (*r[0][:3], r[0][3] or ""))
    ]


def obligations(ledger: Ledger, parties: Parties) -> list[dict[str, Any]]:
    """The margin obligations ``parties`` see (id, pledgor, pledgee, required value)."""
    return [
        {
            "id": c.arguments["obligationId"],
            "pledgor": c.arguments["pledgor"],
            "pledgee": c.arguments["pledgee"],
            "schedule": c.arguments["scheduleId"],
            "required_value": int(c.arguments["requiredValue"]),
        }
        for c in ledger.active_contracts(parties, MARGIN_OBLIGATION.template_id)
    ]


def live_book(ledger: Ledger, book: Mapping[str, Any], parties: Parties) -> dict[str, Any]:
    """``book`` (a problem JSON) as the ledger stands now, to re-plan from: its owners'
    holdings from :func:`export_holdings` and each obligation's requirement as
    ``parties`` see it on the ledger (an obligation they cannot see keeps the book's).
    Market data, schedules, costs, limits and solver options stay the book's."""
    owners = sorted({str(h["owner"]) for h in book.get("holdings", [])})
    required = {o["id"]: o["required_value"] for o in obligations(ledger, parties)}
    live = dict(book)
    live["holdings"] = export_holdings(ledger, owners)
    live["obligations"] = [
        {**o, "required_value": required.get(o["id"], o["required_value"])}
        for o in book.get("obligations", [])
    ]
    return live
