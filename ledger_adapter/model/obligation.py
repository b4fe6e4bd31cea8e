"""Daml ``Tanpo.Obligation``: a margin obligation and the cover check a release must pass.

Signatory the pledgee (the secured party sets the requirement and its valuation),
observer the pledgor. ``valuation`` holds, per eligible ISIN, the secured party's
agreed collateral value per yen of face after haircut (dirty price / 100 x
(1 - haircut), DOMAIN.md section 4), so the ledger itself checks cover: a release that
would leave the obligation under-covered fails on the ledger, whatever the client did,
unless the same step puts in at least as much as it takes out (an obligation that
cannot be fully covered may still be improved, never worsened).

The collateral value pledged to the obligation is its ``ObligationCover`` (same
pledgee, pledgor and obligation id; ``value``: the sum over its live ``Pledge``
contracts of face x the obligation's valuation of the ISIN, 0 for an ISIN the valuation
lacks; exact in Numeric 10). Every rebalance step that releases from or pledges to the
obligation exercises ``ObligationCover_Settle``: the value its own ISINs take out and
put in (lost, gained), the cover check, the cover recreated with value - lost +
gained, so the step costs what it moves, not what the obligation holds (a map of face
per ISIN cost 2,000 entries copied per transaction on a 2,000-ISIN obligation, halving
one-move commits). ``PledgeAgreement_Enforce`` takes the enforced pledges' value out.
A revaluation changes every pledge's worth, so the pledgee's ``MarginCallBatch``
recomputes the cover in the same transaction (``ObligationCover_Recompute``, from the
pledge ids the pledgee sees). Trust: the pledgee alone writes the requirement, the
valuation and this recomputation; leaving a pledge out only understates its own
cover, which makes the ledger stricter for the pledgor's releases, never looser (and
a pledgee that revalues without recomputing, outside the batch, leaves a cover its
invariant check reports). :func:`ledger_adapter.invariants.cover_value_violations`
holds the value to the live pledges at the current valuation. An obligation written
before covers existed has none, so no rebalance can move its pledges (the ledger
refuses the step, naming it) until :func:`ledger_adapter.migration.migrate_obligations`
creates its cover.

The pledgee moves the requirement (``MarginObligation_Call``: a margin call or return)
and the valuation (``MarginObligation_Revalue``: new prices or haircuts); a
``MarginCallBatch``, created and exercised in one command, runs both for several
obligations in one transaction (:mod:`ledger_adapter.margin_call` builds it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any, NoReturn

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


NUMERIC_10 = Context(prec=38, traps=[Inexact, Overflow, InvalidOperation])
"""Daml ``Numeric 10`` arithmetic: 38 digits; a result that would be rounded raises
(an Int face times a rate of at most 10 decimals, and their sums, never are)."""
_TEN_DP = Decimal("0.0000000001")


_NUMERIC_10_LIMIT = Decimal(10) ** 28


def numeric_text(value: Decimal) -> str:
    """``value`` as a Daml ``Decimal`` (Numeric 10) is written: 10 decimals, no exponent.

    Raises ``decimal.Overflow`` (an ``ArithmeticError``) beyond Numeric 10's 28 integer
    digits, as Daml's arithmetic fails there."""
    if abs(value) >= _NUMERIC_10_LIMIT:
        raise Overflow(f"{value} overflows Numeric 10")
    return format(NUMERIC_10.quantize(value, _TEN_DP), "f")


def overflowed(ctx: UpdateContext, choice: str, error: ArithmeticError) -> NoReturn:
    """Cover arithmetic beyond Numeric 10 fails the transaction naming ``choice`` (as
    Daml's does), never a Python traceback."""
    ctx.abort(
        f"{choice}: the collateral value overflows Numeric 10 (28 integer digits,"
        f" 10 decimals): {type(error).__name__}"
    )


def cover_of(valuation: Mapping[str, str], faces: Iterable[tuple[str, int]]) -> Decimal:
    """Collateral value of the (isin, face) pairs at an obligation's valuation.

    .. math:: \\text{cover} = \\sum_i \\text{face}_i \\times v_{\\text{isin}_i}

    where :math:`v` is the collateral value per yen of face after haircut (an ISIN the
    valuation lacks is worth 0: not eligible). Exact, as Daml's sum of
    ``intToDecimal face * v``: a rate of at most 10 decimals times an integer face is
    exact in both (:data:`NUMERIC_10` raises rather than round).
    """
    total = Decimal(0)
    for isin, face in faces:
        text = valuation.get(isin)
        if text is not None:
            total = NUMERIC_10.add(total, NUMERIC_10.multiply(Decimal(face), Decimal(text)))
    return total


def _isin_faces(records: Iterable[Args]) -> Iterable[tuple[str, int]]:
    """(isin, face) of Daml ``IsinFace`` records."""
    return ((r["isin"], int(r["face"])) for r in records)


def same_obligation(a: Args, b: Args) -> bool:
    """Whether two contracts' arguments (obligation, cover, pledge) name the same
    obligation: the same obligation id, pledgor and pledgee."""
    return (a["obligationId"], a["pledgor"], a["pledgee"]) == (
        b["obligationId"],
        b["pledgor"],
        b["pledgee"],
    )


def _obligation_of(ctx: UpdateContext, choice: str, k: Args, arg: Args) -> Args:
    """The obligation a cover's choice names (``obligationCid``), which must be the
    cover's own (same obligation id, pledgor and pledgee)."""
    o = ctx.fetch(MARGIN_OBLIGATION, arg["obligationCid"])
    if not same_obligation(o, k):
        ctx.abort(f"{choice}: obligation {o['obligationId']} is not {k['obligationId']}")
    return o


def _settle(ctx: UpdateContext, _cid: str, k: Args, arg: Args) -> Any:
    """The cover rule at the obligation's requirement and valuation, then the cover
    recreated with its new value: value after the step >= required, or the step took
    out no more than it put in. Reads only the step's own ISINs: O(step).

    The second branch lets a substitution or top-up improve an obligation that stays
    short (the optimizer's best partial cover on an impossible day) while no step may
    ever lower an obligation's cover below its requirement.
    """
    o = _obligation_of(ctx, "ObligationCover_Settle", k, arg)
    valuation = o["valuation"]
    try:
        lost = cover_of(valuation, _isin_faces(arg["released"]))
        gained = cover_of(valuation, _isin_faces(arg["added"]))
        after = NUMERIC_10.add(NUMERIC_10.subtract(Decimal(k["value"]), lost), gained)
        value = numeric_text(after)
    except ArithmeticError as e:
        overflowed(ctx, "ObligationCover_Settle", e)
    if gained < lost:
        required = int(o["requiredValue"])
        if after < required:
            ctx.abort(
                f"ObligationCover_Settle: obligation {k['obligationId']} would be"
                f" under-covered: collateral value {int(after)} < required {required},"
                f" and the step takes out {int(lost)} but puts in only {int(gained)}"
            )
    return ctx.create(OBLIGATION_COVER, {**k, "value": value})


def _recompute(ctx: UpdateContext, _cid: str, k: Args, arg: Args) -> Any:
    """The cover's value from the pledges named, at the obligation's (new) valuation:
    each pledge once, only those of this obligation, pledgor and pledgee counted."""
    o = _obligation_of(ctx, "ObligationCover_Recompute", k, arg)
    faces = []
    for pcid in dict.fromkeys(arg["pledgeCids"]):  # Daml's dedup: first of each, in order
        p = ctx.fetch(PLEDGE, pcid)
        if same_obligation(p, k):
            faces.append((p["isin"], int(p["face"])))
    try:
        value = numeric_text(cover_of(o["valuation"], faces))
    except ArithmeticError as e:
        overflowed(ctx, "ObligationCover_Recompute", e)
    return ctx.create(OBLIGATION_COVER, {**k, "value": value})


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


OBLIGATION_COVER = Template(
    module="Tanpo.Obligation",
    name="ObligationCover",
    fields=(
        ("pledgee", "Party"),
        ("pledgor", "Party"),
        ("obligationId", "Text"),
        ("value", "Decimal"),
    ),
    signatories=lambda a: [a["pledgee"]],
    observers=lambda a: [a["pledgor"]],
    ensure=lambda a: None,
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
        "ObligationCover_Recompute": Choice(
            "ObligationCover_Recompute",
            (
                ("obligationCid", "ContractId MarginObligation"),
                ("pledgeCids", "[ContractId Pledge]"),
            ),
            "ContractId ObligationCover",
            True,
            lambda k, _arg: [k["pledgee"]],
            _recompute,
        ),
    },
).with_archive()


_ZERO = numeric_text(Decimal(0))


def cover_create_args(pledgee: str, pledgor: str, obligation_id: str) -> dict[str, Any]:
    """The ``ObligationCover`` of an obligation nothing is pledged to yet."""
    return {"pledgee": pledgee, "pledgor": pledgor, "obligationId": obligation_id, "value": _ZERO}


def _batch_execute(ctx: UpdateContext, _cid: str, _batch: Args, arg: Args) -> Any:
    """Each step's call, then the revaluation of what the call created and the
    recomputation of the obligation's cover at the new valuation (Daml ``runCall``)."""
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
            cover = step.get("coverCid")
            if cover is None:
                ctx.abort(
                    "MarginCallBatch: a revaluation needs the obligation's ObligationCover"
                    " (coverCid), whose value the new valuation changes"
                )
            ctx.exercise(
                OBLIGATION_COVER,
                cover,
                "ObligationCover_Recompute",
                {"obligationCid": cid, "pledgeCids": step["pledgeCids"]},
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
