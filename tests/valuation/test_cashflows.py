"""The resolved cash-flow table: dates, amounts, CSR layout and input errors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from benchmarks.data import synthetic_jgbs
from valuation.cashflows import CashFlowTable, payment_date, resolve_cash_flows
from valuation.errors import MultipleInputError
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb
from valuation.schedule import coupon_dates

SETTLEMENT = date(2025, 11, 6)


def _bond(
    serial: int,
    kind: BondKind = BondKind.FIXED,
    coupon_rate: float = 0.017,
    maturity: date = date(2035, 9, 20),
    issue: date | None = None,
) -> Jgb:
    return Jgb(make_isin(f"JP1{serial:08d}"), kind, coupon_rate, maturity, issue)


def test_fixed_bond_pays_half_coupons_then_principal() -> None:
    # 10Y #380 (1.7%, maturity 2035-09-20; MOF): 20 coupons left after 2025-11-06.
    table = resolve_cash_flows([_bond(1)], SETTLEMENT)
    flows = table.flows(0)
    assert len(flows) == 20
    assert [a for _, a in flows[:-1]] == pytest.approx([0.85] * 19, abs=1e-15)
    assert flows[-1][1] == pytest.approx(100.85, abs=1e-12)
    # 2026-03-20 is Vernal Equinox Day: paid Monday 23rd; 2026-09-20 is a Sunday and
    # 21-23 are holidays: Thursday 24th; 2027-03-20 (Sat), 21st (Equinox), 22nd
    # (substitute holiday): Tuesday 23rd. 2035-09-20 is a Thursday.
    assert [d for d, _ in flows[:3]] == [date(2026, 3, 23), date(2026, 9, 24), date(2027, 3, 23)]
    assert flows[-1][0] == date(2035, 9, 20)
    days = (table.payment_dates - np.datetime64(SETTLEMENT, "D")).astype(int)
    assert np.array_equal(table.times, days / 365.0)


@pytest.mark.parametrize(
    ("due", "paid"),
    [
        (date(2025, 3, 20), date(2025, 3, 21)),  # Vernal Equinox Day (Thu)
        (date(2026, 9, 20), date(2026, 9, 24)),  # Sun, Respect for the Aged, citizens', Equinox
        (date(2026, 1, 1), date(2026, 1, 5)),  # New Year: 1-3 Jan closed, 4th a Sunday
        (date(2025, 12, 31), date(2026, 1, 5)),  # 31 Dec is a bank holiday
        (date(2026, 5, 20), date(2026, 5, 20)),  # a Wednesday
    ],
)
def test_payment_rolls_to_the_next_tokyo_business_day(due: date, paid: date) -> None:
    assert payment_date(due) == paid


def test_tbill_pays_one_flow_of_100_on_the_rolled_maturity() -> None:
    # 2026-02-07 is a Saturday.
    table = resolve_cash_flows([_bond(2, BondKind.TBILL, 0.0, date(2026, 2, 7))], SETTLEMENT)
    assert table.flows(0) == [(date(2026, 2, 9), 100.0)]
    assert table.times[0] == 95 / 365


def test_coupon_on_settlement_date_belongs_to_the_seller() -> None:
    bond = _bond(3, maturity=date(2026, 5, 20))
    assert len(resolve_cash_flows([bond], date(2025, 11, 19)).flows(0)) == 2
    assert len(resolve_cash_flows([bond], date(2025, 11, 20)).flows(0)) == 1


def test_bond_issued_after_settlement_pays_coupons_after_issue_only() -> None:
    bond = _bond(4, maturity=date(2030, 12, 20), issue=date(2026, 1, 5))
    table = resolve_cash_flows([bond], SETTLEMENT)
    assert table.flows(0)[0][0] == date(2026, 6, 22)  # 2026-06-20 is a Saturday
    assert len(table.flows(0)) == 10
    # An outstanding bond of the same maturity keeps its own schedule (2025-12-20 too),
    # whichever comes first in the book.
    outstanding = _bond(5, maturity=date(2030, 12, 20))
    for book in ([outstanding, bond], [bond, outstanding]):
        table = resolve_cash_flows(book, SETTLEMENT)
        counts = {b.isin: len(table.flows(i)) for i, b in enumerate(book)}
        assert counts == {outstanding.isin: 11, bond.isin: 10}


@pytest.mark.parametrize(
    ("ratio", "issue", "principal"),
    [
        (1.05, date(2016, 5, 10), 105.0),  # above par: principal scales
        (0.98, date(2016, 5, 10), 100.0),  # floor: issues since FY2013 redeem at par
        (0.98, None, 100.0),  # unknown issue date: every JGBi outstanding has the floor
        (0.98, date(2008, 6, 10), 98.0),  # series before 2013: no floor
    ],
)
def test_jgbi_scales_by_index_ratio_with_par_floor(
    ratio: float, issue: date | None, principal: float
) -> None:
    bond = _bond(5, BondKind.INFLATION, 0.001, date(2026, 3, 10), issue)
    table = resolve_cash_flows([bond], SETTLEMENT, [ratio])
    (flow,) = table.flows(0)
    assert flow[1] == pytest.approx(0.05 * ratio + principal, abs=1e-12)


def test_bonds_share_unique_payment_dates() -> None:
    bonds = [_bond(10, coupon_rate=0.01), _bond(11, coupon_rate=0.02)]
    bonds.append(_bond(12, maturity=date(2030, 9, 20)))
    table = resolve_cash_flows(bonds, SETTLEMENT)
    assert table.n_dates == 20
    assert table.n_schedules == 2
    assert table.n_flows == 20 + 20 + 10
    assert table.schedule_of.tolist() == [0, 0, 1]
    rows = table.rows()
    assert rows.bond_start.tolist() == [0, 20, 40, 50]
    assert np.array_equal(rows.date_index[:20], rows.date_index[20:40])
    assert rows.amount[19] == pytest.approx(100.5) and rows.amount[39] == pytest.approx(101.0)
    assert np.all(np.diff(table.payment_dates.astype(int)) > 0)


def test_table_matches_a_bond_by_bond_construction() -> None:
    bonds, ratios = synthetic_jgbs(400, seed=7)
    table = resolve_cash_flows(bonds, SETTLEMENT, ratios)
    assert table.isins == tuple(b.isin for b in bonds)
    for i, bond in enumerate(bonds):
        if bond.kind is BondKind.TBILL:
            dates = [bond.maturity_date]
        else:
            dates = coupon_dates(bond.maturity_date, SETTLEMENT, bond.issue_date)
        ratio = 1.0 if np.isnan(ratios[i]) else ratios[i]
        principal = 100 * (max(ratio, 1.0) if bond.kind is BondKind.INFLATION else 1.0)
        expected = [(payment_date(d), bond.coupon_rate * 50 * ratio) for d in dates]
        expected[-1] = (expected[-1][0], expected[-1][1] + principal)
        got = table.flows(i)
        assert [d for d, _ in got] == [d for d, _ in expected], bond.isin
        assert [a for _, a in got] == pytest.approx([a for _, a in expected], abs=1e-12)


def test_arrays_are_read_only() -> None:
    table = resolve_cash_flows([_bond(20)], SETTLEMENT)
    with pytest.raises(ValueError, match="read-only"):
        table.coupon[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        table.times[0] = 0.0


def test_empty_book_resolves_to_an_empty_table() -> None:
    table = resolve_cash_flows([], SETTLEMENT)
    assert (table.n_bonds, table.n_dates, table.n_flows, table.n_schedules) == (0, 0, 0, 0)
    assert table.rows().bond_start.tolist() == [0]


def test_every_bad_bond_is_named_with_its_field() -> None:
    matured = _bond(30, maturity=date(2025, 9, 20))
    jgbi = _bond(31, BondKind.INFLATION, 0.001, date(2030, 3, 10))
    fixed = _bond(32)
    with pytest.raises(MultipleInputError) as caught:
        resolve_cash_flows([fixed, matured, jgbi, fixed], SETTLEMENT, [None, None, None, 1.2])
    found = [(e.record, e.field) for e in caught.value.errors]
    assert found == [
        (f"bonds[1] ({matured.isin})", "maturity_date"),
        (f"bonds[2] ({jgbi.isin})", "index_ratio"),
        (f"bonds[3] ({fixed.isin})", "index_ratio"),
    ]


@pytest.mark.parametrize("ratio", [0.0, -1.0, float("inf")])
def test_jgbi_index_ratio_must_be_positive(ratio: float) -> None:
    jgbi = _bond(33, BondKind.INFLATION, 0.001, date(2030, 3, 10))
    with pytest.raises(MultipleInputError, match="index_ratio"):
        resolve_cash_flows([jgbi], SETTLEMENT, [ratio])


def test_index_ratios_must_align_with_bonds() -> None:
    with pytest.raises(ValueError, match="2 entries for 1 bonds"):
        resolve_cash_flows([_bond(34)], SETTLEMENT, [None, None])


def test_table_checks_its_shape() -> None:
    good = resolve_cash_flows([_bond(35), _bond(36, maturity=date(2030, 9, 20))], SETTLEMENT)
    fields = {
        "settlement_date": SETTLEMENT,
        "isins": good.isins,
        "payment_dates": good.payment_dates.copy(),
        "times": good.times.copy(),
        "schedule_start": good.schedule_start.copy(),
        "schedule_date_index": good.schedule_date_index.copy(),
        "schedule_of": good.schedule_of.copy(),
        "coupon": good.coupon.copy(),
        "principal": good.principal.copy(),
    }
    CashFlowTable(**fields)
    bad = [
        ("schedule_start", np.array([0, 20, 20]), "each schedule a date"),
        ("schedule_date_index", good.schedule_date_index[:-1].copy(), "schedule_start"),
        ("schedule_date_index", good.schedule_date_index + 5, "index payment_dates"),
        ("schedule_of", np.array([0, 2]), "index schedules"),
        ("coupon", np.zeros(3), "one entry per bond"),
        ("times", good.times[:-1].copy(), "one entry per date"),
    ]
    for name, value, message in bad:
        with pytest.raises(ValueError, match=message):
            CashFlowTable(**{**fields, name: value})
