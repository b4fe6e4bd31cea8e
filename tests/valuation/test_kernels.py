"""Each numba kernel held to its plain-Python twin in valuation.reference.

The pricing twins price the explicit per-bond rows one flow at a time; the kernels
factor bonds through their schedules. Cases: random tables and curves with times before,
on, between and after the nodes (and a one-node curve), and 200 synthetic JGBs on the
MOF curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pytest

from benchmarks.data import benchmark_curve, synthetic_jgbs
from valuation import kernels, reference
from valuation.cashflows import CashFlowTable, resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.pricing import dirty_prices, dv01, key_rate_sensitivities, scenario_prices
from valuation.scenarios import ScenarioGrid

RTOL = 1e-13
SETTLEMENT = date(2025, 11, 6)


@dataclass(frozen=True)
class Case:
    table: CashFlowTable
    curve: ZeroCurve
    grid: ScenarioGrid


def _random_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    days = np.unique(np.concatenate([[0, 50 * 365], rng.integers(1, 45 * 365, size=40)]))
    n_nodes = 1 if seed == 0 else int(rng.integers(2, 9))
    node_days = np.sort(rng.choice(days, size=n_nodes, replace=False))
    curve = ZeroCurve(tuple(node_days / 365), tuple(rng.uniform(-0.01, 0.05, n_nodes)))
    n_schedules = int(rng.integers(1, 10))
    schedules = [
        np.sort(rng.choice(days.size, size=int(rng.integers(1, 13)), replace=False))
        for _ in range(n_schedules)
    ]
    schedule_start = np.concatenate([[0], np.cumsum([s.size for s in schedules])])
    n_bonds = 25
    coupon = rng.uniform(0, 3, n_bonds)
    coupon[::5] = 0.0
    table = CashFlowTable(
        settlement_date=SETTLEMENT,
        isins=tuple(f"X{i}" for i in range(n_bonds)),
        payment_dates=np.array(
            [SETTLEMENT + timedelta(days=int(d)) for d in days], dtype="datetime64[D]"
        ),
        times=days / 365.0,
        schedule_start=schedule_start.astype(np.int64),
        schedule_date_index=np.concatenate(schedules).astype(np.int64),
        schedule_of=rng.integers(0, n_schedules, n_bonds).astype(np.int64),
        coupon=coupon,
        principal=rng.uniform(90, 110, n_bonds),
    )
    shifts = rng.normal(0, 0.005, size=(6, n_nodes))
    shifts[0] = 0.0
    grid = ScenarioGrid(tuple(f"s{i}" for i in range(6)), curve.tenors, shifts)
    return Case(table, curve, grid)


def _book_case() -> Case:
    bonds, ratios = synthetic_jgbs(200, seed=3)
    curve = benchmark_curve()
    shifts = np.linspace(-0.02, 0.02, 5)[:, None] * np.ones(curve.n_nodes)
    grid = ScenarioGrid(tuple(f"p{i}" for i in range(5)), curve.tenors, shifts)
    return Case(resolve_cash_flows(bonds, SETTLEMENT, ratios), curve, grid)


CASES = [pytest.param(_random_case(seed), id=f"random-{seed}") for seed in range(8)]
CASES.append(pytest.param(_book_case(), id="book"))


def _twin_args(case: Case) -> dict[str, np.ndarray]:
    rows = case.table.rows()
    return {
        "bond_start": rows.bond_start,
        "date_index": rows.date_index,
        "amount": rows.amount,
        "times": case.table.times,
        "node_times": case.curve.node_times,
        "node_rates": case.curve.node_rates,
    }


@pytest.mark.parametrize("case", CASES)
def test_zero_rates_and_discount_factors_match_the_twin(case: Case) -> None:
    times, nodes, rates = case.table.times, case.curve.node_times, case.curve.node_rates
    got_rates = kernels.zero_rates(times, nodes, rates)
    got_factors = kernels.discount_factors(times, nodes, rates)
    nodes_l, rates_l = nodes.tolist(), rates.tolist()
    for d, t in enumerate(times.tolist()):
        assert got_rates[d] == pytest.approx(reference.zero_rate(t, nodes_l, rates_l), abs=1e-16)
        assert got_factors[d] == pytest.approx(
            reference.discount_factor(t, nodes_l, rates_l), rel=RTOL
        )


@pytest.mark.parametrize("case", CASES)
def test_schedule_sums_and_bond_values_match_the_twins(case: Case) -> None:
    t = case.table
    factors = np.random.default_rng(1).uniform(0.2, 1.2, size=(t.n_dates, 3))
    annuity, final = kernels.schedule_sums(t.schedule_start, t.schedule_date_index, factors)
    want_annuity, want_final = reference.schedule_sums(
        t.schedule_start, t.schedule_date_index, factors
    )
    np.testing.assert_allclose(annuity, want_annuity, rtol=RTOL)
    assert np.array_equal(final, want_final)
    out = np.empty((t.n_bonds, 3))
    kernels.bond_values(t.schedule_of, t.coupon, t.principal, annuity, final, out)
    want = reference.bond_values(t.schedule_of, t.coupon, t.principal, annuity, final)
    np.testing.assert_allclose(out, want, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_dirty_prices_match_the_flow_by_flow_twin(case: Case) -> None:
    got = dirty_prices(case.table, case.curve)
    want = reference.dirty_prices(**_twin_args(case))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_scenario_prices_match_the_twin(case: Case) -> None:
    got = scenario_prices(case.table, case.curve, case.grid)
    assert got.shape == (case.grid.n_scenarios, case.table.n_bonds)
    want = reference.scenario_dirty_prices(**_twin_args(case), node_shifts=case.grid.shifts)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_zero_shift_scenario_is_the_base_price_bit_for_bit(case: Case) -> None:
    times, nodes, rates = case.table.times, case.curve.node_times, case.curve.node_rates
    zero = np.zeros((1, nodes.size))
    factors = kernels.scenario_discount_factors(times, nodes, rates, zero)
    assert np.array_equal(factors[:, 0], kernels.discount_factors(times, nodes, rates))
    grid = ScenarioGrid(("zero", "up"), case.curve.tenors, np.vstack([zero, zero + 0.01]))
    assert np.array_equal(
        scenario_prices(case.table, case.curve, grid)[0], dirty_prices(case.table, case.curve)
    )


@pytest.mark.parametrize("case", CASES)
def test_sensitivities_match_the_twin(case: Case) -> None:
    times, nodes, rates = case.table.times, case.curve.node_times, case.curve.node_rates
    parallel = dv01(case.table, case.curve)
    want_parallel = reference.parallel_sensitivity(**_twin_args(case)) * 1e-4
    np.testing.assert_allclose(parallel, want_parallel, rtol=RTOL, atol=1e-16)

    weights = kernels.key_rate_weights(times, nodes, rates)
    tdf = kernels.time_weighted_discount(times, nodes, rates)
    np.testing.assert_allclose(weights.sum(axis=1), tdf, rtol=1e-14)
    key_rates = key_rate_sensitivities(case.table, case.curve)
    want_key = reference.key_rate_sensitivities(**_twin_args(case)).T * 1e-4
    np.testing.assert_allclose(key_rates, want_key, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(key_rates.sum(axis=1), parallel, rtol=1e-12, atol=1e-16)


def test_locate_brackets_and_extrapolates_flat() -> None:
    nodes = np.array([1.0, 2.0, 4.0])
    assert kernels.locate(0.5, nodes) == (0, 0, 0.0)
    assert kernels.locate(1.0, nodes) == (0, 0, 0.0)
    assert kernels.locate(3.0, nodes) == (1, 2, 0.5)
    assert kernels.locate(2.0, nodes) == (1, 2, 0.0)
    assert kernels.locate(4.0, nodes) == (2, 2, 0.0)
    assert kernels.locate(9.0, np.array([5.0])) == (0, 0, 0.0)


def test_scenario_prices_reuse_an_output_buffer() -> None:
    case = _book_case()
    first = scenario_prices(case.table, case.curve, case.grid)
    kept = first.copy()
    again = scenario_prices(case.table, case.curve.shifted(0.01), case.grid, out=first)
    assert again.base is first.base or np.shares_memory(again, first)
    assert not np.allclose(again, kept)
    with pytest.raises(ValueError, match="Fortran-ordered"):
        scenario_prices(case.table, case.curve, case.grid, out=np.empty((5, 200)))
