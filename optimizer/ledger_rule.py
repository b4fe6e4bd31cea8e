"""The ledger's release rule, as the optimizer holds it.

The ledger (``ObligationCover_Settle``, ``ledger_adapter/daml``) accepts a step
that takes collateral from an obligation when, after it, the obligation is covered or
the step put in at least the value it took out. Every obligation's moves travel in one
group (:mod:`optimizer.ordering`), so over a plan the rule reads, per obligation,

.. math:: \\text{cover}_\\text{after} \\ge \\min(R_o, \\text{cover}_\\text{now})

with cover at base value (the ledger's valuation; a stressed obligation's worst-case
value is only the optimizer's). It is one linear row with a constant right-hand side
(:func:`ledger_floor`): a short obligation may swap dear collateral for cheap as long
as its cover does not fall, and is never made shorter.

**Breaches the ledger will not let the optimizer cure.** Where today's pledges break
one of an obligation's limits (a cap shrunk with the requirement, ``max_isins``, the
minimum pledge), the excess must come down, but releasing it while the obligation is
(or becomes) short needs additions of at least its value in the same step. An
obligation *may hold* its breaches (:func:`may_hold`) when, with today's pledges at
base value,

.. math:: \text{cover}_\text{now} - \text{release}_\text{now} < R_o

the release being what a cure may take out in whole lots (:func:`release_to_cure`):
above each ISIN cap the fewest whole lots at least the excess that its pledges can
release, each release at least the minimum transfer and leaving none or at least the
minimum pledge behind (:func:`cure_releases`), above each bucket
cap the excess plus the largest :func:`cure_step` of a pledge there (one lot where no
minimum pledge or transfer binds), at most all of it, the smallest ISINs beyond
``max_isins``, the pledges under the minimum pledge. ``optimizer.verify`` re-derives the
same rule from the problem. Then
:func:`keep_uncurable` holds the breach at today's level (ISIN and bucket caps raised
to today's use, so nothing is added to an over-cap ISIN or bucket; ``max_isins`` to
today's count): the pledgee keeps the collateral it has, the optimizer may still swap
the excess out for at least as much value, and the plan names the breach as the
obligation's binding limit. Otherwise the excess is released, and the obligation stays
covered after it. What a desk does: never weaken a short obligation's cover to
honour a limit that exists to protect that same cover.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from optimizer.costmodel import CostModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FLOOR_TOLERANCE = 1e-9  # relative, of the requirement: float sums against exact yen
HOLD_TOLERANCE_YEN = 1.0  # may_hold's, as optimizer.verify's ABS_TOL_YEN


def base_value_per_lot(cm: CostModel) -> FloatArray:
    """Value per lot as the ledger counts it (base prices, after haircut)."""
    result: FloatArray = cm.market_per_lot * (1.0 - cm.haircut)
    return result


def base_cover(cm: CostModel, lots: IntArray) -> FloatArray:
    """Per obligation, the base-value cover of allocation ``lots`` (yen)."""
    cover: FloatArray = np.bincount(
        cm.pair_obligation, weights=lots * base_value_per_lot(cm), minlength=cm.required_value.size
    ).astype(np.float64, copy=False)
    return cover


def ledger_floor(cm: CostModel) -> FloatArray:
    """Per obligation, the least base-value cover a plan may leave it with:
    ``min(required, cover now)`` (module docstring)."""
    result: FloatArray = np.minimum(cm.required_value, base_cover(cm, cm.current_lots))
    return result


def floor_of(cm: CostModel, o: int, lo: int, hi: int) -> tuple[float, FloatArray]:
    """Obligation ``o``'s :func:`ledger_floor` (yen) and its pairs' (``lo:hi``) base
    value per lot, without touching other obligations' pairs."""
    base: FloatArray = cm.market_per_lot[lo:hi] * (1.0 - cm.haircut[lo:hi])
    held = float(cm.current_lots[lo:hi] @ base)
    return min(float(cm.required_value[o]), held), base


def breaks_floor(cm: CostModel, lots: IntArray) -> BoolArray:
    """Per obligation, whether ``lots`` leaves it below its :func:`ledger_floor`: a
    step the ledger would refuse."""
    floor = ledger_floor(cm)
    result: BoolArray = base_cover(cm, lots) < floor - FLOOR_TOLERANCE * cm.required_value
    return result


def cure_releases(held: IntArray, need: int, min_move: IntArray, min_pledge: int) -> IntArray:
    """Per pledge of ``held`` lots (one ISIN's accounts pledged to one obligation), the
    lots to release so that together they take out the fewest lots at least ``need``,
    each release either the whole pledge or at least its minimum transfer
    (``min_move`` lots) leaving at least ``min_pledge`` lots behind: a pledge left
    under the minimum is a new breach, so a cure that would leave one must take the
    whole pledge (found by Hypothesis: three 2-lot pledges over a cap, minimum pledge
    2 lots, each cured only by releasing all of it). Exact, over every reachable total
    (``held.sum()`` is a few hundred lots at most in practice); the waterfall cures an
    ISIN cap with it and :func:`release_to_cure` counts it."""
    total = int(held.sum())
    release = np.zeros(held.size, dtype=np.int64)
    if need <= 0:
        return release
    reach = np.zeros(total + 1, dtype=np.bool_)  # totals some releases add up to
    reach[0] = True
    totals = np.arange(total + 1)
    steps = []  # reach before each pledge, to read the releases back
    for pledge, move in zip(held.tolist(), min_move.tolist(), strict=True):
        steps.append(reach)
        after = reach.copy()
        after[pledge:] |= reach[: total + 1 - pledge]  # the whole pledge
        smallest, largest = min(max(move, 1), pledge), pledge - max(min_pledge, 1)
        if smallest <= largest:  # part of it: any total in [s - largest, s - smallest]
            count = np.concatenate(([0], np.cumsum(reach)))
            left = np.clip(totals - largest, 0, total + 1)
            right = np.clip(totals - smallest + 1, 0, total + 1)
            after |= count[right] > count[left]
        reach = after
    found = np.flatnonzero(reach[min(need, total) :])
    target = min(need, total) + int(found[0])  # releasing everything reaches ``total``
    for k in range(held.size - 1, -1, -1):  # the last pledge first: what it took
        before, pledge = steps[k], int(held[k])
        smallest, largest = min(max(int(min_move[k]), 1), pledge), pledge - max(min_pledge, 1)
        ways = [0, *range(smallest, largest + 1), pledge]
        taken = next(r for r in ways if r <= target and before[target - r])
        release[k] = taken
        target -= taken
    return release


def cure_step(cm: CostModel) -> FloatArray:
    """Per pair, the most (yen, base) a release from today's pledge can overshoot what
    it is asked to take out: a release is the whole pledge or at least the minimum
    transfer leaving at least the minimum pledge, so one asked for less than the pledge
    takes out at most one lot more, the minimum transfer or the minimum pledge more
    (all of the pledge where no partial release is allowed). The bucket cure's margin
    in :func:`release_to_cure` (before: one lot, which a minimum pledge or transfer can
    exceed: found while fixing the ISIN cap's count)."""
    lots = cm.current_lots
    smallest = np.minimum(np.maximum(cm.min_move_lots, 1), lots)
    kept = np.maximum(cm.min_pledge_lots[cm.pair_obligation], 1)
    partial = smallest <= lots - kept
    result: FloatArray = np.where(partial, np.maximum(smallest, kept), lots) * base_value_per_lot(
        cm
    )
    return result


def release_to_cure(cm: CostModel) -> FloatArray:
    """Per obligation, the value (yen, base) that bringing today's pledges within its
    limits may release, as :func:`may_hold` and ``optimizer.verify`` count it: above
    each ISIN cap, the fewest whole lots of the ISIN, at least the excess, that its
    pledges can release (:func:`cure_releases`: a release is at least the
    minimum transfer and leaves none or at least the minimum pledge); above each bucket
    cap, the excess plus the largest :func:`cure_step` of a pledge held there, at most
    all the bucket holds; the smallest
    ISINs beyond ``max_isins``; the pledges under the minimum pledge (lots above a
    pair's bound where no cap is exceeded: an ineligible or unheld pledge)."""
    lots, value = cm.current_lots, base_value_per_lot(cm)
    # ISIN caps are in the cost model's values (worst case for a stressed obligation,
    # the cap scaled by the ISIN's factor): back to base. Bucket rows are base already.
    factor = np.where(value > 0, cm.value_per_lot / np.where(value > 0, value, 1.0), 1.0)
    n = cm.required_value.size
    forced = np.zeros(n)
    np.add.at(forced, cm.pair_obligation, np.maximum(lots - cm.max_lots, 0) * value)
    used = np.zeros(cm.group_cap.size)
    np.add.at(used, cm.pair_group, lots * value)
    group_factor = np.ones(cm.group_cap.size)
    np.minimum.at(group_factor, cm.pair_group, factor)
    excess = np.zeros(n)
    cap = cm.group_cap / np.maximum(group_factor, 1e-12)
    lot = np.zeros(cm.group_cap.size)  # an ISIN's lots are worth the same in any account
    np.maximum.at(lot, cm.pair_group, value)
    over = np.maximum(used - cap, 0.0)
    need = np.ceil(over / np.where(lot > 0, lot, 1.0) - 1e-9).astype(np.int64)
    cured = np.zeros(cm.group_cap.size)
    over_groups = np.flatnonzero((over > 0) & (lot > 0))
    if over_groups.size:
        order = np.argsort(cm.pair_group, kind="stable")
        starts = np.searchsorted(cm.pair_group[order], over_groups)
        ends = np.searchsorted(cm.pair_group[order], over_groups, side="right")
        for g, lo, hi in zip(over_groups.tolist(), starts.tolist(), ends.tolist(), strict=True):
            pairs = order[lo:hi]
            pairs = pairs[lots[pairs] > 0]
            least = int(cm.min_pledge_lots[cm.group_obligation[g]])
            releases = cure_releases(lots[pairs], int(need[g]), cm.min_move_lots[pairs], least)
            cured[g] = int(releases.sum()) * lot[g]
    np.add.at(excess, cm.group_obligation, np.where(over > 0, np.maximum(cured, over), 0.0))
    if cm.bucket_pair.size:
        rows = np.zeros(cm.row_cap.size)
        np.add.at(rows, cm.bucket_row, lots[cm.bucket_pair] * cm.bucket_value)
        # Releasing the bucket's pledges one after another (whole while the excess
        # left is at least the pledge, then as little of the next as it allows) takes
        # out the excess plus less than one pledge's step (cure_step); at most all.
        step = np.zeros(cm.row_cap.size)
        held = lots[cm.bucket_pair] > 0
        np.maximum.at(step, cm.bucket_row[held], cure_step(cm)[cm.bucket_pair][held])
        over = np.maximum(rows - cm.row_cap, 0.0)
        np.add.at(excess, cm.row_obligation, np.where(over > 0, np.minimum(over + step, rows), 0.0))
    out = np.where(excess > 0, excess, forced)  # per-pair bounds overcount a shared cap
    under = (lots > 0) & (lots < cm.min_pledge_lots[cm.pair_obligation])
    np.add.at(out, cm.pair_obligation[under], (lots * value)[under])
    for o in np.flatnonzero(cm.max_isins >= 0).tolist():
        held = (cm.pair_obligation == o) & (lots > 0)
        per_isin = np.bincount(cm.pair_isin[held], weights=(lots * value)[held])
        per_isin = np.sort(per_isin[per_isin > 0])
        out[o] += float(per_isin[: max(per_isin.size - int(cm.max_isins[o]), 0)].sum())
    return out


def may_hold(cm: CostModel) -> BoolArray:
    """Per obligation, whether it may hold a breach of today's pledges: with today's
    pledges at base value, cover now - :func:`release_to_cure` < required.
    ``optimizer.verify`` re-derives the same rule from the problem."""
    cover = base_cover(cm, cm.current_lots)
    result: BoolArray = cover - np.minimum(release_to_cure(cm), cover) < (
        cm.required_value - HOLD_TOLERANCE_YEN
    )
    return result


def keep_uncurable(cm: CostModel) -> CostModel:
    """``cm`` with the limits today's pledges break held at today's level for every
    obligation that :func:`may_hold` them (module docstring); ``cm`` itself when there
    is none."""
    broken = cm.must_release()
    if not broken.any():
        return cm
    kept = broken & may_hold(cm)
    if not kept.any():
        return cm
    if cm.kept is not None:
        kept |= cm.kept
    lots, value = cm.current_lots, cm.value_per_lot
    used = np.zeros(cm.group_cap.size)
    np.add.at(used, cm.pair_group, lots * value)
    group_cap = cm.group_cap.copy()
    mine = kept[cm.group_obligation]
    group_cap[mine] = np.maximum(group_cap[mine], used[mine])
    row_cap = cm.row_cap.copy()
    rows = np.zeros(cm.row_cap.size)  # bucket rows: base value (CostModel.bucket_value)
    if cm.bucket_pair.size:
        np.add.at(rows, cm.bucket_row, lots[cm.bucket_pair] * cm.bucket_value)
        mine = kept[cm.row_obligation]
        row_cap[mine] = np.maximum(row_cap[mine], rows[mine])
    max_isins = cm.max_isins.copy()
    for o in np.flatnonzero(kept).tolist():
        held = (cm.pair_obligation == o) & (lots > 0)
        if max_isins[o] >= 0:
            max_isins[o] = max(int(max_isins[o]), int(np.unique(cm.pair_isin[held]).size))
    out = replace(cm, group_cap=group_cap, row_cap=row_cap, max_isins=max_isins)
    bounds = out._bounds(0, out.n_pairs)
    # A pledge under the minimum pledge that can't be topped up to it from face free
    # today, within the ISIN and bucket caps as held, is held at its
    # face (a per-pair exemption, CostModel.held_small): kept as it is or released in
    # full with a replacement. One that can reach the minimum is topped up or released.
    least = cm.min_pledge_lots[cm.pair_obligation]
    pledged = np.zeros(cm.position_face.size, dtype=np.int64)
    np.add.at(pledged, cm.pair_position, lots * cm.lot_face[cm.pair_obligation])
    free = (cm.position_face - pledged)[cm.pair_position] // cm.lot_face[cm.pair_obligation]
    used = np.zeros(out.group_cap.size)
    np.add.at(used, cm.pair_group, lots * value)
    slack = np.maximum(out.group_cap - used, 0.0)[cm.pair_group]
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(value > 0, np.floor(slack / value * (1 + 1e-12)), 0.0)
        if cm.bucket_pair.size:  # a bucket held at today's use has no room either
            row_slack = np.maximum(out.row_cap - rows, 0.0)[cm.bucket_row]
            np.minimum.at(
                room,
                cm.bucket_pair,
                np.where(
                    cm.bucket_value > 0, np.floor(row_slack / cm.bucket_value * (1 + 1e-12)), 0.0
                ),
            )
    room = np.minimum(np.minimum(bounds - lots, np.maximum(free, 0)), room)
    top_up = np.maximum(least - lots, cm.min_move_lots)  # from face free today, in one move
    under = kept[cm.pair_obligation] & (lots > 0) & (lots < least)
    # Several such pledges drawing on one position's free face may each have room alone
    # but not together: all of them are held (conservative; found by Hypothesis: one
    # obligation's top-up took the face another needed, which was then released below
    # the ledger's floor).
    demand = np.zeros(cm.position_face.size)
    np.add.at(
        demand,
        cm.pair_position[under],
        (top_up * cm.lot_face[cm.pair_obligation])[under].astype(np.float64),
    )
    contested = (
        demand[cm.pair_position] > np.maximum(cm.position_face - pledged, 0)[cm.pair_position]
    )
    # The same for the room under an ISIN or bucket cap (found by Hypothesis: two
    # pledges of one ISIN each with room to reach the minimum, not both; the waterfall
    # topped up one and released the other below the ledger's floor).
    wanted = np.where(under, top_up * value, 0.0)
    group_demand = np.zeros(out.group_cap.size)
    np.add.at(group_demand, cm.pair_group, wanted)
    group_room = np.maximum(out.group_cap - used, 0.0) * (1 + 1e-12)
    contested |= (group_demand > group_room)[cm.pair_group]
    if cm.bucket_pair.size:
        row_demand = np.zeros(out.row_cap.size)
        np.add.at(
            row_demand, cm.bucket_row, np.where(under, top_up, 0)[cm.bucket_pair] * cm.bucket_value
        )
        row_room = np.maximum(out.row_cap - rows, 0.0) * (1 + 1e-12)
        np.logical_or.at(contested, cm.bucket_pair, (row_demand > row_room)[cm.bucket_row])
    small = under & ((room < top_up) | contested)
    if cm.held_small is not None:
        small |= cm.held_small
    max_lots = np.maximum(bounds, lots * kept[cm.pair_obligation])
    max_lots[small] = lots[small]
    return replace(out, max_lots=max_lots, held_small=small if small.any() else None, kept=kept)
