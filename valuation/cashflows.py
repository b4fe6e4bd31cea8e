"""The resolved form of a book of JGBs: one flat cash-flow table the kernels price.

A :class:`~valuation.jgb.Jgb` says what the term sheet says; :func:`resolve_cash_flows`
rolls its dates and lays every future payment of every bond into flat arrays
(Strata's ``ResolvedFixedCouponBond``, for a whole book at once).

The shape is chosen for speed. JGB payments fall on few distinct days (coupon days are
the 1st, 10th or 20th of a month, and a book's bonds share them), so the table stores

* the **unique payment dates** once, as Act/365F times from settlement
  (``times[j] = (payment_date[j] - settlement_date).days / 365``), and
* per bond a CSR range ``bond_start[i]:bond_start[i+1]`` of rows
  ``(date_index, amount)``, amounts per 100 face.

A kernel then discounts once per unique date (a few hundred ``exp``) and gathers per
bond (a multiply-add per cash flow), instead of one ``exp`` per cash flow.

Conventions (DOMAIN.md section 3): coupons are semi-annual, ``coupon_rate x 100 / 2``
per 100 face on every coupon date strictly after settlement (and after issue), the
first one included in full (JGB auctions charge the buyer accrued interest from the
previous coupon date, so the first coupon is a regular one). Payment rolls to the next
Tokyo business day (:func:`payment_date`). Principal 100 at maturity; a T-bill pays one
flow of 100. A JGBi scales coupons and principal by its index ratio, and issues since
fiscal 2013 redeem at no less than par
(:func:`valuation.inflation.redemption_per_100`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from valuation.calendar import following
from valuation.errors import InputError, MultipleInputError
from valuation.inflation import check_index_ratio, redemption_per_100
from valuation.jgb import BondKind, Jgb
from valuation.schedule import coupon_dates

DAYS_PER_YEAR = 365.0
"""Act/365F: price time is days from settlement / 365."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@lru_cache(maxsize=4096)
def payment_date(coupon_date: date) -> date:
    """The day a flow due on ``coupon_date`` (unadjusted) is paid.

    The next Tokyo business day on or after it (Following; JSDA calculation practice).
    Accrual keeps the unadjusted date; only discounting uses this one.
    """
    return following(coupon_date)


@dataclass(frozen=True, slots=True, eq=False)
class CashFlowTable:
    """Every future payment of a book of bonds, as flat arrays.

    Parameters
    ----------
    settlement_date
        Date the table is valued at; times are measured from it.
    isins
        ISIN per bond, in input order.
    payment_dates
        Unique payment dates (``datetime64[D]``), ascending.
    times
        Act/365F years from settlement to each payment date: days / 365.
    bond_start
        ``int64 (n_bonds + 1,)``; bond ``i`` owns rows ``bond_start[i]:bond_start[i+1]``.
    date_index
        ``int64 (n_flows,)``: row -> index into ``payment_dates``/``times``,
        ascending within a bond.
    amount
        ``float64 (n_flows,)``: amount per 100 face paid on that date (coupon, plus
        principal on the last row).

    All arrays are read-only.
    """

    settlement_date: date
    isins: tuple[str, ...]
    payment_dates: npt.NDArray[np.datetime64]
    times: FloatArray
    bond_start: IntArray
    date_index: IntArray
    amount: FloatArray

    def __post_init__(self) -> None:
        n_bonds = len(self.isins)
        if self.bond_start.shape != (n_bonds + 1,) or self.bond_start[0] != 0:
            raise ValueError("bond_start must have n_bonds + 1 entries starting at 0")
        n_flows = int(self.bond_start[-1])
        if self.date_index.shape != (n_flows,) or self.amount.shape != (n_flows,):
            raise ValueError("date_index and amount must have bond_start[-1] rows")
        if self.times.shape != self.payment_dates.shape:
            raise ValueError("times and payment_dates must have one entry per date")
        for array in (self.payment_dates, self.times, self.bond_start, self.date_index):
            array.flags.writeable = False
        self.amount.flags.writeable = False

    @property
    def n_bonds(self) -> int:
        """Number of bonds."""
        return len(self.isins)

    @property
    def n_dates(self) -> int:
        """Number of unique payment dates."""
        return int(self.times.shape[0])

    @property
    def n_flows(self) -> int:
        """Number of (bond, payment date) rows."""
        return int(self.amount.shape[0])

    def flows(self, i: int) -> list[tuple[date, float]]:
        """Bond ``i``'s payments as ``(payment_date, amount per 100)``, for reading."""
        rows = range(int(self.bond_start[i]), int(self.bond_start[i + 1]))
        return [
            (self.payment_dates[self.date_index[r]].astype(object), float(self.amount[r]))
            for r in rows
        ]


def _index_ratio(bond: Jgb, ratio: float | None, record: str, errors: list[InputError]) -> float:
    missing = ratio is None or (isinstance(ratio, float) and math.isnan(ratio))
    if bond.kind is BondKind.INFLATION:
        if missing:
            errors.append(InputError(record, "index_ratio", "a JGBi needs its index ratio"))
            return math.nan
        try:
            return check_index_ratio(ratio, record)
        except InputError as error:
            errors.append(error)
            return math.nan
    if not missing and ratio != 1.0:
        errors.append(InputError(record, "index_ratio", f"{ratio!r} given for a {bond.kind} bond"))
    return 1.0


def _schedule(bond: Jgb, settlement_date: date) -> tuple[date, ...]:
    if bond.kind is BondKind.TBILL:
        return (bond.maturity_date,)
    return tuple(coupon_dates(bond.maturity_date, settlement_date, bond.issue_date))


def resolve_cash_flows(
    bonds: Sequence[Jgb],
    settlement_date: date,
    index_ratios: Sequence[float | None] | npt.NDArray[np.float64] | None = None,
) -> CashFlowTable:
    """Resolve ``bonds`` into one :class:`CashFlowTable` valued at ``settlement_date``.

    Parameters
    ----------
    bonds
        The book, any order; the table keeps it.
    settlement_date
        Valuation (settlement) date; only payments on coupon dates strictly after it
        count (a coupon due on the settlement date belongs to the seller).
    index_ratios
        Per bond, aligned with ``bonds``: the JGBi index ratio (indexation coefficient);
        ``None``/NaN (or 1.0) for other kinds. Required for every JGBi.

    Raises
    ------
    MultipleInputError
        Listing every bad bond (matured on or before settlement, missing or bad index
        ratio), each naming the bond and the field; nothing is priced then.
    """
    n = len(bonds)
    if index_ratios is not None and len(index_ratios) != n:
        raise ValueError(f"index_ratios has {len(index_ratios)} entries for {n} bonds")
    errors: list[InputError] = []
    coupon = np.empty(n)
    principal = np.empty(n)
    group_of = np.empty(n, dtype=np.int64)
    groups: dict[tuple[date, date | None, bool], int] = {}
    schedules: list[tuple[date, ...]] = []
    for i, bond in enumerate(bonds):
        record = f"bonds[{i}] ({bond.isin})"
        if bond.maturity_date <= settlement_date:
            errors.append(
                InputError(
                    record,
                    "maturity_date",
                    f"{bond.maturity_date} is not after settlement {settlement_date}",
                )
            )
        raw = None if index_ratios is None else index_ratios[i]
        ratio = _index_ratio(bond, None if raw is None else float(raw), record, errors)
        coupon[i] = bond.coupon_rate * 50.0 * ratio
        if bond.kind is BondKind.INFLATION:
            principal[i] = redemption_per_100(ratio, bond.issue_date)
        else:
            principal[i] = 100.0
        # Bonds sharing maturity (and a future issue date, if any) share a schedule.
        issue = bond.issue_date
        if issue is not None and issue <= settlement_date:
            issue = None
        key = (bond.maturity_date, issue, bond.kind is BondKind.TBILL)
        g = groups.get(key)
        if g is None:
            g = groups[key] = len(schedules)
            schedules.append(_schedule(bond, settlement_date))
        group_of[i] = g
    if errors:
        raise MultipleInputError(errors)
    return _assemble(
        settlement_date,
        tuple(b.isin for b in bonds),
        schedules=schedules,
        group_of=group_of,
        coupon=coupon,
        principal=principal,
    )


def _assemble(
    settlement_date: date,
    isins: tuple[str, ...],
    *,
    schedules: list[tuple[date, ...]],
    group_of: IntArray,
    coupon: FloatArray,
    principal: FloatArray,
) -> CashFlowTable:
    # Unique payment dates over all schedules, then each schedule as date indices.
    paid = [[payment_date(d) for d in s] for s in schedules]
    unique = sorted({d for s in paid for d in s})
    position = {d: j for j, d in enumerate(unique)}
    group_len = np.array([len(s) for s in paid], dtype=np.int64)
    group_off = np.zeros(len(paid) + 1, dtype=np.int64)
    np.cumsum(group_len, out=group_off[1:])
    group_flat = np.array([position[d] for s in paid for d in s], dtype=np.int64)

    counts = group_len[group_of]
    bond_start = np.zeros(len(isins) + 1, dtype=np.int64)
    np.cumsum(counts, out=bond_start[1:])
    n_flows = int(bond_start[-1])
    row_in_bond = np.arange(n_flows, dtype=np.int64) - np.repeat(bond_start[:-1], counts)
    date_index = group_flat[np.repeat(group_off[group_of], counts) + row_in_bond]
    amount = np.repeat(coupon, counts)
    if n_flows:
        amount[bond_start[1:] - 1] += principal

    payment_dates = np.array(unique, dtype="datetime64[D]")
    days = (payment_dates - np.datetime64(settlement_date, "D")).astype(np.int64)
    return CashFlowTable(
        settlement_date=settlement_date,
        isins=isins,
        payment_dates=payment_dates,
        times=days / DAYS_PER_YEAR,
        bond_start=bond_start,
        date_index=date_index,
        amount=amount,
    )
