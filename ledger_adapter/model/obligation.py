"""Daml ``Tanpo.Obligation``: a margin obligation and the cover check a release must pass.

Signatory the pledgee (the secured party sets the requirement and its valuation),
observer the pledgor. ``valuation`` holds, per eligible ISIN, the secured party's
agreed collateral value per yen of face after haircut (dirty price / 100 x
(1 - haircut), DOMAIN.md section 4), so the ledger itself checks cover: a release that
would leave the obligation under-covered fails on the ledger, whatever the client did,
unless the same step puts in at least as much as it takes out (an obligation that
cannot be fully covered may still be improved, never worsened).

The face pledged to the obligation per ISIN is its ``ObligationCover`` (same pledgee,
pledgor and obligation id; ``pledged``, no zero entries), kept equal to its live
``Pledge`` contracts: every rebalance step that releases from or pledges to the
obligation exercises ``ObligationCover_Settle`` (the new map and the cover check at the
obligation's requirement and valuation, then the cover recreated), and
``PledgeAgreement_Enforce`` takes the enforced face out. The check therefore reads two
contracts whatever the size of the book, and a step copies the small map, never the
valuation (one entry per eligible ISIN); :func:`ledger_adapter.invariants.pledged_map_violations`
holds the map to the live pledges. An obligation written before covers existed has
none, so no rebalance can move its pledges (the ledger refuses the step, naming it)
until :func:`ledger_adapter.migration.migrate_obligations` creates its cover.

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
    return None


def _call(ctx: UpdateContext, _cid: str, o: Args, arg: Args) -> Any:
    return ctx.create(MARGIN_OBLIGATION, {**o, "requiredValue": arg["newRequiredValue"]})


def _revalue(ctx: UpdateContext, _cid: str, o: Args, arg: Args) -> Any:
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
    (isin, face) in turn (taking out when negative); an entry that reaches 0 is removed
    (Daml ``moveFace``). Only the entries moved are parsed, and a new ISIN goes last:
    Daml's ``TextMap`` is ordered by key, which only its encoding shows (a JSON object,
    whose keys have no order), so the map is not re-sorted on every step."""
    faces = dict(pledged)
    for isin, face in moves:
        old = faces.get(isin)
        now = face + (int(old) if old is not None else 0)
        if now:
            faces[isin] = str(now)
        elif old is not None:
            del faces[isin]
    return faces


def _faces(records: Iterable[Args]) -> dict[str, int]:
    """Face per ISIN of Daml ``IsinFace`` records."""
    faces: dict[str, int] = {}
    for r in records:
        faces[r["isin"]] = faces.get(r["isin"], 0) + int(r["face"])
    return faces


def _settle(ctx: UpdateContext, _cid: str, k: Args, arg: Args) -> Any:
    """The step's new ``pledged`` map, then the cover rule at the obligation's
    requirement and valuation: cover after the step >= required, or the step took out
    no more than it put in.

    The second branch lets a substitution or top-up improve an obligation that stays
    short (the optimizer's best partial cover on an impossible day) while no step may
    ever lower an obligation's cover below its requirement.
    """
    o = ctx.fetch(MARGIN_OBLIGATION, arg["obligationCid"])
    if (o["obligationId"], o["pledgor"], o["pledgee"]) != (
        k["obligationId"],
        k["pledgor"],
        k["pledgee"],
    ):
        ctx.abort(
            f"ObligationCover_Settle: obligation {o['obligationId']} is not {k['obligationId']}"
        )
    released, added = arg["released"], arg["added"]
    after = move_faces(
        k["pledged"],
        [
            *((r["isin"], -int(r["face"])) for r in released),
            *((a["isin"], int(a["face"])) for a in added),
        ],
    )
    if released:  # else nothing is taken out: the second branch holds, as in Daml's ||
        valuation = o["valuation"]
        lost = cover_of(valuation, _faces(released))
        gained = cover_of(valuation, _faces(added))
        if gained >= lost:  # the step's own ISINs: cheap, so first (Daml's || is lazy)
            return ctx.create(OBLIGATION_COVER, {**k, "pledged": after})
        cover = cover_of(valuation, {isin: int(face) for isin, face in after.items()})
        required = int(o["requiredValue"])
        if cover < required:
            ctx.abort(
                f"ObligationCover_Settle: obligation {k['obligationId']} would be"
                f" under-covered: collateral value {int(cover)} < required {required},"
                f" and the step takes out {int(lost)} but puts in only {int(gained)}"
            )
    return ctx.create(OBLIGATION_COVER, {**k, "pledged": after})


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
    },
).with_archive()


def _cover_ensure(a: Args) -> str | None:
    # an Int is text matching -?[0-9]+ (typecheck) or made by str(int): unless one
    # begins with - or 0 (which sort before "1"), all are > 0, so the map (read and
    # written by every step that moves the obligation's pledges) is parsed only then
    faces = a["pledged"].values()
    if faces and min(faces) < "1" and min(map(int, faces)) <= 0:
        return "face pledged per ISIN must be > 0"
    return None


OBLIGATION_COVER = Template(
    module="Tanpo.Obligation",
    name="ObligationCover",
    fields=(
        ("pledgee", "Party"),
        ("pledgor", "Party"),
        ("obligationId", "Text"),
        ("pledged", "TextMap Int"),
    ),
    signatories=lambda a: [a["pledgee"]],
    observers=lambda a: [a["pledgor"]],
    ensure=_cover_ensure,
    choices={
        "ObligationCover_Settle": Choice(
            "ObligationCover_Settle",
            (
                ("obligationCid", "ContractId MarginObligation"),
                ("released", "[IsinFace]"),
                ("added", "[IsinFace]"),
            ),
            "ContractId ObligationCover",
            True,
            lambda k, _arg: [k["pledgee"]],
            _settle,
        ),
    },
).with_archive()


def cover_create_args(pledgee: str, pledgor: str, obligation_id: str) -> dict[str, Any]:
    """The ``ObligationCover`` of an obligation nothing is pledged to yet."""
    return {"pledgee": pledgee, "pledgor": pledgor, "obligationId": obligation_id, "pledged": {}}


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
