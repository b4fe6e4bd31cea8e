"""Daml ``Tanpo.Obligation``: a margin obligation and the cover check a release must pass.

Signatory the pledgee (the secured party sets the requirement and its valuation),
observer the pledgor. ``valuation`` holds, per eligible ISIN, the secured party's
agreed collateral value per yen of face after haircut (dirty price / 100 x
(1 - haircut), DOMAIN.md section 4), so the ledger itself checks cover: a release that
would leave the obligation under-covered fails on the ledger, whatever the client did,
unless the same step puts in at least as much as it takes out (an obligation that
cannot be fully covered may still be improved, never worsened).

``pledged`` holds the face pledged to the obligation per ISIN (by its pledgor, to its
pledgee; no zero entries), kept equal to its live ``Pledge`` contracts: every
rebalance step that releases from or pledges to it exercises
``MarginObligation_Settle`` (the new map and the cover check, then the obligation
recreated), and ``PledgeAgreement_Enforce`` takes the enforced face out. The cover
check therefore reads this one contract, whatever the size of the book
(:func:`ledger_adapter.invariants.check` holds the map to the live pledges).
An obligation written before the map existed has no ``pledged``: every choice of it
and every rebalance or enforcement naming it is refused (:func:`require_pledged`),
and :func:`ledger_adapter.migration.obligation_migration_commands` recreates it.

The pledgee moves the requirement (``MarginObligation_Call``: a margin call or return)
and the valuation (``MarginObligation_Revalue``: new prices or haircuts); a
``MarginCallBatch``, created and exercised in one command, runs both for several
obligations in one transaction (:mod:`ledger_adapter.margin_call` builds it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ledger_adapter.templates import Args, Choice, Template, UpdateContext


def _obligation_ensure(a: Args) -> str | None:
    if int(a["requiredValue"]) < 0:
        return "requiredValue must be >= 0"
    if any(Decimal(v) < 0 for v in a["valuation"].values()):
        return "valuation per yen of face must be >= 0"
    if "pledged" in a and any(int(f) <= 0 for f in a["pledged"].values()):
        return "face pledged per ISIN must be > 0"
    return None


def require_pledged(ctx: UpdateContext, contract_id: str, o: Args) -> None:
    """Refuse an obligation written before ``MarginObligation`` carried ``pledged``.

    Its cover can no longer be checked (the map is what the check reads), so nothing
    may use it until it is migrated; its ``Archive`` stays open for the migration.
    """
    if "pledged" not in o:
        ctx.abort(
            f"obligation {o.get('obligationId')} ({contract_id}) was written before"
            " MarginObligation carried the face pledged to it per ISIN (pledged); migrate"
            " it first: python -m ledger_adapter.migration --obligations <ledger url>"
        )


def _call(ctx: UpdateContext, cid: str, o: Args, arg: Args) -> Any:
    require_pledged(ctx, cid, o)
    return ctx.create(MARGIN_OBLIGATION, {**o, "requiredValue": arg["newRequiredValue"]})


def _revalue(ctx: UpdateContext, cid: str, o: Args, arg: Args) -> Any:
    require_pledged(ctx, cid, o)
    return ctx.create(MARGIN_OBLIGATION, {**o, "valuation": arg["newValuation"]})


def cover_of(valuation: Mapping[str, str], faces: Mapping[str, int]) -> Decimal:
    """Collateral value of the face pledged per ISIN at the obligation's valuation.

    .. math:: \\text{cover} = \\sum_i \\text{face}_i \\times v_{\\text{isin}_i}

    where :math:`v` is the collateral value per yen of face after haircut (an ISIN the
    valuation lacks is worth 0: not eligible). Faces are summed per ISIN first (exact
    integers), so each rate is parsed and multiplied once; the same value as Daml's
    sum of ``intToDecimal face * v`` over the pledges, since a rate of at most 10
    decimals times an integer face is exact in both.
    """
    total = Decimal(0)
    for isin, face in faces.items():
        text = valuation.get(isin)
        if text is not None:
            total += face * Decimal(text)
    return total


def move_faces(pledged: Mapping[str, str], moves: Iterable[tuple[str, int]]) -> dict[str, str]:
    """The ``pledged`` map (face per ISIN, Daml ``TextMap Int``) after adding each
    (isin, face) in turn (taking out when negative); an entry that reaches 0 is removed,
    and the keys are sorted, as Daml's ``TextMap`` keeps them (``moveFace``)."""
    faces = {isin: int(face) for isin, face in pledged.items()}
    for isin, face in moves:
        now = faces.get(isin, 0) + face
        if now:
            faces[isin] = now
        else:
            faces.pop(isin, None)
    return {isin: str(faces[isin]) for isin in sorted(faces)}


def _faces(records: Iterable[Args]) -> dict[str, int]:
    """Face per ISIN of Daml ``IsinFace`` records."""
    faces: dict[str, int] = {}
    for r in records:
        faces[r["isin"]] = faces.get(r["isin"], 0) + int(r["face"])
    return faces


def _settle(ctx: UpdateContext, cid: str, o: Args, arg: Args) -> Any:
    """The step's new ``pledged`` map, then the cover rule: cover after the step >=
    required, or the step took out no more than it put in (both at this valuation).

    The second branch lets a substitution or top-up improve an obligation that stays
    short (the optimizer's best partial cover on an impossible day) while no step may
    ever lower an obligation's cover below its requirement.
    """
    require_pledged(ctx, cid, o)
    released, added = arg["released"], arg["added"]
    after = move_faces(
        o["pledged"],
        [
            *((r["isin"], -int(r["face"])) for r in released),
            *((a["isin"], int(a["face"])) for a in added),
        ],
    )
    valuation = o["valuation"]
    cover = cover_of(valuation, {isin: int(face) for isin, face in after.items()})
    required = int(o["requiredValue"])
    if cover < required:
        lost = cover_of(valuation, _faces(released))
        gained = cover_of(valuation, _faces(added))
        if gained < lost:
            ctx.abort(
                f"MarginObligation_Settle: obligation {o['obligationId']} would be"
                f" under-covered: collateral value {int(cover)} < required {required},"
                f" and the step takes out {int(lost)} but puts in only {int(gained)}"
            )
    return ctx.create(MARGIN_OBLIGATION, {**o, "pledged": after})


MARGIN_OBLIGATION = Template(
    module="Tanpo.Obligation",
    name="MarginObligation",
    fields=(
        ("pledgee", "Party"),
        ("pledgor", "Party"),
        ("obligationId", "Text"),
        ("scheduleId", "Text"),
        ("requiredValue", "Int"),
        ("valuation", "TextMap Decimal"),
        ("pledged", "TextMap Int"),
    ),
    signatories=lambda a: [a["pledgee"]],
    observers=lambda a: [a["pledgor"]],
    ensure=_obligation_ensure,
    choices={
        "MarginObligation_Call": Choice(
            "MarginObligation_Call",
            (("newRequiredValue", "Int"),),
            "ContractId MarginObligation",
            True,
            lambda o, _arg: [o["pledgee"]],
            _call,
        ),
        "MarginObligation_Revalue": Choice(
            "MarginObligation_Revalue",
            (("newValuation", "TextMap Decimal"),),
            "ContractId MarginObligation",
            True,
            lambda o, _arg: [o["pledgee"]],
            _revalue,
        ),
        "MarginObligation_Settle": Choice(
            "MarginObligation_Settle",
            (("released", "[IsinFace]"), ("added", "[IsinFace]")),
            "ContractId MarginObligation",
            True,
            lambda o, _arg: [o["pledgee"]],
            _settle,
        ),
    },
).with_archive()


def _batch_execute(ctx: UpdateContext, _cid: str, _batch: Args, arg: Args) -> Any:
    """Each step's call, then the revaluation of what the call created (Daml ``runCall``)."""
    made = []
    for step in arg["steps"]:
        cid = step["obligationCid"]
        if step.get("newRequiredValue") is not None:
            cid = ctx.exercise(
                MARGIN_OBLIGATION,
                cid,
                "MarginObligation_Call",
                {"newRequiredValue": step["newRequiredValue"]},
            )
        if step.get("newValuation") is not None:
            cid = ctx.exercise(
                MARGIN_OBLIGATION,
                cid,
                "MarginObligation_Revalue",
                {"newValuation": step["newValuation"]},
            )
        made.append(cid)
    return made


MARGIN_CALL_BATCH = Template(
    module="Tanpo.Obligation",
    name="MarginCallBatch",
    fields=(("pledgee", "Party"),),
    signatories=lambda a: [a["pledgee"]],
    observers=lambda a: [],
    ensure=lambda a: None,
    choices={
        "MarginCallBatch_Execute": Choice(
            "MarginCallBatch_Execute",
            (("steps", "[MarginCallStep]"),),
            "[ContractId MarginObligation]",
            True,
            lambda a, _arg: [a["pledgee"]],
            _batch_execute,
        ),
    },
).with_archive()
