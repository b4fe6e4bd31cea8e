"""Daml ``Tanpo.Agreement``: the pledge agreement and the pledgor's rebalance batch.

A ``PledgeAgreement`` is signed once by pledgor and pledgee (a pledge between two
institutions on different participants rests on such a pre-agreed contract, DOMAIN.md
section 7). It lets the pledgor alone pledge, release and substitute
(``PledgeAgreement_Rebalance``): releases first, then pledges drawn from the free
holdings given plus those the releases freed, then the settlement of every obligation
it released from or pledged to (``ObligationCover_Settle``: the cover check on the value
the step takes out and puts in, the cover recreated with its new value), so a substitution's
release and pledge commit together and never leave an obligation under-covered (or,
for one that cannot be fully covered, never worse covered than before the step). The
pledgee alone may enforce on default (``PledgeAgreement_Enforce``, which takes the
enforced pledges' value out of the obligation's cover).

``RebalanceBatch`` (the pledgor's own, created and exercised in one command) runs
several agreements' rebalances in order, threading the free holdings and the
obligations' covers through (a step names the contracts its command saw; an earlier
step's settlement replaced them), so a bond released to one pledgee can be pledged to another
in the same transaction (as daml-finance's settlement ``Batch`` threads its
instructions).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger_adapter.model.holding import HOLDING
from ledger_adapter.model.obligation import (
    MARGIN_OBLIGATION,
    NUMERIC_10,
    OBLIGATION_COVER,
    cover_of,
    numeric_text,
    overflowed,
    same_obligation,
)
from ledger_adapter.model.pledge import PLEDGE
from ledger_adapter.model.types import HOLDINGS_COLUMN
from ledger_adapter.templates import Args, Choice, Template, UpdateContext


def free(cid: str, account: str, isin: str, face: int) -> dict[str, str]:
    """A Daml ``Free`` record: a free holding as the pool knows it."""
    return {"cid": cid, "account": account, "isin": isin, "face": str(face)}


class _Pool:
    """The pledgor's free holdings by (account, isin), in the order given.

    Entries the caller gives are claims (cid, account, isin, face): each is checked
    against the ledger (``fetch``) when it is drawn, so only what is used is fetched.
    Entries the rebalance makes itself (released, remainders) are known facts.
    """

    def __init__(self, ctx: UpdateContext, agreement: Args, entries: list[Args]) -> None:
        self._ctx = ctx
        self._agreement = agreement
        self._by_position: dict[tuple[str, str], list[tuple[str, int, bool]]] = {}
        self._order: dict[str, Args] = {}
        for e in entries:
            if e["cid"] in self._order:
                ctx.abort(f"Rebalance: {e['cid']} is in the pool twice")
            self._add(e, int(e["face"]), checked=False)

    def _add(self, entry: Args, face: int, *, checked: bool) -> None:
        key = (entry["account"], entry["isin"])
        self._by_position.setdefault(key, []).append((entry["cid"], face, checked))
        self._order[entry["cid"]] = entry

    def add(self, cid: str, account: str, isin: str, face: int) -> None:
        self._add(free(cid, account, isin, face), face, checked=True)

    def _take(self, cid: str, face: int, checked: bool, account: str, isin: str) -> None:
        del self._order[cid]
        if checked:
            return
        h = self._ctx.fetch(HOLDING, cid)
        a = self._agreement
        claim = (a["pledgor"], HOLDINGS_COLUMN, a["registrar"], account, isin, str(face))
        got = (h["owner"], h["column"], h["registrar"], h["account"], h["isin"], h["face"])
        if got != claim:
            self._ctx.abort(f"Rebalance: pool entry {cid} is not the free holding it claims")

    def draw(self, account: str, isin: str, face: int) -> tuple[str, int]:
        """A free holding of at least ``face`` and its face: the first that suffices, else a merge."""
        entries = self._by_position.get((account, isin), [])
        for i, (cid, have, checked) in enumerate(entries):
            if have >= face:
                del entries[i]
                self._take(cid, have, checked, account, isin)
                return cid, have
        total = sum(have for _, have, _ in entries)
        if total < face:
            self._ctx.abort(
                f"Rebalance: {self._agreement['pledgor']} has {total} free face of {isin}"
                f" in {account}, needs {face}"
            )
        used, got = [], 0
        while got < face:
            cid, have, checked = entries.pop(0)
            self._take(cid, have, checked, account, isin)
            used.append(cid)
            got += have
        merged = self._ctx.exercise(HOLDING, used[0], "Holding_Merge", {"otherCids": used[1:]})
        return str(merged), got

    def entries(self) -> list[Args]:
        return list(self._order.values())


def rebalance(
    ctx: UpdateContext, agreement: Args, arg: Args, pool: _Pool
) -> tuple[list[str], list[str]]:
    """``PledgeAgreement_Rebalance``'s body over a pool of free holdings; returns the
    pledges it created (new ones and the remainders of partial releases) and the
    covers given, each replaced by its new contract if the step settled it."""
    pledgor, pledgee = agreement["pledgor"], agreement["pledgee"]
    obligations: dict[str, tuple[str, Args]] = {}
    for ocid in arg["obligationCids"]:
        o = ctx.fetch(MARGIN_OBLIGATION, ocid)
        if (o["pledgor"], o["pledgee"], o["scheduleId"]) != (
            pledgor,
            pledgee,
            agreement["scheduleId"],
        ):
            ctx.abort(f"Rebalance: obligation {o['obligationId']} is not under this agreement")
        obligations.setdefault(o["obligationId"], (ocid, o))  # Daml's lookup: the first
    covers = fetch_covers(ctx, agreement, arg["coverCids"])
    new_pledges: dict[str, list[str]] = {oid: [] for oid in obligations}
    released: dict[str, list[dict[str, str]]] = {}  # per obligation: Daml IsinFace records
    added: dict[str, list[dict[str, str]]] = {}
    for r in arg["releases"]:
        p = ctx.fetch(PLEDGE, r["pledgeCid"])
        face, take = int(p["face"]), int(r["face"])
        if (p["pledgor"], p["pledgee"]) != (pledgor, pledgee):
            ctx.abort(f"Rebalance: pledge {r['pledgeCid']} is not under this agreement")
        if p["obligationId"] not in obligations:
            ctx.abort(f"Rebalance: releasing from {p['obligationId']} needs that obligation")
        if not 0 < take <= face:
            ctx.abort(f"Rebalance: release face {take} must be in (0, {face}]")
        ctx.exercise(PLEDGE, r["pledgeCid"], "Archive", {})
        freed = ctx.exercise(
            HOLDING, p["holdingCid"], "Holding_Release", {"releaseFace": str(take)}
        )
        pool.add(freed["_1"], p["account"], p["isin"], take)
        if freed["_2"] is not None:
            rest = ctx.create(PLEDGE, {**p, "face": str(face - take), "holdingCid": freed["_2"]})
            new_pledges[p["obligationId"]].append(rest)
        released.setdefault(p["obligationId"], []).append({"isin": p["isin"], "face": str(take)})
    for order in arg["pledges"]:
        oid, isin, face = order["obligationId"], order["isin"], int(order["face"])
        if oid not in obligations:
            ctx.abort(f"Rebalance: pledging to {oid} needs that obligation")
        if isin not in obligations[oid][1]["valuation"]:
            ctx.abort(f"Rebalance: {isin} is not eligible for obligation {oid}")
        source, have = pool.draw(order["account"], isin, face)
        moved = ctx.exercise(
            HOLDING, source, "Holding_Pledge", {"pledgeTo": pledgee, "pledgeFace": str(face)}
        )
        if moved["_2"] is not None:
            pool.add(moved["_2"], order["account"], isin, have - face)
        pledge = {
            "pledgor": pledgor,
            "pledgee": pledgee,
            "obligationId": oid,
            "account": order["account"],
            "isin": isin,
            "face": str(face),
            "holdingCid": moved["_1"],
        }
        made = ctx.create(PLEDGE, pledge)
        new_pledges[oid].append(made)
        added.setdefault(oid, []).append({"isin": isin, "face": str(face)})
    settled = settle(ctx, obligations, covers, released=released, added=added)
    created = [cid for cids in new_pledges.values() for cid in cids]
    return created, [settled.get(ccid, ccid) for ccid in arg["coverCids"]]


def fetch_covers(ctx: UpdateContext, agreement: Args, cover_cids: list[str]) -> dict[str, str]:
    """The covers given, each checked to be under the agreement: contract id by
    obligation id (the first given, as Daml's ``lookup``)."""
    covers: dict[str, str] = {}
    for ccid in cover_cids:
        k = ctx.fetch(OBLIGATION_COVER, ccid)
        if (k["pledgor"], k["pledgee"]) != (agreement["pledgor"], agreement["pledgee"]):
            ctx.abort(f"Rebalance: cover {ccid} is not under this agreement")
        covers.setdefault(k["obligationId"], ccid)
    return covers


def settle(
    ctx: UpdateContext,
    obligations: dict[str, tuple[str, Args]],
    covers: dict[str, str],
    *,
    released: dict[str, list[dict[str, str]]],
    added: dict[str, list[dict[str, str]]],
) -> dict[str, str]:
    """The rebalance's last part: ``ObligationCover_Settle`` of every obligation it
    released from or pledged to, in the order given (the fused body runs this same
    code, so the cover rule has one implementation); the new cover id by old."""
    settled: dict[str, str] = {}
    for oid, (ocid, _) in obligations.items():
        out, put = released.get(oid, []), added.get(oid, [])
        if out or put:
            ccid = covers.get(oid)
            if ccid is None:
                ctx.abort(
                    f"Rebalance: this needs the ObligationCover of {oid} (a ledger written"
                    " before covers existed: python -m ledger_adapter.migration"
                    " --obligations <ledger url> creates them)"
                )
            settled[ccid] = ctx.exercise(
                OBLIGATION_COVER,
                ccid,
                "ObligationCover_Settle",
                {"obligationCid": ocid, "released": out, "added": put},
            )
    return settled


def _agreement_rebalance(ctx: UpdateContext, _cid: str, agreement: Args, arg: Args) -> Any:
    pool = _Pool(ctx, agreement, arg["pool"])
    created, cover_cids = rebalance(ctx, agreement, arg, pool)
    return {"pool": pool.entries(), "pledgeCids": created, "coverCids": cover_cids}


def _enforce(ctx: UpdateContext, _cid: str, agreement: Args, arg: Args) -> Any:
    obligation_cid = arg["obligationCid"]
    o = ctx.fetch(MARGIN_OBLIGATION, obligation_cid)
    if (o["pledgor"], o["pledgee"]) != (agreement["pledgor"], agreement["pledgee"]):
        ctx.abort(f"Enforce: obligation {o['obligationId']} is not under this agreement")
    taken, faces = [], []
    for pledge_cid in arg["pledgeCids"]:
        p = ctx.fetch(PLEDGE, pledge_cid)
        if not same_obligation(p, o):
            ctx.abort(f"Enforce: pledge {pledge_cid} secures another obligation")
        ctx.exercise(PLEDGE, pledge_cid, "Archive", {})
        taken.append(
            ctx.exercise(
                HOLDING, p["holdingCid"], "Holding_Enforce", {"toAccount": arg["toAccount"]}
            )
        )
        faces.append((p["isin"], int(p["face"])))
    cover_cid = arg["coverCid"]
    k = ctx.fetch(OBLIGATION_COVER, cover_cid)
    if not same_obligation(k, o):  # o's pledgor and pledgee are the agreement's (above)
        ctx.abort(f"Enforce: cover {cover_cid} is of another obligation")
    ctx.exercise(OBLIGATION_COVER, cover_cid, "Archive", {})
    try:
        taken_value = cover_of(o["valuation"], faces)
        value = numeric_text(NUMERIC_10.subtract(Decimal(k["value"]), taken_value))
    except ArithmeticError as e:
        overflowed(ctx, "PledgeAgreement_Enforce", e)
    ctx.create(OBLIGATION_COVER, {**k, "value": value})
    return taken


PLEDGE_AGREEMENT = Template(
    module="Tanpo.Agreement",
    name="PledgeAgreement",
    fields=(
        ("pledgor", "Party"),
        ("pledgee", "Party"),
        ("registrar", "Party"),
        ("agreementId", "Text"),
        ("scheduleId", "Text"),
    ),
    signatories=lambda a: [a["pledgor"], a["pledgee"]],
    observers=lambda a: [],
    ensure=lambda a: None if a["pledgor"] != a["pledgee"] else "pledgor and pledgee must differ",
    choices={
        "PledgeAgreement_Rebalance": Choice(
            "PledgeAgreement_Rebalance",
            (
                ("obligationCids", "[ContractId MarginObligation]"),
                ("coverCids", "[ContractId ObligationCover]"),
                ("releases", "[PledgeRelease]"),
                ("pledges", "[PledgeOrder]"),
                ("pool", "[Free]"),
            ),
            "RebalanceResult",
            False,
            lambda a, _arg: [a["pledgor"]],
            _agreement_rebalance,
        ),
        "PledgeAgreement_Enforce": Choice(
            "PledgeAgreement_Enforce",
            (
                ("obligationCid", "ContractId MarginObligation"),
                ("coverCid", "ContractId ObligationCover"),
                ("pledgeCids", "[ContractId Pledge]"),
                ("toAccount", "Text"),
            ),
            "[ContractId Holding]",
            False,
            lambda a, _arg: [a["pledgee"]],
            _enforce,
        ),
    },
).with_archive()


def _batch_execute(ctx: UpdateContext, _cid: str, batch: Args, arg: Args) -> Any:
    # the pool by position: each step gets only the entries of the positions it pledges
    pool: dict[tuple[str, str], list[Args]] = {}
    for entry in arg["pool"]:
        pool.setdefault((entry["account"], entry["isin"]), []).append(entry)
    renamed: dict[str, str] = {}  # cover contract a command named -> its newest
    for step in arg["steps"]:
        named = step["coverCids"]
        positions = dict.fromkeys((p["account"], p["isin"]) for p in step["pledges"])
        given = [e for pos in positions for e in pool.pop(pos, [])]
        result = ctx.exercise(
            PLEDGE_AGREEMENT,
            step["agreementCid"],
            "PledgeAgreement_Rebalance",
            {
                "obligationCids": step["obligationCids"],
                "coverCids": [renamed.get(c, c) for c in named],
                "releases": step["releases"],
                "pledges": step["pledges"],
                "pool": given,
            },
        )
        for entry in result["pool"]:
            pool.setdefault((entry["account"], entry["isin"]), []).append(entry)
        renamed.update(zip(named, result["coverCids"], strict=True))
    return [e for entries in pool.values() for e in entries]


REBALANCE_BATCH = Template(
    module="Tanpo.Agreement",
    name="RebalanceBatch",
    fields=(("pledgor", "Party"),),
    signatories=lambda a: [a["pledgor"]],
    observers=lambda a: [],
    ensure=lambda a: None,
    choices={
        "RebalanceBatch_Execute": Choice(
            "RebalanceBatch_Execute",
            (("steps", "[RebalanceStep]"), ("pool", "[Free]")),
            "[Free]",
            True,
            lambda a, _arg: [a["pledgor"]],
            _batch_execute,
        ),
    },
).with_archive()
