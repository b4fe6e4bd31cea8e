"""The sample book: three institutions' JGBs and their margin obligations, as a problem.

A deterministic (seeded) book in the optimizer's problem format (issue Part 2), written
to ``data/sample_book.json`` and read as it is by ``tanpo optimize`` and ``tanpo ledger
load`` (parties = owners + pledgees). ``data/README.md`` describes it in prose:

- the seeded universe (:mod:`valuation.universe`) as of 2026-06-30 less what matures by
  settlement, valued on the MOF par curve of 2026-06-30
  (``data/curves/mof_par_2026-06-30.csv``) for settlement 2026-07-01 (T+1): dirty price
  from the bootstrapped zero curve (:mod:`valuation.pricing`), accrued interest by the
  JSDA rule (:mod:`valuation.accrued`), clean price quoted to 3 decimals;
- MIZUHO, NOMURA and SMBC with 20 custody accounts (:mod:`optimizer.sample_parties`),
  about 1,000 positions in multiples of 100 million yen, at most 4% of an issue each;
- 30 margin obligations to JSCC, the BoJ and bilateral counterparties, sized as shares
  of each pledgor's collateral capacity, with existing pledges in whole lots;
- per-issue opportunity costs (:mod:`optimizer.opportunity_costs`).

:class:`BookSpec` scales the same construction for benchmarks (more accounts,
positions and obligation rounds); :func:`generate_book` returns the problem as a dict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from optimizer.opportunity_costs import on_the_run, opportunity_costs_bp
from optimizer.sample_parties import (
    Account,
    ObligationTemplate,
    account_plan,
    obligation_plan,
    problem_schedules,
    schedules_json,
)
from valuation.collateral import haircuts, residual_years_array
from valuation.haircuts import HaircutSchedule
from valuation.jgb import BondKind
from valuation.model_prices import BondPrice, price_universe
from valuation.paths import data_dir
from valuation.reference_data import SETTLEMENT_DATE, VALUATION_DATE
from valuation.universe import generate_universe

SAMPLE_BOOK_FILE = Path("sample_book.json")
LOT = 100_000_000
"""Positions are held in multiples of 100 million yen (the interdealer trading unit)."""
MAX_ISSUE_SHARE = 0.04
"""No position exceeds 4% of the issue's amount outstanding."""


@dataclass(frozen=True, slots=True)
class BookSpec:
    """How big a book to build; the defaults are the committed sample book.

    ``institutions`` pairs each institution with its JGB holdings in yen; ``accounts``
    gives the custody accounts per institution, ``positions_per_account`` the range of
    ISINs per account, ``obligation_rounds`` how many times the 30-obligation plan is
    repeated (with the requirements divided among the rounds), ``obligations`` (if set)
    keeps that many of them, taken in turn from each institution. :meth:`for_benchmark`
    sizes one from a position and an obligation count.
    """

    seed: int = 20260701
    universe_size: int | None = None
    institutions: tuple[tuple[str, int], ...] = (
        ("MIZUHO", 14_000_000_000_000),
        ("NOMURA", 5_000_000_000_000),
        ("SMBC", 11_000_000_000_000),
    )
    accounts: tuple[int, ...] = (8, 6, 6)
    positions_per_account: tuple[int, int] = (35, 70)
    obligation_rounds: int = 1
    obligations: int | None = None
    valuation_date: date = VALUATION_DATE
    settlement_date: date = SETTLEMENT_DATE

    @classmethod
    def for_benchmark(
        cls,
        positions: int,
        obligations: int,
        seed: int = 20260701,
        universe_size: int | None = None,
    ) -> BookSpec:
        """About ``positions`` positions over 3 institutions x 20 accounts and exactly
        ``obligations`` obligations (e.g. 20,000 and 300 for the optimizer's target)."""
        per_account = max(1, round(positions / 60))
        return cls(
            seed=seed,
            universe_size=universe_size,
            accounts=(20, 20, 20),
            positions_per_account=(max(1, round(per_account * 0.9)), round(per_account * 1.1)),
            obligation_rounds=max(1, math.ceil(obligations / 30)),
            obligations=obligations,
        )


@dataclass(frozen=True, slots=True)
class _Market:
    """What sizing and pledging look up: collateral value per yen of face by schedule
    and ISIN (eligible ISINs only), the schedules, residual years by ISIN."""

    value_per_face: dict[str, dict[str, float]]
    schedules: dict[str, HaircutSchedule]
    years: dict[str, float]


@dataclass(slots=True)
class _Position:
    owner: str
    account: str
    isin: str
    face: int
    pledges: dict[str, int] = field(default_factory=dict)

    @property
    def free(self) -> int:
        return self.face - sum(self.pledges.values())


def generate_book(spec: BookSpec | None = None) -> dict[str, Any]:
    """The book of ``spec`` as a problem dict (issue Part 2 field names, plus extras)."""
    spec = spec or BookSpec()
    rng = np.random.default_rng(spec.seed)
    universe = generate_universe(n=spec.universe_size, as_of=spec.valuation_date).filter(
        pl.col("maturity_date") > spec.settlement_date
    )
    prices = price_universe(universe, spec.settlement_date, spec.valuation_date)
    costs = opportunity_costs_bp(universe, spec.settlement_date, rng)
    accounts = account_plan(spec.institutions, spec.accounts)
    positions = _positions(universe, accounts, spec, rng)
    schedules = problem_schedules()
    market = _Market(
        _value_per_face(universe, prices, schedules, spec.settlement_date),
        schedules,
        dict(
            zip(
                universe["isin"].to_list(),
                residual_years_array(universe["maturity_date"].to_list(), spec.settlement_date),
                strict=True,
            )
        ),
    )
    obligations = []
    for template in _selected(obligation_plan(spec.obligation_rounds), spec.obligations):
        required = _required_value(template, positions, market)
        _pledge(template, required, positions, market, rng)
        obligations.append(_obligation_json(template, required))
    held = {p.isin for p in positions}
    return {
        "settlement_date": spec.settlement_date.isoformat(),
        "valuation_date": spec.valuation_date.isoformat(),
        "description": (
            "tanpo sample book: MIZUHO, NOMURA and SMBC JGB holdings and margin obligations "
            "to JSCC, the BoJ and bilateral counterparties; seeded, regenerated by "
            "`tanpo data generate` (data/README.md)."
        ),
        "securities": [
            _security_json(row, prices[row["isin"]], costs[row["isin"]])
            for row in universe.iter_rows(named=True)
            if row["isin"] in held
        ],
        "holdings": _holdings_json(positions),
        "accounts": [a.to_json() for a in accounts],
        "schedules": schedules_json(schedules),
        "obligations": obligations,
        "costs": {"horizon_days": 1, "move_cost": 10_000, "shortfall_penalty_per_yen": 1.0},
        "limits": {"max_moves": None},
        "solver": {"time_limit_s": 30, "mip_rel_gap": 0.0001},
    }


# ------------------------------------------------------------------------- positions


def _style_weights(universe: pl.DataFrame, style: str, settlement: date) -> np.ndarray:
    years = residual_years_array(universe["maturity_date"].to_list(), settlement)
    program = universe["program"].to_list()
    kind = universe["kind"].to_list()
    otr = on_the_run(universe)
    size = np.sqrt(universe["outstanding_yen"].to_numpy().astype(np.float64))
    weights = np.empty(len(years))
    for i, (y, p, k, isin) in enumerate(zip(years, program, kind, universe["isin"], strict=True)):
        if style == "liquidity":
            w = 1.0 if (k == "tbill" or p in ("2Y", "5Y") or y < 3.0) else 0.05
        elif style == "alm":
            w = 1.0 if y >= 7.0 and k == "fixed" else 0.1
        elif style == "trading":
            w = (5.0 if isin in otr else 1.0) * (1.5 if 2.0 <= y <= 12.0 else 0.6)
        else:  # treasury
            w = 3.0 if (k == "inflation" or p.startswith("C")) else 1.0
        weights[i] = w * size[i]
    normalized: np.ndarray = weights / weights.sum()
    return normalized


def _positions(
    universe: pl.DataFrame, accounts: list[Account], spec: BookSpec, rng: np.random.Generator
) -> list[_Position]:
    isins = universe["isin"].to_list()
    outstanding = universe["outstanding_yen"].to_list()
    weights = {
        style: _style_weights(universe, style, spec.settlement_date)
        for style in {a.style for a in accounts}
    }
    lo, hi = spec.positions_per_account
    positions: list[_Position] = []
    for account in accounts:
        count = min(int(rng.integers(lo, hi + 1)), len(isins))
        chosen = np.sort(
            rng.choice(len(isins), size=count, replace=False, p=weights[account.style])
        )
        shares = rng.lognormal(0.0, 0.8, size=count)
        shares /= shares.sum()
        for index, share in zip(chosen, shares, strict=True):
            cap = int(outstanding[index] * MAX_ISSUE_SHARE) // LOT * LOT
            face = min(max(LOT, round(account.face * share / LOT) * LOT), cap)
            if face >= LOT:
                positions.append(_Position(account.owner, account.id, isins[index], face))
    return positions


# --------------------------------------------------------- capacity and requirements


def _selected(plan: list[ObligationTemplate], count: int | None) -> list[ObligationTemplate]:
    """All of ``plan``, or its first ``count`` taken in turn from each pledgor."""
    if count is None:
        return plan
    queues: dict[str, list[ObligationTemplate]] = {}
    for template in plan:
        queues.setdefault(template.pledgor, []).append(template)
    chosen: list[ObligationTemplate] = []
    while len(chosen) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def _value_per_face(
    universe: pl.DataFrame,
    prices: dict[str, BondPrice],
    schedules: dict[str, HaircutSchedule],
    settlement: date,
) -> dict[str, dict[str, float]]:
    """Schedule id -> ISIN -> collateral value per yen of face (eligible ISINs only)."""
    isins = universe["isin"].to_list()
    kinds = [BondKind(k).code for k in universe["kind"]]
    years = residual_years_array(universe["maturity_date"].to_list(), settlement)
    market = np.array([prices[i].dirty_price / 100.0 * prices[i].index_ratio for i in isins])
    out: dict[str, dict[str, float]] = {}
    for sid, schedule in schedules.items():
        cut = haircuts(schedule, isins, kinds, years)
        out[sid] = {
            isin: float(m * (1.0 - h))
            for isin, m, h in zip(isins, market, cut, strict=True)
            if not math.isnan(h)
        }
    return out


def _capacity_by_isin(
    template: ObligationTemplate, positions: list[_Position], per_face: dict[str, float]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in positions:
        if p.owner == template.pledgor and p.isin in per_face:
            out[p.isin] = out.get(p.isin, 0.0) + p.face * per_face[p.isin]
    return out


def _required_value(
    template: ObligationTemplate, positions: list[_Position], market: _Market
) -> int:
    if template.required_value is not None:
        return template.required_value
    capacity = _capacity_by_isin(template, positions, market.value_per_face[template.schedule])
    return int(template.share * sum(capacity.values()) // 1_000_000 * 1_000_000)


# ------------------------------------------------------------------ existing pledges


def _pledge(
    template: ObligationTemplate,
    required: int,
    positions: list[_Position],
    market: _Market,
    rng: np.random.Generator,
) -> None:
    """Pledge the pledgor's positions (in a desk's habitual, not a cheapest, order) until
    ``cover`` x required, in whole lots, inside the schedule's concentration limits."""
    per_face = market.value_per_face[template.schedule]
    schedule = market.schedules[template.schedule]
    years = market.years
    target = template.cover * required
    if target <= 0:
        return
    lot = template.lot_face
    minimum = max(lot, template.min_pledge_face or 0)
    candidates = [p for p in positions if p.owner == template.pledgor and p.isin in per_face]
    order = rng.permutation(len(candidates))
    covered = 0.0
    by_isin: dict[str, float] = {}
    for k in order:
        if covered >= target:
            break
        p = candidates[int(k)]
        new_isin = p.isin not in by_isin
        if new_isin and template.max_isins is not None and len(by_isin) >= template.max_isins:
            continue
        room: list[float] = []
        if schedule.max_share_per_isin is not None:
            room.append(schedule.max_share_per_isin * required - by_isin.get(p.isin, 0.0))
        if schedule.max_value_per_isin is not None:
            room.append(schedule.max_value_per_isin - by_isin.get(p.isin, 0.0))
        for limit in schedule.bucket_limits:
            if limit.contains(years[p.isin]) and limit.max_share is not None:
                inside = sum(v for i, v in by_isin.items() if limit.contains(years[i]))
                room.append(limit.max_share * required - inside)
        wanted = math.ceil((target - covered) / per_face[p.isin] / lot) * lot
        allowed = min(room, default=math.inf) / per_face[p.isin]
        face = min(wanted, math.floor(allowed / lot) * lot if allowed < math.inf else wanted)
        face = min(face, p.free // lot * lot)
        if face < minimum:
            continue
        p.pledges[template.id] = p.pledges.get(template.id, 0) + face
        value = face * per_face[p.isin]
        by_isin[p.isin] = by_isin.get(p.isin, 0.0) + value
        covered += value


# ---------------------------------------------------------------------------- JSON


def _security_json(row: dict[str, Any], price: BondPrice, cost_bp: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "isin": row["isin"],
        "series": f"{row['program']} #{row['series']}",
        "kind": row["kind"],
        "coupon_rate": row["coupon_rate"],
        "issue_date": row["issue_date"].isoformat(),
        "maturity_date": row["maturity_date"].isoformat(),
        "clean_price": price.clean_price,
        "accrued_interest": price.accrued_interest,
        "dirty_price": price.dirty_price,
    }
    if row["kind"] == BondKind.INFLATION.value:
        out["index_ratio"] = price.index_ratio
    out["opportunity_cost_bp"] = cost_bp
    out["outstanding_yen"] = row["outstanding_yen"]
    return out


def _holdings_json(positions: list[_Position]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in sorted(positions, key=lambda p: (p.owner, p.account, p.isin)):
        base = {"owner": p.owner, "account": p.account, "isin": p.isin}
        if p.free > 0:
            rows.append({**base, "face": p.free, "pledged_to": None})
        for obligation, face in sorted(p.pledges.items()):
            rows.append({**base, "face": face, "pledged_to": obligation})
    return rows


def _obligation_json(template: ObligationTemplate, required: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": template.id,
        "pledgor": template.pledgor,
        "pledgee": template.pledgee,
        "schedule": template.schedule,
        "required_value": required,
        "lot_face": template.lot_face,
        "min_pledge_face": template.min_pledge_face,
        "max_isins": template.max_isins,
        "margin_type": template.margin_type,
        "currency": template.currency,
    }
    if template.deadline:
        out["deadline"] = template.deadline
    if template.note:
        out["note"] = template.note
    return out


def sample_book_json(spec: BookSpec | None = None) -> str:
    """The book as the committed JSON text (2-space indent, stable order, newline-ended)."""
    return json.dumps(generate_book(spec), indent=2, ensure_ascii=False) + "\n"


def sample_book_files() -> dict[Path, str]:
    """``sample_book.json`` (relative to ``data/``) -> its exact text."""
    return {SAMPLE_BOOK_FILE: sample_book_json()}


def load_sample_book(path: str | Path | None = None) -> dict[str, Any]:
    """The committed sample book as a dict."""
    path = Path(path) if path is not None else data_dir() / SAMPLE_BOOK_FILE
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
