"""verify() catches what is wrong with a plan, from the problem alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from optimizer.contract import parse_problem
from optimizer.costmodel import CAP_TOLERANCE
from optimizer.optimize import optimize
from optimizer.problem import Problem
from optimizer.verify import above_cap, verify
from tests.optimizer.factory import LOT, bond, holding, obligation, problem


@pytest.fixture(scope="module")
def case() -> tuple[Problem, dict[str, Any]]:
    p = parse_problem(problem([bond(1, opportunity_cost_bp=20.0), bond(2, opportunity_cost_bp=2.0)],
                              [holding(1, 5, pledged_to="IM"), holding(2, 10)], [obligation("IM", 5)],
                              move_cost=10_000))  # fmt: skip
    return p, optimize(p).to_dict()


def kinds(p: Problem, plan: dict[str, Any]) -> set[str]:
    return {v.kind for v in verify(p, plan).violations}


def test_a_good_plan_passes(case: tuple[Problem, dict[str, Any]]) -> None:
    p, plan = case
    report = verify(p, plan)
    assert report.ok and report.move_count == 2
    assert report.total == pytest.approx(plan["cost"]["total"])


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda d: d["allocations"][0].update(face=30 * LOT), "capacity"),
        (lambda d: d["allocations"][0].update(face=3 * LOT + 1), "lot"),
        (lambda d: d["cost"].update(total=1.0), "cost"),
        (lambda d: d["moves"].pop(), "moves"),
        (lambda d: d["moves"][1].update(group=2), "order"),  # the release alone first
        (lambda d: d["obligations"][0].update(shortfall=5.0), "cover"),
        (lambda d: d["allocations"][0].update(collateral_value=1.0), "value"),
        (lambda d: d["allocations"].append({**d["allocations"][0], "obligation": "NOPE"}), "unknown"),
        (lambda d: d.update(objective_bound=d["objective_value"] * 2), "bound"),
    ],
)  # fmt: skip
def test_each_tampering_is_caught(
    case: tuple[Problem, dict[str, Any]], tamper: Any, kind: str
) -> None:
    p, plan = case
    bad = copy.deepcopy(plan)
    tamper(bad)
    assert kind in kinds(p, bad)


def test_release_from_an_obligation_left_short_is_flagged() -> None:
    """Releasing 1 of 3 pledged lots when 5 are required: the step lowers the cover of
    an obligation under its requirement and adds nothing, which the ledger refuses."""
    p = parse_problem(
        problem(
            [bond(1, opportunity_cost_bp=2.0)],
            [holding(1, 3, pledged_to="IM")],
            [obligation("IM", 5)],
        )
    )
    plan = optimize(p, "greedy").to_dict()
    plan["allocations"][0].update(face=2 * LOT, market_value=2e8, collateral_value=2e8)
    plan["moves"] = [{"action": "release", "obligation": "IM", "account": "A1", "isin": plan["allocations"][0]["isin"],
                      "face": LOT, "group": 1, "step": 1, "reason": "test"}]  # fmt: skip
    report = verify(p, plan)
    assert ("order", "IM") in {(v.kind, v.record) for v in report.violations}, str(report)


@pytest.mark.parametrize("cap", [1e6, 1e9, 2.5e11, 1e13, 3e14])
def test_verify_accepts_every_value_the_optimizers_gate_accepts(cap: float) -> None:
    """The gate holds caps at ``cap x (1 + CAP_TOLERANCE)``; verify's 1 yen alone was
    stricter above 1 bn yen (a 10 trillion cap: 10,000 yen), so a plan the optimizer
    accepted at a cap could fail its own check."""
    gate = cap * (1 + CAP_TOLERANCE)
    assert not above_cap(gate, cap)
    assert not above_cap(cap + 1.0, cap)
    assert above_cap(gate + 1.0 + 1e-9 * cap, cap)
