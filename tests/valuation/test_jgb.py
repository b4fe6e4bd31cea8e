"""The Jgb definition refuses what a term sheet cannot say."""

from __future__ import annotations

from datetime import date

import pytest

from valuation.errors import InputError
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb

ISIN = make_isin("JP110380100")


def test_kind_parser() -> None:
    assert BondKind.parse(" Fixed ", "bonds[0]") is BondKind.FIXED
    with pytest.raises(InputError, match="expected one of fixed, tbill, inflation"):
        BondKind.parse("floater", "bonds[0]")
    assert [k.code for k in BondKind] == [0, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"isin": "JP1103801PC4"}, "isin"),
        ({"coupon_rate": 1.7}, "coupon_rate"),
        ({"coupon_rate": -0.01}, "coupon_rate"),
        ({"kind": BondKind.TBILL}, "coupon_rate"),
        ({"issue_date": date(2036, 1, 1)}, "issue_date"),
    ],
)
def test_bad_definitions(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "isin": ISIN,
        "kind": BondKind.FIXED,
        "coupon_rate": 0.017,
        "maturity_date": date(2035, 9, 20),
    }
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        Jgb(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_check_settlement() -> None:
    bond = Jgb(ISIN, BondKind.FIXED, 0.017, date(2035, 9, 20), date(2025, 10, 3))
    assert bond.check_settlement(date(2025, 11, 6)) == date(2025, 11, 6)
    with pytest.raises(InputError, match="maturity_date"):
        bond.check_settlement(date(2035, 9, 20))
    with pytest.raises(InputError, match="issue_date"):
        bond.check_settlement(date(2025, 10, 2))
    assert bond.coupon == pytest.approx(1.7)


def test_settlement_at_most_50_years_before_maturity() -> None:
    # A 40-year bond settles on its issue day; a typo (2305 for 2035) does not.
    forty = Jgb(ISIN, BondKind.FIXED, 0.017, date(2065, 3, 20))
    assert forty.check_settlement(date(2025, 3, 21)) == date(2025, 3, 21)
    typo = Jgb(ISIN, BondKind.FIXED, 0.017, date(2305, 9, 20))
    with pytest.raises(InputError, match="more than 50 years after settlement") as info:
        typo.check_settlement(date(2025, 11, 6))
    assert info.value.field == "maturity_date"
