"""Daml ``Tanpo.Holding``: a book entry in an account's holdings or pledge column.

Signatories registrar + owner (the registrar is the account management institution:
the BoJ for its direct participants); a pledge-column entry names its pledgee, who
observes it and controls, with the owner, its release and enforcement (DOMAIN.md
section 6: the pledgee acts through the pledge agreement the owner signed). Pledging
moves an entry to the pledgee's pledge column and the pledgor stays owner; release moves
it back; enforcement on default moves it to the pledgee's holdings column; transfer of
title moves a holdings-column entry to another owner. Reference: daml-finance
``Lockable`` holdings (a lock is a second party's hold on an entry).
"""

from __future__ import annotations

from typing import Any

from ledger_adapter.model.types import HOLDINGS_COLUMN, PLEDGE_COLUMN, optional_party, pair
from ledger_adapter.templates import Args, Choice, Template, UpdateContext


def _holding_ensure(a: Args) -> str | None:
    if int(a["face"]) <= 0:
        return "face must be positive"
    if (a["column"] == PLEDGE_COLUMN) != (a.get("pledgee") is not None):
        return "a pledge-column entry names its pledgee, a holdings-column entry none"
    return None


def _split(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    face, split = int(h["face"]), int(arg["splitFace"])
    if not 0 < split < face:
        ctx.abort(f"Holding_Split: splitFace {split} must be in (0, {face})")
    first = ctx.create(HOLDING, {**h, "face": str(split)})
    return pair(first, ctx.create(HOLDING, {**h, "face": str(face - split)}))


def _merge(ctx: UpdateContext, cid: str, h: Args, arg: Args) -> Any:
    total = int(h["face"])
    seen = {cid}
    for other_cid in arg["otherCids"]:
        if other_cid in seen:
            ctx.abort(f"Holding_Merge: {other_cid} given twice")
        seen.add(other_cid)
        other = ctx.fetch(HOLDING, other_cid)
        same = ("registrar", "owner", "account", "isin", "column", "pledgee")
        if any(other.get(k) != h.get(k) for k in same):
            ctx.abort(f"Holding_Merge: {other_cid} is not the same account, ISIN and column")
        ctx.exercise(HOLDING, other_cid, "Archive", {})
        total += int(other["face"])
    return ctx.create(HOLDING, {**h, "face": str(total)})


def _pledge(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    face, pledged = int(h["face"]), int(arg["pledgeFace"])
    if h["column"] != HOLDINGS_COLUMN:
        ctx.abort(f"Holding_Pledge: {h['isin']} in {h['account']} is already pledged")
    if not 0 < pledged <= face:
        ctx.abort(f"Holding_Pledge: pledgeFace {pledged} must be in (0, {face}]")
    entry = ctx.create(
        HOLDING, {**h, "face": str(pledged), "column": PLEDGE_COLUMN, "pledgee": arg["pledgeTo"]}
    )
    rest = ctx.create(HOLDING, {**h, "face": str(face - pledged)}) if pledged < face else None
    return pair(entry, rest)


def _release(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    face, released = int(h["face"]), int(arg["releaseFace"])
    if h["column"] != PLEDGE_COLUMN:
        ctx.abort("Holding_Release: the entry is not in a pledge column")
    if not 0 < released <= face:
        ctx.abort(f"Holding_Release: releaseFace {released} must be in (0, {face}]")
    free = ctx.create(
        HOLDING, {**h, "face": str(released), "column": HOLDINGS_COLUMN, "pledgee": None}
    )
    rest = ctx.create(HOLDING, {**h, "face": str(face - released)}) if released < face else None
    return pair(free, rest)


def _enforce(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    if h["column"] != PLEDGE_COLUMN:
        ctx.abort("Holding_Enforce: the entry is not in a pledge column")
    return ctx.create(
        HOLDING,
        {
            **h,
            "owner": h["pledgee"],
            "account": arg["toAccount"],
            "column": HOLDINGS_COLUMN,
            "pledgee": None,
        },
    )


def _transfer(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    if h["column"] != HOLDINGS_COLUMN:
        ctx.abort("Holding_Transfer: a pledged entry cannot change owner; release it first")
    return ctx.create(HOLDING, {**h, "owner": arg["newOwner"], "account": arg["newAccount"]})


def _owner_and_pledgee(h: Args, _arg: Args) -> list[str]:
    return [h["owner"], *optional_party(h.get("pledgee"))]


HOLDING = Template(
    module="Tanpo.Holding",
    name="Holding",
    fields=(
        ("registrar", "Party"),
        ("owner", "Party"),
        ("account", "Text"),
        ("isin", "Text"),
        ("face", "Int"),
        ("column", "Column"),
        ("pledgee", "Optional Party"),
    ),
    signatories=lambda a: [a["registrar"], a["owner"]],
    observers=lambda a: optional_party(a.get("pledgee")),
    ensure=_holding_ensure,
    choices={
        "Holding_Split": Choice(
            "Holding_Split",
            (("splitFace", "Int"),),
            "(ContractId Holding, ContractId Holding)",
            True,
            _owner_and_pledgee,
            _split,
        ),
        "Holding_Merge": Choice(
            "Holding_Merge",
            (("otherCids", "[ContractId Holding]"),),
            "ContractId Holding",
            True,
            _owner_and_pledgee,
            _merge,
        ),
        "Holding_Pledge": Choice(
            "Holding_Pledge",
            (("pledgeTo", "Party"), ("pledgeFace", "Int")),
            "(ContractId Holding, Optional (ContractId Holding))",
            True,
            lambda h, arg: [h["owner"], arg["pledgeTo"]],
            _pledge,
        ),
        "Holding_Release": Choice(
            "Holding_Release",
            (("releaseFace", "Int"),),
            "(ContractId Holding, Optional (ContractId Holding))",
            True,
            _owner_and_pledgee,
            _release,
        ),
        "Holding_Enforce": Choice(
            "Holding_Enforce",
            (("toAccount", "Text"),),
            "ContractId Holding",
            True,
            _owner_and_pledgee,  # the owner's authority comes from the pledge agreement
            _enforce,
        ),
        "Holding_Transfer": Choice(
            "Holding_Transfer",
            (("newOwner", "Party"), ("newAccount", "Text")),
            "ContractId Holding",
            True,
            lambda h, arg: [h["owner"], arg["newOwner"]],
            _transfer,
        ),
    },
).with_archive()
