"""JGBi in the optimizer: market value = face x index_ratio x dirty / 100 (DOMAIN.md
section 3; the ledger's book valuation does the same)."""

from __future__ import annotations

from typing import Any

import pytest

from optimizer.contract import parse_problem
from optimizer.optimize import optimize
from optimizer.verify import verify
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem, schedule


def _book() -> dict[str, Any]:
    """A JGBi (ratio 1.1, dirty 100, 2 bp) and nothing else; 330 million required."""
    jgbi = {**bond(1, opportunity_cost_bp=2.0, maturity="2034-03-10", kind="inflation"),
            "index_ratio": 1.1, "coupon_rate": 0.005}  # fmt: skip
    data = problem([jgbi], [holding(1, 10)], [obligation("IM", 3.3)],
                   schedules=[schedule(eligible_kinds=["inflation"])])  # fmt: skip
    data["solver"]["time_limit_s"] = 3
    return data


def _plan(lots: int, ratio: float) -> dict[str, Any]:
    """A plan pledging ``lots`` of the JGBi, its values worked at ``ratio``."""
    value = lots * LOT * ratio
    opportunity = 2e-4 * value  # 2 bp for a year
    shortfall = max(0.0, 3.3 * LOT - value)
    return {
        "status": "feasible", "method": "hand", "objective_value": opportunity + shortfall,
        "objective_bound": None, "mip_gap": None, "message": "",
        "allocations": [{"obligation": "IM", "owner": "BANK", "account": "A1", "isin": isin(1),
                         "face": lots * LOT, "market_value": value, "haircut": 0.0, "collateral_value": value}],
        "moves": [{"action": "pledge", "obligation": "IM", "owner": "BANK", "account": "A1", "isin": isin(1),
                   "face": lots * LOT, "group": 1, "step": 1, "reason": "by hand"}],
        "obligations": [{"id": "IM", "required_value": 3.3 * LOT, "collateral_value": value,
                         "shortfall": shortfall, "shadow_price": 0.0, "binding": "x" if shortfall else ""}],
        "cost": {"opportunity": opportunity, "moves": 0.0, "shortfall_penalty": shortfall,
                 "total": opportunity + shortfall},
    }  # fmt: skip


def test_verify_values_a_jgbi_by_its_index_ratio() -> None:
    """3 lots x 100 million face x 1.1 = 330 million: exactly the requirement, at 2 bp
    a year 66,000 yen. Valued without the ratio (300 million) the plan is refused."""
    p = parse_problem(_book())
    report = verify(p, _plan(3, 1.1))
    assert report.ok and report.total == pytest.approx(66_000.0), str(report)
    kinds = {v.kind for v in verify(p, _plan(3, 1.0)).violations}
    assert {"value", "cover", "cost"} <= kinds


def test_optimizer_pledges_three_lots_of_the_jgbi() -> None:
    """3 lots cover 330 million at 1.1; a cost model without the ratio sees 300 million
    and pledges a fourth lot (and reports values verify refuses)."""
    p = parse_problem(_book())
    plan = optimize(p)
    assert verify(p, plan).ok
    assert [a.face for a in plan.allocations] == [3 * LOT]
    assert plan.cost.total == pytest.approx(66_000.0)
