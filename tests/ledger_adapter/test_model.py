"""The pledge model on the ledger: what must work and what must fail (Daml's submitMustFail)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.invariants import invariant_violations
from ledger_adapter.model import (
    HOLDING,
    HOLDINGS_COLUMN,
    MARGIN_OBLIGATION,
    OBLIGATION_COVER,
    PLEDGE,
    PLEDGE_AGREEMENT,
    PLEDGE_COLUMN,
    REBALANCE_BATCH,
)
from ledger_adapter.positions import export_holdings, positions
from ledger_adapter.protocol import (
    AuthorizationError,
    ContractNotFound,
    CreateAndExerciseCommand,
    CreatedEvent,
    ExerciseCommand,
    InterpretationError,
)
from ledger_adapter.rebalance import LiveState, rebalance_commands

from .conftest import ISIN, B


def _contracts(
    ledger: EmbeddedLedger, party: str, template: str, **match: Any
) -> list[CreatedEvent]:
    return [
        c
        for c in ledger.active_contracts(party, template)
        if all(c.arguments.get(k) == v for k, v in match.items())
    ]


def _rebalance(
    ledger: EmbeddedLedger,
    party: str,
    releases: list[tuple[str, str, str, int]],
    pledges: list[tuple[str, str, str, int]],
    command_id: str,
) -> None:
    state = LiveState.read(ledger, [party])
    ledger.submit(
        rebalance_commands(state, [(releases, pledges)]), act_as=[party], command_id=command_id
    )


def test_the_book_is_on_the_ledger_as_loaded(loaded: EmbeddedLedger) -> None:
    rows = export_holdings(loaded, ["MIZUHO", "NOMURA"])
    assert {(r["owner"], r["account"], r["isin"], r["face"], r["pledged_to"]) for r in rows} == {
        ("MIZUHO", "MZH-01", ISIN[0], 30 * B, None),
        ("MIZUHO", "MZH-01", ISIN[0], 20 * B, "MZH-JSCC"),
        ("MIZUHO", "MZH-01", ISIN[1], 30 * B, None),
        ("MIZUHO", "MZH-02", ISIN[2], 30 * B, None),
        ("MIZUHO", "MZH-02", ISIN[2], 10 * B, "MZH-BOJ"),
        ("NOMURA", "NMR-01", ISIN[0], 5 * B, "NMR-JSCC"),
        ("NOMURA", "NMR-01", ISIN[3], 20 * B, None),
    }
    (jscc,) = _contracts(loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC")
    assert jscc.arguments["valuation"][ISIN[0]] == "0.9800000000"
    (boj,) = _contracts(loaded, "BOJ", MARGIN_OBLIGATION.template_id, obligationId="MZH-BOJ")
    assert ISIN[1] not in boj.arguments["valuation"]  # excluded by the BoJ schedule


def test_pledgee_sees_its_pledges_and_nothing_of_other_pledgees(loaded: EmbeddedLedger) -> None:
    jscc = {c.template_id for c in loaded.active_contracts("JSCC")}
    assert PLEDGE.template_id in jscc
    jscc_obligations = {
        c.arguments["obligationId"] for c in loaded.active_contracts("JSCC", PLEDGE.template_id)
    }
    assert jscc_obligations == {"MZH-JSCC", "NMR-JSCC"}  # not MZH-BOJ
    # JSCC sees the pledged entries, never a bank's free holdings
    for c in loaded.active_contracts("JSCC", HOLDING.template_id):
        assert c.arguments["column"] == PLEDGE_COLUMN and c.arguments["pledgee"] == "JSCC"
    # NOMURA sees nothing of MIZUHO's
    for c in loaded.active_contracts("NOMURA"):
        assert "MIZUHO" not in {*c.signatories, *c.observers}
    assert all(
        "MIZUHO" not in {*e.witness_parties}
        for tx in loaded.updates(0, "NOMURA")
        for e in tx.events
    )


def test_unauthorized_pledge_fails(loaded: EmbeddedLedger) -> None:
    (free,) = _contracts(loaded, "MIZUHO", HOLDING.template_id, isin=ISIN[1])
    pledge = ExerciseCommand(
        HOLDING.template_id,
        free.contract_id,
        "Holding_Pledge",
        {"pledgeTo": "JSCC", "pledgeFace": str(B)},
    )
    # the pledgee's consent is missing (no agreement used)
    with pytest.raises(AuthorizationError, match="controllers"):
        loaded.submit([pledge], act_as=["MIZUHO"], command_id="no-consent")
    # another bank cannot even see the holding
    with pytest.raises(ContractNotFound):
        loaded.submit([pledge], act_as=["NOMURA"], command_id="not-mine")
    # another bank cannot use MIZUHO's agreement
    (agreement,) = _contracts(loaded, "MIZUHO", PLEDGE_AGREEMENT.template_id, pledgee="JSCC")
    with pytest.raises(ContractNotFound):
        loaded.submit(
            [
                ExerciseCommand(
                    PLEDGE_AGREEMENT.template_id,
                    agreement.contract_id,
                    "PledgeAgreement_Rebalance",
                    {
                        "obligationCids": [],
                        "coverCids": [],
                        "releases": [],
                        "pledges": [],
                        "pool": [],
                    },
                )
            ],
            act_as=["NOMURA"],
            command_id="borrowed-agreement",
        )


def test_pledging_a_pledged_holding_fails(loaded: EmbeddedLedger) -> None:
    (entry,) = _contracts(loaded, "MIZUHO", HOLDING.template_id, column=PLEDGE_COLUMN, isin=ISIN[0])
    with pytest.raises(InterpretationError, match="already pledged"):
        loaded.submit(
            [
                ExerciseCommand(
                    HOLDING.template_id,
                    entry.contract_id,
                    "Holding_Pledge",
                    {"pledgeTo": "JSCC", "pledgeFace": str(B)},
                )
            ],
            act_as=["MIZUHO", "JSCC"],
            command_id="twice",
        )
    # and through the agreement, a pool entry claiming the pledged entry is free
    (agreement,) = _contracts(loaded, "MIZUHO", PLEDGE_AGREEMENT.template_id, pledgee="JSCC")
    (obligation,) = _contracts(
        loaded, "MIZUHO", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    (cover,) = _contracts(loaded, "MIZUHO", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    with pytest.raises(InterpretationError, match="not the free holding it claims"):
        loaded.submit(
            [
                ExerciseCommand(
                    PLEDGE_AGREEMENT.template_id,
                    agreement.contract_id,
                    "PledgeAgreement_Rebalance",
                    {
                        "obligationCids": [obligation.contract_id],
                        "coverCids": [cover.contract_id],
                        "releases": [],
                        "pledges": [
                            {
                                "obligationId": "MZH-JSCC",
                                "account": "MZH-01",
                                "isin": ISIN[0],
                                "face": str(B),
                            }
                        ],
                        "pool": [
                            {
                                "cid": entry.contract_id,
                                "account": "MZH-01",
                                "isin": ISIN[0],
                                "face": entry.arguments["face"],
                            }
                        ],
                    },
                )
            ],
            act_as=["MIZUHO"],
            command_id="claimed-free",
        )


def test_ineligible_isin_cannot_be_pledged(loaded: EmbeddedLedger) -> None:
    with pytest.raises(InterpretationError, match="not eligible"):
        _rebalance(loaded, "MIZUHO", [], [("MZH-BOJ", "MZH-01", ISIN[1], B)], "excluded")


def test_under_covering_release_fails_on_the_ledger(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    # MZH-JSCC: 20bn x 0.98 = 19.6bn against 15bn required; releasing 5bn leaves 14.7bn
    with pytest.raises(InterpretationError, match="under-covered"):
        _rebalance(loaded, "MIZUHO", [("MZH-JSCC", "MZH-01", ISIN[0], 5 * B)], [], "strip")
    assert loaded.ledger_end() == end
    _rebalance(loaded, "MIZUHO", [("MZH-JSCC", "MZH-01", ISIN[0], 4 * B)], [], "excess")
    assert {(p.obligation, p.face) for p in positions(loaded, "MIZUHO") if p.obligation} == {
        ("MZH-JSCC", 16 * B),
        ("MZH-BOJ", 10 * B),
    }


def test_a_margin_call_then_blocks_the_release(loaded: EmbeddedLedger) -> None:
    (obligation,) = _contracts(
        loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    call = ExerciseCommand(
        MARGIN_OBLIGATION.template_id,
        obligation.contract_id,
        "MarginObligation_Call",
        {"newRequiredValue": str(19 * B)},
    )
    with pytest.raises(AuthorizationError):
        loaded.submit([call], act_as=["MIZUHO"], command_id="self-call")
    loaded.submit([call], act_as=["JSCC"], command_id="call")
    with pytest.raises(InterpretationError, match="under-covered"):
        _rebalance(loaded, "MIZUHO", [("MZH-JSCC", "MZH-01", ISIN[0], 1 * B)], [], "too-much")


def test_a_short_obligation_may_be_improved_never_worsened(loaded: EmbeddedLedger) -> None:
    """On a day the requirement cannot be met, a step may still swap collateral as long
    as it puts in at least what it takes out (the optimizer's best partial cover)."""
    (obligation,) = _contracts(
        loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    call = ExerciseCommand(
        MARGIN_OBLIGATION.template_id,
        obligation.contract_id,
        "MarginObligation_Call",
        {"newRequiredValue": str(60 * B)},  # far beyond what MIZUHO can pledge
    )
    loaded.submit([call], act_as=["JSCC"], command_id="big-call")
    end = loaded.ledger_end()
    # takes out 10bn of ISIN[0], puts in only 5bn of ISIN[1]: worse, refused
    with pytest.raises(InterpretationError, match=r"takes out .* puts in only"):
        _rebalance(
            loaded,
            "MIZUHO",
            [("MZH-JSCC", "MZH-01", ISIN[0], 10 * B)],
            [("MZH-JSCC", "MZH-01", ISIN[1], 5 * B)],
            "worse",
        )
    with pytest.raises(InterpretationError, match="under-covered"):
        _rebalance(loaded, "MIZUHO", [("MZH-JSCC", "MZH-01", ISIN[0], 1 * B)], [], "strip")
    assert loaded.ledger_end() == end
    # takes out 10bn of ISIN[0], puts in 15bn of ISIN[1]: better though still short
    _rebalance(
        loaded,
        "MIZUHO",
        [("MZH-JSCC", "MZH-01", ISIN[0], 10 * B)],
        [("MZH-JSCC", "MZH-01", ISIN[1], 15 * B)],
        "better",
    )
    pledged = {(p.isin, p.face) for p in positions(loaded, "JSCC") if p.obligation == "MZH-JSCC"}
    assert pledged == {(ISIN[0], 10 * B), (ISIN[1], 15 * B)}


def test_substitution_is_one_transaction(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    _rebalance(
        loaded,
        "MIZUHO",
        [("MZH-JSCC", "MZH-01", ISIN[0], 20 * B)],
        [("MZH-JSCC", "MZH-01", ISIN[1], 20 * B)],
        "swap",
    )
    assert loaded.ledger_end() == end + 1
    pledged = {(p.isin, p.face) for p in positions(loaded, "JSCC") if p.obligation == "MZH-JSCC"}
    assert pledged == {(ISIN[1], 20 * B)}


def test_one_step_exercises_the_agreement_and_several_go_through_a_batch(
    loaded: EmbeddedLedger,
) -> None:
    """A pledgor's single step is its agreement's choice exercised directly (no batch
    nodes); steps under two agreements are one RebalanceBatch; both commit."""
    state = LiveState.read(loaded, ["MIZUHO"])
    jscc = ("MZH-JSCC", "MZH-01", ISIN[1], 10 * B)
    boj = ("MZH-BOJ", "MZH-02", ISIN[2], 10 * B)
    (one,) = rebalance_commands(state, [([], [jscc])])
    assert isinstance(one, ExerciseCommand)
    assert (one.template_id, one.choice) == (
        PLEDGE_AGREEMENT.template_id,
        "PledgeAgreement_Rebalance",
    )
    (agreement,) = _contracts(loaded, "MIZUHO", PLEDGE_AGREEMENT.template_id, pledgee="JSCC")
    assert one.contract_id == agreement.contract_id
    (two,) = rebalance_commands(state, [([], [jscc, boj])])
    assert isinstance(two, CreateAndExerciseCommand)
    assert two.template_id == REBALANCE_BATCH.template_id
    assert len(two.argument["steps"]) == 2
    tx = loaded.submit([one], act_as=["MIZUHO"], command_id="direct")
    assert REBALANCE_BATCH.template_id not in {e.template_id for e in tx.created()}
    assert _pledged(loaded, "JSCC", "MZH-JSCC", ISIN[1]) == 10 * B
    batch = rebalance_commands(LiveState.read(loaded, ["MIZUHO"]), [([], [jscc, boj])])
    loaded.submit(batch, act_as=["MIZUHO"], command_id="batch")
    assert _pledged(loaded, "JSCC", "MZH-JSCC", ISIN[1]) == 20 * B
    assert _pledged(loaded, "BOJ", "MZH-BOJ", ISIN[2]) == 20 * B


def _pledged(ledger: EmbeddedLedger, pledgee: str, obligation: str, isin: str) -> int:
    return sum(
        p.face for p in positions(ledger, pledgee) if (p.obligation, p.isin) == (obligation, isin)
    )


def test_enforcement_moves_the_entry_to_the_pledgee(loaded: EmbeddedLedger) -> None:
    (agreement,) = _contracts(loaded, "JSCC", PLEDGE_AGREEMENT.template_id, pledgor="MIZUHO")
    (obligation,) = _contracts(
        loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    (cover,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    pledges = _contracts(loaded, "JSCC", PLEDGE.template_id, obligationId="MZH-JSCC")
    enforce = ExerciseCommand(
        PLEDGE_AGREEMENT.template_id,
        agreement.contract_id,
        "PledgeAgreement_Enforce",
        {
            "obligationCid": obligation.contract_id,
            "coverCid": cover.contract_id,
            "pledgeCids": [p.contract_id for p in pledges],
            "toAccount": "JSCC-01",
        },
    )
    with pytest.raises(AuthorizationError):
        loaded.submit([enforce], act_as=["MIZUHO"], command_id="self-enforce")
    # not on the entry alone: that would leave the Pledge without its entry
    grab = ExerciseCommand(
        HOLDING.template_id,
        pledges[0].arguments["holdingCid"],
        "Holding_Enforce",
        {"toAccount": "J"},
    )
    with pytest.raises(AuthorizationError, match="controllers"):
        loaded.submit([grab], act_as=["JSCC"], command_id="grab")
    loaded.submit([enforce], act_as=["JSCC"], command_id="enforce")
    taken = _contracts(loaded, "JSCC", HOLDING.template_id, owner="JSCC")
    assert [
        (h.arguments["account"], h.arguments["face"], h.arguments["column"]) for h in taken
    ] == [("JSCC-01", str(20 * B), HOLDINGS_COLUMN)]
    assert not _contracts(loaded, "MIZUHO", PLEDGE.template_id, obligationId="MZH-JSCC")
    # the cover is recreated with the enforced pledges' value (20bn x 0.98) taken out
    (after,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    assert cover.arguments["value"] == "19600000000.0000000000"
    assert after.contract_id != cover.contract_id
    assert after.arguments["value"] == "0.0000000000"


def test_transfer_of_title_needs_both_owners(loaded: EmbeddedLedger) -> None:
    (free,) = _contracts(loaded, "MIZUHO", HOLDING.template_id, isin=ISIN[1])
    transfer = ExerciseCommand(
        HOLDING.template_id,
        free.contract_id,
        "Holding_Transfer",
        {"newOwner": "NOMURA", "newAccount": "NMR-01"},
    )
    with pytest.raises(AuthorizationError):
        loaded.submit([transfer], act_as=["MIZUHO"], command_id="gift")
    loaded.submit([transfer], act_as=["MIZUHO", "NOMURA"], command_id="sale")
    assert _contracts(loaded, "NOMURA", HOLDING.template_id, isin=ISIN[1], owner="NOMURA")


def test_split_and_merge_round_trip(loaded: EmbeddedLedger) -> None:
    (free,) = _contracts(loaded, "MIZUHO", HOLDING.template_id, isin=ISIN[1])
    tx = loaded.submit(
        [
            ExerciseCommand(
                HOLDING.template_id, free.contract_id, "Holding_Split", {"splitFace": str(B)}
            )
        ],
        act_as=["MIZUHO"],
        command_id="split",
    )
    a, b = (e.contract_id for e in tx.created())
    with pytest.raises(InterpretationError, match="twice"):
        loaded.submit(
            [ExerciseCommand(HOLDING.template_id, a, "Holding_Merge", {"otherCids": [a]})],
            act_as=["MIZUHO"],
            command_id="self-merge",
        )
    tx = loaded.submit(
        [ExerciseCommand(HOLDING.template_id, a, "Holding_Merge", {"otherCids": [b]})],
        act_as=["MIZUHO"],
        command_id="merge",
    )
    (merged,) = tx.created()
    assert merged.arguments["face"] == str(30 * B)


def test_a_pledge_cannot_be_archived_by_one_side(loaded: EmbeddedLedger) -> None:
    (pledge,) = _contracts(loaded, "MIZUHO", PLEDGE.template_id, obligationId="MZH-BOJ")
    archive = ExerciseCommand(PLEDGE.template_id, pledge.contract_id, "Archive", {})
    with pytest.raises(AuthorizationError):
        loaded.submit([archive], act_as=["MIZUHO"], command_id="tear-up")


def test_a_recomputation_counts_each_pledge_of_its_obligation_once(
    loaded: EmbeddedLedger,
) -> None:
    """``ObligationCover_Recompute`` (the pledgee's, after a revaluation): a pledge named
    twice counts once, another obligation's pledge (NMR-JSCC: same pledgee, another
    pledgor) not at all; leaving a pledge out only understates the pledgee's own cover,
    which the invariant check reports; the pledgor cannot recompute."""
    (obligation,) = _contracts(
        loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    (cover,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    own = _contracts(loaded, "JSCC", PLEDGE.template_id, obligationId="MZH-JSCC")
    other = _contracts(loaded, "JSCC", PLEDGE.template_id, obligationId="NMR-JSCC")
    assert own and other

    def recompute(cover_cid: str, pledge_cids: list[str]) -> ExerciseCommand:
        return ExerciseCommand(
            OBLIGATION_COVER.template_id,
            cover_cid,
            "ObligationCover_Recompute",
            {"obligationCid": obligation.contract_id, "pledgeCids": pledge_cids},
        )

    named = [p.contract_id for p in own] * 2 + [p.contract_id for p in other]
    with pytest.raises(AuthorizationError, match="controllers"):
        loaded.submit([recompute(cover.contract_id, named)], act_as=["MIZUHO"], command_id="r0")
    loaded.submit([recompute(cover.contract_id, named)], act_as=["JSCC"], command_id="r1")
    (same,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    assert same.arguments["value"] == "19600000000.0000000000"  # 20bn x 0.98, once
    assert not invariant_violations(loaded)
    loaded.submit([recompute(same.contract_id, [])], act_as=["JSCC"], command_id="r2")
    (short,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    assert short.arguments["value"] == "0.0000000000"
    (problem,) = invariant_violations(loaded)
    assert "worth 19600000000.00" in problem
    mine = [p.contract_id for p in own]
    loaded.submit([recompute(short.contract_id, mine)], act_as=["JSCC"], command_id="r3")


def test_a_cover_beyond_numeric_10_fails_the_transaction(loaded: EmbeddedLedger) -> None:
    """20bn of face at 10^27 a yen is beyond Numeric 10 (Daml fails there too): the
    recomputation is refused naming the choice, not a Python error."""
    (obligation,) = _contracts(
        loaded, "JSCC", MARGIN_OBLIGATION.template_id, obligationId="MZH-JSCC"
    )
    (cover,) = _contracts(loaded, "JSCC", OBLIGATION_COVER.template_id, obligationId="MZH-JSCC")
    pledges = [p.contract_id for p in _contracts(loaded, "JSCC", PLEDGE.template_id)]

    def revalue(cid: str, valuation: dict[str, str]) -> str:
        tx = loaded.submit(
            [
                ExerciseCommand(
                    MARGIN_OBLIGATION.template_id,
                    cid,
                    "MarginObligation_Revalue",
                    {"newValuation": valuation},
                )
            ],
            act_as=["JSCC"],
            command_id=f"revalue-{cid}",
        )
        (made,) = tx.created(MARGIN_OBLIGATION.template_id)
        return made.contract_id

    huge = revalue(obligation.contract_id, {ISIN[0]: "1" + "0" * 27})
    recompute = ExerciseCommand(
        OBLIGATION_COVER.template_id,
        cover.contract_id,
        "ObligationCover_Recompute",
        {"obligationCid": huge, "pledgeCids": pledges},
    )
    with pytest.raises(InterpretationError, match="Recompute: the collateral value overflows"):
        loaded.submit([recompute], act_as=["JSCC"], command_id="overflow")
    revalue(huge, obligation.arguments["valuation"])  # back, so the cover holds again
