"""A fused body for ``PledgeAgreement_Rebalance``: the same transaction, less dispatch.

A 1,000-move plan is one ``RebalanceBatch_Execute`` whose steps exercise
``PledgeAgreement_Rebalance``; each of their ~1,000 releases and pledges runs the
generic path of :meth:`_Transaction.exercise <ledger_adapter.engine._Transaction.exercise>`
(choice look-up, controllers, authority, body call) for ``Archive``,
``Holding_Release`` and ``Holding_Pledge``, and each of those bodies builds a Daml
tuple result and calls back into the interpreter, whose ``create`` checks ``ensure``
and the signatories again. :func:`agreement_rebalance` runs ``rebalance``
(:mod:`ledger_adapter.model.agreement`) with those three exercises written out for the
templates of the model, and its creates go straight to
:meth:`~ledger_adapter.engine._Transaction.add_create` where ``ensure`` and the
signatories are known to hold (what depends on stored data is checked): the same
checks in the same order, the same nodes (the same dicts: keys in the same order, the
same values), the same contract ids from the same stream, the same effects on the
transaction's state. The pool, a merge of free holdings and the obligations'
settlements (``ObligationCover_Settle``: the cover check) run the generic code. Measured: ~9% fewer instructions for a plan's interpretation (callgrind);
most of what remains is the nodes and contracts themselves.

Anything it does not handle (a template that is not the model's, a check that fails,
any exception at all) raises :class:`~ledger_adapter.engine.Fallback`, and
:func:`~ledger_adapter.engine.interpret` runs the whole transaction again with the
generic bodies: a failure's error is always the generic interpreter's. Tests
(``tests/ledger_adapter/test_fused.py``) compare both paths node for node on random
plans, failures included.
"""

from __future__ import annotations

from typing import Any, cast

from ledger_adapter.engine import Fallback, FusedBodies, InterpreterState
from ledger_adapter.model.agreement import _agreement_rebalance, _Pool, fetch_covers, settle
from ledger_adapter.model.holding import HOLDING
from ledger_adapter.model.obligation import MARGIN_OBLIGATION
from ledger_adapter.model.pledge import PLEDGE
from ledger_adapter.model.types import HOLDINGS_COLUMN, PLEDGE_COLUMN
from ledger_adapter.templates import Args, UpdateContext

_HOLDING_TPL = HOLDING.template_id
_PLEDGE_TPL = PLEDGE.template_id


def _holding(tx: InterpreterState, contract_id: str) -> Any:
    """The holding ``contract_id`` as the generic exercise finds it (or fall back)."""
    contract = tx.known.get(contract_id)
    if contract is None or contract.template is not HOLDING:
        contract = tx.use(contract_id, HOLDING)  # load it, or raise (-> fall back)
    return contract


def _exercise_node(
    tx: InterpreterState, contract: Any, choice: str, argument: Args, controllers: list[str]
) -> dict[str, Any]:
    """The consuming exercise's node as the generic path makes it (controllers checked,
    authority remembered, the contract consumed)."""
    parties = contract.parties
    if not controllers or not tx.authorizers.issuperset(controllers):
        raise Fallback
    key = (parties, *controllers)
    authority = tx.authority.get(key)
    if authority is None:
        authority = (tuple(sorted(set(controllers))), parties.signatories.union(controllers))
        tx.authority[key] = authority
    nodes = tx.nodes
    node = {
        "n": len(nodes),
        "k": "e",
        "cid": contract.contract_id,
        "tpl": _HOLDING_TPL,
        "ch": choice,
        "arg": argument,
        "act": authority[0],
        "cons": True,
        "sig": parties.signatory_list,
        "obs": parties.observer_list,
        "last": 0,
    }
    nodes.append(node)
    cid = contract.contract_id
    del tx.known[cid]
    tx.gone.add(cid)
    tx.consumed[cid] = None
    return node


def _release(tx: InterpreterState, holding_cid: str, take: int) -> tuple[str, str | None]:
    """``exercise holdingCid Holding_Release with releaseFace = take``."""
    contract = _holding(tx, holding_cid)
    h = contract.args
    pledgee = h.get("pledgee")
    controllers = [h["owner"], pledgee] if pledgee else [h["owner"]]
    node = _exercise_node(tx, contract, "Holding_Release", {"releaseFace": str(take)}, controllers)
    face = int(h["face"])
    if h["column"] != PLEDGE_COLUMN or not 0 < take <= face:
        raise Fallback
    # Holding's ensure holds for both creates (face > 0; the free entry has neither
    # pledge column nor pledgee; the rest keeps the entry's, checked here), and both keep
    # the registrar and owner: signatories of the entry, so among the body's authorizers
    args = {**h, "face": str(take), "column": HOLDINGS_COLUMN, "pledgee": None}
    free = tx.add_create(HOLDING, args, HOLDING.parties(args))
    rest = None
    if take < face:
        if pledgee is None:
            raise Fallback
        args = {**h, "face": str(face - take)}
        rest = tx.add_create(HOLDING, args, HOLDING.parties(args))
    node["last"] = len(tx.nodes) - 1
    return free, rest


def _pledge(
    tx: InterpreterState, holding_cid: str, pledgee: str, pledged: int
) -> tuple[str, str | None]:
    """``exercise holdingCid Holding_Pledge with pledgeTo = pledgee; pledgeFace = pledged``."""
    contract = _holding(tx, holding_cid)
    h = contract.args
    argument = {"pledgeTo": pledgee, "pledgeFace": str(pledged)}
    node = _exercise_node(tx, contract, "Holding_Pledge", argument, [h["owner"], pledgee])
    face = int(h["face"])
    if h["column"] != HOLDINGS_COLUMN or not 0 < pledged <= face:
        raise Fallback
    if pledgee is None or h.get("pledgee") is not None:
        raise Fallback  # the generic fails at Holding's ensure (or would for the rest)
    # both creates pass Holding's ensure and keep the entry's signatories (see _release)
    args = {**h, "face": str(pledged), "column": PLEDGE_COLUMN, "pledgee": pledgee}
    entry = tx.add_create(HOLDING, args, HOLDING.parties(args))
    rest = None
    if pledged < face:
        args = {**h, "face": str(face - pledged)}
        rest = tx.add_create(HOLDING, args, HOLDING.parties(args))
    node["last"] = len(tx.nodes) - 1
    return entry, rest


def _archive_pledge(tx: InterpreterState, pledge_cid: str) -> None:
    """``archive pledgeCid`` (Daml's implicit ``Archive``: controllers the signatories)."""
    contract = tx.known.get(pledge_cid)
    if contract is None or contract.template is not PLEDGE:
        contract = tx.use(pledge_cid, PLEDGE)
    parties = contract.parties
    if not parties.signatories <= tx.authorizers:
        raise Fallback
    nodes = tx.nodes
    node_id = len(nodes)
    nodes.append(
        {
            "n": node_id,
            "k": "e",
            "cid": pledge_cid,
            "tpl": _PLEDGE_TPL,
            "ch": "Archive",
            "arg": {},
            "act": parties.signatory_list,
            "cons": True,
            "sig": parties.signatory_list,
            "obs": parties.observer_list,
            "last": node_id,
        }
    )
    del tx.known[pledge_cid]
    tx.gone.add(pledge_cid)
    tx.consumed[pledge_cid] = None


def _rebalance(
    tx: InterpreterState, agreement: Args, arg: Args, pool: _Pool
) -> tuple[list[str], list[str]]:
    """:func:`ledger_adapter.model.agreement.rebalance`, step for step."""
    pledgor, pledgee = agreement["pledgor"], agreement["pledgee"]
    obligations: dict[str, tuple[str, Args]] = {}
    for ocid in arg["obligationCids"]:
        o = tx.fetch(MARGIN_OBLIGATION, ocid)
        if (o["pledgor"], o["pledgee"], o["scheduleId"]) != (
            pledgor,
            pledgee,
            agreement["scheduleId"],
        ):
            raise Fallback
        obligations.setdefault(o["obligationId"], (ocid, o))
    covers = fetch_covers(tx, agreement, arg["coverCids"])
    new_pledges: dict[str, list[str]] = {oid: [] for oid in obligations}
    released: dict[str, list[dict[str, str]]] = {}
    added: dict[str, list[dict[str, str]]] = {}
    for r in arg["releases"]:
        p = tx.fetch(PLEDGE, r["pledgeCid"])
        face, take = int(p["face"]), int(r["face"])
        if (p["pledgor"], p["pledgee"]) != (pledgor, pledgee):
            raise Fallback
        if p["obligationId"] not in obligations or not 0 < take <= face:
            raise Fallback
        _archive_pledge(tx, r["pledgeCid"])
        free, rest_holding = _release(tx, p["holdingCid"], take)
        pool.add(free, p["account"], p["isin"], take)
        if rest_holding is not None:
            if face - take <= 0:
                raise Fallback  # Pledge's ensure
            args = {**p, "face": str(face - take), "holdingCid": rest_holding}
            rest = tx.add_create(PLEDGE, args, PLEDGE.parties(args))  # signed as checked above
            new_pledges[p["obligationId"]].append(rest)
        released.setdefault(p["obligationId"], []).append({"isin": p["isin"], "face": str(take)})
    for order in arg["pledges"]:
        oid, isin, face = order["obligationId"], order["isin"], int(order["face"])
        if oid not in obligations or isin not in obligations[oid][1]["valuation"]:
            raise Fallback
        source, have = pool.draw(order["account"], isin, face)
        entry, rest_holding = _pledge(tx, source, pledgee, face)
        if rest_holding is not None:
            pool.add(rest_holding, order["account"], isin, have - face)
        pledge = {
            "pledgor": pledgor,
            "pledgee": pledgee,
            "obligationId": oid,
            "account": order["account"],
            "isin": isin,
            "face": str(face),
            "holdingCid": entry,
        }
        # face > 0 (Holding_Pledge took it); signatories pledgor and pledgee: the agreement's
        made = tx.add_create(PLEDGE, pledge, PLEDGE.parties(pledge))
        new_pledges[oid].append(made)
        added.setdefault(oid, []).append({"isin": isin, "face": str(face)})
    settled = settle(tx, obligations, covers, released=released, added=added)
    created = [cid for cids in new_pledges.values() for cid in cids]
    return created, [settled.get(ccid, ccid) for ccid in arg["coverCids"]]


def agreement_rebalance(ctx: UpdateContext, _cid: str, agreement: Args, arg: Args) -> Any:
    """``PledgeAgreement_Rebalance``'s body, fused (see the module docstring)."""
    tx = cast(InterpreterState, ctx)
    try:
        pool = _Pool(tx, agreement, arg["pool"])
        created, cover_cids = _rebalance(tx, agreement, arg, pool)
        return {"pool": pool.entries(), "pledgeCids": created, "coverCids": cover_cids}
    except Exception as exc:  # a failure is the generic interpreter's to report
        raise Fallback from exc


FUSED: FusedBodies = {_agreement_rebalance: agreement_rebalance}
"""The fused bodies the embedded ledger runs, by the generic body each stands in for."""
