"""Carrying a plan out: one transaction or one per group, exactly once, never stale."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import PlanRejectedError, StalePlanError, _same_party, execute_plan
from ledger_adapter.model import HOLDING, MARGIN_OBLIGATION, OBLIGATION_COVER
from ledger_adapter.plan import canonical_plan_id, parse_plan
from ledger_adapter.positions import export_holdings
from ledger_adapter.protocol import ExerciseCommand, InvalidArgument
from ledger_adapter.rebalance import LiveState, rebalance_commands
from valuation.errors import InputError

from .conftest import ISIN, B, make_plan

# Substitute MZH-JSCC's ISIN0 by ISIN1 (group 1), and top up MZH-BOJ with ISIN2 (group 2).
SWAP = [
    ("pledge", "MZH-JSCC", "MZH-01", ISIN[1], 12 * B, 1),
    ("release", "MZH-JSCC", "MZH-01", ISIN[0], 12 * B, 1),
    ("pledge", "MZH-BOJ", "MZH-02", ISIN[2], 5 * B, 2),
]
TARGET = [
    ("MZH-JSCC", "MZH-01", ISIN[0], 8 * B),
    ("MZH-JSCC", "MZH-01", ISIN[1], 12 * B),
    ("MZH-BOJ", "MZH-02", ISIN[2], 15 * B),
]


def _plan(**kw: Any) -> Any:
    return parse_plan(make_plan(SWAP, TARGET, plan_id="swap-1", **kw))


def _pledged(ledger: EmbeddedLedger) -> dict[tuple[str, str, str], int]:
    return LiveState.read(ledger, ["MIZUHO"]).pledged()


def test_plan_is_one_transaction_and_reconciles(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    report = execute_plan(loaded, _plan(), parties=["MIZUHO"])
    assert report.status == "applied" and report.reconciled and not report.mismatches
    assert [(u.label, u.command_id, u.status) for u in report.units] == [
        ("all", "swap-1:all", "committed")
    ]
    assert loaded.ledger_end() == end + 1
    assert _pledged(loaded) == {k[:3]: k[3] for k in [(*t[:3], t[3]) for t in TARGET]}


def test_double_execution_changes_nothing(loaded: EmbeddedLedger) -> None:
    execute_plan(loaded, _plan(), parties=["MIZUHO"])
    end = loaded.ledger_end()
    again = execute_plan(loaded, _plan(), parties=["MIZUHO"])
    assert again.status == "already applied" and again.reconciled
    assert [u.status for u in again.units] == ["already applied"]
    assert loaded.ledger_end() == end


def test_per_group_resumes_after_a_partial_run(loaded: EmbeddedLedger) -> None:
    # a run that stopped after group 1: the same plan id, only its first group
    first = make_plan(
        SWAP[:2], [*TARGET[:2], ("MZH-BOJ", "MZH-02", ISIN[2], 10 * B)], plan_id="swap-1"
    )
    done = execute_plan(loaded, parse_plan(first), parties=["MIZUHO"], per_group=True)
    assert [u.command_id for u in done.units] == ["swap-1:group-1"]
    report = execute_plan(loaded, _plan(), parties=["MIZUHO"], per_group=True)
    assert [(u.label, u.status) for u in report.units] == [
        ("group-1", "already applied"),
        ("group-2", "committed"),
    ]
    assert report.reconciled
    commands = [tx.command_id for tx in loaded.updates(0, "MIZUHO")]
    assert commands.count("swap-1:group-1") == 1 and commands.count("swap-1:group-2") == 1


def test_stale_plan_fails_cleanly_naming_the_contracts(loaded: EmbeddedLedger) -> None:
    # someone releases part of the MZH-JSCC pledge after the plan was made
    state = LiveState.read(loaded, ["MIZUHO"])
    loaded.submit(
        rebalance_commands(state, [([("MZH-JSCC", "MZH-01", ISIN[0], 2 * B)], [])]),
        act_as=["MIZUHO"],
        command_id="elsewhere",
    )
    end = loaded.ledger_end()
    with pytest.raises(StalePlanError) as err:
        execute_plan(loaded, _plan(), parties=["MIZUHO"])
    (mismatch,) = err.value.mismatches
    assert (mismatch.obligation, mismatch.isin) == ("MZH-JSCC", ISIN[0])
    assert (mismatch.expected, mismatch.on_ledger) == (20 * B, 18 * B)
    assert mismatch.contract_ids and set(err.value.contract_ids) == set(mismatch.contract_ids)
    assert "re-plan" in str(err.value)
    assert loaded.ledger_end() == end


def test_stale_when_a_needed_free_holding_is_gone(loaded: EmbeddedLedger) -> None:
    (free,) = [
        c
        for c in loaded.active_contracts("MIZUHO", HOLDING.template_id)
        if c.arguments["isin"] == ISIN[1]
    ]
    loaded.submit(
        [
            ExerciseCommand(
                HOLDING.template_id,
                free.contract_id,
                "Holding_Transfer",
                {"newOwner": "NOMURA", "newAccount": "NMR-01"},
            )
        ],
        act_as=["MIZUHO", "NOMURA"],
        command_id="sold",
    )
    with pytest.raises(StalePlanError, match="free face") as err:
        execute_plan(loaded, _plan(), parties=["MIZUHO"])
    assert err.value.mismatches[0].isin == ISIN[1]


def test_replan_from_the_ledger(loaded: EmbeddedLedger, book: dict[str, Any]) -> None:
    execute_plan(loaded, _plan(), parties=["MIZUHO"])
    rows = export_holdings(loaded, ["MIZUHO", "NOMURA"])
    pledged = {
        (r["pledged_to"], r["account"], r["isin"]): r["face"] for r in rows if r["pledged_to"]
    }
    assert pledged == {
        ("MZH-JSCC", "MZH-01", ISIN[0]): 8 * B,
        ("MZH-JSCC", "MZH-01", ISIN[1]): 12 * B,
        ("MZH-BOJ", "MZH-02", ISIN[2]): 15 * B,
        ("NMR-JSCC", "NMR-01", ISIN[0]): 5 * B,
    }
    total = sum(r["face"] for r in rows)
    assert total == sum(h["face"] for h in book["holdings"])  # nothing created or lost
    from ledger_adapter.book import parse_book

    parse_book({**book, "holdings": rows})  # a valid problem again


def test_under_covering_plan_is_refused_and_changes_nothing(loaded: EmbeddedLedger) -> None:
    end = loaded.ledger_end()
    bad = make_plan(
        [("release", "MZH-JSCC", "MZH-01", ISIN[0], 10 * B, 1)],
        [("MZH-JSCC", "MZH-01", ISIN[0], 10 * B)],
        plan_id="strip",
    )
    with pytest.raises(PlanRejectedError, match="under-covered"):
        execute_plan(loaded, parse_plan(bad), parties=["MIZUHO"])
    assert loaded.ledger_end() == end


def test_acting_for_the_wrong_party_is_refused(loaded: EmbeddedLedger) -> None:
    with pytest.raises(InvalidArgument):
        execute_plan(loaded, _plan(), parties=["NOMURA"])


def test_a_whole_float_step_reads_as_the_integer_verify_reads() -> None:
    raw = make_plan(SWAP, TARGET, plan_id="floats")
    raw["moves"][1]["step"] = 7.0
    steps = [m.step for m in parse_plan(raw).moves]
    assert 7 in steps and all(type(step) is int for step in steps)


def test_a_move_naming_another_owner_is_refused_before_anything_is_written(
    loaded: EmbeddedLedger,
) -> None:
    """A move whose ``owner`` is not its obligation's pledgor on the ledger: the plan is
    not this book's; it was executed as the real pledgor before."""
    raw = make_plan(SWAP, TARGET, plan_id="swap-owner")
    raw["moves"][1]["owner"] = "NOMURA"
    end = loaded.ledger_end()
    with pytest.raises(InvalidArgument, match=r"names owner NOMURA.*pledged by MIZUHO") as err:
        execute_plan(loaded, parse_plan(raw), parties=["MIZUHO"])
    assert err.value.field == "moves.owner"
    assert loaded.ledger_end() == end
    raw["moves"][1]["owner"] = "MIZUHO"  # the right owner is fine
    assert execute_plan(loaded, parse_plan(raw), parties=["MIZUHO"]).status == "applied"


def test_an_owner_named_by_its_canton_hint_is_the_party() -> None:
    assert _same_party("MIZUHO", "MIZUHO") and _same_party("MIZUHO", "MIZUHO::1220ab")
    assert not _same_party("MIZUHO", "MIZUHOX::1220ab") and not _same_party("MIZ", "MIZUHO")


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"moves": "x"}, "moves"),
        ({"moves": [{"action": "lend"}]}, "action"),
        (
            {
                "moves": [
                    {
                        "action": "pledge",
                        "obligation": "O",
                        "account": "A",
                        "isin": "I",
                        "face": -5,
                        "group": 1,
                    }
                ]
            },
            "face",
        ),
        (
            {
                "moves": [
                    {"action": "pledge", "obligation": "O", "account": "A", "isin": "I", "face": 5}
                ]
            },
            "group",
        ),
        *[
            (
                {
                    "moves": [
                        {
                            "action": "pledge",
                            "obligation": "O",
                            "account": "A",
                            "isin": "I",
                            "face": face,
                            "group": 1,
                        }
                    ]
                },
                "face",
            )
            for face in (0, 0.5, "100", True, float("nan"), float("inf"), 2**63, 1e19)
        ],
        ({"moves": [], "plan_id": "bad id!"}, "plan_id"),
        ({"status": "error", "moves": []}, "status"),
    ],
)
def test_bad_plans_name_the_field(plan: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_plan(plan)
    assert err.value.field == field


def test_plan_id_is_derived_from_the_content() -> None:
    a = make_plan(SWAP, TARGET)
    assert parse_plan(a).plan_id == canonical_plan_id(a) == parse_plan(dict(a)).plan_id
    b = make_plan(SWAP[:2], TARGET)
    assert parse_plan(b).plan_id != parse_plan(a).plan_id
    groups = parse_plan(
        make_plan([(*m[:5], g) for m, g in zip(SWAP, [10, 2, 2], strict=True)], TARGET)
    ).groups
    assert [g for g, _ in groups] == ["2", "10"]  # numeric groups in numeric order


class _CallBeforeFirstSubmit:
    """The ledger, where JSCC's margin call on MZH-JSCC commits between the executor's
    read and its first submission (a race, made to happen every time)."""

    def __init__(self, ledger: EmbeddedLedger, required: int) -> None:
        self.ledger, self.required, self.called = ledger, required, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def submit(self, commands: Any, **kwargs: Any) -> Any:
        if not self.called:
            self.called = True
            (o,) = (
                c
                for c in self.ledger.active_contracts("JSCC", MARGIN_OBLIGATION.template_id)
                if c.arguments["obligationId"] == "MZH-JSCC"
            )
            call = {"newRequiredValue": str(self.required)}
            self.ledger.submit(
                [ExerciseCommand(o.template_id, o.contract_id, "MarginObligation_Call", call)],
                act_as=["JSCC"],
                command_id="margin-call",
            )
        return self.ledger.submit(commands, **kwargs)


def test_a_margin_call_racing_the_plan_is_absorbed_not_stale(loaded: EmbeddedLedger) -> None:
    """The call re-issues the obligation the plan's transaction names (contract not
    found), but the plan still holds: it is built again and applied once."""
    racing = _CallBeforeFirstSubmit(loaded, 16 * B)  # 8bn x 0.98 + 12bn x 0.98 > 16bn
    report = execute_plan(racing, _plan(), parties=["MIZUHO"])  # type: ignore[arg-type]
    assert report.reconciled and [u.status for u in report.units] == ["committed"]
    commands = [tx.command_id for tx in loaded.updates(0, ["MIZUHO", "JSCC"])]
    assert commands.count("swap-1:all") == 1 and "margin-call" in commands


def test_a_margin_call_the_plan_cannot_meet_refuses_it(loaded: EmbeddedLedger) -> None:
    """Releasing the excess (20bn -> 16bn pledged, 15.68bn of cover for 15bn) is refused
    once the call has raised the requirement to 16bn: rebuilt, and the ledger says no."""
    excess = make_plan(
        [("release", "MZH-JSCC", "MZH-01", ISIN[0], 4 * B, 1)],
        [("MZH-JSCC", "MZH-01", ISIN[0], 16 * B), ("MZH-BOJ", "MZH-02", ISIN[2], 10 * B)],
        plan_id="excess",
    )
    racing = _CallBeforeFirstSubmit(loaded, 16 * B)
    with pytest.raises(PlanRejectedError, match="under-covered"):
        execute_plan(racing, parse_plan(excess), parties=["MIZUHO"])  # type: ignore[arg-type]
    assert "excess:all" not in [tx.command_id for tx in loaded.updates(0, "MIZUHO")]


def test_per_group_stops_at_the_group_that_would_under_cover(loaded: EmbeddedLedger) -> None:
    """Group 2 strips MZH-JSCC below its requirement: the ledger refuses that transaction,
    group 1 stays applied (every transaction left every obligation covered), and the
    error says how far the plan got."""
    plan = make_plan(
        [
            ("pledge", "MZH-BOJ", "MZH-02", ISIN[2], 5 * B, 1),
            ("release", "MZH-JSCC", "MZH-01", ISIN[0], 10 * B, 2),
            ("pledge", "MZH-JSCC", "MZH-01", ISIN[1], 10 * B, 3),
        ],
        [
            ("MZH-JSCC", "MZH-01", ISIN[0], 10 * B),
            ("MZH-JSCC", "MZH-01", ISIN[1], 10 * B),
            ("MZH-BOJ", "MZH-02", ISIN[2], 15 * B),
        ],
        plan_id="thin",
    )
    with pytest.raises(PlanRejectedError, match=r"group-2: .*group-1 to group-1, are applied"):
        execute_plan(loaded, parse_plan(plan), parties=["MIZUHO"], per_group=True)
    assert _pledged(loaded) == {
        ("MZH-JSCC", "MZH-01", ISIN[0]): 20 * B,
        ("MZH-BOJ", "MZH-02", ISIN[2]): 15 * B,
    }
    # a re-run resumes at group 2 (group 1 is not submitted again) and stops there again
    with pytest.raises(PlanRejectedError, match="group-2"):
        execute_plan(loaded, parse_plan(plan), parties=["MIZUHO"], per_group=True)
    assert [tx.command_id for tx in loaded.updates(0, "MIZUHO")].count("thin:group-1") == 1


def test_an_obligation_id_two_pledgees_use_is_refused(loaded: EmbeddedLedger) -> None:
    """Plans and pledges name obligations by id: when a second pledgee (here the BoJ)
    creates an obligation of MIZUHO's under an id JSCC already uses, a plan moving
    collateral for that id is refused before anything is submitted, naming both."""
    from ledger_adapter.protocol import CreateCommand

    clash = CreateCommand(
        MARGIN_OBLIGATION.template_id,
        {
            "pledgee": "BOJ",
            "pledgor": "MIZUHO",
            "obligationId": "MZH-JSCC",
            "scheduleId": "BOJ",
            "requiredValue": "1",
            "valuation": {},
        },
    )
    cover = CreateCommand(
        OBLIGATION_COVER.template_id,
        {"pledgee": "BOJ", "pledgor": "MIZUHO", "obligationId": "MZH-JSCC", "value": "0"},
    )
    loaded.submit([clash, cover], act_as=["BOJ"], command_id="clash")
    end = loaded.ledger_end()
    plan = parse_plan(
        make_plan(
            [("release", "MZH-JSCC", "MZH-01", ISIN[0], B, 1)],
            [("MZH-JSCC", "MZH-01", ISIN[0], 19 * B)],
            plan_id="clash-plan",
        )
    )
    with pytest.raises(
        InvalidArgument, match=r"MZH-JSCC is on the ledger 2 times.*pledgee JSCC.*pledgee BOJ"
    ):
        execute_plan(loaded, plan, parties=["MIZUHO"])
    assert loaded.ledger_end() == end
    state = LiveState.read(loaded, ["MIZUHO"])
    assert state.obligation("MZH-BOJ", "moves").pledgee == "BOJ"  # other ids unaffected
