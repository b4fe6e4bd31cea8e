"""The pledgee's side of a margin call: ``call_margin`` moves requirements and valuations.

The small book (conftest): MZH-JSCC requires 15bn and holds 20bn of ISIN0 at 0.98 (JSCC's
2% haircut on a price of 100), 19.6bn of cover; MZH-BOJ 8bn with 10bn of ISIN2 at 0.99;
NMR-JSCC 4bn with 5bn of ISIN0. Releases are driven through ``execute_plan``, so it is
the ledger's own cover check that says yes or no.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import (
    AuthorizationError,
    InterpretationError,
    PermissionDenied,
    RequestTimeout,
)
from ledger_adapter.executor import PlanRejectedError, execute_plan
from ledger_adapter.margin_call import CallStatus, ObligationChange, call_margin
from ledger_adapter.model import MARGIN_CALL_BATCH, MARGIN_OBLIGATION, OBLIGATION_COVER
from ledger_adapter.plan import parse_plan
from ledger_adapter.positions import live_book
from ledger_adapter.protocol import (
    CreateAndExerciseCommand,
    ExerciseCommand,
    UserRights,
)
from valuation.errors import InputError

from .conftest import ISIN, B, assert_sound, make_plan, small_book


def _cover(ledger: EmbeddedLedger, obligation: str) -> Any:
    (found,) = (
        c
        for c in ledger.active_contracts(["JSCC", "BOJ"], OBLIGATION_COVER.template_id)
        if c.arguments["obligationId"] == obligation
    )
    return found


def _obligation(ledger: EmbeddedLedger, obligation: str) -> Any:
    (found,) = (
        c
        for c in ledger.active_contracts(["JSCC", "BOJ"], MARGIN_OBLIGATION.template_id)
        if c.arguments["obligationId"] == obligation
    )
    return found


def _release(obligation: str, isin: str, face: int, left: int, plan_id: str) -> Any:
    """A plan releasing ``face`` of ``isin`` in MZH-01 from ``obligation`` (``left`` stays)."""
    return parse_plan(
        make_plan(
            [("release", obligation, "MZH-01", isin, face, 1)],
            [(obligation, "MZH-01", isin, left)],
            plan_id=plan_id,
        )
    )


def _with_requirement(required: int, index: int = 0) -> dict[str, Any]:
    book = small_book()
    book["obligations"][index]["required_value"] = required
    return book


def test_a_raised_requirement_refuses_a_release_the_old_one_allowed(
    loaded: EmbeddedLedger,
) -> None:
    """16bn left pledged is 15.68bn of cover: enough for 15bn, not for 16bn."""
    end = loaded.ledger_end()
    report = call_margin(loaded, parse_book(_with_requirement(16 * B)))
    assert report.status is CallStatus.COMMITTED and report.offset == end + 1
    assert report.changes == (ObligationChange("MZH-JSCC", "MIZUHO", "JSCC", 15 * B, 16 * B, ()),)
    assert report.unchanged == ("MZH-BOJ", "NMR-JSCC") and report.not_in_book == ()
    assert _obligation(loaded, "MZH-JSCC").arguments["requiredValue"] == str(16 * B)
    with pytest.raises(PlanRejectedError, match="under-covered"):
        execute_plan(
            loaded, _release("MZH-JSCC", ISIN[0], 4 * B, 16 * B, "excess"), parties=["MIZUHO"]
        )
    assert loaded.ledger_end() == end + 1


def test_a_margin_return_lets_a_release_the_old_requirement_refused(
    loaded: EmbeddedLedger,
) -> None:
    """12bn left pledged is 11.76bn of cover: short of 15bn, enough for 10bn."""
    plan = _release("MZH-JSCC", ISIN[0], 8 * B, 12 * B, "return")
    with pytest.raises(PlanRejectedError, match="under-covered"):
        execute_plan(loaded, plan, parties=["MIZUHO"])
    report = call_margin(loaded, parse_book(_with_requirement(10 * B)))
    assert report.status is CallStatus.COMMITTED and report.changes[0].called
    done = execute_plan(loaded, plan, parties=["MIZUHO"])
    assert done.reconciled and [u.status for u in done.units] == ["committed"]


def test_moved_prices_are_what_the_ledger_checks_cover_with(loaded: EmbeddedLedger) -> None:
    """ISIN0 falls from 100 to 80: 0.98 -> 0.784 a yen of face under JSCC. A release of
    1bn passes before (19bn x 0.98 >= 15bn); after the revaluation the next 1bn fails
    (18bn x 0.784 = 14.1bn < 15bn; 17.6bn at the old value), and the ledger's
    Settle, releasing 1 yen of face, counts 19bn x 0.784 - 0.784 = 14.896bn of cover:
    the call recomputed the cover's value at the new valuation in the same transaction."""
    first = _release("MZH-JSCC", ISIN[0], B, 19 * B, "first")
    assert execute_plan(loaded, first, parties=["MIZUHO"]).reconciled
    book = small_book()
    book["securities"][0]["dirty_price"] = 80.0
    report = call_margin(loaded, parse_book(book))
    assert report.status is CallStatus.COMMITTED
    assert {c.obligation: (c.revalued, c.called) for c in report.changes} == {
        "MZH-JSCC": ((ISIN[0],), False),
        "MZH-BOJ": ((ISIN[0],), False),
        "NMR-JSCC": ((ISIN[0],), False),
    }
    jscc = _obligation(loaded, "MZH-JSCC")
    assert Decimal(jscc.arguments["valuation"][ISIN[0]]) == Decimal("0.784")
    assert Decimal(jscc.arguments["valuation"][ISIN[1]]) == Decimal("0.98")  # not moved
    assert Decimal(_obligation(loaded, "MZH-BOJ").arguments["valuation"][ISIN[0]]) == Decimal(
        "0.792"
    )
    cover = _cover(loaded, "MZH-JSCC")
    assert Decimal(cover.arguments["value"]) == 19 * B * Decimal("0.784")
    check = ExerciseCommand(  # the ledger's own check, as a rebalance step runs it
        cover.template_id,
        cover.contract_id,
        "ObligationCover_Settle",
        {
            "obligationCid": jscc.contract_id,
            "released": [{"isin": ISIN[0], "face": "1"}],
            "added": [],
        },
    )
    with pytest.raises(
        InterpretationError,
        match="value 14895999999 < required 15000000000, and the step takes out 0 but puts in only 0",
    ):
        loaded.submit([check], act_as=["JSCC"], command_id="check")
    with pytest.raises(PlanRejectedError, match="under-covered"):
        execute_plan(loaded, _release("MZH-JSCC", ISIN[0], B, 18 * B, "next"), parties=["MIZUHO"])


def test_a_call_and_a_revaluation_of_one_obligation_are_one_transaction(
    loaded: EmbeddedLedger,
) -> None:
    book = _with_requirement(16 * B)
    book["securities"][0]["dirty_price"] = 99.0
    before = _obligation(loaded, "MZH-JSCC")
    end = loaded.ledger_end()
    report = call_margin(loaded, parse_book(book), pledgees=["JSCC"])
    assert loaded.ledger_end() == end + 1 and report.pledgees == ("JSCC",)
    assert [(c.obligation, c.called, c.revalued) for c in report.changes] == [
        ("MZH-JSCC", True, (ISIN[0],)),
        ("NMR-JSCC", False, (ISIN[0],)),
    ]
    after = _obligation(loaded, "MZH-JSCC")
    assert after.contract_id != before.contract_id and after.offset == end + 1
    assert after.arguments["requiredValue"] == str(16 * B)
    assert Decimal(after.arguments["valuation"][ISIN[0]]) == Decimal("0.9702")
    # the pledgor (observer) sees the new obligation; BOJ's was not in the call
    seen = {c.contract_id for c in loaded.active_contracts("MIZUHO", MARGIN_OBLIGATION.template_id)}
    assert after.contract_id in seen and _obligation(loaded, "MZH-BOJ").offset == 1


def test_a_rerun_has_nothing_to_change_and_writes_nothing(loaded: EmbeddedLedger) -> None:
    book = parse_book(_with_requirement(16 * B))
    call_margin(loaded, book)
    end = loaded.ledger_end()
    again = call_margin(loaded, book)
    assert again.status is CallStatus.NOTHING_TO_CHANGE and again.command_id is None
    assert again.changes == () and again.unchanged == ("MZH-JSCC", "MZH-BOJ", "NMR-JSCC")
    assert loaded.ledger_end() == end
    back = call_margin(loaded, parse_book(small_book()))  # and back: a margin return
    assert back.changes[0].old_required_value == 16 * B and back.changes[0].called


class _TimeoutAfterCommit:
    """The first submission commits but its answer is lost (a timeout)."""

    def __init__(self, ledger: EmbeddedLedger) -> None:
        self.ledger = ledger
        self.lost = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def submit(self, commands: Any, **kwargs: Any) -> Any:
        tx = self.ledger.submit(commands, **kwargs)
        if not self.lost:
            self.lost = True
            raise RequestTimeout("the answer was lost")
        return tx


def test_a_call_whose_answer_is_lost_is_applied_once(loaded: EmbeddedLedger) -> None:
    report = call_margin(
        _TimeoutAfterCommit(loaded),  # type: ignore[arg-type]
        parse_book(_with_requirement(16 * B)),
        backoff_s=0,
    )
    assert report.status is CallStatus.ALREADY_APPLIED
    calls = [tx.command_id for tx in loaded.updates(0, "JSCC")]
    assert calls.count(report.command_id) == 1 and len(calls) == 3  # set-up, pledges, call
    assert _obligation(loaded, "MZH-JSCC").arguments["requiredValue"] == str(16 * B)


def test_a_party_that_is_no_pledgee_is_refused(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    with pytest.raises(AuthorizationError, match="MIZUHO: not the pledgee"):
        call_margin(loaded, parse_book(_with_requirement(10 * B)), pledgees=["MIZUHO"])
    assert loaded.ledger_end() == end


@pytest.fixture
def with_users(tmp_path: Path) -> Iterator[EmbeddedLedger]:
    """The small book on a ledger with user rights: ``ops`` acts as everyone,
    ``mizuho-ops`` as MIZUHO only."""
    everyone = frozenset({"BOJ", "JSCC", "MIZUHO", "NOMURA"})
    users = {"ops": UserRights(everyone), "mizuho-ops": UserRights(frozenset({"MIZUHO"}))}
    with EmbeddedLedger(f"sqlite:///{tmp_path / 'users.db'}", user_rights=users) as ledger:
        load_book(ledger, parse_book(small_book()), user_id="ops")
        yield ledger
        assert_sound(ledger)


def test_the_pledgor_cannot_move_its_own_requirement(with_users: EmbeddedLedger) -> None:
    """Through call_margin as a user without the pledgee's rights (PermissionDenied),
    and with a batch of its own that names the pledgee's obligation: the ledger's
    authorization refuses (Call's controller is the pledgee)."""
    end = with_users.ledger_end()
    book = parse_book(_with_requirement(10 * B))
    with pytest.raises(PermissionDenied, match="JSCC"):
        call_margin(with_users, book, pledgees=["JSCC"], user_id="mizuho-ops")
    own = CreateAndExerciseCommand(
        MARGIN_CALL_BATCH.template_id,
        {"pledgee": "MIZUHO"},
        "MarginCallBatch_Execute",
        {
            "steps": [
                {
                    "obligationCid": _obligation(with_users, "MZH-JSCC").contract_id,
                    "newRequiredValue": str(10 * B),
                    "newValuation": None,
                    "coverCid": None,
                    "pledgeCids": [],
                }
            ]
        },
    )
    with pytest.raises(AuthorizationError):
        with_users.submit([own], act_as=["MIZUHO"], command_id="own", user_id="mizuho-ops")
    assert with_users.ledger_end() == end
    assert call_margin(with_users, book, user_id="ops").status is CallStatus.COMMITTED


def _with_obligation(schedule: str) -> dict[str, Any]:
    book = small_book()
    book["obligations"].append(
        {
            "id": "MZH-JSCC-VM",
            "pledgor": "MIZUHO",
            "pledgee": "JSCC",
            "schedule": schedule,
            "required_value": 2 * B,
        }
    )
    return book


def test_an_obligation_missing_on_the_ledger_is_created_under_its_agreement(
    loaded: EmbeddedLedger,
) -> None:
    book = parse_book(_with_obligation("JSCC"))
    report = call_margin(loaded, book)
    (change,) = report.changes
    assert change.created and change.new_required_value == 2 * B
    assert change.revalued == (ISIN[0], ISIN[1], ISIN[2])
    created = _obligation(loaded, "MZH-JSCC-VM")
    assert created.arguments["valuation"] == dict(book.obligations[3].valuation)
    assert created.observers == ("MIZUHO",)
    assert call_margin(loaded, book).status is CallStatus.NOTHING_TO_CHANGE


def test_an_obligation_without_an_agreement_is_refused_naming_it(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    with pytest.raises(InputError) as err:
        call_margin(loaded, parse_book(_with_obligation("BOJ")))
    assert (err.value.record, err.value.field) == ("obligations[3] (MZH-JSCC-VM)", "schedule")
    assert "no pledge agreement MIZUHO/JSCC/BOJ" in str(err.value)
    assert loaded.ledger_end() == end


def test_an_obligation_of_another_schedule_is_refused(loaded: EmbeddedLedger) -> None:
    book = small_book()
    book["obligations"][1]["schedule"] = "JSCC"
    with pytest.raises(InputError) as err:
        call_margin(loaded, parse_book(book))
    assert (err.value.record, err.value.field) == ("obligations[1] (MZH-BOJ)", "schedule")


def test_obligations_the_book_lacks_are_left_alone(loaded: EmbeddedLedger) -> None:
    book = _with_requirement(16 * B)
    del book["obligations"][2]  # NMR-JSCC, and NOMURA's pledge row with it
    book["holdings"][5]["pledged_to"] = None
    nomura = _obligation(loaded, "NMR-JSCC")
    report = call_margin(loaded, parse_book(book))
    assert report.not_in_book == ("NMR-JSCC",) and len(report.changes) == 1
    assert _obligation(loaded, "NMR-JSCC") == nomura
    only_boj = call_margin(loaded, parse_book(_with_requirement(9 * B)), pledgees=["BOJ"])
    assert only_boj.status is CallStatus.NOTHING_TO_CHANGE and only_boj.unchanged == ("MZH-BOJ",)


def test_a_book_older_than_the_ledger_cannot_zero_a_pledge(loaded: EmbeddedLedger) -> None:
    """The book no longer lists MIZUHO's ISIN0, which the ledger has 20bn of pledged to
    MZH-JSCC: revaluing would count it as 0. Dropping an ISIN nothing is pledged in
    (ISIN0 from MZH-BOJ) is a plain revaluation."""
    book = small_book()
    del book["holdings"][:2]
    end = loaded.ledger_end()
    with pytest.raises(InputError) as err:
        call_margin(loaded, parse_book(book))
    assert (err.value.record, err.value.field) == ("obligations[0] (MZH-JSCC)", "valuation")
    assert f"{ISIN[0]} is pledged to MZH-JSCC on the ledger (20,000,000,000 face)" in str(err.value)
    assert loaded.ledger_end() == end
    report = call_margin(loaded, parse_book(book), pledgees=["BOJ"])
    assert [(c.obligation, c.revalued) for c in report.changes] == [("MZH-BOJ", (ISIN[0],))]
    assert ISIN[0] not in _obligation(loaded, "MZH-BOJ").arguments["valuation"]


def test_the_live_book_is_the_ledger_after_a_call_and_a_plan(loaded: EmbeddedLedger) -> None:
    """Re-planning starts from the ledger: after a call and an executed release, the
    live book has the called requirement and the holdings as they are now."""
    call_margin(loaded, parse_book(_with_requirement(10 * B)))
    execute_plan(loaded, _release("MZH-JSCC", ISIN[0], 8 * B, 12 * B, "return"), parties=["MIZUHO"])
    book = small_book()
    live = live_book(loaded, book, ["MIZUHO", "NOMURA"])
    required = {o["id"]: o["required_value"] for o in live["obligations"]}
    assert required == {o["id"]: o["required_value"] for o in book["obligations"]} | {
        "MZH-JSCC": 10 * B
    }
    rows = {
        (h["owner"], h["account"], h["isin"], h["pledged_to"]): h["face"] for h in live["holdings"]
    }
    assert rows[("MIZUHO", "MZH-01", ISIN[0], "MZH-JSCC")] == 12 * B
    assert sum(rows.values()) == sum(h["face"] for h in book["holdings"])
    assert live["securities"] == book["securities"] and live["schedules"] == book["schedules"]


def test_a_book_without_obligations_is_refused_naming_it(loaded: EmbeddedLedger) -> None:
    """Before, an authorization error that named 'no party'."""
    book = small_book()
    book["obligations"] = []
    book["holdings"] = [{**h, "pledged_to": None} for h in book["holdings"]]
    with pytest.raises(InputError) as err:
        call_margin(loaded, parse_book(book))
    assert (err.value.record, err.value.field) == ("book", "obligations")
    assert "no obligations" in str(err.value)


def test_the_settlement_is_the_cover_value_and_only_the_pledgee_moves_it(
    loaded: EmbeddedLedger,
) -> None:
    """A plan's step recreates the obligation's cover with the value its pledges now
    hold and leaves the obligation (and its valuation) alone; the pledgor cannot
    exercise the settlement itself (it would move the value without moving a pledge)."""
    before, obligation = _cover(loaded, "MZH-JSCC"), _obligation(loaded, "MZH-JSCC")
    assert before.arguments["value"] == "19600000000.0000000000"  # 20bn x 0.98
    assert execute_plan(
        loaded, _release("MZH-JSCC", ISIN[0], B, 19 * B, "first"), parties=["MIZUHO"]
    ).reconciled
    after = _cover(loaded, "MZH-JSCC")
    assert after.contract_id != before.contract_id
    assert after.arguments["value"] == "18620000000.0000000000"  # 19bn x 0.98
    assert _obligation(loaded, "MZH-JSCC").contract_id == obligation.contract_id
    settle = ExerciseCommand(
        after.template_id,
        after.contract_id,
        "ObligationCover_Settle",
        {
            "obligationCid": obligation.contract_id,
            "released": [],
            "added": [{"isin": ISIN[1], "face": str(B)}],
        },
    )
    with pytest.raises(AuthorizationError, match="controllers"):
        loaded.submit([settle], act_as=["MIZUHO"], command_id="pledgor-settles")
    assert_sound(loaded)
