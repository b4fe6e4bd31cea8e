"""Prices and curve risk of a book of JGBs from a zero curve: the API others call.

Two levels:

* **book level** (``Sequence[Jgb]`` + settlement date): :func:`dirty_prices_from_curve`,
  :func:`scenario_dirty_prices`, :func:`curve_dv01`, :func:`key_rate_dv01`. Each
  resolves the book, then prices it.
* **table level** (a :class:`~valuation.cashflows.CashFlowTable` resolved once with
  :func:`~valuation.cashflows.resolve_cash_flows`): :func:`dirty_prices`,
  :func:`scenario_prices`, :func:`dv01`, :func:`key_rate_sensitivities`. Use these when
  the same book is priced again and again (the optimizer, intraday re-runs): resolving
  costs far more than pricing.

Prices are dirty, per 100 face: :math:`P = \\sum_i a_i e^{-r(t_i) t_i}` over the bond's
remaining payments (:mod:`valuation.cashflows`), :math:`t_i` = Act/365F days from
settlement / 365, :math:`r` the curve's zero rate (:mod:`valuation.curve`). DV01 is the
price gain per 100 face when zero rates fall by 1bp, computed exactly (not bumped):
:math:`\\mathrm{DV01} = 10^{-4} \\sum_i a_i t_i e^{-r(t_i) t_i}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

from valuation import kernels
from valuation.cashflows import CashFlowTable, resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.jgb import Jgb
from valuation.scenarios import BP, ScenarioGrid

FloatArray = npt.NDArray[np.float64]
IndexRatios = Sequence[float | None] | FloatArray | None


def _values(table: CashFlowTable, factors: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """``(n_bonds, n_columns)``: each bond's flows weighted by each column of ``factors``."""
    annuity, final = kernels.schedule_sums(table.schedule_start, table.schedule_date_index, factors)
    if out is None:
        out = np.empty((table.n_bonds, factors.shape[1]))
    kernels.bond_values(table.schedule_of, table.coupon, table.principal, annuity, final, out)
    return out


def dirty_prices(table: CashFlowTable, curve: ZeroCurve) -> FloatArray:
    """Dirty price per 100 face of every bond in ``table``, ``(n_bonds,)``."""
    factors = kernels.discount_factors(table.times, curve.node_times, curve.node_rates)
    return _values(table, factors.reshape(-1, 1))[:, 0]


def scenario_prices(
    table: CashFlowTable, curve: ZeroCurve, grid: ScenarioGrid, out: FloatArray | None = None
) -> FloatArray:
    """Dirty prices under every scenario of ``grid``, ``(n_scenarios, n_bonds)``.

    Row ``s`` is the book priced from ``curve`` with its node rates moved by
    ``grid.node_shifts(curve)[s]``. The result is a transposed (Fortran-ordered) view
    of the kernel's bond-major output; ``np.ascontiguousarray`` it if rows must be
    contiguous.

    ``out``: an array a previous call returned (same shape), overwritten instead of
    allocating a new one; at 100,000 bonds x 100 scenarios a fresh 80 MB result costs
    more in page faults than the pricing itself.
    """
    factors = kernels.scenario_discount_factors(
        table.times, curve.node_times, curve.node_rates, grid.node_shifts(curve)
    )
    by_bond = None
    if out is not None:
        if out.shape != (grid.n_scenarios, table.n_bonds) or not out.T.flags.c_contiguous:
            raise ValueError(
                f"out must be a ({grid.n_scenarios}, {table.n_bonds}) array returned by "
                "scenario_prices (Fortran-ordered)"
            )
        by_bond = out.T
    return _values(table, factors, by_bond).T


def dv01(table: CashFlowTable, curve: ZeroCurve) -> FloatArray:
    """Curve DV01 per 100 face, ``(n_bonds,)``: the price gain if every zero rate falls 1bp.

    Exact derivative times 1bp: :math:`10^{-4}\\sum_i a_i t_i DF(t_i)` (positive for
    a bond).
    """
    weighted = kernels.time_weighted_discount(table.times, curve.node_times, curve.node_rates)
    result: FloatArray = _values(table, weighted.reshape(-1, 1))[:, 0] * BP
    return result


def key_rate_sensitivities(
    table: CashFlowTable, curve: ZeroCurve, key_tenors: Sequence[float] | None = None
) -> FloatArray:
    """Key-rate DV01s per 100 face, ``(n_bonds, n_keys)``.

    Without ``key_tenors`` the keys are the curve's nodes: column ``k`` is the price gain
    if node ``k``'s zero rate alone falls 1bp (the rates in between move with the linear
    interpolation). With ``key_tenors`` (e.g. 1, 2, 5, 10, 20, 30, 40 on an 80-node
    bootstrapped curve) key ``j`` moves every node by Ho's triangular key-rate shift,
    linear between the neighbouring key tenors and flat outside them
    (:func:`~valuation.scenarios.key_rate_grid` sampled at the nodes), so the columns
    are the node sensitivities times those weights. Each row sums to :func:`dv01`.
    """
    weighted = kernels.key_rate_weights(table.times, curve.node_times, curve.node_rates)
    by_node = _values(table, weighted) * BP
    if key_tenors is None:
        return by_node
    keys = np.asarray(key_tenors, dtype=np.float64)
    if keys.ndim != 1 or keys.size == 0 or np.any(np.diff(keys) <= 0):
        raise ValueError(f"key_tenors must ascend strictly: {key_tenors!r}")
    # weights[k, j]: how far node k moves when key j moves by one.
    weights = np.column_stack(
        [np.interp(curve.node_times, keys, unit) for unit in np.eye(keys.size)]
    )
    result: FloatArray = by_node @ weights
    return result


def dirty_prices_from_curve(
    bonds: Sequence[Jgb],
    settlement_date: date,
    curve: ZeroCurve,
    index_ratios: IndexRatios = None,
) -> FloatArray:
    """Dirty price per 100 face of each bond from ``curve``, in input order.

    Parameters
    ----------
    bonds
        The bonds; all must mature after ``settlement_date``.
    settlement_date
        Times are Act/365F from this date; only later coupon dates count.
    curve
        Zero curve whose tenors are years from ``settlement_date``.
    index_ratios
        Per bond (aligned with ``bonds``): the JGBi index ratio, ``None``/NaN for the
        other kinds. Required when the book holds a JGBi.

    Raises
    ------
    MultipleInputError
        Naming every bad bond and field (see
        :func:`~valuation.cashflows.resolve_cash_flows`).
    """
    return dirty_prices(resolve_cash_flows(bonds, settlement_date, index_ratios), curve)


def scenario_dirty_prices(
    bonds: Sequence[Jgb],
    settlement_date: date,
    curve: ZeroCurve,
    grid: ScenarioGrid,
    index_ratios: IndexRatios = None,
) -> FloatArray:
    """Dirty prices per 100 face under each scenario, ``(n_scenarios, n_bonds)``."""
    return scenario_prices(resolve_cash_flows(bonds, settlement_date, index_ratios), curve, grid)


def curve_dv01(
    bonds: Sequence[Jgb],
    settlement_date: date,
    curve: ZeroCurve,
    index_ratios: IndexRatios = None,
) -> FloatArray:
    """Curve DV01 per 100 face of each bond (price gain for a 1bp fall in zero rates)."""
    return dv01(resolve_cash_flows(bonds, settlement_date, index_ratios), curve)


def key_rate_dv01(
    bonds: Sequence[Jgb],
    settlement_date: date,
    curve: ZeroCurve,
    index_ratios: IndexRatios = None,
    key_tenors: Sequence[float] | None = None,
) -> FloatArray:
    """Key-rate DV01s per 100 face, ``(n_bonds, n_keys)`` (keys: the curve's nodes, or
    ``key_tenors``; see :func:`key_rate_sensitivities`); rows sum to DV01."""
    table = resolve_cash_flows(bonds, settlement_date, index_ratios)
    return key_rate_sensitivities(table, curve, key_tenors)
