"""Seeded synthetic optimizer problems (problem-contract dicts) for benchmarks and tests.

A JGB universe shaped like the real one (T-bills, 2-40y fixed coupons, a few JGBi;
maturities spread to 40 years), institutions with accounts holding most issues,
obligations to CCPs, the BoJ and bilateral counterparties under five schedules with
the terms real agreements carry (concentration caps, bucket limits, ISIN overrides,
exclusions, minimum pledge, ISIN count caps), and a *current allocation*: yesterday's
waterfall under yesterday's requirements and costs, so today's run sees margin calls
(some obligations short), excess (some over-covered) and substitution opportunities.

The same arguments always give the same problem.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from valuation.isin import make_isin

SETTLEMENT = date(2026, 11, 25)
INSTITUTIONS = ("MIZUHO", "NOMURA", "MUFG", "SMBC", "RESONA")
HUNDRED_MILLION = 100_000_000


def _universe(rng: np.random.Generator, n_isins: int) -> list[dict[str, Any]]:
    securities: list[dict[str, Any]] = []
    tenors = rng.choice(
        [0.5, 1, 2, 5, 10, 20, 30, 40],
        size=n_isins,
        p=[0.08, 0.05, 0.1, 0.15, 0.25, 0.22, 0.1, 0.05],
    )
    for i in range(n_isins):
        tenor = float(tenors[i])
        kind = (
            "tbill"
            if tenor <= 1
            else ("inflation" if rng.random() < 0.04 and tenor == 10 else "fixed")
        )
        residual = rng.uniform(0.05, 1.0) * tenor
        maturity = SETTLEMENT + timedelta(days=max(7, int(residual * 365)))
        day = {"tbill": maturity.day, "inflation": 10}.get(kind, 1 if tenor == 2 else 20)
        month = maturity.month if kind == "tbill" else [3, 6, 9, 12][(maturity.month - 1) // 3]
        maturity = date(maturity.year, month, min(day, 28)) if kind != "tbill" else maturity
        if maturity <= SETTLEMENT + timedelta(days=6):
            maturity = SETTLEMENT + timedelta(days=30)
        coupon = 0.0 if kind == "tbill" else round(float(rng.uniform(0.001, 0.025)), 4)
        years = (maturity - SETTLEMENT).days / 365
        dirty = 100.0 + (coupon * 100 - 1.2) * min(years, 25) * 0.6 + float(rng.normal(0, 0.5))
        dirty = max(dirty, 60.0)
        special = rng.random() < 0.06
        opportunity = (
            float(rng.uniform(10, 40)) if special else float(rng.lognormal(np.log(2.0), 0.6))
        )
        body = f"JP1{(i // 900) % 100:02d}{i % 900 + 100:03d}{rng.integers(0, 10)}{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}"
        securities.append(
            {
                "isin": make_isin(body[:11]),
                "kind": kind,
                "coupon_rate": coupon,
                "maturity_date": maturity.isoformat(),
                "dirty_price": round(dirty, 4),
                "opportunity_cost_bp": round(opportunity, 3),
                **({"index_ratio": 1.0} if kind == "inflation" else {}),  # JGBi: required
            }
        )
    seen: set[str] = set()
    unique = []
    for s in securities:
        if str(s["isin"]) not in seen:
            seen.add(str(s["isin"]))
            unique.append(s)
    return unique


def _schedules(rng: np.random.Generator, isins: list[str]) -> list[dict[str, Any]]:
    picks = rng.choice(len(isins), size=min(6, len(isins)), replace=False)
    return [
        {
            "id": "JSCC-IRS", "eligible_kinds": ["fixed", "tbill", "inflation"],
            "min_residual_years": 0, "max_residual_years": 40,
            "haircuts": [{"max_residual_years": 1, "haircut": 0.01}, {"max_residual_years": 5, "haircut": 0.02},
                         {"max_residual_years": 10, "haircut": 0.03}, {"max_residual_years": 20, "haircut": 0.05},
                         {"max_residual_years": None, "haircut": 0.08}],
            "max_share_per_isin": 0.4,
        },
        {
            "id": "BOJ", "eligible_kinds": ["fixed", "tbill", "inflation"],
            "haircuts": [{"max_residual_years": 1, "haircut": 0.01}, {"max_residual_years": 5, "haircut": 0.01},
                         {"max_residual_years": 10, "haircut": 0.02}, {"max_residual_years": 20, "haircut": 0.03},
                         {"max_residual_years": 30, "haircut": 0.05}, {"max_residual_years": None, "haircut": 0.06}],
            "kind_haircuts": {"inflation": [{"max_residual_years": 5, "haircut": 0.05}, {"max_residual_years": None, "haircut": 0.06}]},
        },
        {
            "id": "BCBS-UMR", "eligible_kinds": ["fixed", "tbill"],
            "haircuts": [{"max_residual_years": 1, "haircut": 0.005}, {"max_residual_years": 5, "haircut": 0.02},
                         {"max_residual_years": None, "haircut": 0.04}],
            "max_share_per_isin": 0.5, "max_value_per_isin": 60_000_000_000,
            "excluded_isins": [isins[int(picks[0])]],
        },
        {
            "id": "JSCC-LISTED", "eligible_kinds": ["fixed", "tbill"], "max_residual_years": 30,
            "haircuts": [{"max_residual_years": 1, "haircut": 0.01}, {"max_residual_years": 10, "haircut": 0.03},
                         {"max_residual_years": None, "haircut": 0.07}],
            "max_share_per_isin": 0.35,
            "isin_haircuts": {isins[int(picks[1])]: 0.1, isins[int(picks[2])]: 0.0},
            "bucket_limits": [{"min_residual_years": 10, "max_residual_years": None, "max_share": 0.5}],
        },
        {
            "id": "TRIPARTY", "eligible_kinds": ["fixed"], "min_residual_years": 1,
            "haircuts": [{"max_residual_years": 10, "haircut": 0.02}, {"max_residual_years": None, "haircut": 0.05}],
            "max_share_per_isin": 0.3,
        },
    ]  # fmt: skip


def synthetic_problem(
    n_obligations: int,
    *,
    seed: int = 0,
    n_institutions: int = 3,
    n_accounts: int = 20,
    n_isins: int = 331,
    holding_density: float = 1.0,
    move_cost: float = 10_000.0,
    max_moves: int | None = None,
    current: bool = True,
    terms: bool = True,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> dict[str, Any]:
    """A problem-contract dict: ``n_obligations`` over ``n_institutions`` x ``n_accounts``.

    Parameters
    ----------
    holding_density
        Share of the universe each account holds (1.0: every account every issue,
        3 x 20 x 331 = 19,860 positions).
    current
        Start from yesterday's allocation (True) or from nothing pledged.
    terms
        Give some obligations ``min_pledge_face``, ``max_isins`` and
        ``min_transfer_value``.
    """
    rng = np.random.default_rng(seed)
    securities = _universe(rng, n_isins)
    isins = [s["isin"] for s in securities]
    schedules = _schedules(rng, isins)
    owners = INSTITUTIONS[:n_institutions]
    holdings: list[dict[str, Any]] = []
    for owner in owners:
        for a in range(n_accounts):
            account = f"{owner[:3]}-{a + 1:02d}"
            held = rng.random(len(isins)) < holding_density
            faces = (
                np.round(rng.lognormal(np.log(1.5e10), 0.9, size=len(isins)) / HUNDRED_MILLION)
                * HUNDRED_MILLION
            )
            for i in np.flatnonzero(held):
                face = int(max(faces[i], HUNDRED_MILLION))
                holdings.append(
                    {
                        "owner": owner,
                        "account": account,
                        "isin": isins[i],
                        "face": face,
                        "pledged_to": None,
                    }
                )
    pledgees = {
        "JSCC-IRS": "JSCC",
        "BOJ": "BOJ",
        "BCBS-UMR": "BILATERAL",
        "JSCC-LISTED": "JSCC",
        "TRIPARTY": "TRIPARTY-AGENT",
    }
    obligations = []
    for k in range(n_obligations):
        schedule = schedules[int(rng.integers(0, len(schedules)))]["id"]
        lot = int(rng.choice([HUNDRED_MILLION, HUNDRED_MILLION, 50_000_000, 10_000_000]))
        obligation: dict[str, Any] = {
            "id": f"OBL-{k + 1:04d}", "pledgor": owners[k % len(owners)],
            "pledgee": f"{pledgees[schedule]}-{k % 7 + 1}" if schedule == "BCBS-UMR" else pledgees[schedule],
            "schedule": schedule,
            "required_value": float(round(rng.lognormal(np.log(6e10), 0.8), -6)),
            "lot_face": lot,
        }  # fmt: skip
        if terms and rng.random() < 0.25:
            obligation["min_pledge_face"] = 10 * lot
        if terms and rng.random() < 0.2:
            obligation["max_isins"] = int(rng.integers(4, 9))
        if terms and rng.random() < 0.15:
            obligation["min_transfer_value"] = 500_000_000.0
        obligations.append(obligation)
    problem: dict[str, Any] = {
        "settlement_date": SETTLEMENT.isoformat(),
        "securities": securities,
        "holdings": holdings,
        "schedules": schedules,
        "obligations": obligations,
        "costs": {"horizon_days": 1, "move_cost": move_cost, "shortfall_penalty_per_yen": 1.0},
        "limits": {"max_moves": max_moves},
        "solver": {"time_limit_s": time_limit_s, "mip_rel_gap": mip_rel_gap},
    }
    if current:
        _pledge_yesterday(problem, rng)
    return problem


def _pledge_yesterday(problem: dict[str, Any], rng: np.random.Generator) -> None:
    """Fill in yesterday's allocation: the waterfall under yesterday's requirements and
    costs, then move today's requirements (margin calls and returns)."""
    from optimizer.contract import parse_problem
    from optimizer.costmodel import resolve
    from optimizer.greedy import greedy_lots

    yesterday = {**problem, "costs": {**problem["costs"], "move_cost": 0.0}}
    yesterday["securities"] = [
        {
            **s,
            "opportunity_cost_bp": round(
                s["opportunity_cost_bp"] * float(rng.lognormal(0, 0.5)), 3
            ),
        }
        for s in problem["securities"]
    ]
    yesterday["obligations"] = [
        {**o, "required_value": float(round(o["required_value"] * rng.uniform(0.8, 1.15), -6))}
        for o in problem["obligations"]
    ]
    yesterday.pop("limits", None)
    cm = resolve(parse_problem(yesterday))
    lots = greedy_lots(cm)
    pledged: dict[int, list[tuple[str, int]]] = {}
    for j in np.flatnonzero(lots > 0).tolist():
        p, o = int(cm.pair_position[j]), int(cm.pair_obligation[j])
        obligation = cm.problem.obligations[o]
        pledged.setdefault(p, []).append((obligation.id, int(lots[j]) * obligation.lot_face))
    index = {(h["owner"], h["account"], h["isin"]): i for i, h in enumerate(problem["holdings"])}
    extra = []
    for p, parts in pledged.items():
        position = cm.problem.positions[p]
        row = problem["holdings"][index[position.key]]
        for obligation_id, face in parts:
            row["face"] -= face
            extra.append({**row, "face": face, "pledged_to": obligation_id})
    problem["holdings"] = [h for h in problem["holdings"] if h["face"] > 0] + extra
