"""ISIN check digits (ISO 6166 / SICC)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valuation.errors import InputError
from valuation.isin import check_isin, is_valid_isin, isin_check_digit, make_isin


@pytest.mark.parametrize("isin", ["JP1103451GC0", "JP1300041009", "US0378331005", "JP3633400001"])
def test_known_valid(isin: str) -> None:
    # DOMAIN.md section 3 (JGBs); Apple and Toyota as published ISINs
    assert is_valid_isin(isin)


def test_wrong_digit_named() -> None:
    with pytest.raises(InputError, match="expected 0"):
        check_isin("JP1103451GC1", "bonds[0]")
    with pytest.raises(InputError, match="not an ISIN"):
        check_isin("JP110345", "bonds[0]")
    with pytest.raises(ValueError):
        isin_check_digit("jp1103451gc")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=9, max_size=9))
def test_made_isins_are_valid_and_one_changed_digit_is_not(code: str) -> None:
    isin = make_isin("JP" + code)
    assert is_valid_isin(isin)
    wrong = isin[:-1] + str((int(isin[-1]) + 1) % 10)
    assert not is_valid_isin(wrong)
