"""Per-issue opportunity cost of pledging a JGB, in bp per year of market value.

Pledging a bond encumbers it: the desk can no longer lend it, repo it special or sell it
(DOMAIN.md section 5). What that costs depends on the issue:

========================  ==========  ====================================================
issue                     bp / year   why
========================  ==========  ====================================================
T-bills, JGBi, climate    0.3 - 1.5   little repo demand; the desk would hold them anyway
2Y / 5Y / residual < 5y   1.0 - 3.0   general collateral (GC) funding value
10Y - 40Y, off-the-run    1.5 - 5.0   GC, dearer with duration (more lending demand)
on-the-run (newest)       10 - 20     benchmark issues trade special in repo
futures cheapest-to-      20 - 35     the 10Y futures CTD (shortest 10Y with >= 7y left)
deliver
other specials (~4%)      +5 - +25    random issues in short supply
========================  ==========  ====================================================

The ranges are configuration for a plausible book, not market data: JGB repo
specialness of on-the-run and CTD issues runs from a few to tens of bp over GC
(Bank of Japan, "Japanese repo market" reviews; unconfirmed for any given day).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

ON_THE_RUN_PROGRAMS = ("2Y", "5Y", "10Y", "20Y", "30Y", "40Y")
SPECIAL_SHARE = 0.04
FUTURES_CTD_MIN_YEARS = 7.0
"""JGB futures (10Y, OSE) deliver bonds with 7 to 11 years left; the CTD is the shortest."""


def on_the_run(universe: pl.DataFrame) -> set[str]:
    """ISINs of the newest series of each benchmark program."""
    newest = (
        universe.filter(pl.col("program").is_in(ON_THE_RUN_PROGRAMS))
        .sort("series")
        .group_by("program")
        .last()
    )
    return set(newest.get_column("isin").to_list())


def futures_ctd(universe: pl.DataFrame, settlement_date: date) -> str | None:
    """The 10Y issue with the shortest residual maturity of at least 7 years, if any."""
    candidates = universe.filter(
        (pl.col("program") == "10Y")
        & (
            (pl.col("maturity_date") - pl.lit(settlement_date)).dt.total_days()
            >= round(FUTURES_CTD_MIN_YEARS * 365)
        )
    ).sort("maturity_date")
    return None if candidates.is_empty() else str(candidates.get_column("isin")[0])


def opportunity_costs_bp(
    universe: pl.DataFrame, settlement_date: date, rng: np.random.Generator
) -> dict[str, float]:
    """Opportunity cost per ISIN (bp per year, rounded to 0.1 bp), drawn from ``rng``."""
    otr = on_the_run(universe)
    ctd = futures_ctd(universe, settlement_date)
    costs: dict[str, float] = {}
    for row in universe.iter_rows(named=True):
        years = (row["maturity_date"] - settlement_date).days / 365.0
        program: str = row["program"]
        u = float(rng.random())
        if row["kind"] != "fixed" or program.startswith("C"):
            bp = 0.3 + 1.2 * u
        elif years < 5.0:
            bp = 1.0 + 2.0 * u
        else:
            bp = 1.5 + 2.0 * u + min(years, 40.0) / 40.0 * 1.5
        special = float(rng.random()) < SPECIAL_SHARE
        premium = 5.0 + 20.0 * float(rng.random())
        if row["isin"] == ctd:
            bp = 20.0 + 15.0 * u
        elif row["isin"] in otr:
            bp = 10.0 + 10.0 * u
        elif special and row["kind"] == "fixed":
            bp += premium
        costs[row["isin"]] = round(bp, 1)
    return costs
