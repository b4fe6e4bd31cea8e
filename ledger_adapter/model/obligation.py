"""Daml ``Tanpo.Obligation``: a margin obligation and the cover check a release must pass.

Signatory the pledgee (the secured party sets the requirement and its valuation),
observer the pledgor. ``valuation`` holds, per eligible ISIN, the secured party's
agreed collateral value per yen of face after haircut (dirty price / 100 x
(1 - haircut), DOMAIN.md section 4), so the ledger itself checks cover: a release that
would leave the obligation under-covered fails on the ledger, whatever the client did.
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


def cover_of(valuation: Mapping[str, str], pledges: Iterable[tuple[str, int]]) -> Decimal:
    """Collateral value of ``(isin, face)`` pledges at the obligation's valuation.

    .. math:: \\text{cover} = \\sum_i \\text{face}_i \\times v_{\\text{isin}_i}

    where :math:`v` is the collateral value per yen of face after haircut (an ISIN the
    valuation lacks is worth 0: not eligible).
    """
    return sum(
        (face * Decimal(valuation[isin]) for isin, face in pledges if isin in valuation),
        Decimal(0),
    )


def _check_cover(ctx: UpdateContext, _cid: str, o: Args, arg: Args) -> Any:
    counted: list[tuple[str, int]] = []
    for pledge_cid in dict.fromkeys(arg["pledgeCids"]):  # each pledge counts once
        p = ctx.fetch(PLEDGE, pledge_cid)
        if (p["obligationId"], p["pledgor"], p["pledgee"]) == (
            o["obligationId"],
            o["pledgor"],
            o["pledgee"],
        ):
            counted.append((p["isin"], int(p["face"])))
    cover = cover_of(o["valuation"], counted)
    if cover < int(o["requiredValue"]):
        ctx.abort(
            f"MarginObligation_CheckCover: obligation {o['obligationId']} would be under-covered:"
            f" collateral value {cover:.0f} < required {o['requiredValue']}"
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
            (("pledgeCids", "[ContractId Pledge]"),),
            "Decimal",
            False,
            lambda o, _arg: [o["pledgee"]],
            _check_cover,
        ),
    },
).with_archive()
