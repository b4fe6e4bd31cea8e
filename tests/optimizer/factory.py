"""Hand-made problems for the optimizer tests, small enough to solve on paper.

``problem(...)`` builds a problem-contract dict with sensible defaults; every bond has
a valid ISIN (``isin(n)``), dirty price 100 unless given, so a lot of 100 million face
is worth 100 million yen of market value and ``(1 - haircut)`` of that as collateral.
"""

from __future__ import annotations

import copy
from typing import Any

from valuation.isin import make_isin

LOT = 100_000_000
SETTLEMENT = "2026-11-25"


def isin(n: int) -> str:
    """A valid JGB-shaped ISIN, distinct for each ``n`` (0..899)."""
    return make_isin(f"JP1{n // 900:02d}{n % 900 + 100:03d}1AA")


def bond(
    n: int,
    *,
    opportunity_cost_bp: float,
    maturity: str = "2031-09-20",
    price: float = 100.0,
    kind: str = "fixed",
) -> dict[str, Any]:
    """A security row."""
    return {
        "isin": isin(n), "kind": kind, "coupon_rate": 0.0 if kind == "tbill" else 0.01,
        "maturity_date": maturity, "dirty_price": price, "opportunity_cost_bp": opportunity_cost_bp,
    }  # fmt: skip


def holding(
    n: int,
    face_lots: int,
    *,
    owner: str = "BANK",
    account: str = "A1",
    pledged_to: str | None = None,
) -> dict[str, Any]:
    """A holding row of ``face_lots`` x 100 million face of bond ``n``."""
    return {
        "owner": owner,
        "account": account,
        "isin": isin(n),
        "face": face_lots * LOT,
        "pledged_to": pledged_to,
    }


def schedule(sid: str = "S", *, haircut: float = 0.0, **terms: Any) -> dict[str, Any]:
    """A schedule taking fixed and T-bills at one flat haircut unless ``terms`` say more."""
    row = {
        "id": sid,
        "eligible_kinds": ["fixed", "tbill"],
        "haircuts": [{"max_residual_years": None, "haircut": haircut}],
    }
    row.update(terms)
    return row


def obligation(
    oid: str, required_lots: float, *, pledgor: str = "BANK", schedule_id: str = "S", **terms: Any
) -> dict[str, Any]:
    """An obligation requiring ``required_lots`` x 100 million yen of collateral value."""
    row = {"id": oid, "pledgor": pledgor, "pledgee": "CCP", "schedule": schedule_id,
           "required_value": required_lots * LOT, "lot_face": LOT}  # fmt: skip
    row.update(terms)
    return row


def problem(securities: list[dict[str, Any]], holdings: list[dict[str, Any]], obligations: list[dict[str, Any]],
            *, schedules: list[dict[str, Any]] | None = None, horizon_days: float = 365.0, move_cost: float = 0.0,
            penalty: float = 1.0, max_moves: int | None = None) -> dict[str, Any]:  # fmt: skip
    """A problem dict; ``horizon_days`` defaults to a year so 1 bp on 100 million is 10,000 yen."""
    return copy.deepcopy({
        "settlement_date": SETTLEMENT, "securities": securities, "holdings": holdings,
        "schedules": schedules or [schedule()], "obligations": obligations,
        "costs": {"horizon_days": horizon_days, "move_cost": move_cost, "shortfall_penalty_per_yen": penalty},
        "limits": {"max_moves": max_moves}, "solver": {"time_limit_s": 20, "mip_rel_gap": 1e-6},
    })  # fmt: skip
