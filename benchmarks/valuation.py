"""Valuation benchmarks: a book priced from a zero curve, under 100 scenarios, and its DV01.

The book is :func:`benchmarks.data.synthetic_jgbs` (seeded, 100,000 bonds at full
size) settling 2025-11-06, the curve bootstrapped from the MOF par curve of that day
(80 half-year nodes). The peer is QuantLib, run in the same process on the first
``sample`` bonds of the same book: ``FixedRateBond`` / ``ZeroCouponBond`` on the same
coupon dates and payment calendar, a ``ZeroCurve`` (Linear, Continuous,
Actual365Fixed) and a ``DiscountingBondEngine``. QuantLib's seconds per bond on the
sample are extrapolated to the full book (its cost is linear in the number of bonds;
the sample is a random draw of the same mix). Its prices are checked against tanpo's
on the sample, so both sides price the same thing.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data import MOF_PAR_TENORS, SETTLEMENT_DATE, benchmark_curve, synthetic_jgbs
from benchmarks.harness import Context, benchmark
from valuation import kernels
from valuation.cashflows import resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.inflation import redemption_per_100
from valuation.jgb import BondKind, Jgb
from valuation.pricing import dirty_prices, dv01, key_rate_sensitivities, scenario_prices
from valuation.scenarios import (
    ScenarioGrid,
    irrbb_grid,
    key_rate_grid,
    parallel_grid,
    twist_grid,
)
from valuation.schedule import previous_coupon_date

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=4)
def _book(n: int, seed: int) -> tuple[list[Jgb], np.ndarray]:
    return synthetic_jgbs(n, seed=seed, settlement_date=SETTLEMENT_DATE)


def scenario_grid_100(tenors: Sequence[float]) -> ScenarioGrid:
    """100 scenarios on the MOF tenors: 81 parallel (-200..+200bp by 5bp), 6 twists
    pivoting at 10Y, the 6 BCBS IRRBB shocks and 7 key-rate bumps of 10bp."""
    grid = parallel_grid(tenors, range(-200, 201, 5)).concat(
        twist_grid(tenors, 10.0), irrbb_grid(tenors)
    )
    key_rates = key_rate_grid(tenors, 10.0)
    keep = [i for i, t in enumerate(tenors) if t in (1, 2, 5, 10, 20, 30, 40)]
    return grid.concat(
        ScenarioGrid(
            tuple(key_rates.labels[i] for i in keep), key_rates.tenors, key_rates.shifts[keep]
        )
    )


# -- QuantLib peer ----------------------------------------------------------------------


def _ql() -> Any:
    return importlib.import_module("QuantLib")  # a dev dependency: imported on use


def _ql_date(ql: Any, d: date) -> Any:
    return ql.Date(d.day, d.month, d.year)


def payment_calendar(ql: Any) -> Any:
    """QuantLib's calendar for the payment roll tanpo uses (see valuation.cashflows)."""
    return ql.Japan()


def ql_curve(ql: Any, curve: ZeroCurve, settlement: date) -> Any:
    """``curve`` as a QuantLib ZeroCurve (nodes on whole days; day 0 = first rate).

    QuantLib's nodes are dates: pass a curve already on whole days
    (:func:`on_whole_days`) for both to price the same curve. Past the last node
    QuantLib extrapolates flat forward; no JGB pays after 40 years, the last node.
    """
    base = _ql_date(ql, settlement)
    days = [0] + [round(t * 365) for t in curve.tenors]
    rates = [curve.zero_rates[0], *curve.zero_rates]
    return ql.ZeroCurve(
        [base + d for d in days],
        rates,
        ql.Actual365Fixed(),
        ql.NullCalendar(),
        ql.Linear(),
        ql.Continuous,
        ql.Annual,
    )


def on_whole_days(curve: ZeroCurve) -> ZeroCurve:
    """``curve`` with its tenors moved to whole days / 365 (what QuantLib sees)."""
    return ZeroCurve(tuple(round(t * 365) / 365 for t in curve.tenors), curve.zero_rates)


def ql_bonds(ql: Any, bonds: Sequence[Jgb], ratios: np.ndarray, settlement: date) -> list[Any]:
    """QuantLib bonds for ``bonds``: schedules generated backward from maturity."""
    calendar = payment_calendar(ql)
    day_count = ql.Thirty360(ql.Thirty360.BondBasis)
    half_year = ql.Period(6, ql.Months)
    built = []
    for bond, raw in zip(bonds, ratios.tolist(), strict=True):
        maturity = _ql_date(ql, bond.maturity_date)
        if bond.kind is BondKind.TBILL:
            built.append(ql.ZeroCouponBond(0, calendar, 100.0, maturity, ql.Following, 100.0))
            continue
        ratio = 1.0 if np.isnan(raw) else raw
        start = _ql_date(ql, previous_coupon_date(bond.maturity_date, settlement))
        schedule = ql.Schedule(
            start,
            maturity,
            half_year,
            ql.NullCalendar(),
            ql.Unadjusted,
            ql.Unadjusted,
            ql.DateGeneration.Backward,
            False,
        )
        redemption = 100.0
        if bond.kind is BondKind.INFLATION:
            redemption = redemption_per_100(ratio, bond.issue_date)
        built.append(
            ql.FixedRateBond(
                0,
                100.0,
                schedule,
                [bond.coupon_rate * ratio],
                day_count,
                ql.Following,
                redemption,
                ql.Date(),
                calendar,
            )
        )
    return built


def _ql_pricer(ql: Any, bonds: list[Any]) -> tuple[Any, Callable[[Any], np.ndarray]]:
    handle = ql.RelinkableYieldTermStructureHandle()
    engine = ql.DiscountingBondEngine(handle)
    for b in bonds:
        b.setPricingEngine(engine)

    def price_all(curve: Any) -> np.ndarray:
        handle.linkTo(curve)  # notifies every bond: each recomputes on the next call
        return np.array([b.dirtyPrice() for b in bonds])

    return handle, price_all


# -- numba compile time -------------------------------------------------------------

_FIRST_CALL = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    from benchmarks.data import benchmark_curve, synthetic_jgbs, SETTLEMENT_DATE
    from valuation import pricing
    from valuation.cashflows import resolve_cash_flows
    from valuation.scenarios import parallel_grid
    bonds, ratios = synthetic_jgbs(20)
    table = resolve_cash_flows(bonds, SETTLEMENT_DATE, ratios)
    curve = benchmark_curve()
    grid = parallel_grid(curve, (-100, 0, 100))
    t1 = time.perf_counter()
    def calls():
        pricing.dirty_prices(table, curve)
        pricing.scenario_prices(table, curve, grid)
        pricing.dv01(table, curve)
        pricing.key_rate_sensitivities(table, curve)
    calls()
    t2 = time.perf_counter()
    calls()
    t3 = time.perf_counter()
    print(json.dumps({"setup": t1 - t0, "first": t2 - t1, "again": t3 - t2}))
    """
)


def _first_call_in_subprocess(cache_dir: str) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=600,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_compile(ctx: Context) -> None:
    """Numba compile time of every pricing kernel, apart from the kernel timings.

    Full runs: two fresh processes on an empty ``NUMBA_CACHE_DIR``: the first compiles
    and writes the cache (cold), the second loads it (cached, what every later process
    pays). Quick runs: the in-process first call only.
    """
    if ctx.quick:
        return
    with tempfile.TemporaryDirectory(prefix="tanpo-numba-") as cache_dir:
        cold = _first_call_in_subprocess(cache_dir)
        cached = [_first_call_in_subprocess(cache_dir) for _ in range(3)]
    ctx.record(
        "compile, cold cache (first call)",
        [cold["first"] - cold["again"]],
        note="fresh process, empty NUMBA_CACHE_DIR",
    )
    ctx.record(
        "compile, cached (first call)",
        [c["first"] - c["again"] for c in cached],
        note="fresh process, cache written by the cold run",
    )


# -- benchmarks -----------------------------------------------------------------------


def _setup(ctx: Context, full: int, quick: int) -> tuple[list[Jgb], np.ndarray, ZeroCurve]:
    bonds, ratios = _book(ctx.size(full=full, quick=quick), ctx.seed)
    # Nodes on whole days so QuantLib (which needs node dates) sees the same curve.
    return bonds, ratios, on_whole_days(benchmark_curve())


@benchmark("valuation.price_curve", "100,000 JGBs priced from a zero curve, vs QuantLib")
def price_curve(ctx: Context) -> None:
    """Dirty prices per 100 of the whole book from the bootstrapped MOF curve."""
    bonds, ratios, curve = _setup(ctx, 100_000, 500)
    n, sample = len(bonds), ctx.size(full=5_000, quick=50)
    ctx.param(bonds=n, quantlib_sample=sample, curve_nodes=curve.n_nodes)
    measure_compile(ctx)
    table = ctx.measure(
        "resolve", lambda: resolve_cash_flows(bonds, SETTLEMENT_DATE, ratios), items=n, repeat=3
    )
    ctx.param(cash_flows=table.n_flows, payment_dates=table.n_dates, schedules=table.n_schedules)
    with ctx.phase("first call (in-process)", items=n):
        dirty_prices(table, curve)
    prices = ctx.measure("kernel: dirty prices", lambda: dirty_prices(table, curve), items=n)

    ql = _ql()
    ql.Settings.instance().evaluationDate = _ql_date(ql, SETTLEMENT_DATE)
    peer_bonds = ctx.measure(
        "build bonds",
        lambda: ql_bonds(ql, bonds[:sample], ratios[:sample], SETTLEMENT_DATE),
        items=sample,
        who="QuantLib",
        repeat=3,
        extrapolate_to=n,
    )
    _, price_all = _ql_pricer(ql, peer_bonds)
    curves = [ql_curve(ql, curve, SETTLEMENT_DATE) for _ in range(ctx.repeat)]
    peer_prices = ctx.measure(
        "price (new curve)",
        lambda: price_all(curves.pop()),
        items=sample,
        who="QuantLib",
        extrapolate_to=n,
    )
    ctx.measure(
        "read cached prices (binding overhead)",
        lambda: np.array([b.dirtyPrice() for b in peer_bonds]),
        items=sample,
        who="QuantLib",
        extrapolate_to=n,
    )
    agreement = float(np.max(np.abs(prices[:sample] - peer_prices)))
    ctx.metric("max |tanpo - QuantLib| on the sample", agreement, "per 100")
    ctx.metric(
        "tanpo bonds priced per second", n / ctx.timing("kernel: dirty prices").median_s, "bonds/s"
    )
    ctx.metric("mean dirty price", float(prices.mean()), "per 100")
    speedup = ctx.compare(
        "pricing (bonds/s)", "kernel: dirty prices", "QuantLib", "price (new curve)"
    )
    ctx.compare(
        "end to end (resolve + price)",
        ["resolve", "kernel: dirty prices"],
        "QuantLib",
        ["build bonds", "price (new curve)"],
    )
    ctx.target("pricing speed-up over QuantLib", speedup, ">=", 200.0, "x")
    ctx.note(
        "QuantLib prices a sample of the same book (the first bonds of the seeded draw); "
        "its seconds per bond are extrapolated to the full book. 'price (new curve)' "
        "relinks the curve handle, so every bond recomputes (no cached NPV). 'read cached "
        "prices' calls dirtyPrice() again without relinking: the Python-to-C++ call per bond "
        "that is part of QuantLib's repricing time (about half of it on this VM)."
    )
    ctx.note(
        "The curve is the MOF par curve of 2025-11-06 bootstrapped to 80 half-year nodes, "
        "each moved to a whole day (QuantLib's nodes are dates), so both price one curve."
    )


@benchmark("valuation.scenarios_curve", "100,000 JGBs x 100 curve scenarios, vs QuantLib")
def scenarios_curve(ctx: Context) -> None:
    """The whole book revalued under 100 curve shocks in one call."""
    bonds, ratios, curve = _setup(ctx, 100_000, 300)
    grid = scenario_grid_100(MOF_PAR_TENORS)
    n, sample = len(bonds), ctx.size(full=300, quick=10)
    n_scenarios = grid.n_scenarios if not ctx.quick else 5
    grid = grid if not ctx.quick else ScenarioGrid(grid.labels[:5], grid.tenors, grid.shifts[:5])
    ctx.param(bonds=n, scenarios=n_scenarios, quantlib_sample_bonds=sample)
    table = resolve_cash_flows(bonds, SETTLEMENT_DATE, ratios)
    scenario_prices(table, curve, grid)  # compile / load outside the timings
    ctx.measure(
        "kernel: scenario prices",
        lambda: scenario_prices(table, curve, grid),
        items=n * n_scenarios,
    )
    reused = scenario_prices(table, curve, grid)
    ctx.measure(
        "kernel: scenario prices, reused output",
        lambda: scenario_prices(table, curve, grid, out=reused),
        items=n * n_scenarios,
    )
    shifts = grid.node_shifts(curve)
    nodes, rates = curve.node_times, curve.node_rates
    factors = ctx.measure(
        "  step 1: discount factors",
        lambda: kernels.scenario_discount_factors(table.times, nodes, rates, shifts),
        items=table.n_dates * n_scenarios,
    )
    annuity, final = ctx.measure(
        "  step 2: schedule sums",
        lambda: kernels.schedule_sums(table.schedule_start, table.schedule_date_index, factors),
        items=table.n_schedules * n_scenarios,
    )
    ctx.measure(
        "  step 3: bond values, reused output",
        lambda: kernels.bond_values(
            table.schedule_of, table.coupon, table.principal, annuity, final, reused.T
        ),
        items=n * n_scenarios,
    )

    ql = _ql()
    ql.Settings.instance().evaluationDate = _ql_date(ql, SETTLEMENT_DATE)
    peer_bonds = ql_bonds(ql, bonds[:sample], ratios[:sample], SETTLEMENT_DATE)
    _, price_all = _ql_pricer(ql, peer_bonds)
    scenario_curves = [curve.shifted(s) for s in shifts]

    def revalue() -> np.ndarray:
        return np.array([price_all(ql_curve(ql, c, SETTLEMENT_DATE)) for c in scenario_curves])

    peer_prices = ctx.measure(
        "scenario prices (curve per scenario)",
        revalue,
        items=sample * n_scenarios,
        who="QuantLib",
        repeat=max(ctx.repeat // 2, 1),
        extrapolate_to=n * n_scenarios,
    )
    ours = scenario_prices(table, curve, grid)
    agreement = float(np.max(np.abs(ours[:, :sample] - peer_prices)))
    ctx.metric("max |tanpo - QuantLib| on the sample, all scenarios", agreement, "per 100")
    median = ctx.timing("kernel: scenario prices").median_s
    speedup = ctx.compare(
        "scenario revaluation (bond-scenarios/s)",
        "kernel: scenario prices",
        "QuantLib",
        "scenario prices (curve per scenario)",
    )
    ctx.target(f"{n:,} bonds x {n_scenarios} scenarios", median, "<=", 0.1, "s")
    ctx.target("scenario speed-up over QuantLib", speedup, ">=", 200.0, "x")
    ctx.note(
        "Scenarios: 81 parallel shifts (-200..+200bp by 5bp), 6 twists pivoting at 10Y, "
        "the 6 BCBS IRRBB shocks (JPY sizes) and 7 key-rate bumps of 10bp, given at the "
        "MOF tenors and sampled onto the 80 curve nodes. QuantLib builds each shifted "
        "curve and relinks it, then reprices a sample of the bonds; extrapolated."
    )
    ctx.note(
        "'kernel: scenario prices' allocates its 80 MB result on every call, as a caller "
        "gets it; 'reused output' passes out= (the page faults of a fresh result cost "
        "more than the arithmetic on this VM). The target is judged on the first."
    )


@benchmark("valuation.dv01_curve", "100,000 JGBs: curve DV01 and key-rate DV01s, vs QuantLib")
def dv01_curve(ctx: Context) -> None:
    """Exact curve DV01 and per-node key rates, against QuantLib's bumped DV01."""
    bonds, ratios, curve = _setup(ctx, 100_000, 300)
    n, sample = len(bonds), ctx.size(full=2_000, quick=20)
    ctx.param(bonds=n, curve_nodes=curve.n_nodes, quantlib_sample=sample)
    table = resolve_cash_flows(bonds, SETTLEMENT_DATE, ratios)
    dv01(table, curve)
    key_rate_sensitivities(table, curve)
    ours = ctx.measure("kernel: DV01", lambda: dv01(table, curve), items=n)
    ctx.measure("kernel: key-rate DV01s", lambda: key_rate_sensitivities(table, curve), items=n)

    ql = _ql()
    ql.Settings.instance().evaluationDate = _ql_date(ql, SETTLEMENT_DATE)
    peer_bonds = ql_bonds(ql, bonds[:sample], ratios[:sample], SETTLEMENT_DATE)
    spread = ql.SimpleQuote(0.0)
    base = ql.YieldTermStructureHandle(ql_curve(ql, curve, SETTLEMENT_DATE))
    spreaded = ql.ZeroSpreadedTermStructure(base, ql.QuoteHandle(spread))
    engine = ql.DiscountingBondEngine(ql.YieldTermStructureHandle(spreaded))
    for b in peer_bonds:
        b.setPricingEngine(engine)

    def bumped_dv01() -> np.ndarray:
        spread.setValue(-1e-4)
        down = np.array([b.dirtyPrice() for b in peer_bonds])
        spread.setValue(1e-4)
        up = np.array([b.dirtyPrice() for b in peer_bonds])
        result: np.ndarray = (down - up) / 2
        return result

    peer = ctx.measure(
        "DV01 (bump +-1bp, reprice)", bumped_dv01, items=sample, who="QuantLib", extrapolate_to=n
    )
    worst = float(np.max(np.abs(ours[:sample] - peer)))
    ctx.metric("max |tanpo - QuantLib| DV01 on the sample", worst, "per 100")
    speedup = ctx.compare(
        "DV01 (bonds/s)", "kernel: DV01", "QuantLib", "DV01 (bump +-1bp, reprice)"
    )
    ctx.target("DV01 speed-up over QuantLib", speedup, ">=", 200.0, "x")
    ctx.note(
        "tanpo's DV01 is the exact derivative times 1bp (t x DF in place of DF); QuantLib's "
        "is the central difference of two repricings under a +-1bp zero spread. They "
        "differ by the third-order term of the central difference (~1e-7 per 100)."
    )
