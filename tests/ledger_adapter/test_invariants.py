"""The invariant checks themselves can fail: a model that breaks conservation or backing
is caught, even when the same transaction also declares an issuance or a title move.

The ledgers here run deliberately broken ``Holding`` choices (the same template id, so
the log reads as the real model's), which is why they are not the self-checking
``ledger`` fixture.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.invariants import backing_violations, conservation_violations
from ledger_adapter.model import HOLDING, TEMPLATES
from ledger_adapter.protocol import ExerciseCommand
from ledger_adapter.templates import Args, ChoiceBody, UpdateContext

from .test_embedded import holding, issue, split


def _broken(choice: str, body: ChoiceBody) -> dict[str, Any]:
    """The model with ``choice`` of ``Holding`` running ``body``."""
    spec = dataclasses.replace(HOLDING.choices[choice], body=body)
    broken = dataclasses.replace(HOLDING, choices={**HOLDING.choices, choice: spec})
    return {**TEMPLATES, HOLDING.template_id: broken}


def _split_minting_one(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    split_face = int(arg["splitFace"])
    first = ctx.create(HOLDING, {**h, "face": str(split_face)})
    rest = ctx.create(HOLDING, {**h, "face": str(int(h["face"]) - split_face + 1)})
    return {"_1": first, "_2": rest}


def _transfer_keeping_owner(ctx: UpdateContext, _cid: str, h: Args, arg: Args) -> Any:
    return ctx.create(HOLDING, {**h, "account": arg["newAccount"]})  # owner unchanged


def test_a_clean_history_has_no_violations(ledger: EmbeddedLedger) -> None:
    cid = issue(ledger)
    ledger.submit([split(cid, 300)], act_as=["MIZUHO"], command_id="split")
    assert conservation_violations(ledger) == [] and backing_violations(ledger) == []


@pytest.mark.parametrize("with_issuance", [False, True])
def test_face_minted_by_a_split_is_caught(ledger_url: str, with_issuance: bool) -> None:
    with EmbeddedLedger(
        ledger_url, templates=_broken("Holding_Split", _split_minting_one), fused=None
    ) as ledger:
        cid = issue(ledger)
        commands = [holding("MIZUHO", 50)] if with_issuance else []  # declared: +50
        ledger.submit([*commands, split(cid, 300)], act_as=["BOJ", "MIZUHO"], command_id="mint")
        (problem,) = conservation_violations(ledger)
    assert problem.startswith("offset 2: face not conserved") and "1}" in problem


def test_a_title_move_that_keeps_the_owner_is_caught(ledger_url: str) -> None:
    with EmbeddedLedger(
        ledger_url, templates=_broken("Holding_Transfer", _transfer_keeping_owner), fused=None
    ) as ledger:
        cid = issue(ledger)
        transfer = ExerciseCommand(
            HOLDING.template_id,
            cid,
            "Holding_Transfer",
            {"newOwner": "NOMURA", "newAccount": "NMR-01"},
        )
        ledger.submit([transfer], act_as=["MIZUHO", "NOMURA"], command_id="sale")
        (problem,) = conservation_violations(ledger)
    # conserved per ISIN, but MIZUHO kept what it declared it gave NOMURA
    assert "('MIZUHO'" in problem and "('NOMURA'" in problem


def test_a_pledge_column_entry_without_its_pledge_is_caught(ledger_url: str) -> None:
    with EmbeddedLedger(ledger_url) as ledger:
        cid = issue(ledger)
        pledge = ExerciseCommand(
            HOLDING.template_id, cid, "Holding_Pledge", {"pledgeTo": "JSCC", "pledgeFace": "400"}
        )
        # both parties may do this outside an agreement; no Pledge records it
        ledger.submit([pledge], act_as=["MIZUHO", "JSCC"], command_id="bare-pledge")
        assert conservation_violations(ledger) == []
        (problem,) = backing_violations(ledger)
    assert "backs 0 pledges" in problem
