"""An optimizer plan with substitutions, carried out on an embedded ledger group by group.

The ledger checks every transaction that releases collateral
(``ObligationCover_Settle``): afterwards the obligation is covered, or the step put
in at least the value it took out. ``optimizer.verify`` checks the same rule; here the
ledger itself judges the plans ``tanpo optimize`` writes: substitutions on covered
obligations and on one that stays short, then a plan reordered so a release runs
before its replacement, which both refuse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optimizer.contract import parse_problem
from optimizer.verify import verify
from tests.api.conftest import Tanpo
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule

URL = "sqlite:///ledger.db"


def _book() -> dict[str, Any]:
    """IM and VM hold dear bonds (20 and 10 bp) where bond 2 (2 bp) is free: both
    substitute. SHORT (9 lots, at most 2 ISINs, bonds 4-6 eligible) holds 3 lots of
    bond 4 (15 bp); its best is bonds 5 and 6, 4 lots each under the 50% cap: 8 lots,
    still 1 short, so the ledger lets its swap through only because the step adds 8
    lots of value for the 3 it takes out."""
    t = schedule("T", max_share_per_isin=0.5, excluded_isins=[isin(n) for n in (1, 2, 3)])
    return problem(
        [bond(1, opportunity_cost_bp=20.0), bond(2, opportunity_cost_bp=2.0), bond(3, opportunity_cost_bp=10.0),
         bond(4, opportunity_cost_bp=15.0), bond(5, opportunity_cost_bp=1.0), bond(6, opportunity_cost_bp=1.5)],
        [holding(1, 5, pledged_to="IM"), holding(2, 10), holding(3, 4, pledged_to="VM"),
         holding(4, 3, pledged_to="SHORT"), holding(5, 4), holding(6, 5)],
        [obligation("IM", 5), obligation("VM", 4), obligation("SHORT", 9, schedule_id="T", max_isins=2)],
        schedules=[schedule(), t], move_cost=1000,
    )  # fmt: skip


def _hand_plan() -> dict[str, Any]:
    """The best plan of the book, worked by hand (horizon a year, so a lot at b bp costs
    b x 10,000 yen; price 100, haircut 0, so a lot is 100 million yen of value):

    IM: bond 1 -> 5 lots of bond 2 (2 bp): 100,000; VM: bond 3 -> 4 lots of bond 2:
    80,000; SHORT: bond 4 -> 4 lots of bond 5 (1 bp) + 4 of bond 6 (1.5 bp): 40,000 +
    60,000. Opportunity 280,000; 7 moves x 1,000 = 7,000; SHORT is 1 lot short:
    100,000,000. Total 100,287,000 yen. Each obligation's moves are one group.
    """
    final = [("IM", 2, 5), ("VM", 2, 4), ("SHORT", 5, 4), ("SHORT", 6, 4)]
    moves = [("release", "SHORT", 4, 3), ("pledge", "SHORT", 5, 4), ("pledge", "SHORT", 6, 4),
             ("release", "IM", 1, 5), ("pledge", "IM", 2, 5), ("release", "VM", 3, 4), ("pledge", "VM", 2, 4)]  # fmt: skip
    group = {"SHORT": 1, "IM": 2, "VM": 3}
    cover = {"IM": 5 * LOT, "VM": 4 * LOT, "SHORT": 8 * LOT}
    required = {"IM": 5 * LOT, "VM": 4 * LOT, "SHORT": 9 * LOT}
    return {
        "status": "feasible", "method": "hand", "message": "", "objective_value": 100_287_000.0,
        "objective_bound": None, "mip_gap": None, "solve_seconds": 0.0,
        "allocations": [{"obligation": o, "owner": "BANK", "account": "A1", "isin": isin(n), "face": k * LOT,
                         "market_value": k * LOT, "haircut": 0.0, "collateral_value": k * LOT} for o, n, k in final],
        "moves": [{"action": a, "obligation": o, "owner": "BANK", "account": "A1", "isin": isin(n), "face": k * LOT,
                   "group": group[o], "step": i + 1, "reason": "by hand"} for i, (a, o, n, k) in enumerate(moves)],
        "obligations": [{"id": o, "required_value": required[o], "collateral_value": cover[o],
                         "shortfall": required[o] - cover[o], "shadow_price": 1.0 if o == "SHORT" else 0.0,
                         "binding": "max_isins" if o == "SHORT" else ""} for o in required],
        "cost": {"opportunity": 280_000.0, "moves": 7_000.0, "shortfall_penalty": 1e8, "total": 100_287_000.0},
        "baseline": None,
    }  # fmt: skip


@pytest.fixture
def loaded(tmp_path: Path, tanpo: Tanpo, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The book written, optimized to plan.json, and loaded into a fresh ledger."""
    monkeypatch.chdir(tmp_path)
    Path("book.json").write_text(json.dumps(_book()))
    done = tanpo("optimize", "book.json", "-o", "plan.json")
    assert done.returncode == 0 and "verified" in done.stdout, done.stdout + done.stderr
    for argv in (("ledger", "init"), ("ledger", "load", "book.json")):
        done = tanpo(*argv, "--ledger", URL)
        assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(Path("plan.json").read_text())
    return plan


def test_optimizer_substitutions_pass_the_ledgers_cover_check_group_by_group(
    loaded: dict[str, Any], tanpo: Tanpo
) -> None:
    plan = loaded
    for oid in ("IM", "VM"):  # each substitutes, release and pledge in one group
        moves = [m for m in plan["moves"] if m["obligation"] == oid]
        assert {m["action"] for m in moves} == {"release", "pledge"}
        assert len({m["group"] for m in moves}) == 1
    done = tanpo("execute", "plan.json", "--per-group", "--ledger", URL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("committed") == len({m["group"] for m in plan["moves"]})
    assert "ledger pledges match its allocations" in done.stdout


def test_a_swap_that_leaves_an_obligation_short_passes_when_it_adds_more(
    loaded: dict[str, Any], tanpo: Tanpo
) -> None:
    """SHORT releases 3 lots and gains 8 in one step: still short, but the ledger's
    second branch (value added >= value released) lets it through, and verify agrees."""
    plan = _hand_plan()
    report = verify(parse_problem(_book()), plan)
    assert report.ok and report.total == pytest.approx(100_287_000.0), str(report)
    Path("hand.json").write_text(json.dumps(plan))
    done = tanpo("execute", "hand.json", "--per-group", "--ledger", URL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ledger pledges match its allocations" in done.stdout


def test_a_release_before_its_replacement_is_refused_by_both(
    loaded: dict[str, Any], tanpo: Tanpo
) -> None:
    """SHORT's release of bond 4 moved to a group of its own, first: its cover would
    drop from 3 lots to 0 with nothing added. verify says so, and the ledger refuses."""
    plan = _hand_plan()
    for m in plan["moves"]:
        m["group"] += 1
        if m["obligation"] == "SHORT" and m["action"] == "release":
            m["group"] = 0
    Path("reordered.json").write_text(json.dumps(plan))
    report = verify(parse_problem(_book()), plan)
    assert [(v.kind, v.record) for v in report.violations] == [("order", "SHORT")], str(report)
    done = tanpo("execute", "reordered.json", "--per-group", "--ledger", URL)
    assert done.returncode != 0
    assert "under-covered" in done.stderr and "SHORT" in done.stderr, done.stdout + done.stderr


def test_the_optimizer_finds_the_swap_the_ledger_allows(loaded: dict[str, Any]) -> None:
    """The optimizer holds the ledger's rule (cover after >= min(required, cover now),
    optimizer.ledger_rule) and finds the hand plan's swap at 100,287,000 yen; under the
    old rule (no release from an obligation left short) it left SHORT 2 lots short at
    200,650,000 yen and called that optimal."""
    assert loaded["cost"]["total"] <= 100_287_000.0 + 1.0
