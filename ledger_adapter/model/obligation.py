"""Daml ``Tanpo.Obligation``: a margin obligation and the cover check a release must pass.

Signatory the pledgee (the secured party sets the requirement and its valuation),
observer the pledgor. ``valuation`` holds, per eligible ISIN, the secured party's
agreed collateral value per yen of face after haircut (dirty price / 100 x
(1 - haircut), DOMAIN.md section 4), so the ledger itself checks cover: a release that
would leave the obligation under-covered fails on the ledger, whatever the client did,
unless the same step puts in at least as much as it takes out (an obligation that
cannot be fully covered may still be improved, never worsened).

The pledgee moves the requirement (``MarginObligation_Call``: a margin call or return)
and the valuation (``MarginObligation_Revalue``: new prices or haircuts); a
``MarginCallBatch``, created and exercised in one command, runs both for several
obligations in one transaction (:mod:`ledger_adapter.margin_call` builds it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ledger_adapter.model.pledge import PLEDGE
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


def pledged_faces(
    ctx: UpdateContext, pledge_cids: Iterable[str], obligation: tuple[str, str, str]
) -> dict[str, int]:
    """Face per ISIN of the pledges among ``pledge_cids`` (each fetched and counted
    once) that secure ``obligation`` (obligationId, pledgor, pledgee)."""
    faces: dict[str, int] = {}
    fetch = ctx.fetch
    obligation_id, pledgor, pledgee = obligation
    for pledge_cid in dict.fromkeys(pledge_cids):
        p = fetch(PLEDGE, pledge_cid)
        if (
            p["obligationId"] == obligation_id
            and p["pledgor"] == pledgor
            and p["pledgee"] == pledgee
        ):
            isin = p["isin"]
            faces[isin] = faces.get(isin, 0) + int(p["face"])
    return faces


def _check_cover(ctx: UpdateContext, _cid: str, o: Args, arg: Args) -> Any:
    """Cover after the step >= required, or the step took out no more than it put in.

    The second branch lets a substitution or top-up improve an obligation that stays
    short (the optimizer's best partial cover on an impossible day) while no step may
    ever lower an obligation's cover below its requirement.
    """
    mine = (o["obligationId"], o["pledgor"], o["pledgee"])
    valuation = o["valuation"]
    pledged = pledged_faces(ctx, arg["pledgeCids"], mine)
    added = pledged_faces(ctx, arg["addedPledgeCids"], mine)  # fetched always, as in Daml
    cover = cover_of(valuation, pledged)
    required = int(o["requiredValue"])
    if cover >= required:
        return str(cover)
    gained = cover_of(valuation, added)
    taken: dict[str, int] = {}
    for r in arg["released"]:
        taken[r["isin"]] = taken.get(r["isin"], 0) + int(r["face"])
    lost = cover_of(valuation, taken)
    if gained < lost:
        ctx.abort(
            f"MarginObligation_CheckCover: obligation {o['obligationId']} would be under-covered:"
            f" collateral value {cover:.0f} < required {required}, and the step takes out"
            f" {lost:.0f} but puts in only {gained:.0f}"
        )
    return str(cover)


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
        "MarginObligation_CheckCover": Choice(
            "MarginObligation_CheckCover",
            (
                ("pledgeCids", "[ContractId Pledge]"),
                ("addedPledgeCids", "[ContractId Pledge]"),
                ("released", "[IsinFace]"),
            ),
            "Decimal",
            False,
            lambda o, _arg: [o["pledgee"]],
            _check_cover,
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
