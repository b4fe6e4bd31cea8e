"""JGBi reference index, index ratio and the deflation floor."""

from __future__ import annotations

from datetime import date

import pytest

from valuation.errors import InputError
from valuation.inflation import (
    CpiSeries,
    adjusted_principal,
    base_index,
    check_index_ratio,
    index_ratio,
    redemption_per_100,
    reference_index,
)

CPI = CpiSeries({(2025, 2): 109.60, (2025, 3): 109.80, (2025, 9): 111.40, (2025, 10): 112.10})


def test_reference_index_interpolates_by_day_between_the_10ths() -> None:
    # 10 Dec -> Sep CPI, 10 Jan -> Oct CPI; 31 days between
    assert float(reference_index(CPI, date(2025, 12, 10))) == pytest.approx(111.40)
    assert float(reference_index(CPI, date(2025, 12, 25))) == pytest.approx(
        round(111.40 + 0.70 * 15 / 31, 3)
    )
    # before the 10th the window is the previous month's: 5 Jan 2026 -> 26/31 of the way
    assert float(reference_index(CPI, date(2026, 1, 5))) == round(111.40 + 0.70 * 26 / 31, 3)


def test_index_ratio_rounded_to_5_decimals() -> None:
    # base: reference index on 10 May 2025 = Feb 2025 CPI = 109.60
    assert float(base_index(CPI, date(2025, 5, 12))) == pytest.approx(109.60)
    # 112.032 / 109.60 = 1.0221897... -> 1.02219
    assert index_ratio(CPI, date(2025, 5, 12), date(2026, 1, 7)) == 1.02219


def test_missing_cpi_names_the_month() -> None:
    with pytest.raises(InputError, match="2024-06"):
        reference_index(CPI, date(2024, 9, 15))


def test_principal_and_floor() -> None:
    assert adjusted_principal(100_000_000, 1.02219) == pytest.approx(102_219_000)
    assert redemption_per_100(0.98, date(2015, 3, 10)) == 100.0  # floored since 2013
    assert redemption_per_100(0.98, date(2008, 6, 10)) == pytest.approx(98.0)  # no floor
    assert redemption_per_100(1.05, date(2015, 3, 10)) == pytest.approx(105.0)


def test_ratio_validation() -> None:
    assert check_index_ratio(1.02219, "bonds[0]") == 1.02219
    for bad in (0, -1.0, True, "1.0"):
        with pytest.raises(InputError, match="index_ratio"):
            check_index_ratio(bad, "bonds[0]")
