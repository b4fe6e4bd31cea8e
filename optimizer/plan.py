"""The plan: allocations, ordered moves with reasons, cover per obligation, cost.

A :class:`Plan` is what ``tanpo optimize`` writes and the ledger executes. Field names
follow the plan contract (issue "Part 2"); optional fields are added (``plan_id``,
``termination_condition``, ``method``, moves' ``step``/``owner``...). :func:`build_plan`
derives everything from the final lots per pair exactly (not from the solver's
floating point), so a plan's cost is always the cost of the allocation it lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np

from optimizer.costmodel import CostModel, FloatArray, IntArray
from optimizer.explain import Explainer
from optimizer.ordering import Change, execution_groups
from optimizer.stress import base_value_per_lot, scenario_covers
from valuation.closed_set import ClosedSet


class PlanStatus(StrEnum):
    """``optimal``: proven within the gap asked; ``feasible``: a plan without that proof;
    ``error``: no plan (the message says why)."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    ERROR = "error"


class MoveAction(ClosedSet):
    """A move pledges face to an obligation or releases face from it."""

    PLEDGE = "pledge"
    RELEASE = "release"

    @classmethod
    def noun(cls) -> str:
        """Called ``action`` in the plan contract."""
        return "action"


@dataclass(frozen=True, slots=True)
class Allocation:
    """Face of one (account, ISIN) pledged to one obligation after the run."""

    obligation: str
    owner: str
    account: str
    isin: str
    face: int
    market_value: float
    haircut: float
    collateral_value: float


@dataclass(frozen=True, slots=True)
class Move:
    """A change of the pledged face of one (account, ISIN, obligation).

    ``face`` is the face moved (> 0); ``group`` is the atomic batch (executed in
    increasing order), ``step`` the global execution order.
    """

    action: MoveAction
    obligation: str
    owner: str
    account: str
    isin: str
    face: int
    group: int
    step: int
    reason: str
    market_value: float
    collateral_value: float


@dataclass(frozen=True, slots=True)
class ObligationCover:
    """Cover of one obligation after the run.

    ``shadow_price``: yen of cost per extra yen of required value at the margin;
    ``binding``: when short, which limit stops more cover. With stress scenarios
    (:mod:`optimizer.stress`) ``shortfall`` is the worst case over base and scenarios,
    and ``stressed_collateral_value`` the cover under each scenario.
    """

    id: str
    required_value: float
    collateral_value: float
    shortfall: float
    shadow_price: float
    current_collateral_value: float
    binding: str = ""
    stressed_collateral_value: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Objective terms in yen: opportunity cost, moves, shortfall penalty, total."""

    opportunity: float
    moves: float
    shortfall_penalty: float

    @property
    def total(self) -> float:
        """Sum of the three terms."""
        return self.opportunity + self.moves + self.shortfall_penalty


@dataclass(frozen=True, slots=True)
class Plan:
    """The result of one optimize run (see the module docstring)."""

    status: PlanStatus
    method: str
    termination_condition: str
    objective_value: float | None
    objective_bound: float | None
    mip_gap: float | None
    solve_seconds: float
    settlement_date: date
    allocations: tuple[Allocation, ...]
    moves: tuple[Move, ...]
    obligations: tuple[ObligationCover, ...]
    cost: CostBreakdown
    baseline_total: float | None
    message: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def plan_id(self) -> str:
        """Content hash of what the plan does (settlement date, allocations, moves)."""
        return plan_id(self.settlement_date, self.allocations, self.moves)

    def to_dict(self) -> dict[str, Any]:
        """The plan contract's JSON form."""
        baseline = (
            None
            if self.baseline_total is None
            else {"method": "greedy", "total": self.baseline_total}
        )
        return {
            "plan_id": self.plan_id,
            "status": self.status.value,
            "method": self.method,
            "termination_condition": self.termination_condition,
            "message": self.message,
            "settlement_date": self.settlement_date.isoformat(),
            "objective_value": self.objective_value,
            "objective_bound": self.objective_bound,
            "mip_gap": self.mip_gap,
            "solve_seconds": self.solve_seconds,
            "allocations": [_record(a) for a in self.allocations],
            "moves": [_record(m) for m in self.moves],
            "obligations": [_record(o) for o in self.obligations],
            "cost": {
                "opportunity": self.cost.opportunity,
                "moves": self.cost.moves,
                "shortfall_penalty": self.cost.shortfall_penalty,
                "total": self.cost.total,
            },
            "baseline": baseline,
            "timings": dict(self.timings),
        }


_MONEY = frozenset(
    {"market_value", "collateral_value", "required_value", "shortfall", "current_collateral_value"}
)


def _record(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in obj.__slots__:
        value = getattr(obj, name)
        if isinstance(value, StrEnum):
            value = value.value
        elif name in _MONEY:
            value = round(float(value), 2)  # yen to the sen; float noise is not information
        out[name] = value
    return out


def plan_id(
    settlement_date: date, allocations: tuple[Allocation, ...], moves: tuple[Move, ...]
) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of what the plan does."""
    content = {
        "settlement_date": settlement_date.isoformat(),
        "allocations": sorted(
            (a.obligation, a.owner, a.account, a.isin, a.face) for a in allocations
        ),
        "moves": [
            (m.action.value, m.obligation, m.owner, m.account, m.isin, m.face, m.group)
            for m in moves
        ],
    }
    digest = hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()
    return digest[:16]


def cover_of(cm: CostModel, lots: IntArray) -> FloatArray:
    """Collateral value per obligation of an allocation in lots."""
    cover: FloatArray = np.bincount(  # np.add.at is ~4x slower on 2M pairs
        cm.pair_obligation, weights=lots * cm.value_per_lot, minlength=len(cm.problem.obligations)
    ).astype(np.float64, copy=False)
    return cover


def cost_of(cm: CostModel, lots: IntArray) -> CostBreakdown:
    """Exact cost of an allocation in lots (opportunity, moves, shortfall penalty)."""
    costs = cm.problem.costs
    shortfall = np.maximum(cm.required_value - cover_of(cm, lots), 0.0)
    return CostBreakdown(
        opportunity=float(lots @ cm.cost_per_lot),
        moves=float(np.count_nonzero(lots != cm.current_lots)) * costs.move_cost,
        shortfall_penalty=float(shortfall.sum()) * costs.shortfall_penalty_per_yen,
    )


def build_plan(
    cm: CostModel,
    lots: IntArray,
    *,
    method: str,
    status: PlanStatus,
    termination_condition: str,
    objective_bound: float | None,
    solve_seconds: float,
    baseline_total: float | None,
    shadow_prices: FloatArray | None = None,
    message: str = "",
    timings: Mapping[str, float] | None = None,
) -> Plan:
    """Everything a plan reports, derived from the final ``lots`` per pair of ``cm``."""
    problem = cm.problem
    positions, obligations = problem.positions, problem.obligations
    lot_face = cm.lot_face[cm.pair_obligation]
    explainer = Explainer(cm, lots)
    base_value = base_value_per_lot(cm)  # cm.value_per_lot is worst-case under stress

    allocations: list[Allocation] = []
    for j in np.flatnonzero(lots > 0).tolist():
        pos, obl = positions[cm.pair_position[j]], obligations[cm.pair_obligation[j]]
        n = int(lots[j])
        allocations.append(
            Allocation(obl.id, pos.owner, pos.account, pos.isin, n * int(lot_face[j]),
                       n * float(cm.market_per_lot[j]), float(cm.haircut[j]), n * float(base_value[j]))
        )  # fmt: skip

    changed = np.flatnonzero(lots != cm.current_lots).tolist()
    changes = [
        Change(
            int(cm.pair_position[j]), int(cm.pair_obligation[j]),
            int(lots[j] - cm.current_lots[j]) * int(lot_face[j]),
            (positions[cm.pair_position[j]].account, positions[cm.pair_position[j]].isin),
        )
        for j in changed
    ]  # fmt: skip
    free = [p.free_face for p in positions]
    start_cover = cover_of(cm, cm.current_lots)
    groups = execution_groups(changes, free, (cm.required_value - start_cover).tolist())
    moves: list[Move] = []
    for g, members in enumerate(groups, start=1):
        for i in members:
            j, change = changed[i], changes[i]
            pos, obl = positions[change.position], obligations[change.obligation]
            n = abs(int(lots[j] - cm.current_lots[j]))
            moves.append(
                Move(MoveAction.PLEDGE if change.delta_face > 0 else MoveAction.RELEASE, obl.id,
                     pos.owner, pos.account, pos.isin, abs(change.delta_face), g, len(moves) + 1,
                     explainer.move_reason(j), n * float(cm.market_per_lot[j]), n * float(base_value[j]))
            )  # fmt: skip

    final_cover = cover_of(cm, lots)
    base_final, base_start = np.zeros((2, len(obligations)))
    base_final += np.bincount(
        cm.pair_obligation, weights=lots * base_value, minlength=base_final.size
    )
    base_start += np.bincount(
        cm.pair_obligation, weights=cm.current_lots * base_value, minlength=base_start.size
    )
    stressed = scenario_covers(cm, lots)
    if shadow_prices is None:
        shadow_prices = explainer.marginal_costs()
    covers: list[ObligationCover] = []
    for o, obl in enumerate(obligations):
        shortfall = max(0.0, float(cm.required_value[o] - final_cover[o]))
        covers.append(
            ObligationCover(obl.id, obl.required_value, float(base_final[o]), shortfall,
                            float(shadow_prices[o]), float(base_start[o]),
                            explainer.shortfall_reason(o) if shortfall > 0 else "", stressed[o])
        )  # fmt: skip
    cost = cost_of(cm, lots)
    gap = None
    if objective_bound is not None:
        gap = max(0.0, (cost.total - objective_bound) / max(abs(cost.total), 1e-9))
    return Plan(
        status=status,
        method=method,
        termination_condition=termination_condition,
        objective_value=cost.total,
        objective_bound=objective_bound,
        mip_gap=gap,
        solve_seconds=solve_seconds,
        settlement_date=problem.settlement_date,
        allocations=tuple(allocations),
        moves=tuple(moves),
        obligations=tuple(covers),
        cost=cost,
        baseline_total=baseline_total,
        message=message,
        timings=dict(timings or {}),
    )


def error_plan(
    cm: CostModel, message: str, *, method: str, termination_condition: str, solve_seconds: float
) -> Plan:
    """A plan with status ``error``: the current allocation kept, the reason stated."""
    plan = build_plan(
        cm, cm.current_lots, method=method, status=PlanStatus.ERROR,
        termination_condition=termination_condition, objective_bound=None,
        solve_seconds=solve_seconds, baseline_total=None, message=message,
    )  # fmt: skip
    return plan
