"""The cost model: a :class:`Problem` resolved into flat arrays over (position, obligation) pairs.

The definition (:class:`~optimizer.problem.Problem`) resolves into the arrays the
kernels, the greedy baseline and the model take (as Strata's resolved products):

* a *pair* ``j = (p, o)`` is a position ``p`` its owner could pledge to obligation
  ``o``: the owner is ``o``'s pledgor and ``o``'s schedule takes the ISIN, or the
  position is pledged to ``o`` now (an ineligible pledge has collateral value 0 and can
  only be released);
* face moves in lots of the obligation's ``lot_face``; every per-pair quantity is per
  lot: collateral value ``index_ratio x dirty/100 x lot x (1 - haircut)`` (DOMAIN.md
  sections 3-4; ``index_ratio`` is 1 but for a JGBi),
  market value, and opportunity cost ``bp/1e4 x market value x horizon/365``
  (DOMAIN.md section 5);
* concentration groups: per (ISIN, obligation) the cap ``min(max_share_per_isin x
  required, max_value_per_isin)``, and per (maturity bucket, obligation) the schedule's
  ``bucket_limits``.

``max_lots`` bounds each pair's final lots by its position, its caps and what the
obligation could ever need (pledging more than ``ceil(required / value per lot)`` lots
of one pair never pays); these tight bounds are what keep the model's relaxation strong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from optimizer import ledger_rule, stress
from optimizer.problem import Obligation, Problem
from valuation.haircuts import MaturityBucketLimit, residual_years

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NO_LIMIT = -1
"""``max_isins``/``max_moves`` value meaning no cap."""

CAP_TOLERANCE = 1e-9
"""Relative slack when comparing a collateral value with a cap: values are sums of
float products, exact to ~1e-16; solver outputs are rounded to whole lots and checked
in exact arithmetic, so a plan either meets a cap or is refused."""


@dataclass(frozen=True, slots=True, eq=False)
class CostModel:
    """A problem resolved into arrays; index spaces are securities ``s``, positions
    ``p``, obligations ``o``, pairs ``j``, ISIN groups ``g`` and bucket rows ``b``.

    Attributes
    ----------
    residual_years, dirty_price
        Per security.
    position_owner, position_isin, position_face
        Per position (owner index into :attr:`owners`; face in yen).
    pledgor, required_value, lot_face, min_pledge_lots, max_isins
        Per obligation (``max_isins`` is :data:`NO_LIMIT` when uncapped).
    cover_target
        Per obligation, the cover plans aim at: the required value.
    pair_position, pair_obligation, pair_isin
        Per pair, sorted by obligation then position; ``pair_isin`` indexes securities.
    haircut, value_per_lot, market_per_lot, cost_per_lot
        Per pair: haircut, collateral value, market value and opportunity cost of one lot
        (the value at its worst case over the obligation's stress scenarios:
        :mod:`optimizer.stress`).
    current_lots, max_lots
        Lots pledged now and the upper bound on lots after the run.
    min_move_lots
        Fewest lots a move of this pair may carry (minimum transfer; >= 1).
    pair_group, group_obligation, group_isin, group_cap
        Per-(ISIN, obligation) concentration group of each pair and its cap in yen
        (``inf``: none).
    bucket_pair, bucket_row, bucket_value, row_obligation, row_cap, row_label
        Maturity-bucket limits: membership edges (pair, row), each edge's coefficient
        (the pair's collateral value per lot at base prices: the contract caps a
        bucket's base value, also for a stressed obligation, :mod:`optimizer.stress`)
        and each row's cap in yen of base value.
    held_small, kept
        Per pair, a pledge under the minimum pledge held at its face; per obligation,
        whether it holds a breach of today's pledges (:func:`ledger_rule.keep_uncurable`);
        ``None``: none.
    """

    problem: Problem
    owners: tuple[str, ...]
    residual_years: FloatArray
    dirty_price: FloatArray
    position_owner: IntArray
    position_isin: IntArray
    position_face: IntArray
    pledgor: IntArray
    required_value: FloatArray
    cover_target: FloatArray
    lot_face: IntArray
    min_pledge_lots: IntArray
    max_isins: IntArray
    pair_position: IntArray
    pair_obligation: IntArray
    pair_isin: IntArray
    haircut: FloatArray
    value_per_lot: FloatArray
    market_per_lot: FloatArray
    cost_per_lot: FloatArray
    current_lots: IntArray
    max_lots: IntArray
    min_move_lots: IntArray
    pair_group: IntArray
    group_obligation: IntArray
    group_isin: IntArray
    group_cap: FloatArray
    bucket_pair: IntArray
    bucket_row: IntArray
    bucket_value: FloatArray
    row_obligation: IntArray
    row_cap: FloatArray
    row_label: tuple[str, ...]
    held_small: BoolArray | None = None
    kept: BoolArray | None = None

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return int(self.pair_position.size)

    @property
    def cost_per_value(self) -> FloatArray:
        """Opportunity cost per yen of collateral value: ``opportunity / (1 - haircut)``
        in yen per yen (``inf`` for an ineligible pledge)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.value_per_lot > 0, self.cost_per_lot / self.value_per_lot, np.inf)
        return out

    def with_required_value(self, obligation_id: str, required_value: float) -> CostModel:
        """This cost model after a margin call: ``obligation_id`` now requires
        ``required_value`` yen. Only what depends on it is recomputed (its caps, its
        pairs' bounds): the intraday path, without a full :func:`resolve`."""
        problem = self.problem
        o = problem.obligation_index(obligation_id)
        obligation = replace(problem.obligations[o], required_value=float(required_value))
        obligations = (*problem.obligations[:o], obligation, *problem.obligations[o + 1 :])
        problem = replace(problem, obligations=obligations)
        if stress.is_stressed(problem):  # worst-case values rescale caps: resolve afresh
            return resolve(problem)
        required = self.required_value.copy()
        required[o] = obligation.required_value
        group_cap = self.group_cap.copy()
        group_cap[self.group_obligation == o] = _isin_cap(problem, obligation)
        row_cap = self.row_cap.copy()
        rows = np.flatnonzero(self.row_obligation == o)
        for b, (_limit, cap) in zip(rows.tolist(), _bucket_caps(problem, obligation), strict=True):
            row_cap[b] = cap
        max_isins = self.max_isins.copy()  # as the contract says: the ledger rule
        max_isins[o] = NO_LIMIT if obligation.max_isins is None else obligation.max_isins
        min_pledge = self.min_pledge_lots.copy()  # may hold a breach afresh below
        min_pledge[o] = max(1, -(-(obligation.min_pledge_face or 0) // obligation.lot_face))
        starts = self.obligation_slices()
        lo, hi = int(starts[o]), int(starts[o + 1])
        held_small = None if self.held_small is None else self.held_small.copy()
        if held_small is not None:
            held_small[lo:hi] = False
        kept = None if self.kept is None else self.kept.copy()
        if kept is not None:
            kept[o] = False
        updated = replace(self, problem=problem, required_value=required, cover_target=required.copy(),
                          group_cap=group_cap, row_cap=row_cap, max_isins=max_isins,
                          min_pledge_lots=min_pledge, held_small=held_small, kept=kept)  # fmt: skip
        max_lots = self.max_lots.copy()
        max_lots[lo:hi] = updated._bounds(lo, hi)
        return ledger_rule.keep_uncurable(replace(updated, max_lots=max_lots))

    def with_prices(self, dirty_prices: Mapping[str, float]) -> CostModel:
        """This cost model after a price move: the securities in ``dirty_prices`` (ISIN
        -> dirty price per 100) are revalued, with everything that follows (values,
        opportunity costs, minimum-transfer lots and pairs' bounds)."""
        problem = self.problem
        securities = list(problem.securities)
        dirty = self.dirty_price.copy()
        for isin, price in dirty_prices.items():
            s = problem.security_index(isin)
            securities[s] = replace(securities[s], dirty_price=float(price))
            dirty[s] = float(price)
        problem = replace(problem, securities=tuple(securities))
        if stress.is_stressed(problem) or self.kept is not None:
            # Scenario factors move with the base price; a breach held at today's
            # level (ledger_rule.keep_uncurable) is judged afresh at the new prices.
            return resolve(problem)
        lot = self.lot_face[self.pair_obligation].astype(np.float64)
        ratio = np.array([sec.index_ratio for sec in securities], dtype=np.float64)
        market = (dirty * ratio)[self.pair_isin] / 100.0 * lot
        value = np.where(self.haircut < 1.0, market * (1.0 - self.haircut), 0.0)
        opportunity = np.array([sec.opportunity_cost_bp for sec in securities])
        cost = opportunity[self.pair_isin] / 1e4 * market * problem.costs.horizon_days / 365.0
        mta = np.array([o.min_transfer_value or 0.0 for o in problem.obligations])[
            self.pair_obligation
        ]
        min_move = np.maximum(1, np.ceil(mta / market - 1e-9)).astype(np.int64)
        updated = replace(self, problem=problem, dirty_price=dirty, market_per_lot=market,
                          value_per_lot=value, cost_per_lot=cost, min_move_lots=min_move,
                          bucket_value=value[self.bucket_pair])  # fmt: skip
        return ledger_rule.keep_uncurable(
            replace(updated, max_lots=updated._bounds(0, self.n_pairs))
        )

    def _bounds(self, lo: int, hi: int) -> IntArray:
        """:func:`_max_lots` for pairs ``lo:hi``."""
        edges = (self.bucket_pair >= lo) & (self.bucket_pair < hi)
        return _max_lots(
            pair_position=self.pair_position[lo:hi], pair_obligation=self.pair_obligation[lo:hi],
            position_face=self.position_face, lot=self.lot_face, required=self.required_value,
            value_per_lot=self.value_per_lot[lo:hi], current_lots=self.current_lots[lo:hi],
            min_pledge_lots=self.min_pledge_lots, min_move_lots=self.min_move_lots[lo:hi],
            pair_group=self.pair_group[lo:hi], group_cap=self.group_cap,
            bucket_pair=self.bucket_pair[edges] - lo, bucket_row=self.bucket_row[edges],
            bucket_value=self.bucket_value[edges], row_cap=self.row_cap,
        )  # fmt: skip

    def pair_min_pledge(self) -> IntArray:
        """Per pair, the fewest lots a kept pledge may hold: the obligation's minimum
        pledge, or today's lots for a pledge under it that is held (:attr:`held_small`)."""
        least: IntArray = self.min_pledge_lots[self.pair_obligation]
        if self.held_small is not None:
            least = np.where(self.held_small, np.minimum(least, self.current_lots), least)
        return least

    def must_release(self) -> npt.NDArray[np.bool_]:
        """Per obligation, whether today's pledges break one of its limits (an ISIN or
        bucket cap, ``max_isins``, the minimum pledge) and the excess must come down.
        After :func:`ledger_rule.keep_uncurable` only obligations that stay covered
        after releasing the excess are left (the others keep it)."""
        lots = self.current_lots
        broken = np.zeros(self.required_value.size, dtype=np.bool_)
        used = np.zeros(self.group_cap.size)
        np.add.at(used, self.pair_group, lots * self.value_per_lot)
        broken[self.group_obligation[used > self.group_cap * (1 + CAP_TOLERANCE)]] = True
        if self.bucket_pair.size:
            rows = np.zeros(self.row_cap.size)
            np.add.at(rows, self.bucket_row, lots[self.bucket_pair] * self.bucket_value)
            broken[self.row_obligation[rows > self.row_cap * (1 + CAP_TOLERANCE)]] = True
        held = lots > 0
        broken[self.pair_obligation[held & (lots < self.pair_min_pledge())]] = True
        broken[self.pair_obligation[held & (lots > self.max_lots)]] = True
        width = int(self.pair_isin.max(initial=0)) + 1
        counts = np.bincount(
            np.unique(self.pair_obligation[held] * width + self.pair_isin[held]) // width,
            minlength=broken.size,
        )
        capped = self.max_isins != NO_LIMIT
        broken |= capped & (counts > self.max_isins)
        return broken

    def infeasibility(self, lots: IntArray) -> str:
        """Why allocation ``lots`` breaks a hard limit ("" when it breaks none): the
        optimizer's own gate before it reports a plan (:mod:`optimizer.verify` is the
        independent check)."""
        if np.any(lots < 0) or np.any(lots > np.maximum(self.max_lots, self.current_lots)):
            return "lots outside a pair's bounds"
        face = np.zeros(self.position_face.size, dtype=np.int64)
        np.add.at(face, self.pair_position, lots * self.lot_face[self.pair_obligation])
        if np.any(face > self.position_face):
            return "a position pledged beyond its face"
        used = np.zeros(self.group_cap.size)
        np.add.at(used, self.pair_group, lots * self.value_per_lot)
        if np.any(used > self.group_cap * (1 + CAP_TOLERANCE)):
            return "an ISIN concentration cap"
        if self.bucket_pair.size:
            rows = np.zeros(self.row_cap.size)
            np.add.at(rows, self.bucket_row, lots[self.bucket_pair] * self.bucket_value)
            if np.any(rows > self.row_cap * (1 + CAP_TOLERANCE)):
                return "a maturity-bucket cap"
        held = lots > 0
        if np.any(held & (lots < self.pair_min_pledge())):
            return "a minimum pledge"
        capped = np.flatnonzero(self.max_isins != NO_LIMIT)
        if capped.size:
            key = (
                self.pair_obligation[held] * (self.pair_isin.max(initial=0) + 1)
                + self.pair_isin[held]
            )
            counts = np.bincount(
                np.unique(key) // (self.pair_isin.max(initial=0) + 1), minlength=self.max_isins.size
            )
            if np.any(counts[capped] > self.max_isins[capped]):
                return "max_isins"
        moved = lots != self.current_lots
        change = np.abs(lots - self.current_lots)
        whole = (lots == 0) & (self.current_lots > 0)
        if np.any(moved & ~whole & (change < self.min_move_lots)):
            return "a minimum transfer"
        max_moves = self.problem.limits.max_moves
        if max_moves is not None and int(np.count_nonzero(moved)) > max_moves:
            return "max_moves"
        if np.any(ledger_rule.breaks_floor(self, lots)):
            return "a release the ledger refuses (an obligation left short loses cover)"
        return ""

    def obligation_slices(self) -> IntArray:
        """``starts`` with pairs of obligation ``o`` at ``starts[o]:starts[o+1]``."""
        return np.searchsorted(
            self.pair_obligation, np.arange(len(self.problem.obligations) + 1)
        ).astype(np.int64)


def whole_lots(cap: FloatArray, lot_value: FloatArray) -> FloatArray:
    """ISIN caps ``cap`` (yen) rounded down to whole lots worth ``lot_value`` each, as
    the per-pair bounds round them (:func:`_max_lots`); unchanged where a cap is
    infinite or a lot is worth nothing. What an ISIN can really bring an obligation: on
    the 100 x 20,000 benchmark book every large ISIN reaches a 9.6 bn cap in value, so
    ranking by the cap alone tied them all, while in whole lots they bring 9,575 to
    9,599 million, and an obligation with two ISIN slots is short by the difference.

    Never fewer lots than :meth:`CostModel.infeasibility` takes (a float sum of lots x
    value against ``cap x (1 + CAP_TOLERANCE)``), so a bound or relaxation built on it
    stays one: rounded with twice that tolerance, as the float errors of both sides can
    put a cap within an ulp of the gate's edge on either side of it (found: a 300,899,999.70
    yen cap, lots of 100.3 million: the gate takes 3 lots, ``floor(cap / lot x (1 +
    tol))`` gave 2). At a cap within 1e-9 of a whole lot this may allow one lot the gate
    refuses: a bound weaker by it, never wrong."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lots = np.floor(cap * (1 + 2 * CAP_TOLERANCE) / lot_value) * lot_value
    result: FloatArray = np.where(np.isfinite(cap) & (lot_value > 0), lots, cap)
    return result


def _isin_cap(problem: Problem, obligation: Obligation) -> float:
    """Concentration cap per (ISIN, obligation), yen: the lower of the schedule's share
    of the requirement and its yen cap (``inf``: none)."""
    schedule = problem.schedules[obligation.schedule]
    caps = [math.inf]
    if schedule.max_share_per_isin is not None:
        caps.append(schedule.max_share_per_isin * obligation.required_value)
    if schedule.max_value_per_isin is not None:
        caps.append(schedule.max_value_per_isin)
    return min(caps)


def _bucket_caps(
    problem: Problem, obligation: Obligation
) -> list[tuple[MaturityBucketLimit, float]]:
    """The schedule's maturity-bucket limits that cap something, with their caps (yen)."""
    out = []
    for limit in problem.schedules[obligation.schedule].bucket_limits:
        caps = [math.inf]
        if limit.max_share is not None:
            caps.append(limit.max_share * obligation.required_value)
        if limit.max_value is not None:
            caps.append(limit.max_value)
        if min(caps) < math.inf:
            out.append((limit, min(caps)))
    return out


def resolve(problem: Problem) -> CostModel:
    """Resolve ``problem`` into a :class:`CostModel` (a pure function of the problem)."""
    securities = problem.securities
    n_sec = len(securities)
    years = np.array(
        [residual_years(s.bond.maturity_date, problem.settlement_date) for s in securities]
    )
    dirty = np.array([s.dirty_price for s in securities], dtype=np.float64)
    # A JGBi's market value is face x index_ratio x dirty / 100 (DOMAIN.md section 3).
    ratio = np.array([s.index_ratio for s in securities], dtype=np.float64)
    opportunity = np.array([s.opportunity_cost_bp for s in securities], dtype=np.float64)

    owners = tuple(sorted({p.owner for p in problem.positions}))
    owner_index = {name: i for i, name in enumerate(owners)}
    positions = problem.positions
    position_owner = np.array([owner_index[p.owner] for p in positions], dtype=np.int64)
    position_isin = np.array([problem.security_index(p.isin) for p in positions], dtype=np.int64)
    position_face = np.array([p.face for p in positions], dtype=np.int64)

    obligations = problem.obligations
    n_obl = len(obligations)
    pledgor = np.array([owner_index.get(o.pledgor, -1) for o in obligations], dtype=np.int64)
    required = np.array([o.required_value for o in obligations], dtype=np.float64)
    lot = np.array([o.lot_face for o in obligations], dtype=np.int64)

    # Eligibility and haircut per (security, schedule): a small table.
    schedule_ids = sorted(problem.schedules)
    schedule_index = {sid: k for k, sid in enumerate(schedule_ids)}
    eligible = np.zeros((n_sec, len(schedule_ids)), dtype=np.bool_)
    haircut_table = np.zeros((n_sec, len(schedule_ids)), dtype=np.float64)
    for k, sid in enumerate(schedule_ids):
        schedule = problem.schedules[sid]
        for s, sec in enumerate(securities):
            if schedule.is_eligible(sec.isin, sec.bond.kind, float(years[s])):
                eligible[s, k] = True
                haircut_table[s, k] = (
                    schedule.haircut(sec.isin, sec.bond.kind, float(years[s])) or 0.0
                )

    # Pairs: per obligation, the pledgor's positions its schedule takes, plus current pledges.
    by_owner: dict[int, IntArray] = {
        i: np.flatnonzero(position_owner == i).astype(np.int64) for i in range(len(owners))
    }
    pledged_now: dict[int, dict[int, int]] = {}
    for p_index, position in enumerate(positions):
        for obligation_id, face in position.pledged.items():
            o_index = problem.obligation_index(obligation_id)
            pledged_now.setdefault(o_index, {})[p_index] = face
    pair_pos_parts: list[IntArray] = []
    pair_obl_parts: list[IntArray] = []
    for o_index, obligation in enumerate(obligations):
        k = schedule_index[obligation.schedule]
        own = by_owner.get(int(pledgor[o_index]), np.zeros(0, dtype=np.int64))
        mask = eligible[position_isin[own], k]
        pledged = np.fromiter(pledged_now.get(o_index, {}), dtype=np.int64)
        chosen = np.union1d(own[mask], pledged).astype(np.int64)  # sorted, unique
        pair_pos_parts.append(chosen)
        pair_obl_parts.append(np.full(chosen.size, o_index, dtype=np.int64))
    pair_position = np.concatenate(pair_pos_parts) if pair_pos_parts else np.zeros(0, np.int64)
    pair_obligation = np.concatenate(pair_obl_parts) if pair_obl_parts else np.zeros(0, np.int64)

    pair_sec = position_isin[pair_position]
    pair_sched = np.array([schedule_index[o.schedule] for o in obligations], dtype=np.int64)[
        pair_obligation
    ]
    pair_eligible = eligible[pair_sec, pair_sched]
    haircut = np.where(pair_eligible, haircut_table[pair_sec, pair_sched], 1.0)
    pair_lot = lot[pair_obligation].astype(np.float64)
    market_per_lot = (dirty * ratio)[pair_sec] / 100.0 * pair_lot
    value_per_lot = np.where(pair_eligible, market_per_lot * (1.0 - haircut), 0.0)
    horizon = problem.costs.horizon_days / 365.0
    cost_per_lot = opportunity[pair_sec] / 1e4 * market_per_lot * horizon
    # Today's pledges onto their pairs: pairs are sorted by (obligation, position) and
    # every pledge is a pair (a per-pair dict look-up took 4.8 s at 6.7M pairs).
    current_lots = np.zeros(pair_position.size, dtype=np.int64)
    entries = [(o, p, face) for o, by_p in pledged_now.items() for p, face in by_p.items()]
    if entries:
        e_obl, e_pos, e_face = (
            np.array(column, dtype=np.int64) for column in zip(*entries, strict=True)
        )
        n_positions = max(len(positions), 1)
        where = np.searchsorted(
            pair_obligation * n_positions + pair_position, e_obl * n_positions + e_pos
        )
        current_lots[where] = e_face // lot[e_obl]

    # Concentration groups per (ISIN, obligation).
    group_key = pair_obligation * n_sec + pair_sec
    unique_keys, pair_group = np.unique(group_key, return_inverse=True)
    group_obligation = (unique_keys // n_sec).astype(np.int64)
    group_isin = (unique_keys % n_sec).astype(np.int64)
    isin_caps = np.array([_isin_cap(problem, o) for o in obligations])
    group_cap = isin_caps[group_obligation] if group_obligation.size else np.zeros(0)

    # Maturity-bucket limits per (limit, obligation).
    bucket_pair: list[IntArray] = []
    bucket_row: list[IntArray] = []
    row_obligation: list[int] = []
    row_cap: list[float] = []
    row_label: list[str] = []
    starts = np.searchsorted(pair_obligation, np.arange(n_obl + 1))
    for o_index, obligation in enumerate(obligations):
        for limit, cap in _bucket_caps(problem, obligation):
            members = np.arange(starts[o_index], starts[o_index + 1], dtype=np.int64)
            in_limit = np.array([limit.contains(float(y)) for y in years], dtype=bool)
            inside = in_limit[pair_sec[members]]
            upper = "inf" if limit.max_residual_years is None else f"{limit.max_residual_years:g}"
            row = len(row_obligation)
            row_obligation.append(o_index)
            row_cap.append(cap)
            row_label.append(f"{limit.min_residual_years:g}-{upper}y")
            bucket_pair.append(members[inside])
            bucket_row.append(np.full(int(inside.sum()), row, dtype=np.int64))

    min_pledge_lots = np.array(
        [max(1, -(-(o.min_pledge_face or 0) // o.lot_face)) for o in obligations],
        dtype=np.int64,
    )
    max_isins = np.array(
        [NO_LIMIT if o.max_isins is None else o.max_isins for o in obligations], dtype=np.int64
    )
    mta = np.array([o.min_transfer_value or 0.0 for o in obligations])[pair_obligation]
    min_move_lots = np.maximum(1, np.ceil(mta / market_per_lot - 1e-9)).astype(np.int64)

    bp_arr = np.concatenate(bucket_pair) if bucket_pair else np.zeros(0, np.int64)
    br_arr = np.concatenate(bucket_row) if bucket_row else np.zeros(0, np.int64)
    bv_arr = value_per_lot[bp_arr]  # base prices: stress.apply_worst_case leaves it
    max_lots = _max_lots(
        pair_position=pair_position, pair_obligation=pair_obligation,
        position_face=position_face, lot=lot, required=required,
        value_per_lot=value_per_lot, current_lots=current_lots,
        min_pledge_lots=min_pledge_lots, min_move_lots=min_move_lots,
        pair_group=pair_group, group_cap=group_cap, bucket_pair=bp_arr,
        bucket_row=br_arr, bucket_value=bv_arr, row_cap=np.array(row_cap, dtype=np.float64),
    )  # fmt: skip
    return ledger_rule.keep_uncurable(stress.apply_worst_case(CostModel(
        problem=problem,
        owners=owners,
        residual_years=years,
        dirty_price=dirty,
        position_owner=position_owner,
        position_isin=position_isin,
        position_face=position_face,
        pledgor=pledgor,
        required_value=required,
        cover_target=required.copy(),
        lot_face=lot,
        min_pledge_lots=min_pledge_lots,
        max_isins=max_isins,
        pair_position=pair_position,
        pair_obligation=pair_obligation,
        pair_isin=pair_sec,
        haircut=haircut,
        value_per_lot=value_per_lot,
        market_per_lot=market_per_lot,
        cost_per_lot=cost_per_lot,
        current_lots=current_lots,
        max_lots=max_lots,
        min_move_lots=min_move_lots,
        pair_group=pair_group.astype(np.int64),
        group_obligation=group_obligation,
        group_isin=group_isin,
        group_cap=group_cap,
        bucket_pair=bp_arr,
        bucket_row=br_arr,
        bucket_value=bv_arr,
        row_obligation=np.array(row_obligation, dtype=np.int64),
        row_cap=np.array(row_cap, dtype=np.float64),
        row_label=tuple(row_label),
    )))  # fmt: skip


def _max_lots(
    *,
    pair_position: IntArray,
    pair_obligation: IntArray,
    position_face: IntArray,
    lot: IntArray,
    required: FloatArray,
    value_per_lot: FloatArray,
    current_lots: IntArray,
    min_pledge_lots: IntArray,
    min_move_lots: IntArray,
    pair_group: IntArray,
    group_cap: FloatArray,
    bucket_pair: IntArray,
    bucket_row: IntArray,
    bucket_value: FloatArray,
    row_cap: FloatArray,
) -> IntArray:
    """Tight upper bound on each pair's final lots.

    ``min(position face / lot, cap / value per lot, lots any cover could need)`` (a
    bucket cap over the pair's base value per lot, ``bucket_value``), where
    the last is ``max(ceil(required / value), min pledge, current + min move)``: a pair
    pledged beyond it could drop lots (still covering alone, still a move or one fewer)
    at lower cost. Never below 0; an ineligible pledge (value 0) keeps its current lots.
    """
    pair_lot = lot[pair_obligation]
    by_position = position_face[pair_position] // pair_lot
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(value_per_lot > 0, value_per_lot, np.nan)
        by_cap = np.floor(group_cap[pair_group] / value * (1 + 1e-12))
        need = np.ceil(required[pair_obligation] / value - 1e-9)
        cap = by_cap.copy()
        if bucket_pair.size:  # an ineligible pair's NaN stays NaN (handled below)
            base = np.where(bucket_value > 0, bucket_value, np.nan)
            bucket_lots = np.floor(row_cap[bucket_row] / base * (1 + 1e-12))
            np.minimum.at(cap, bucket_pair, bucket_lots)
    need = np.maximum(
        need, np.maximum(min_pledge_lots[pair_obligation], current_lots + min_move_lots)
    )
    bound = np.fmin(np.fmin(cap, need), by_position.astype(np.float64))
    # An ineligible pledge counts for nothing; it may be kept (a run with no moves
    # left must stay feasible) but never topped up.
    bound = np.where(np.isnan(value), current_lots, bound)
    bound = np.maximum(bound, 0).astype(np.int64)
    # Room for less than the smallest addition allowed (minimum transfer, minimum
    # pledge) is no room: the pair can keep or release, not add.
    least = np.maximum(min_move_lots, min_pledge_lots[pair_obligation] - current_lots)
    add = bound - current_lots
    return np.where((add > 0) & (add < least), np.minimum(current_lots, bound), bound)
