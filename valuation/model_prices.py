"""Model prices of a universe of JGBs from a MOF par curve (the sample book's prices).

The MOF par yield curve of the valuation date is bootstrapped into a zero curve
(:func:`~valuation.curve.bootstrap_zero_curve`); each bond's dirty price per 100 comes
from :func:`~valuation.pricing.dirty_prices_from_curve` at settlement, its accrued
interest from :func:`~valuation.accrued.accrued_interest` (JSDA rule); the clean price
is then *quoted* as the market does, to 3 decimals, and the dirty price restated as
quote + accrued so that the two always agree exactly.

JGBi are priced in real terms, per 100 of inflation-adjusted principal (as they are
quoted; :mod:`valuation.inflation`): their real cash flows are discounted on the zero
curve lowered by :data:`BREAKEVEN_INFLATION`; market value is then face x index ratio x
dirty / 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from valuation.accrued import accrued_interest
from valuation.curve import ZeroCurve, bootstrap_zero_curve
from valuation.jgb import BondKind
from valuation.mof import read_par_yield_curves
from valuation.paths import data_dir
from valuation.pricing import dirty_prices_from_curve
from valuation.universe import universe_bonds

BREAKEVEN_INFLATION = 0.015
"""Breakeven inflation for pricing JGBi in real terms (configuration, unconfirmed:
the order of the 10-year breakeven implied by JGBi in 2025-26)."""

QUOTE_DECIMALS = 3
"""Clean prices are quoted to 3 decimals per 100 (e.g. 100.225)."""


@dataclass(frozen=True, slots=True)
class BondPrice:
    """A bond's prices per 100 face (per 100 adjusted principal for a JGBi)."""

    clean_price: float
    accrued_interest: float
    dirty_price: float
    index_ratio: float = 1.0


def curve_file(curve_date: date) -> Path:
    """``data/curves/mof_par_<date>.csv``: the committed MOF par curve of ``curve_date``."""
    return data_dir() / "curves" / f"mof_par_{curve_date.isoformat()}.csv"


def zero_curve_of(curve_date: date) -> ZeroCurve:
    """The zero curve bootstrapped from the committed MOF par curve of ``curve_date``."""
    par = read_par_yield_curves(curve_file(curve_date)).par_curve(curve_date)
    return bootstrap_zero_curve(par.tenor_years, par.par_yields)


def price_universe(
    universe: pl.DataFrame, settlement_date: date, curve_date: date
) -> dict[str, BondPrice]:
    """Prices of every bond of ``universe`` (a :func:`~valuation.universe.generate_universe`
    frame) at ``settlement_date`` on the MOF curve of ``curve_date``, by ISIN."""
    curve = zero_curve_of(curve_date)
    real_curve = curve.shifted(-BREAKEVEN_INFLATION)
    bonds = universe_bonds(universe)
    ratios = dict(zip(universe["isin"], universe["index_ratio"], strict=True))
    nominal = [b for b in bonds if b.kind is not BondKind.INFLATION]
    real = [b for b in bonds if b.kind is BondKind.INFLATION]
    dirty = dict(
        zip(
            [b.isin for b in nominal],
            dirty_prices_from_curve(nominal, settlement_date, curve),
            strict=True,
        )
    )
    if real:
        # Priced with their index ratios (so the par floor applies), quoted per 100 of
        # inflation-adjusted principal as the market quotes them (as `tanpo value`).
        real_ratios = np.array([ratios[b.isin] for b in real], dtype=np.float64)
        real_prices = (
            dirty_prices_from_curve(real, settlement_date, real_curve, real_ratios) / real_ratios
        )
        dirty.update(zip([b.isin for b in real], real_prices, strict=True))
    out: dict[str, BondPrice] = {}
    for bond in bonds:
        accrued = accrued_interest(bond, settlement_date)
        clean = round(float(dirty[bond.isin]) - accrued, QUOTE_DECIMALS)
        out[bond.isin] = BondPrice(
            clean_price=clean,
            accrued_interest=accrued,
            dirty_price=round(clean + accrued, 7),
            index_ratio=float(ratios[bond.isin]),
        )
    return out
