"""Zero curves: continuously compounded zero rates at tenors, and a bootstrap from par.

A :class:`ZeroCurve` is a set of nodes ``(tenor in years, zero rate)``; between nodes the
zero rate is linear in time, outside them it is flat:

.. math::

    r(t) = r_j + (t - t_j) \\frac{r_{j+1} - r_j}{t_{j+1} - t_j},
    \\qquad DF(t) = e^{-r(t)\\, t},

with :math:`t` in Act/365F years from settlement (days / 365). This is QuantLib's
``ZeroCurve(..., Actual365Fixed(), Linear(), Continuous)`` inside the nodes
(QuantLib extrapolates past the last node flat in the *forward*, not the rate; the
cross-check keeps its flows inside the nodes).

:func:`bootstrap_zero_curve` turns the Ministry of Finance par yield curve (constant
maturity par yields of semi-annual coupon bonds, ``jgbcme_all.csv``) into a zero curve.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from valuation.errors import InputError

FloatArray = npt.NDArray[np.float64]

MAX_ABS_RATE = 1.0
"""Rates are decimals; an absolute rate above 100% is taken for a percent typed as a
decimal (1.7 for 1.7%) and refused."""


def _check_nodes(
    tenors: Sequence[float], rates: Sequence[float], record: str, rate_field: str
) -> None:
    if len(tenors) != len(rates):
        raise InputError(record, rate_field, f"{len(rates)} rates for {len(tenors)} tenors")
    if len(tenors) == 0:
        raise InputError(record, rate_field, "a curve needs at least one node")
    previous = -math.inf
    for i, (tenor, rate) in enumerate(zip(tenors, rates, strict=True)):
        if not (math.isfinite(tenor) and tenor >= 0.0):
            raise InputError(
                record, f"{rate_field}[{i}].tenor_years", f"{tenor!r} must be finite and >= 0"
            )
        if tenor <= previous:
            raise InputError(
                record,
                f"{rate_field}[{i}].tenor_years",
                f"{tenor!r} is not after {previous!r}; tenors must ascend strictly",
            )
        previous = tenor
        if not (math.isfinite(rate) and abs(rate) <= MAX_ABS_RATE):
            raise InputError(
                record,
                f"{rate_field}[{i}].rate",
                f"{rate!r} is not a decimal rate (0.004 for 0.4%)",
            )


@dataclass(frozen=True, slots=True)
class ZeroCurve:
    """A zero curve: continuously compounded zero rates at tenors (years).

    Parameters
    ----------
    tenors
        Node times in Act/365F years from settlement, ascending strictly, >= 0.
    zero_rates
        Continuously compounded zero rate at each node, as decimals (0.004).

    Linear interpolation on the rate in time, flat extrapolation on both sides.
    Nodes are checked like rateslib's (sorted, finite); a bad node raises an
    :class:`InputError` naming ``curve`` and ``zero_rates[i].tenor_years`` or
    ``zero_rates[i].rate`` (the ``tanpo value`` input fields).
    """

    tenors: tuple[float, ...]
    zero_rates: tuple[float, ...]

    def __post_init__(self) -> None:
        tenors = tuple(float(t) for t in self.tenors)
        rates = tuple(float(r) for r in self.zero_rates)
        _check_nodes(tenors, rates, "curve", "zero_rates")
        object.__setattr__(self, "tenors", tenors)
        object.__setattr__(self, "zero_rates", rates)

    @classmethod
    def from_points(cls, points: Iterable[tuple[float, float]]) -> ZeroCurve:
        """A curve from ``(tenor_years, rate)`` pairs."""
        pairs = list(points)
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    @property
    def node_times(self) -> FloatArray:
        """Node tenors as a fresh ``float64`` array (kernel input)."""
        return np.array(self.tenors, dtype=np.float64)

    @property
    def node_rates(self) -> FloatArray:
        """Node zero rates as a fresh ``float64`` array (kernel input)."""
        return np.array(self.zero_rates, dtype=np.float64)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.tenors)

    def zero_rate(self, t: npt.ArrayLike) -> FloatArray:
        """Interpolated zero rate at time(s) ``t`` (years)."""
        return np.interp(np.asarray(t, dtype=np.float64), self.node_times, self.node_rates)

    def discount_factor(self, t: npt.ArrayLike) -> FloatArray:
        """Discount factor :math:`e^{-r(t)t}` at time(s) ``t`` (years)."""
        times = np.asarray(t, dtype=np.float64)
        return np.exp(-self.zero_rate(times) * times)

    def shifted(self, shifts: npt.ArrayLike) -> ZeroCurve:
        """This curve with every node rate moved by ``shifts`` (a scalar or one per node)."""
        moved = self.node_rates + np.broadcast_to(np.asarray(shifts, float), (self.n_nodes,))
        return ZeroCurve(self.tenors, tuple(moved.tolist()))


COUPONS_PER_YEAR = 2
"""JGB coupons are semi-annual; the MOF par curve is a curve of semi-annual par bonds."""


def bootstrap_zero_curve(
    tenors: Sequence[float] | FloatArray, par_yields: Sequence[float] | FloatArray
) -> ZeroCurve:
    """Bootstrap a zero curve from a par yield curve of semi-annual coupon bonds.

    Parameters
    ----------
    tenors
        Par curve tenors in years, ascending (MOF: 1, 2, ..., 10, 15, 20, 25, 30, 40).
    par_yields
        Par yields as decimals (0.01694 for the MOF's 1.694).

    Returns
    -------
    ZeroCurve
        Nodes at every half year :math:`t_k = k/2` up to the last par tenor.

    Notes
    -----
    The MOF curve gives the coupon :math:`c(T)` at which a semi-annual bond of maturity
    :math:`T` prices at par. The method:

    1. Interpolate the par yields linearly in tenor onto the half-year grid
       :math:`t_k = k/2`, :math:`k = 1..n` (flat before the first and after the last
       tenor, so the 6-month par yield is the 1-year one).
    2. Solve the discount factors one by one so that each grid par bond prices to 100:

       .. math::

           100 = \\frac{100\\,c_k}{2} \\sum_{i=1}^{k} D_i + 100\\, D_k
           \\;\\Rightarrow\\;
           D_k = \\frac{1 - \\frac{c_k}{2}\\sum_{i<k} D_i}{1 + \\frac{c_k}{2}}.

    3. Zero rates :math:`z_k = -\\ln(D_k) / t_k`, one curve node per grid point.

    Because every coupon date of a grid par bond is a node, linear interpolation
    between nodes never enters its price: each reprices to 100 up to rounding
    (``tests/valuation/test_curve.py`` holds it to 1e-10). Times on the grid are exact
    half years (the constant-maturity par curve has no calendar); priced bonds then use
    Act/365F days on the resulting curve. The method is the textbook bootstrap of a
    par curve (Hull, *Options, Futures, and Other Derivatives*, "The zero-coupon yield
    curve"), the same as QuantLib's ``PiecewiseLinearZero`` fed with par bonds on the
    grid.
    """
    par_t = [float(t) for t in tenors]
    par_c = [float(c) for c in par_yields]
    _check_nodes(par_t, par_c, "par curve", "par_yields")
    n = math.floor(par_t[-1] * COUPONS_PER_YEAR + 1e-9)
    if n < 1:
        raise InputError(
            "par curve", "par_yields[0].tenor_years", "the last tenor must be at least 0.5 years"
        )
    grid = np.arange(1, n + 1, dtype=np.float64) / COUPONS_PER_YEAR
    coupons = np.interp(grid, np.array(par_t), np.array(par_c))
    discount = np.empty(n)
    annuity = 0.0  # sum of D_i for i < k
    for k in range(n):
        half = coupons[k] / COUPONS_PER_YEAR
        discount[k] = (1.0 - half * annuity) / (1.0 + half)
        if not discount[k] > 0.0:
            raise InputError(
                "par curve",
                "par_yields",
                f"the par yields imply a discount factor <= 0 at {grid[k]} years "
                "(the curve rises too steeply to bootstrap; are the yields decimals?)",
            )
        annuity += discount[k]
    zero_rates = -np.log(discount) / grid
    return ZeroCurve(tuple(grid.tolist()), tuple(zero_rates.tolist()))


def par_yield(curve: ZeroCurve, maturity_years: float) -> float:
    """The semi-annual par yield the curve implies at a whole number of half years.

    :math:`c = 2 (1 - D_n) / \\sum_{k=1}^{n} D_k` on the half-year grid up to
    ``maturity_years`` (the inverse of :func:`bootstrap_zero_curve` at grid tenors).
    """
    n = round(maturity_years * COUPONS_PER_YEAR)
    if n < 1 or abs(n / COUPONS_PER_YEAR - maturity_years) > 1e-9:
        raise ValueError(f"{maturity_years!r} is not a positive whole number of half years")
    grid = np.arange(1, n + 1, dtype=np.float64) / COUPONS_PER_YEAR
    discount = curve.discount_factor(grid)
    return float(COUPONS_PER_YEAR * (1.0 - discount[-1]) / discount.sum())
