"""Stress-robust cover: an obligation's cover must also hold under named price scenarios.

An obligation may name stress scenarios (``stress_scenarios: ["parallel +100bp"]``);
each security then carries its dirty price under each (``scenario_dirty_prices``). The
cover of such an obligation must reach its required value at today's prices *and*
under every scenario it names, so a rate rise the pledgee's stress test assumes does
not leave it under-collateralised the moment it happens.

Formulation: robust cover by worst-case value per lot. For a pair ``j`` (a position
pledged to obligation ``o``) with base collateral value per lot
:math:`v_j = P\\,/\\,100 \\times lot \\times (1 - h)` (DOMAIN.md section 4), its value
under scenario :math:`s` is :math:`v_j P_s / P` (same lot, same haircut), and the cover
constraint uses

.. math:: w_j = v_j \\min\\Bigl(1, \\min_{s \\in S_o} P_s / P\\Bigr),
   \\qquad \\sum_j w_j x_j + \\text{shortfall}_o \\ge R_o .

Because :math:`\\sum_j \\min_s(\\cdot) \\le \\min_s \\sum_j(\\cdot)`, a plan meeting it
covers :math:`R_o` at base prices and under each scenario separately; the two are equal
when one scenario is the worst for every bond (a parallel rise lowers every price). The
cost model applies the factor once (:func:`apply_worst_case`), so the MIP, the greedy
waterfall, fix-and-optimize and repair all see it without knowing about scenarios.
Market value and opportunity cost stay at base prices (DOMAIN.md section 5: the cost of
pledging is today's market value). Concentration caps stay what the schedule says at
base prices: an (ISIN, obligation) group's pairs share one factor, so its cap is scaled
by that factor exactly; a maturity-bucket row holds bonds of different factors, so no
one factor fits it: its rows keep their own coefficient per member, the base value per
lot (``CostModel.bucket_value``), against the cap as the schedule says it. (Before, the
cap was scaled by the least factor among the members: stricter than the contract, so
the optimizer refused plans ``verify`` accepts and its bounds certified the stricter
problem; ``test_bounds_stay_below_a_plan_verify_accepts_under_a_stressed_bucket_cap``.)

:func:`add_parallel_scenarios` computes scenario prices with part 1's numba core where
the caller has none: the book repriced on a zero curve shifted in parallel
(:func:`valuation.pricing.scenario_dirty_prices` over a
:func:`valuation.scenarios.parallel_grid`), each market price moved by its bond's
relative model price change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from optimizer.problem import Obligation, Position, Problem, Security
from valuation.curve import ZeroCurve
from valuation.errors import InputError
from valuation.haircuts import HaircutSchedule, residual_years
from valuation.jgb import BondKind

if TYPE_CHECKING:
    from optimizer.costmodel import CostModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BREAKEVEN_INFLATION = 0.015
"""JGBi are repriced in real terms on the curve lowered by this breakeven (the value
:mod:`valuation.model_prices` prices the sample book with)."""


def is_stressed(problem: Problem) -> bool:
    """Whether any obligation names a stress scenario."""
    return any(o.stress_scenarios for o in problem.obligations)


def _record(problem: Problem, s: int) -> str:
    return f"securities[{s}] ({problem.securities[s].isin})"


def worst_case_factors(
    problem: Problem, pair_isin: IntArray, pair_obligation: IntArray
) -> FloatArray:
    """Per pair: ``min(1, min over the obligation's scenarios of P_s / P)``.

    Raises
    ------
    InputError
        Naming ``securities[i] (isin)`` and ``scenario_dirty_prices`` when a security
        lacks a price for a scenario the pair's obligation names.
    """
    factors = np.ones(pair_isin.size, dtype=np.float64)
    if not is_stressed(problem):
        return factors
    table: dict[tuple[int, int], float] = {}
    for j, (s, o) in enumerate(zip(pair_isin.tolist(), pair_obligation.tolist(), strict=True)):
        key = (s, o)
        if key not in table:
            security = problem.securities[s]
            obligation = problem.obligations[o]
            factor = 1.0
            for name in obligation.stress_scenarios:
                price = security.scenario_dirty_prices.get(name)
                if price is None:
                    raise InputError(
                        _record(problem, s),
                        "scenario_dirty_prices",
                        f"no price for scenario {name!r}, which obligation {obligation.id} "
                        "names in stress_scenarios",
                    )
                factor = min(factor, price / security.dirty_price)
            table[key] = factor
        factors[j] = table[key]
    return factors


def apply_worst_case(cm: CostModel) -> CostModel:
    """``cm`` with each pair's collateral value per lot at its worst case over its
    obligation's scenarios, ISIN caps rescaled to match and bounds recomputed; bucket
    rows stay on base value (module docstring). ``cm`` itself when no obligation names
    a scenario."""
    factors = worst_case_factors(cm.problem, cm.pair_isin, cm.pair_obligation)
    if np.all(factors == 1.0):
        return cm
    group_factor = np.ones(cm.group_cap.size)
    group_factor[cm.pair_group] = factors
    stressed = replace(
        cm, value_per_lot=cm.value_per_lot * factors, group_cap=cm.group_cap * group_factor
    )
    return replace(stressed, max_lots=stressed._bounds(0, stressed.n_pairs))


def base_value_per_lot(cm: CostModel) -> FloatArray:
    """Collateral value per lot at base prices, whatever :func:`apply_worst_case` did
    (an ineligible pair has haircut 1 and so value 0): what a plan reports."""
    result: FloatArray = cm.market_per_lot * (1.0 - cm.haircut)
    return result


def scenario_covers(cm: CostModel, lots: IntArray) -> list[dict[str, float] | None]:
    """Per obligation: its cover under each scenario it names (``None`` when it names
    none), yen to the sen: ``sum lots x base value x P_s / P``."""
    problem = cm.problem
    base = base_value_per_lot(cm) * lots
    out: list[dict[str, float] | None] = []
    starts = cm.obligation_slices()
    for o, obligation in enumerate(problem.obligations):
        if not obligation.stress_scenarios:
            out.append(None)
            continue
        lo, hi = int(starts[o]), int(starts[o + 1])
        covers: dict[str, float] = {}
        for name in obligation.stress_scenarios:
            total = 0.0
            for j in range(lo, hi):
                if base[j] > 0.0:
                    security = problem.securities[int(cm.pair_isin[j])]
                    price = security.scenario_dirty_prices.get(name, math.nan)
                    total += float(base[j]) * price / security.dirty_price
            covers[name] = round(total, 2)
        out.append(covers)
    return out


def scenario_errors(
    data: object,
    settlement_date: date | None,
    securities: Sequence[Security],
    schedules: Mapping[str, HaircutSchedule],
    *,
    obligations: Iterable[Obligation],
    positions: Sequence[Position],
) -> list[InputError]:
    """Input errors of the stress scenarios (for :func:`optimizer.contract.parse_problem`).

    A name an obligation lists in ``stress_scenarios`` that no security prices is
    unknown (error on the obligation); a bond the obligation's pledgor holds and its
    schedule takes must carry a price for every scenario the obligation names (error on
    the security's ``scenario_dirty_prices``).
    """
    rows = data.get("securities") if isinstance(data, Mapping) else None
    raw_index = {
        row.get("isin"): i
        for i, row in enumerate(rows if isinstance(rows, list) else [])
        if isinstance(row, Mapping)
    }
    known = {name for s in securities for name in s.scenario_dirty_prices}
    by_isin = {s.isin: s for s in securities}
    errors: list[InputError] = []
    missing: dict[tuple[str, str], str] = {}
    for i, obligation in enumerate(obligations):
        record = f"obligations[{i}] ({obligation.id})"
        schedule = schedules.get(obligation.schedule)
        for k, name in enumerate(obligation.stress_scenarios):
            if name not in known:
                errors.append(
                    InputError(
                        record,
                        f"stress_scenarios[{k}]",
                        f"unknown scenario {name!r}: no security has a price for it in "
                        f"scenario_dirty_prices (known: {', '.join(sorted(known)) or 'none'})",
                    )
                )
                continue
            if schedule is None or settlement_date is None:
                continue
            for position in positions:
                security = by_isin.get(position.isin)
                if position.owner != obligation.pledgor or position.face <= 0 or security is None:
                    continue
                years = residual_years(security.bond.maturity_date, settlement_date)
                if name in security.scenario_dirty_prices or not schedule.is_eligible(
                    security.isin, security.bond.kind, years
                ):
                    continue
                missing.setdefault((security.isin, name), obligation.id)
    for (isin, name), oid in missing.items():
        errors.append(
            InputError(
                f"securities[{raw_index.get(isin, '?')}] ({isin})",
                "scenario_dirty_prices",
                f"no price for scenario {name!r}, which obligation {oid} names in "
                "stress_scenarios (its pledgor holds this bond and the schedule takes it)",
            )
        )
    return errors


def add_parallel_scenarios(
    problem: Problem,
    curve: ZeroCurve,
    shifts_bp: Sequence[float] = (100.0,),
    obligation_ids: Iterable[str] | None = None,
) -> Problem:
    """``problem`` with scenario prices for parallel shifts of ``curve``, named by the
    part 1 grid (``"parallel +100bp"``), and those names added to the stress scenarios
    of ``obligation_ids`` (every obligation when ``None``).

    Each security is repriced with the numba core on ``curve`` and on ``curve`` shifted
    by each of ``shifts_bp`` (one :func:`~valuation.pricing.scenario_dirty_prices` call
    over :func:`~valuation.scenarios.parallel_grid` ``[0, *shifts_bp]``; row 0 is the
    base bit for bit), and its market dirty price is moved by the same ratio:
    :math:`P_s = P \\cdot M_s / M_0` (a constant relative basis between market and
    model). JGBi are repriced in real terms (index ratio 1, curve lowered by
    :data:`BREAKEVEN_INFLATION`), as :mod:`valuation.model_prices` prices them; the
    ratio does not depend on the index ratio.

    Parameters
    ----------
    problem
        The problem; its settlement date is the curve's time origin.
    curve
        Zero curve of the settlement date, e.g.
        :func:`valuation.model_prices.zero_curve_of` (the MOF par curve bootstrapped).
    shifts_bp
        Parallel shifts in basis points (``100`` = rates up 1%).
    obligation_ids
        Obligations whose cover must hold under the new scenarios.
    """
    from valuation.pricing import scenario_dirty_prices
    from valuation.scenarios import parallel_grid

    grid = parallel_grid(curve, [0.0, *(float(s) for s in shifts_bp)])
    labels = grid.labels[1:]
    ratios = np.ones((len(labels), len(problem.securities)))
    for inflation in (False, True):
        members = [
            s
            for s, sec in enumerate(problem.securities)
            if (sec.bond.kind is BondKind.INFLATION) == inflation
        ]
        if not members:
            continue
        bonds = [problem.securities[s].bond for s in members]
        index_ratios = [1.0 if inflation else None for _ in members]
        prices = scenario_dirty_prices(
            bonds,
            problem.settlement_date,
            curve.shifted(-BREAKEVEN_INFLATION) if inflation else curve,
            grid,
            index_ratios,
        )
        ratios[:, members] = prices[1:] / prices[0]
    securities = tuple(
        replace(
            sec,
            scenario_dirty_prices={
                **sec.scenario_dirty_prices,
                **{label: float(sec.dirty_price * ratios[k, s]) for k, label in enumerate(labels)},
            },
        )
        for s, sec in enumerate(problem.securities)
    )
    chosen = None if obligation_ids is None else set(obligation_ids)
    obligations = tuple(
        o
        if chosen is not None and o.id not in chosen
        else replace(
            o,
            stress_scenarios=(
                *o.stress_scenarios,
                *(name for name in labels if name not in o.stress_scenarios),
            ),
        )
        for o in problem.obligations
    )
    return replace(problem, securities=securities, obligations=obligations)
