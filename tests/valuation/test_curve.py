"""Zero curves: node checks, interpolation, and the bootstrap from the MOF par curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.curve import ZeroCurve, bootstrap_zero_curve, par_yield
from valuation.errors import InputError

MOF_TENORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40)
# MOF JGB par yield curve rows (jgbcme_all.csv, %), verbatim from the published file:
# 2025/11/6 is the date of the `tanpo value` example, 2016/7/20 has negative rates out
# to 10 years, 2026/6/30 is the file's last row.
MOF_CSV_ROWS = (
    "2025/11/6,0.737,0.941,1.017,1.157,1.253,1.335,1.428,1.517,1.608,1.694,2.245,2.633,3.005,3.105,3.35",
    "2016/7/20,-0.334,-0.327,-0.335,-0.336,-0.33,-0.352,-0.356,-0.323,-0.293,-0.242,-0.058,0.149,0.187,0.208,0.251",
    "2026/6/30,1.165,1.382,1.531,1.755,1.937,2.075,2.231,2.398,2.553,2.69,3.271,3.625,3.883,3.873,3.792",
)
MOF_ROWS = {row.split(",")[0]: tuple(float(v) for v in row.split(",")[1:]) for row in MOF_CSV_ROWS}


def _par_bond_price(curve: ZeroCurve, coupon: float, n: int) -> float:
    """Semi-annual bond of n half years paying `coupon` (decimal), priced per 100."""
    grid = np.arange(1, n + 1) / 2.0
    discount = curve.discount_factor(grid)
    return float(100 * coupon / 2 * discount.sum() + 100 * discount[-1])


@pytest.mark.parametrize("day", sorted(MOF_ROWS))
def test_bootstrapped_curve_reprices_every_par_bond_to_100(day: str) -> None:
    par = [y / 100 for y in MOF_ROWS[day]]
    curve = bootstrap_zero_curve(MOF_TENORS, par)
    assert curve.tenors == tuple(k / 2 for k in range(1, 81))
    interpolated = np.interp(curve.tenors, MOF_TENORS, par)
    for k, coupon in enumerate(interpolated, start=1):
        assert abs(_par_bond_price(curve, coupon, k) - 100.0) < 1e-10, (day, k / 2)
    for tenor, y in zip(MOF_TENORS, par, strict=True):
        assert par_yield(curve, tenor) == pytest.approx(y, abs=1e-13)


def test_bootstrap_of_a_flat_par_curve_is_the_continuous_equivalent() -> None:
    # Flat 2% semi-annual par curve: zero rate = 2 ln(1 + 0.02/2) at every tenor.
    curve = bootstrap_zero_curve([1.0, 10.0], [0.02, 0.02])
    assert np.allclose(curve.zero_rates, 2 * math.log(1.01), rtol=0, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.005, 0.04),
    st.floats(-0.01, 0.015),
    st.lists(st.floats(-0.002, 0.002), min_size=len(MOF_TENORS), max_size=len(MOF_TENORS)),
)
def test_bootstrap_reprices_any_reasonable_par_curve(
    level: float, slope: float, noise: list[float]
) -> None:
    par = [level + slope * t / 40 + e for t, e in zip(MOF_TENORS, noise, strict=True)]
    curve = bootstrap_zero_curve(MOF_TENORS, par)
    interpolated = np.interp(curve.tenors, MOF_TENORS, par)
    for k in (1, 2, 7, 20, 41, 80):
        assert abs(_par_bond_price(curve, interpolated[k - 1], k) - 100.0) < 1e-10


def test_bootstrap_refuses_percentages_and_short_curves() -> None:
    with pytest.raises(InputError, match=r"par_yields\[0\]\.rate") as caught:
        bootstrap_zero_curve(MOF_TENORS, MOF_ROWS["2026/6/30"])
    assert caught.value.record == "par curve"
    with pytest.raises(InputError, match=r"at least 0\.5 years"):
        bootstrap_zero_curve([0.25], [0.01])


def test_zero_rate_is_linear_inside_and_flat_outside() -> None:
    curve = ZeroCurve((1.0, 2.0, 5.0), (0.01, 0.02, 0.05))
    assert curve.zero_rate([0.0, 0.5, 1.0, 1.5, 2.0, 3.5, 5.0, 30.0]) == pytest.approx(
        [0.01, 0.01, 0.01, 0.015, 0.02, 0.035, 0.05, 0.05], abs=1e-15
    )
    assert curve.discount_factor(3.5) == pytest.approx(math.exp(-0.035 * 3.5), rel=1e-15)


def test_curve_from_points_and_shift() -> None:
    curve = ZeroCurve.from_points([(0.5, 0.004), (10.0, 0.017)])
    assert curve.tenors == (0.5, 10.0)
    assert curve.shifted(0.001).zero_rates == pytest.approx((0.005, 0.018), abs=1e-16)
    assert curve.shifted([0.0, -0.001]).zero_rates == pytest.approx((0.004, 0.016), abs=1e-16)
    with pytest.raises(AttributeError):
        curve.tenors = (1.0,)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("tenors", "rates", "field", "message"),
    [
        ((1.0, 1.0), (0.01, 0.02), "zero_rates[1].tenor_years", "ascend strictly"),
        ((2.0, 1.0), (0.01, 0.02), "zero_rates[1].tenor_years", "ascend strictly"),
        ((-1.0,), (0.01,), "zero_rates[0].tenor_years", ">= 0"),
        ((math.nan,), (0.01,), "zero_rates[0].tenor_years", "finite"),
        ((1.0,), (math.inf,), "zero_rates[0].rate", "decimal rate"),
        ((1.0, 2.0), (0.01, 1.7), "zero_rates[1].rate", "decimal rate"),
        ((1.0, 2.0), (0.01,), "zero_rates", "1 rates for 2 tenors"),
        ((), (), "zero_rates", "at least one node"),
    ],
)
def test_bad_nodes_name_the_node_and_field(
    tenors: tuple[float, ...], rates: tuple[float, ...], field: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        ZeroCurve(tenors, rates)
    assert (caught.value.record, caught.value.field) == ("curve", field)


def test_par_yield_needs_whole_half_years() -> None:
    curve = ZeroCurve((1.0,), (0.01,))
    with pytest.raises(ValueError, match="half years"):
        par_yield(curve, 0.7)
