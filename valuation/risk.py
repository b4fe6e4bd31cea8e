"""Yield risk of a JGB: DV01, modified duration and convexity on the JSDA compound yield.

All three are exact derivatives of the compound clean price
(:func:`valuation.yields.compound_price_derivatives`, forward-mode differentiation),
taken at the bond's compound yield; the accrued interest does not depend on the
yield, so the dirty price moves exactly as the clean price:

.. math::

    \\mathrm{DV01} = -\\frac{\\partial P}{\\partial y} \\cdot 10^{-4}, \\quad
    D_{mod} = -\\frac{1}{P_{dirty}} \\frac{\\partial P}{\\partial y}, \\quad
    C = \\frac{1}{P_{dirty}} \\frac{\\partial^2 P}{\\partial y^2}

DV01 is per 100 face for a 1bp fall of the compound yield (positive for a long bond).
The tests hold each against a bumped price, as Strata's tests do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from valuation.accrued import accrued_interest
from valuation.jgb import Jgb
from valuation.yields import compound_price_derivatives, compound_yield

BP = 1e-4
"""One basis point as a decimal."""


@dataclass(frozen=True, slots=True)
class YieldRisk:
    """Risk of one bond at one compound yield.

    Parameters
    ----------
    compound_yield
        The yield the derivatives are taken at (decimal).
    dirty_price
        Dirty price per 100 face at that yield.
    dv01
        Price change per 100 face for a 1bp fall of the yield.
    modified_duration
        Years.
    convexity
        Years squared.
    """

    compound_yield: float
    dirty_price: float
    dv01: float
    modified_duration: float
    convexity: float


def yield_risk(jgb: Jgb, settlement_date: date, compound_yield_: float) -> YieldRisk:
    """DV01, modified duration and convexity of ``jgb`` at ``compound_yield_``."""
    clean, d1, d2 = compound_price_derivatives(jgb, settlement_date, compound_yield_)
    dirty = clean + accrued_interest(jgb, settlement_date)
    return YieldRisk(
        compound_yield=compound_yield_,
        dirty_price=dirty,
        dv01=-d1 * BP,
        modified_duration=-d1 / dirty,
        convexity=d2 / dirty,
    )


def yield_risk_at_price(jgb: Jgb, settlement_date: date, clean_price: float) -> YieldRisk:
    """:func:`yield_risk` at the compound yield implied by ``clean_price`` per 100."""
    return yield_risk(jgb, settlement_date, compound_yield(jgb, settlement_date, clean_price))


def dv01(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """DV01 per 100 face of ``jgb`` at ``clean_price`` (1bp of the compound yield)."""
    return yield_risk_at_price(jgb, settlement_date, clean_price).dv01


def modified_duration(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """Modified duration (years) of ``jgb`` at ``clean_price``."""
    return yield_risk_at_price(jgb, settlement_date, clean_price).modified_duration


def convexity(jgb: Jgb, settlement_date: date, clean_price: float) -> float:
    """Convexity (years squared) of ``jgb`` at ``clean_price``."""
    return yield_risk_at_price(jgb, settlement_date, clean_price).convexity
