"""Seeded synthetic data for the benchmarks (and the tests that need many bonds).

:func:`synthetic_jgbs` draws a book of JGBs with the real maturity rules (DOMAIN.md
section 3): fixed-coupon 2Y (1st of the month) and 5/10/20/30Y (20th of Mar/Jun/Sep/
Dec), 40Y (20 Mar), JGBi (10th of Mar/Jun/Sep/Dec, 10Y), T-bills (up to one year, any
business day). The mix is roughly that of the issues outstanding; coupons in 0.1% steps.
The same seed gives the same bonds on every machine (``numpy.random.default_rng``).

:data:`MOF_PAR_2025_11_06` is the MOF par yield curve of 6 Nov 2025 (``jgbcme_all.csv``,
the date of the ``tanpo value`` example), typed from the published file.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from valuation.curve import ZeroCurve, bootstrap_zero_curve
from valuation.isin import make_isin
from valuation.jgb import BondKind, Jgb
from valuation.schedule import add_months

SETTLEMENT_DATE = date(2025, 11, 6)
"""Settlement date of the benchmark books (a Tokyo business day)."""

MOF_PAR_TENORS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0)
MOF_PAR_2025_11_06: tuple[float, ...] = (0.737, 0.941, 1.017, 1.157, 1.253, 1.335, 1.428)
MOF_PAR_2025_11_06 += (1.517, 1.608, 1.694, 2.245, 2.633, 3.005, 3.105, 3.35)
"""MOF JGB par yields (%) on 2025-11-06, 1Y..40Y (mof.go.jp jgbcme_all.csv, row 2025/11/6)."""

# (label, kind, tenor in years, day of month, maturity months, weight, type code)
_SERIES = (
    ("2Y", BondKind.FIXED, 2, 1, tuple(range(1, 13)), 0.08, "12"),
    ("5Y", BondKind.FIXED, 5, 20, (3, 6, 9, 12), 0.12, "15"),
    ("10Y", BondKind.FIXED, 10, 20, (3, 6, 9, 12), 0.20, "10"),
    ("20Y", BondKind.FIXED, 20, 20, (3, 6, 9, 12), 0.24, "20"),
    ("30Y", BondKind.FIXED, 30, 20, (3, 6, 9, 12), 0.14, "30"),
    ("40Y", BondKind.FIXED, 40, 20, (3,), 0.04, "40"),
    ("JGBi", BondKind.INFLATION, 10, 10, (3, 6, 9, 12), 0.05, "11"),
    ("T-bill", BondKind.TBILL, 1, 0, (), 0.13, "13"),
)


def benchmark_curve() -> ZeroCurve:
    """The zero curve bootstrapped from :data:`MOF_PAR_2025_11_06`."""
    return bootstrap_zero_curve(MOF_PAR_TENORS, [y / 100.0 for y in MOF_PAR_2025_11_06])


def _maturities(settlement_date: date, tenor: int, day: int, months: tuple[int, ...]) -> list[date]:
    """Every rule date in (settlement, settlement + tenor years]."""
    horizon = add_months(settlement_date, 12 * tenor)
    found = []
    for year in range(settlement_date.year, horizon.year + 1):
        for month in months:
            d = date(year, month, day)
            if settlement_date < d <= horizon:
                found.append(d)
    return found


def synthetic_jgbs(
    n: int, seed: int = 20251106, settlement_date: date = SETTLEMENT_DATE
) -> tuple[list[Jgb], np.ndarray]:
    """``n`` seeded JGBs outstanding at ``settlement_date`` and their index ratios.

    Returns the bonds and an ``float64`` array of index ratios (NaN except for JGBi,
    drawn in [0.98, 1.12] so that some sit below the par floor).
    """
    rng = np.random.default_rng(seed)
    weights = np.array([s[5] for s in _SERIES])
    series_of = rng.choice(len(_SERIES), size=n, p=weights / weights.sum())
    choices = [
        _maturities(settlement_date, s[2], s[3], s[4]) if s[1] is not BondKind.TBILL else []
        for s in _SERIES
    ]
    bonds: list[Jgb] = []
    ratios = np.full(n, np.nan)
    for i, k in enumerate(series_of.tolist()):
        label, kind, tenor, _, _, _, code = _SERIES[k]
        if kind is BondKind.TBILL:
            maturity = settlement_date + timedelta(days=int(rng.integers(1, 366)))
            coupon = 0.0
        else:
            maturity = choices[k][int(rng.integers(len(choices[k])))]
            steps = int(rng.integers(1, 26 if kind is BondKind.FIXED else 6))
            coupon = round(steps * 0.001, 3)
        if kind is BondKind.INFLATION:
            ratios[i] = round(float(rng.uniform(0.98, 1.12)), 5)
        issue = add_months(maturity, -12 * tenor) if kind is not BondKind.TBILL else None
        bonds.append(
            Jgb(
                isin=make_isin(f"JP1{code}{i:06d}"),
                kind=kind,
                coupon_rate=coupon,
                maturity_date=maturity,
                issue_date=issue,
                series=f"{label} synthetic {i}",
            )
        )
    return bonds, ratios
