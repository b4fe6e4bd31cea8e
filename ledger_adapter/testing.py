"""Seeded books and plans for tests and benchmarks (no randomness without a seed).

:func:`synthetic_book` writes a book in the problem format: one pledgor per bank, each
ISIN held in one account with ``lots`` lots of ``lot_face`` yen, half of each bank's
ISINs pledged across its obligations; :func:`substitution_plan` writes a plan of
``n`` substitutions (release one pledged ISIN, pledge a free one of the same value to
the same obligation), one group each, with the target allocation. All valuations are
equal, so every group keeps every obligation covered.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from valuation.isin import make_isin


def synthetic_isin(i: int) -> str:
    """A valid ISIN for the i-th synthetic bond (JP1 + 8 digits + check digit)."""
    return make_isin(f"JP1{i:08d}")


def synthetic_book(
    *,
    banks: int = 1,
    isins_per_bank: int = 200,
    obligations_per_bank: int = 4,
    lots: int = 10,
    lot_face: int = 100_000_000,
    cover_ratio: float = 0.5,
) -> dict[str, Any]:
    """A book where each bank pledges half its ISINs, ``cover_ratio`` of their value required."""
    isins = [synthetic_isin(i) for i in range(isins_per_bank)]
    securities = [
        {
            "isin": isin,
            "kind": "fixed",
            "coupon_rate": 0.01,
            "maturity_date": "2035-03-20",
            "dirty_price": 100.0,
            "opportunity_cost_bp": 1.0,
        }
        for isin in isins
    ]
    pledgees = ["JSCC", "BOJ"]
    holdings, obligations = [], []
    for b in range(banks):
        bank = f"BANK{b + 1}"
        ids = [f"{bank}-{pledgees[k % 2]}-{k}" for k in range(obligations_per_bank)]
        pledged_value: dict[str, float] = defaultdict(float)
        for i, isin in enumerate(isins):
            face = lots * lot_face
            if i % 2 == 0:
                obligation = ids[(i // 2) % len(ids)]
                holdings.append(
                    {
                        "owner": bank,
                        "account": f"{bank}-01",
                        "isin": isin,
                        "face": face,
                        "pledged_to": obligation,
                    }
                )
                pledged_value[obligation] += face * 0.98
            else:
                holdings.append(
                    {
                        "owner": bank,
                        "account": f"{bank}-01",
                        "isin": isin,
                        "face": face,
                        "pledged_to": None,
                    }
                )
        for k, oid in enumerate(ids):
            obligations.append(
                {
                    "id": oid,
                    "pledgor": bank,
                    "pledgee": pledgees[k % 2],
                    "schedule": "FLAT",
                    "required_value": int(pledged_value[oid] * cover_ratio),
                    "lot_face": lot_face,
                }
            )
    return {
        "settlement_date": "2026-07-01",
        "securities": securities,
        "holdings": holdings,
        "schedules": [
            {
                "id": "FLAT",
                "eligible_kinds": ["fixed"],
                "min_residual_years": 0,
                "max_residual_years": None,
                "haircuts": [{"max_residual_years": None, "haircut": 0.02}],
            }
        ],
        "obligations": obligations,
    }


def substitution_plan(
    book: dict[str, Any],
    n: int,
    *,
    seed: int = 7,
    plan_id: str | None = None,
    reuse_released: bool = True,
) -> dict[str, Any]:
    """``n`` substitutions (2n moves), one group each, and the target allocation.

    With ``reuse_released`` a bond released by one group may be pledged by a later one
    (to another pledgee too: the executor then cuts the transaction into runs); without,
    every replacement comes from the bonds free before the plan.
    """
    rng = random.Random(seed)
    by_obligation = {o["id"]: o for o in book["obligations"]}
    pledged: dict[tuple[str, str, str], int] = defaultdict(int)
    free: dict[tuple[str, str, str], int] = defaultdict(int)
    for h in book["holdings"]:
        if h["pledged_to"]:
            pledged[(h["pledged_to"], h["account"], h["isin"])] += h["face"]
        else:
            free[(h["owner"], h["account"], h["isin"])] += h["face"]
    sources = sorted(k for k, v in pledged.items() if v > 0)
    rng.shuffle(sources)
    moves = []
    for g, (obligation, account, isin) in enumerate(sources[:n]):
        owner = by_obligation[obligation]["pledgor"]
        face = pledged[(obligation, account, isin)] // 2
        candidates = sorted(k for k, v in free.items() if k[0] == owner and v >= face)
        if not candidates:
            break
        _, new_account, new_isin = rng.choice(candidates)
        free[(owner, new_account, new_isin)] -= face
        if reuse_released:
            free[(owner, account, isin)] += face
        pledged[(obligation, account, isin)] -= face
        pledged[(obligation, new_account, new_isin)] += face
        base = {"obligation": obligation, "owner": owner, "face": face, "group": g + 1}
        moves.append(
            {**base, "action": "pledge", "account": new_account, "isin": new_isin, "step": 2 * g}
        )
        moves.append(
            {**base, "action": "release", "account": account, "isin": isin, "step": 2 * g + 1}
        )
    plan: dict[str, Any] = {
        "status": "feasible",
        "moves": moves,
        "allocations": [
            {
                "obligation": o,
                "owner": by_obligation[o]["pledgor"],
                "account": a,
                "isin": i,
                "face": f,
            }
            for (o, a, i), f in sorted(pledged.items())
            if f > 0
        ],
    }
    if plan_id is not None:
        plan["plan_id"] = plan_id
    return plan
