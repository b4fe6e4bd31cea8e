"""The resolved form of a book of JGBs: one flat cash-flow table the kernels price.

A :class:`~valuation.jgb.Jgb` says what the term sheet says; :func:`resolve_cash_flows`
rolls its dates and lays every future payment of every bond into flat arrays
(Strata's ``ResolvedFixedCouponBond``, for a whole book at once).

The shape is chosen for speed. JGB payments fall on few distinct days (coupon days are
the 1st, 10th or 20th of a month, and a book's bonds share them), and bonds of the same
maturity share their whole schedule. So the table stores

* the **unique payment dates** once, as Act/365F times from settlement
  (``times[j] = (payment_date[j] - settlement_date).days / 365``),
* each distinct **schedule** once, as a CSR range of date indices, and
* per bond: its schedule, its coupon and its principal (per 100 face).

A kernel then discounts once per unique date (a few hundred ``exp``), sums the discount
factors once per schedule, and spends two multiply-adds per bond, instead of one
``exp`` per cash flow (:class:`CashFlowTable`, Notes). The explicit per-bond rows
``(date index, amount)`` are one call away (:meth:`CashFlowTable.rows`).

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


@dataclass(frozen=True, slots=True)
class CashFlowRows:
    """Every bond's payments as explicit CSR rows (the long form of a table).

    Bond ``i`` owns rows ``bond_start[i]:bond_start[i+1]``; row ``r`` pays ``amount[r]``
    per 100 face on date ``date_index[r]`` (an index into the table's dates).
    """

    bond_start: IntArray
    date_index: IntArray
    amount: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class CashFlowTable:
    """Every future payment of a book of bonds, as flat arrays.

    JGB payments have one shape: the same coupon on every date of the bond's schedule,
    plus the principal on the last. So the table keeps each distinct **schedule** (a
    sequence of payment dates) once, and per bond only which schedule, its coupon and
    its principal. Prices then factor (Notes), and the explicit per-bond rows are a
    derived view (:meth:`rows`).

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
    schedule_start
        ``int64 (n_schedules + 1,)``: schedule ``g`` is
        ``schedule_date_index[schedule_start[g]:schedule_start[g+1]]``.
    schedule_date_index
        ``int64``: indices into ``payment_dates``/``times``, ascending per schedule.
    schedule_of
        ``int64 (n_bonds,)``: each bond's schedule.
    coupon
        ``float64 (n_bonds,)``: amount per 100 face paid on every date of the schedule
        (``coupon_rate x 100 / 2``, x index ratio for a JGBi; 0 for a T-bill).
    principal
        ``float64 (n_bonds,)``: redemption per 100 face, paid on the schedule's last date.

    Notes
    -----
    With :math:`D_j` the discount factor of date :math:`j`, bond :math:`b` on schedule
    :math:`g` is worth

    .. math::

        P_b = c_b \\sum_{j \\in g} D_j + R_b\\, D_{\\mathrm{last}(g)},

    so a kernel sums discount factors once per schedule (a few hundred) and spends two
    multiply-adds per bond, whatever its number of coupons. All arrays are read-only.
    """

    settlement_date: date
    isins: tuple[str, ...]
    payment_dates: npt.NDArray[np.datetime64]
    times: FloatArray
    schedule_start: IntArray
    schedule_date_index: IntArray
    schedule_of: IntArray
    coupon: FloatArray
    principal: FloatArray

    def __post_init__(self) -> None:
        n_bonds = len(self.isins)
        if self.times.shape != self.payment_dates.shape:
            raise ValueError("times and payment_dates must have one entry per date")
        starts = self.schedule_start
        if starts.ndim != 1 or starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) < 1):
            raise ValueError("schedule_start must start at 0 and give each schedule a date")
        if self.schedule_date_index.shape != (int(starts[-1]),):
            raise ValueError("schedule_date_index must have schedule_start[-1] entries")
        if self.schedule_date_index.size and (
            self.schedule_date_index.min() < 0 or self.schedule_date_index.max() >= self.n_dates
        ):
            raise ValueError("schedule_date_index must index payment_dates")
        for name in ("schedule_of", "coupon", "principal"):
            if getattr(self, name).shape != (n_bonds,):
                raise ValueError(f"{name} must have one entry per bond")
        if n_bonds and (self.schedule_of.min() < 0 or self.schedule_of.max() >= starts.size - 1):
            raise ValueError("schedule_of must index schedules")
        for array in (
            self.payment_dates,
            self.times,
            self.schedule_start,
            self.schedule_date_index,
            self.schedule_of,
            self.coupon,
            self.principal,
        ):
            array.flags.writeable = False

    @property
    def n_bonds(self) -> int:
        """Number of bonds."""
        return len(self.isins)

    @property
    def n_dates(self) -> int:
        """Number of unique payment dates."""
        return int(self.times.shape[0])

    @property
    def n_schedules(self) -> int:
        """Number of distinct payment schedules."""
        return int(self.schedule_start.shape[0] - 1)

    @property
    def n_flows(self) -> int:
        """Number of (bond, payment date) pairs."""
        lengths = np.diff(self.schedule_start)
        return int(lengths[self.schedule_of].sum())

    def rows(self) -> CashFlowRows:
        """The explicit per-bond CSR rows ``(date index, amount per 100)``."""
        lengths = np.diff(self.schedule_start)
        counts = lengths[self.schedule_of]
        bond_start = np.zeros(self.n_bonds + 1, dtype=np.int64)
        np.cumsum(counts, out=bond_start[1:])
        n_flows = int(bond_start[-1])
        row_in_bond = np.arange(n_flows, dtype=np.int64) - np.repeat(bond_start[:-1], counts)
        first = np.repeat(self.schedule_start[:-1][self.schedule_of], counts)
        date_index = self.schedule_date_index[first + row_in_bond]
        amount = np.repeat(self.coupon, counts)
        if n_flows:
            amount[bond_start[1:] - 1] += self.principal
        return CashFlowRows(bond_start, date_index, amount)

    def flows(self, i: int) -> list[tuple[date, float]]:
        """Bond ``i``'s payments as ``(payment_date, amount per 100)``, for reading."""
        g = int(self.schedule_of[i])
        indices = self.schedule_date_index[self.schedule_start[g] : self.schedule_start[g + 1]]
        amounts = [float(self.coupon[i])] * len(indices)
        amounts[-1] += float(self.principal[i])
        return [
            (self.payment_dates[j].astype(object), a)
            for j, a in zip(indices.tolist(), amounts, strict=True)
        ]


def _index_ratio(bond: Jgb, raw: object, record: str, errors: list[InputError]) -> float:
    missing = raw is None or (isinstance(raw, float) and math.isnan(raw))
    if bond.kind is BondKind.INFLATION:
        if missing:
            errors.append(InputError(record, "index_ratio", "a JGBi needs its index ratio"))
            return math.nan
        try:
            return check_index_ratio(raw, record)
        except InputError as error:
            errors.append(error)
            return math.nan
    if not missing and raw != 1.0:
        errors.append(InputError(record, "index_ratio", f"{raw!r} given for a {bond.kind} bond"))
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
    ratios: list[object] = (
        [None] * n
        if index_ratios is None
        else (index_ratios.tolist() if isinstance(index_ratios, np.ndarray) else list(index_ratios))
    )
    coupon: list[float] = []
    principal: list[float] = []
    group_of: list[int] = []
    groups: dict[tuple[date, date | None, bool], int] = {}
    schedules: list[tuple[date, ...]] = []
    inflation, tbill = BondKind.INFLATION, BondKind.TBILL
    # One pass, plain Python objects (a numpy element write costs more than the work).
    for i, bond in enumerate(bonds):
        if bond.maturity_date <= settlement_date:
            errors.append(
                InputError(
                    f"bonds[{i}] ({bond.isin})",
                    "maturity_date",
                    f"{bond.maturity_date} is not after settlement {settlement_date}",
                )
            )
        raw = ratios[i]
        if bond.kind is inflation or (raw is not None and raw == raw):  # noqa: PLR0124 (NaN != NaN)
            ratio = _index_ratio(bond, raw, f"bonds[{i}] ({bond.isin})", errors)
        else:
            ratio = 1.0
        coupon.append(bond.coupon_rate * 50.0 * ratio)
        if bond.kind is inflation:
            principal.append(redemption_per_100(ratio, bond.issue_date))
        else:
            principal.append(100.0)
        # Bonds sharing maturity (and a future issue date, if any) share a schedule.
        issue = bond.issue_date
        if issue is not None and issue <= settlement_date:
            issue = None
        key = (bond.maturity_date, issue, bond.kind is tbill)
        g = groups.get(key)
        if g is None:
            g = groups[key] = len(schedules)
            schedules.append(_schedule(bond, settlement_date))
        group_of.append(g)
    if errors:
        raise MultipleInputError(errors)
    return _assemble(
        settlement_date,
        tuple(b.isin for b in bonds),
        schedules=schedules,
        group_of=np.array(group_of, dtype=np.int64),
        coupon=np.array(coupon, dtype=np.float64),
        principal=np.array(principal, dtype=np.float64),
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
    schedule_start = np.zeros(len(paid) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in paid], out=schedule_start[1:])
    schedule_date_index = np.array([position[d] for s in paid for d in s], dtype=np.int64)
    payment_dates = np.array(unique, dtype="datetime64[D]")
    days = (payment_dates - np.datetime64(settlement_date, "D")).astype(np.int64)
    return CashFlowTable(
        settlement_date=settlement_date,
        isins=isins,
        payment_dates=payment_dates,
        times=days / DAYS_PER_YEAR,
        schedule_start=schedule_start,
        schedule_date_index=schedule_date_index,
        schedule_of=group_of,
        coupon=coupon,
        principal=principal,
    )
