"""Each numba kernel held to its plain-Python twin in valuation.reference."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from benchmarks.data import benchmark_curve, synthetic_jgbs
from valuation import kernels, reference
from valuation.cashflows import resolve_cash_flows

RTOL = 1e-13


def _random_case(seed: int) -> dict[str, np.ndarray]:
    """A random CSR table and curve, with times before, on, between and after the nodes."""
    rng = np.random.default_rng(seed)
    n_nodes = int(rng.integers(1, 9))
    node_times = np.sort(rng.choice(np.arange(0, 60) / 2.0, size=n_nodes, replace=False))
    node_rates = rng.uniform(-0.01, 0.05, size=n_nodes)
    times = np.sort(np.unique(np.concatenate([rng.uniform(0, 45, 40), node_times, [0.0, 50.0]])))
    n_bonds = 25
    counts = rng.integers(0, 12, size=n_bonds)
    bond_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    date_index = np.concatenate(
        [np.sort(rng.choice(times.size, size=c, replace=False)) for c in counts]
    ).astype(np.int64)
    amount = rng.uniform(0, 5, size=int(bond_start[-1]))
    shifts = rng.normal(0, 0.005, size=(6, n_nodes))
    shifts[0] = 0.0
    return {
        "bond_start": bond_start,
        "date_index": date_index,
        "amount": amount,
        "times": times,
        "node_times": node_times,
        "node_rates": node_rates,
        "node_shifts": shifts,
    }


def _book_case() -> dict[str, np.ndarray]:
    """200 synthetic JGBs on the MOF curve of 2025-11-06."""
    bonds, ratios = synthetic_jgbs(200, seed=3)
    table = resolve_cash_flows(bonds, date(2025, 11, 6), ratios)
    curve = benchmark_curve()
    grid = np.linspace(-0.02, 0.02, 5)[:, None] * np.ones(curve.n_nodes)
    return {
        "bond_start": table.bond_start,
        "date_index": table.date_index,
        "amount": table.amount,
        "times": table.times,
        "node_times": curve.node_times,
        "node_rates": curve.node_rates,
        "node_shifts": grid,
    }


CASES = [pytest.param(_random_case(seed), id=f"random-{seed}") for seed in range(8)]
CASES.append(pytest.param(_book_case(), id="book"))


def _table(case: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return case["bond_start"], case["date_index"], case["amount"]


def _curve(case: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"node_times": case["node_times"], "node_rates": case["node_rates"]}


@pytest.mark.parametrize("case", CASES)
def test_zero_rates_and_discount_factors_match_the_twin(case: dict[str, np.ndarray]) -> None:
    times, nodes, rates = case["times"], case["node_times"], case["node_rates"]
    got_rates = kernels.zero_rates(times, nodes, rates)
    got_factors = kernels.discount_factors(times, nodes, rates)
    nodes_l, rates_l = nodes.tolist(), rates.tolist()
    for d, t in enumerate(times.tolist()):
        assert got_rates[d] == pytest.approx(reference.zero_rate(t, nodes_l, rates_l), abs=1e-16)
        assert got_factors[d] == pytest.approx(
            reference.discount_factor(t, nodes_l, rates_l), rel=RTOL
        )


@pytest.mark.parametrize("case", CASES)
def test_dirty_prices_match_the_twin(case: dict[str, np.ndarray]) -> None:
    factors = kernels.discount_factors(case["times"], case["node_times"], case["node_rates"])
    got = kernels.gather(*_table(case), factors)
    want = reference.dirty_prices(*_table(case), times=case["times"], **_curve(case))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-13)


@pytest.mark.parametrize("case", CASES)
def test_scenario_prices_match_the_twin(case: dict[str, np.ndarray]) -> None:
    factors = kernels.scenario_discount_factors(
        case["times"], case["node_times"], case["node_rates"], case["node_shifts"]
    )
    assert factors.shape == (case["times"].size, case["node_shifts"].shape[0])
    got = kernels.gather_columns(*_table(case), factors).T
    want = reference.scenario_dirty_prices(
        *_table(case), times=case["times"], node_shifts=case["node_shifts"], **_curve(case)
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_zero_shift_scenario_is_the_base_price_bit_for_bit(case: dict[str, np.ndarray]) -> None:
    zero = np.zeros((1, case["node_times"].size))
    factors = kernels.scenario_discount_factors(
        case["times"], case["node_times"], case["node_rates"], zero
    )
    base = kernels.discount_factors(case["times"], case["node_times"], case["node_rates"])
    assert np.array_equal(factors[:, 0], base)
    assert np.array_equal(
        kernels.gather_columns(*_table(case), factors)[:, 0], kernels.gather(*_table(case), base)
    )


@pytest.mark.parametrize("case", CASES)
def test_sensitivities_match_the_twin(case: dict[str, np.ndarray]) -> None:
    times, nodes, rates = case["times"], case["node_times"], case["node_rates"]
    parallel = kernels.gather(*_table(case), kernels.time_weighted_discount(times, nodes, rates))
    want_parallel = reference.parallel_sensitivity(*_table(case), times=times, **_curve(case))
    np.testing.assert_allclose(parallel, want_parallel, rtol=RTOL, atol=1e-12)

    weights = kernels.key_rate_weights(times, nodes, rates)
    np.testing.assert_allclose(
        weights.sum(axis=1),
        times * np.exp(-kernels.zero_rates(times, nodes, rates) * times),
        rtol=1e-14,
    )
    key_rates = kernels.gather_columns(*_table(case), weights).T
    want_key = reference.key_rate_sensitivities(*_table(case), times=times, **_curve(case))
    np.testing.assert_allclose(key_rates, want_key, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(key_rates.sum(axis=0), parallel, rtol=1e-12, atol=1e-12)


def test_locate_brackets_and_extrapolates_flat() -> None:
    nodes = np.array([1.0, 2.0, 4.0])
    assert kernels.locate(0.5, nodes) == (0, 0, 0.0)
    assert kernels.locate(1.0, nodes) == (0, 0, 0.0)
    assert kernels.locate(3.0, nodes) == (1, 2, 0.5)
    assert kernels.locate(2.0, nodes) == (1, 2, 0.0)
    assert kernels.locate(4.0, nodes) == (2, 2, 0.0)
    assert kernels.locate(9.0, np.array([5.0])) == (0, 0, 0.0)
