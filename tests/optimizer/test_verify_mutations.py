"""Mutation tests of verify(): a verified optimizer plan, changed one way at a time
(a lot added, an ISIN swapped, a cap broken, a move dropped...), must be caught by the
check that owns that rule. Every rule of the problem contract has a mutation here, so
a check that stops working fails a test."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from optimizer.contract import parse_problem
from optimizer.optimize import optimize
from optimizer.problem import Problem
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule

Plan = dict[str, Any]

SCHEDULE = schedule(
    haircuts=[{"max_residual_years": 5, "haircut": 0.01}, {"max_residual_years": 10, "haircut": 0.02},
              {"max_residual_years": None, "haircut": 0.05}],
    max_share_per_isin=0.6, max_value_per_isin=5 * LOT, excluded_isins=[isin(3)],
    isin_haircuts={isin(2): 0.03},
    bucket_limits=[{"min_residual_years": 10, "max_residual_years": None, "max_share": 0.3}],
)  # fmt: skip
"""Bond 1 (2031, 4.8 years) takes the 1% bucket; bond 2 (2036) has a 3% ISIN override
instead of the 2% bucket; bond 3 is excluded; bond 4 (2046, 20 years) is in the 5%
bucket and under the 30% cap on over-10-year bonds; bond 5 (3 lots, 0.5 bp) is what
makes IM swap its dear bond 1."""


def _data() -> dict[str, Any]:
    return problem(
        [bond(1, opportunity_cost_bp=20.0), bond(2, opportunity_cost_bp=2.0, maturity="2036-06-20"),
         bond(3, opportunity_cost_bp=0.5), bond(4, opportunity_cost_bp=3.0, maturity="2046-12-20", price=95.0),
         bond(5, opportunity_cost_bp=0.5)],
        [holding(1, 4, pledged_to="IM"), holding(1, 6), holding(2, 10), holding(3, 10), holding(4, 6), holding(5, 3),
         holding(2, 10, owner="OTHER", account="B1"), holding(1, 1, owner="OTHER", account="B1", pledged_to="OVM"),
         holding(2, 1, owner="OTHER", account="B1", pledged_to="OVM")],
        [obligation("IM", 6, min_pledge_face=2 * LOT, max_isins=3, min_transfer_value=1.5 * LOT),
         obligation("VM", 2), obligation("OVM", 2, pledgor="OTHER")],
        schedules=[SCHEDULE], move_cost=10_000,
    )  # fmt: skip


@pytest.fixture(scope="module")
def case() -> tuple[Problem, Plan]:
    p = parse_problem(_data())
    plan = optimize(p).to_dict()
    report = verify(p, plan)
    assert report.ok, str(report)
    return p, plan


def _alloc(plan: Plan, oid: str, n: int) -> dict[str, Any]:
    return next(a for a in plan["allocations"] if a["obligation"] == oid and a["isin"] == isin(n))


def _move(plan: Plan, oid: str, n: int) -> dict[str, Any]:
    return next(m for m in plan["moves"] if m["obligation"] == oid and m["isin"] == isin(n))


def _add_lot(plan: Plan) -> None:
    """One more lot of bond 2 for VM, its move enlarged to match: VM's 60% cap
    (120 million) now holds 2 lots x 97 million."""
    _alloc(plan, "VM", 2)["face"] += LOT
    _move(plan, "VM", 2)["face"] += LOT


def _swap_isin(plan: Plan) -> None:
    """VM's bond 1 lot becomes bond 3 (cheaper, but excluded by the schedule)."""
    _alloc(plan, "VM", 1)["isin"] = isin(3)
    _move(plan, "VM", 1)["isin"] = isin(3)


def _other_owner(plan: Plan) -> None:
    """VM covered from OTHER's account: only the pledgor's own positions may cover."""
    _alloc(plan, "VM", 2).update(owner="OTHER", account="B1")
    _move(plan, "VM", 2).update(owner="OTHER", account="B1")


def _bucket(plan: Plan) -> None:
    """A lot of the 20-year bond 4 for VM: 90.25 million > 30% x 200 million."""
    plan["allocations"].append({**_alloc(plan, "VM", 1), "isin": isin(4)})
    plan["moves"].append({**_move(plan, "VM", 1), "isin": isin(4), "step": 99})


def _max_isins(plan: Plan) -> None:
    """A fourth and fifth ISIN for IM, whose max_isins is 3."""
    for n in (3, 4):
        plan["allocations"].append({**_alloc(plan, "IM", 2), "isin": isin(n), "face": 2 * LOT})
        plan["moves"].append({**_move(plan, "IM", 2), "isin": isin(n), "face": 2 * LOT})


def _min_pledge(plan: Plan) -> None:
    """One lot of bond 4 for IM, whose min_pledge_face is 2 lots."""
    plan["allocations"].append({**_alloc(plan, "IM", 2), "isin": isin(4), "face": LOT})
    plan["moves"].append({**_move(plan, "IM", 2), "isin": isin(4), "face": LOT})


def _min_transfer(plan: Plan) -> None:
    """IM releases one lot less of bond 1: the release (100 million) is below IM's
    minimum transfer (150 million) and not the whole pledge."""
    release = _move(plan, "IM", 1)
    assert release["action"] == "release"
    _alloc(plan, "IM", 1)["face"] += release["face"] - LOT
    release["face"] = LOT


def _pledge_before_free(plan: Plan) -> None:
    """Every move in one group but pledging more than the position holds at that
    point (the account's 10 lots of bond 2, all of them to VM)."""
    _alloc(plan, "VM", 2)["face"] = 10 * LOT
    _move(plan, "VM", 2)["face"] = 10 * LOT


def _release_first(plan: Plan) -> None:
    """IM's release runs alone before its replacing pledge: IM (short) loses cover
    in a step that adds nothing, which the ledger refuses."""
    for m in plan["moves"]:
        if m["obligation"] == "IM" and m["action"] == "pledge":
            m["group"] = max(x["group"] for x in plan["moves"]) + 1


def _capacity(plan: Plan) -> None:
    """IM keeps 30 lots of bond 1 where the account holds 10."""
    _alloc(plan, "IM", 1)["face"] = 30 * LOT


def _tamper_value(name: str, value: Any) -> Callable[[Plan], None]:
    return lambda plan: _alloc(plan, "IM", 2).update({name: value})


MUTATIONS: list[tuple[str, Callable[[Plan], None], str]] = [
    ("add a lot over the ISIN cap", _add_lot, "concentration"),
    ("swap to an excluded ISIN", _swap_isin, "eligibility"),
    ("cover from another owner", _other_owner, "pledgor"),
    ("break the maturity-bucket cap", _bucket, "bucket"),
    ("too many ISINs", _max_isins, "max_isins"),
    ("below the minimum pledge", _min_pledge, "min_pledge"),
    ("below the minimum transfer", _min_transfer, "min_transfer"),
    ("pledge face not free", _pledge_before_free, "order"),
    ("release before its replacement", _release_first, "order"),
    ("more face than held", _capacity, "capacity"),
    ("not a whole lot", lambda d: _alloc(d, "IM", 2).update(face=3 * LOT + 1), "lot"),
    ("drop a move", lambda d: d["moves"].pop(), "moves"),
    ("a move the allocations do not imply", lambda d: d["moves"].append({**d["moves"][0], "obligation": "VM", "step": 98}), "moves"),
    ("bucket haircut instead of the ISIN override", _tamper_value("haircut", 0.02), "value"),
    ("market value without the price", _tamper_value("market_value", 3 * LOT * 1.0 + 5e6), "value"),
    ("cover misreported", lambda d: d["obligations"][0].update(collateral_value=6 * LOT), "cover"),
    ("shortfall without its reason", lambda d: next(o for o in d["obligations"] if o["shortfall"] > 0).update(binding=""), "cover"),
    ("negative shadow price", lambda d: d["obligations"][0].update(shadow_price=-1.0), "cover"),
    ("cost understated", lambda d: d["cost"].update(opportunity=d["cost"]["opportunity"] - 100.0), "cost"),
    ("objective understated", lambda d: d.update(objective_value=d["objective_value"] / 2), "cost"),
    ("bound above the objective", lambda d: d.update(objective_bound=d["objective_value"] * 1.5), "bound"),
    ("gap misreported", lambda d: d.update(mip_gap=0.5), "bound"),
    ("optimal without a bound", lambda d: d.update(objective_bound=None, mip_gap=None), "bound"),
    ("dearer than the waterfall", lambda d: d["baseline"].update(total=d["cost"]["total"] - 1e4), "baseline"),
    ("unknown status", lambda d: d.update(status="done"), "status"),
    ("error plan with moves", lambda d: d.update(status="error", message="x"), "status"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate", "kind"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mutation_is_caught_by_its_own_check(
    case: tuple[Problem, Plan], name: str, mutate: Callable[[Plan], None], kind: str
) -> None:
    p, plan = case
    bad = copy.deepcopy(plan)
    mutate(bad)
    kinds = {v.kind for v in verify(p, bad).violations}
    assert kind in kinds, f"{name}: {kinds}"


def test_max_moves_counts_the_changes_the_allocations_imply(case: tuple[Problem, Plan]) -> None:
    """The same plan under a movement budget one short of its moves is refused, and a
    plan listing fewer moves than its allocations imply is still counted in full."""
    _, plan = case
    n = len(plan["moves"])
    tight = parse_problem({**_data(), "limits": {"max_moves": n - 1}})
    assert "max_moves" in {v.kind for v in verify(tight, plan).violations}
    dropped = copy.deepcopy(plan)
    dropped["moves"].pop()
    report = verify(tight, dropped)
    assert report.move_count == n and "max_moves" in {v.kind for v in report.violations}


def test_the_base_plan_exercises_every_rule(case: tuple[Problem, Plan]) -> None:
    """The plan mutated above substitutes (IM, short today, releases 2 of its 4 lots of
    the dear bond 1 and pledges bonds 2 and 5 in one group: the ledger allows it, the
    cover rising) and leaves a shortfall, so order and cover rules are live. Bond 1's 4
    lots break IM's 60% cap, but releasing the excess alone would leave IM short, so
    the breach may be held: the swap is for cost, not owed."""
    _, plan = case
    im = [m for m in plan["moves"] if m["obligation"] == "IM"]
    assert {m["action"] for m in im} == {"release", "pledge"} and len({m["group"] for m in im}) == 1
    assert any(o["shortfall"] > 0 for o in plan["obligations"])
