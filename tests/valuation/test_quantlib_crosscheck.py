"""Curve prices cross-checked against QuantLib, an independent implementation.

For 1,200 seeded JGBs over four settlement dates, each on a random zero curve:
QuantLib's ``ZeroCurve`` (continuous compounding, ``Linear`` on the rate,
``Actual365Fixed``) with ``FixedRateBond`` / ``ZeroCouponBond`` built on the same
unadjusted coupon dates, paid on ``Japan()`` business days (``Following``), must give
the same cash flows and the same dirty price per 100 within 1e-9.

Where QuantLib and tanpo could differ, the test makes them agree on purpose:

* time: QuantLib measures ``Actual365Fixed().yearFraction(reference, date)``, i.e.
  days / 365 from the curve's reference date; we put that date on settlement and the
  curve nodes on whole days, so both sides see the same node times;
* extrapolation: QuantLib extrapolates past the last node flat in the *forward*, tanpo
  flat in the *rate*; the last node (50 years) lies past every cash flow, and a node
  at day 0 carries the first rate, which is tanpo's flat short end;
* coupons: ``Thirty360(BondBasis)`` makes every JGB coupon period (1st, 10th or 20th
  to the same day six months later) exactly 0.5, i.e. ``coupon_rate x 100 / 2``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from benchmarks.data import synthetic_jgbs
from valuation.cashflows import CashFlowTable, resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.inflation import redemption_per_100
from valuation.jgb import BondKind, Jgb
from valuation.pricing import dirty_prices
from valuation.schedule import add_months

ql = pytest.importorskip("QuantLib")

PAYMENT_CALENDAR = ql.Japan()
SETTLEMENTS = (date(2019, 11, 19), date(2021, 3, 1), date(2025, 11, 6), date(2026, 6, 30))
BONDS_PER_SETTLEMENT = 300


def _ql_date(d: date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def _random_curve(rng: np.random.Generator, settlement: date) -> tuple[ZeroCurve, object]:
    days = np.sort(rng.choice(np.arange(1, 41 * 365), size=12, replace=False))
    days = np.concatenate([[0], days, [50 * 365]])
    rates = rng.uniform(-0.005, 0.04, size=days.size)
    rates[0] = rates[1]  # day 0 carries the first rate: tanpo's flat short end
    curve = ZeroCurve(tuple((days / 365.0).tolist()), tuple(rates.tolist()))
    base = _ql_date(settlement)
    ql_curve = ql.ZeroCurve(
        [base + int(d) for d in days],
        rates.tolist(),
        ql.Actual365Fixed(),
        ql.NullCalendar(),
        ql.Linear(),
        ql.Continuous,
        ql.Annual,
    )
    return curve, ql_curve


def _ql_bond(bond: Jgb, table: CashFlowTable, i: int, ratio: float) -> object:
    flows = table.flows(i)
    if bond.kind is BondKind.TBILL:
        return ql.ZeroCouponBond(
            0, PAYMENT_CALENDAR, 100.0, _ql_date(bond.maturity_date), ql.Following, 100.0
        )
    # Unadjusted coupon dates rolled from maturity, preceded by the accrual start.
    count = len(flows)
    dates = [add_months(bond.maturity_date, -6 * k) for k in range(count, -1, -1)]
    schedule = ql.Schedule([_ql_date(d) for d in dates], ql.NullCalendar(), ql.Unadjusted)
    redemption = 100.0
    if bond.kind is BondKind.INFLATION:
        redemption = redemption_per_100(ratio, bond.issue_date)
    return ql.FixedRateBond(
        0,
        100.0,
        schedule,
        [bond.coupon_rate * ratio],
        ql.Thirty360(ql.Thirty360.BondBasis),
        ql.Following,
        redemption,
        ql.Date(),
        PAYMENT_CALENDAR,
    )


@pytest.mark.parametrize("settlement", SETTLEMENTS, ids=str)
def test_dirty_prices_match_quantlib(settlement: date) -> None:
    assert PAYMENT_CALENDAR.isBusinessDay(_ql_date(settlement))
    rng = np.random.default_rng(settlement.toordinal())
    bonds, ratios = synthetic_jgbs(
        BONDS_PER_SETTLEMENT, seed=rng.integers(2**32), settlement_date=settlement
    )
    table = resolve_cash_flows(bonds, settlement, ratios)
    curve, ql_curve = _random_curve(rng, settlement)
    ours = dirty_prices(table, curve)

    ql.Settings.instance().evaluationDate = _ql_date(settlement)
    engine = ql.DiscountingBondEngine(ql.YieldTermStructureHandle(ql_curve))
    worst = 0.0
    for i, bond in enumerate(bonds):
        ratio = 1.0 if np.isnan(ratios[i]) else float(ratios[i])
        ql_bond = _ql_bond(bond, table, i, ratio)
        ql_bond.setPricingEngine(engine)
        ql_flows: dict[date, float] = {}
        for cf in ql_bond.cashflows():
            if not cf.hasOccurred(_ql_date(settlement)):
                d = date(cf.date().year(), cf.date().month(), cf.date().dayOfMonth())
                ql_flows[d] = ql_flows.get(d, 0.0) + cf.amount()
        ours_flows = table.flows(i)
        assert [d for d, _ in ours_flows] == sorted(ql_flows), bond.isin
        assert [a for _, a in ours_flows] == pytest.approx(
            [ql_flows[d] for d in sorted(ql_flows)], abs=1e-12
        ), bond.isin
        diff = abs(ours[i] - ql_bond.dirtyPrice())
        worst = max(worst, diff)
        assert diff < 1e-9, (bond.isin, ours[i], ql_bond.dirtyPrice())
    assert worst < 1e-9


def test_crosscheck_covers_every_kind_and_enough_bonds() -> None:
    kinds = {b.kind for s in SETTLEMENTS[:1] for b in synthetic_jgbs(300, settlement_date=s)[0]}
    assert kinds == set(BondKind)
    assert len(SETTLEMENTS) * BONDS_PER_SETTLEMENT >= 1000
