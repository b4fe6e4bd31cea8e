"""The desk's cost-to-deliver waterfall: the baseline every plan is measured against.

What a collateral desk does by hand (DOMAIN.md section 2): keep what is pledged; for
each obligation short of its requirement, largest deficit first, pledge the cheapest
eligible bonds per yen of collateral value (``opportunity / (1 - haircut)``) until the
deficit is covered, within every limit of the contract; then release excess cover,
dearest bond first, where the saving pays for the move. It never substitutes a pledge
that still counts, so it is what the optimizer's substitutions are measured against.

The result is a feasible allocation (every hard limit holds) in lots per pair; it also
seeds the MIP as a warm start.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from optimizer import ledger_rule
from optimizer.costmodel import NO_LIMIT, CostModel, FloatArray, IntArray


class _State:
    """Running allocation with the slack of every limit, kept in step as lots move."""

    def __init__(self, cm: CostModel, lots: IntArray) -> None:
        self.cm = cm
        self.lots = lots.copy()
        pair_lot = cm.lot_face[cm.pair_obligation]
        self.free_face = cm.position_face.copy()
        np.subtract.at(self.free_face, cm.pair_position, self.lots * pair_lot)
        self.group_used = np.zeros(cm.group_cap.size)
        self.group_used += np.bincount(
            cm.pair_group, weights=self.lots * cm.value_per_lot, minlength=self.group_used.size
        )
        self.row_used = np.zeros(cm.row_cap.size)
        if cm.bucket_pair.size:
            np.add.at(self.row_used, cm.bucket_row, self.lots[cm.bucket_pair] * cm.bucket_value)
        order = np.argsort(cm.bucket_pair, kind="stable")
        self.bucket_rows = cm.bucket_row[order]
        self.bucket_value = cm.bucket_value[order]  # base value per lot (CostModel)
        self.bucket_ptr = np.searchsorted(cm.bucket_pair[order], np.arange(cm.n_pairs + 1))
        self.cover = np.zeros(len(cm.problem.obligations))
        self.cover += np.bincount(
            cm.pair_obligation, weights=self.lots * cm.value_per_lot, minlength=self.cover.size
        )
        max_moves = cm.problem.limits.max_moves
        self.moves_left = math.inf if max_moves is None else max_moves
        self.starts = cm.obligation_slices()
        self.pair_isin = cm.pair_isin
        self.isins: list[set[int]] = [set() for _ in cm.problem.obligations]
        held = np.flatnonzero(self.lots > 0)
        width = int(self.pair_isin.max(initial=0)) + 1
        for key in np.unique(cm.pair_obligation[held] * width + self.pair_isin[held]).tolist():
            self.isins[key // width].add(key % width)

    def rows_of(self, j: int) -> list[tuple[int, float]]:
        """Bucket rows pair ``j`` counts in, each with its value per lot there."""
        edges = slice(self.bucket_ptr[j], self.bucket_ptr[j + 1])
        return list(
            zip(self.bucket_rows[edges].tolist(), self.bucket_value[edges].tolist(), strict=True)
        )

    def changed(self, j: int) -> bool:
        return bool(self.lots[j] != self.cm.current_lots[j])

    def room(self, j: int) -> int:
        """Lots pair ``j`` can still take within its bound, position and caps."""
        cm = self.cm
        value = cm.value_per_lot[j]
        if value <= 0:
            return 0
        lot = int(cm.lot_face[cm.pair_obligation[j]])
        room = min(
            int(cm.max_lots[j] - self.lots[j]),
            int(self.free_face[cm.pair_position[j]] // lot),
        )
        slack = cm.group_cap[cm.pair_group[j]] - self.group_used[cm.pair_group[j]]
        if math.isfinite(slack):
            room = min(room, math.floor(slack / value * (1 + 1e-12)))
        for b, base in self.rows_of(j):
            room = min(room, math.floor((cm.row_cap[b] - self.row_used[b]) / base * (1 + 1e-12)))
        return max(room, 0)

    def shift(self, j: int, delta: int) -> None:
        """Change pair ``j`` by ``delta`` lots, keeping every slack and the move count."""
        cm = self.cm
        was_changed = self.changed(j)
        value = cm.value_per_lot[j]
        o = int(cm.pair_obligation[j])
        self.lots[j] += delta
        self.free_face[cm.pair_position[j]] -= delta * cm.lot_face[o]
        self.group_used[cm.pair_group[j]] += delta * value
        for b, base in self.rows_of(j):
            self.row_used[b] += delta * base
        self.cover[o] += delta * value
        isin = int(self.pair_isin[j])
        if self.lots[j] > 0:
            self.isins[o].add(isin)
        else:
            same = np.arange(self.starts[o], self.starts[o + 1])
            same = same[(self.pair_isin[same] == isin) & (self.lots[same] > 0)]
            if same.size == 0:
                self.isins[o].discard(isin)
        self.moves_left += int(was_changed) - int(self.changed(j))


def _top_up(state: _State, o: int, pairs: IntArray) -> None:
    cm = state.cm
    required = cm.cover_target[o]
    max_isins = int(cm.max_isins[o])
    min_pledge = int(cm.min_pledge_lots[o])
    pair_isin = state.pair_isin
    # Only pairs with room now can take lots: adding never frees face or cap room, so a
    # vectorized upper bound of room (position, bound, ISIN cap) prunes the loop (at
    # 1,000 obligations x 20,000 positions room() ran 3.5M times, 15 s).
    value = cm.value_per_lot[pairs]
    held = state.lots[pairs]
    upper = np.minimum(
        cm.max_lots[pairs] - held, state.free_face[cm.pair_position[pairs]] // cm.lot_face[o]
    )
    groups = cm.pair_group[pairs]
    with np.errstate(divide="ignore", invalid="ignore"):
        by_cap = np.floor(
            (cm.group_cap[groups] - state.group_used[groups]) / np.where(value > 0, value, 1.0)
            * (1 + 1e-12)
        )  # fmt: skip
    pairs = pairs[(value > 0) & (held >= cm.current_lots[pairs]) & (upper > 0) & (by_cap > 0)]
    for j in pairs.tolist():
        deficit = required - state.cover[o]
        if deficit <= 0:
            return
        lots, current = int(state.lots[j]), int(cm.current_lots[j])
        value = cm.value_per_lot[j]
        if lots < current or value <= 0:
            continue  # released earlier in this run, or counts for nothing
        room = state.room(j)
        if room <= 0:
            continue
        isin = int(pair_isin[j])
        if (
            max_isins != NO_LIMIT
            and isin not in state.isins[o]
            and len(state.isins[o]) >= max_isins
        ):
            continue
        needs_move = lots == current
        if needs_move and state.moves_left < 1:
            continue
        take = min(room, math.ceil(deficit / value - 1e-12))
        least = int(cm.min_move_lots[j]) if needs_move else 1
        least = max(least, min_pledge - lots)
        take = max(take, least)
        if take <= room:
            state.shift(j, take)


def _release_excess(state: _State, o: int, pairs: IntArray) -> None:
    cm = state.cm
    required = cm.cover_target[o]
    move_cost = cm.problem.costs.move_cost
    min_pledge = int(cm.min_pledge_lots[o])
    for j in pairs[::-1].tolist():
        lots, current = int(state.lots[j]), int(cm.current_lots[j])
        if lots <= 0 or lots != current or state.moves_left < 1:
            continue  # only untouched pledges: a top-up of this run stays as it is
        value = cm.value_per_lot[j]
        excess = state.cover[o] - required
        drop = lots if value <= 0 else min(lots, math.floor(excess / value * (1 + 1e-12)))
        if 0 < lots - drop < min_pledge:
            drop = lots - min_pledge
        if drop < min(int(cm.min_move_lots[j]), lots) or drop <= 0:
            continue
        if drop * cm.cost_per_lot[j] > move_cost:
            state.shift(j, -drop)


def _cut(state: _State, j: int, lots_needed: int) -> None:
    """Release at least ``lots_needed`` lots of pair ``j`` (all of it where a partial
    release would break the minimum pledge or the minimum transfer)."""
    cm = state.cm
    lots = int(state.lots[j])
    if lots <= 0 or (not state.changed(j) and state.moves_left < 1):
        return
    drop = min(lots, max(lots_needed, int(cm.min_move_lots[j])))
    if 0 < lots - drop < cm.min_pledge_lots[cm.pair_obligation[j]]:
        drop = lots
    state.shift(j, -drop)


def _repair(state: _State) -> None:
    """Bring the current allocation within today's limits: concentration caps (a cap
    shrinks with the requirement), bucket limits, ``max_isins`` and the minimum pledge."""
    cm = state.cm
    rho = cm.cost_per_value
    over = np.flatnonzero(state.group_used > cm.group_cap * (1 + 1e-12) + 1e-6)
    order = np.argsort(cm.pair_group, kind="stable") if over.size else over
    starts = np.searchsorted(cm.pair_group[order], over)
    ends = np.searchsorted(cm.pair_group[order], over, side="right")
    for g, lo, hi in zip(over.tolist(), starts.tolist(), ends.tolist(), strict=True):
        # The least cure (ledger_rule.cure_releases: no release under the minimum
        # transfer, no pledge left under the minimum), the count may_hold judged by.
        # Cutting the largest pledge first could leave a partial release that
        # _restore_floor then shrank under the minimum transfer (found by Hypothesis).
        members = order[lo:hi]
        members = members[state.lots[members] > 0]
        value = float(cm.value_per_lot[members].max(initial=0.0))
        if value <= 0:
            continue
        o = int(cm.group_obligation[g])
        excess = state.group_used[g] - cm.group_cap[g]
        releases = ledger_rule.cure_releases(
            state.lots[members],
            math.ceil(excess / value - 1e-12),
            cm.min_move_lots[members],
            int(cm.min_pledge_lots[o]),
        )
        for j, drop in zip(members.tolist(), releases.tolist(), strict=True):
            if drop > 0 and (state.changed(j) or state.moves_left >= 1):
                state.shift(j, -drop)
    for b in np.flatnonzero(state.row_used > cm.row_cap + 1e-6).tolist():
        edges = (cm.bucket_row == b) & (state.lots[cm.bucket_pair] > 0)
        members, base = cm.bucket_pair[edges], cm.bucket_value[edges]
        for k in np.argsort(-rho[members], kind="stable").tolist():
            excess = state.row_used[b] - cm.row_cap[b]
            if excess > 1e-6:
                _cut(state, int(members[k]), math.ceil(excess / base[k] - 1e-12))
    for o in np.flatnonzero(cm.max_isins != NO_LIMIT).tolist():
        while len(state.isins[o]) > cm.max_isins[o]:
            pairs = np.arange(state.starts[o], state.starts[o + 1])
            pairs = pairs[state.lots[pairs] > 0]
            # The dearest ISIN whose release, with the smallest others the excess still
            # needs, leaves o covered (the ledger refuses a release that leaves it short;
            # found by Hypothesis: releasing the dearest alone left too little for the
            # second ISIN over the cap, where the two smallest together fit), else the
            # dearest.
            per_isin = np.bincount(
                state.pair_isin[pairs], weights=state.lots[pairs] * cm.value_per_lot[pairs]
            )
            held = np.sort(per_isin[per_isin > 0])
            more = len(state.isins[o]) - int(cm.max_isins[o]) - 1  # to release after it
            own = per_isin[state.pair_isin[pairs]]
            if more <= 0:
                others = np.zeros(own.size)
            elif more < held.size:  # the ``more`` smallest of the other ISINs
                among = own <= held[more - 1]
                others = np.where(among, held[: more + 1].sum() - own, held[:more].sum())
            else:
                others = np.full(own.size, np.inf)
            spare = own + others <= state.cover[o] - cm.cover_target[o]
            pick = pairs[spare] if spare.any() else pairs
            dearest = int(state.pair_isin[pick[np.argmax(rho[pick])]])
            before = len(state.isins[o])
            for j in pairs[state.pair_isin[pairs] == dearest].tolist():
                _cut(state, j, int(state.lots[j]))
            if len(state.isins[o]) == before:
                break  # no moves left to fix it
    short = (state.lots > 0) & (state.lots < cm.pair_min_pledge())
    for j in np.flatnonzero(short).tolist():
        o, lots = int(cm.pair_obligation[j]), int(state.lots[j])
        top_up = max(int(cm.min_pledge_lots[o]) - lots, int(cm.min_move_lots[j]))
        left = state.cover[o] - lots * cm.value_per_lot[j]
        if left < cm.cover_target[o] and state.room(j) >= top_up:
            state.shift(j, top_up)  # releasing it would leave o short: the ledger refuses
        else:
            _cut(state, j, lots)


def greedy_lots(
    cm: CostModel, start: IntArray | None = None, obligations: IntArray | None = None
) -> IntArray:
    """The waterfall allocation, in lots per pair of ``cm``.

    Order: bring today's pledges within today's limits (:func:`_repair`); top up each
    obligation short of cover, largest deficit first, cheapest per yen of collateral
    value first (ties: the position with most free face, so fewer moves); release
    pledges that no longer count and excess cover (dearest first, where the saving
    exceeds the move cost) from obligations that stay covered.

    ``start`` and ``obligations``: the desk's intraday response -- from the standing
    allocation ``start``, only ``obligations`` are reworked (a margin call).
    """
    state = _State(cm, cm.current_lots if start is None else start)
    starts = cm.obligation_slices()
    rho = cm.cost_per_value
    scope = (
        np.arange(len(cm.problem.obligations)) if obligations is None else np.asarray(obligations)
    )
    order_of: dict[int, IntArray] = {}
    for o in scope.tolist():
        pairs = np.arange(starts[o], starts[o + 1], dtype=np.int64)
        free = cm.position_face[cm.pair_position[pairs]].astype(np.float64)
        order_of[o] = pairs[np.lexsort((-free, rho[pairs]))]
    _repair(state)
    deficits = cm.cover_target - state.cover
    for o in scope[np.argsort(-deficits[scope], kind="stable")].tolist():
        if deficits[o] > 0:
            _top_up(state, o, order_of[o])
    # Pledges that no longer count go back, where the obligation stays covered (the
    # pledgee releases nothing while a call is outstanding).
    for j in np.flatnonzero((cm.value_per_lot <= 0) & (state.lots > 0)).tolist():
        if state.cover[cm.pair_obligation[j]] >= cm.cover_target[cm.pair_obligation[j]]:
            _cut(state, j, int(state.lots[j]))
    for o in scope.tolist():
        if state.cover[o] > cm.cover_target[o]:
            _release_excess(state, o, order_of[o])
    _restore_floor(state)
    return state.lots


def _restore_floor(state: _State) -> None:
    """Give back what an obligation left below the ledger's floor released
    (:mod:`optimizer.ledger_rule`; the repair cuts before any top-up frees face), a
    pledge under the minimum pledge topped up to it or not given back."""
    cm = state.cm
    least = cm.pair_min_pledge()
    for o in np.flatnonzero(ledger_rule.breaks_floor(cm, state.lots)).tolist():
        for j in range(int(state.starts[o]), int(state.starts[o + 1])):
            released = int(cm.current_lots[j] - state.lots[j])
            back = min(released, state.room(j))
            if 0 < released - back < int(cm.min_move_lots[j]):
                # What stays released must still be a whole pledge or a minimum
                # transfer (found by Hypothesis: a cap cure of 2 lots given back 1).
                back = released - int(cm.min_move_lots[j])
            if back <= 0:
                continue
            state.shift(j, back)
            lots = int(state.lots[j])
            if 0 < lots < least[j]:
                up = max(int(cm.min_pledge_lots[o]) - lots, int(cm.min_move_lots[j]))
                state.shift(j, up if state.room(j) >= up else -back)


def _top_up_moving(state: _State, o: int, pairs: IntArray) -> None:
    """Cover ``o``'s deficit without new moves: release less where this run releases,
    add more where it adds (cheapest per yen of collateral value first)."""
    cm = state.cm
    current = cm.current_lots
    min_pledge = int(cm.min_pledge_lots[o])
    for j in pairs.tolist():
        deficit = cm.cover_target[o] - state.cover[o]
        if deficit <= 0:
            return
        lots, now = int(state.lots[j]), int(current[j])
        value = cm.value_per_lot[j]
        if lots == now or value <= 0:
            continue
        need = math.ceil(deficit / value - 1e-12)
        room = state.room(j)
        if lots < now:  # released in this run: keep more of it
            isin = int(state.pair_isin[j])
            capped = cm.max_isins[o] != NO_LIMIT and len(state.isins[o]) >= cm.max_isins[o]
            if lots == 0 and capped and isin not in state.isins[o]:
                continue  # bringing the ISIN back would break max_isins
            room = min(room, now - lots)
            take = min(room, need)
            left = now - lots - take  # what is still released
            if 0 < left < min(int(cm.min_move_lots[j]), now):
                take = now - lots  # too small a release to make: keep it all
            if 0 < lots + take < min_pledge or take > room:
                continue
        else:
            take = min(room, need)
        if take > 0:
            state.shift(j, take)


def round_to_lots(
    cm: CostModel, relaxed: FloatArray, allowed: npt.NDArray[np.bool_] | None = None
) -> IntArray:
    """Whole lots for a plan solved with continuous lots (the MIP's relaxed phase).

    Releases are rounded up and additions down (each within what every limit still
    allows, so no cap breaks), then each obligation left short is topped up: first by
    releasing less or adding more where this plan already moves (no extra move), then
    waterfall-style among the ``allowed`` pairs (default: all). Never breaks a limit.
    """
    current = cm.current_lots
    state = _State(cm, current)
    delta = relaxed - current
    for j in np.flatnonzero(delta < -1e-6).tolist():
        lots = int(current[j])
        drop = min(lots, math.ceil(-delta[j] - 1e-6))
        if 0 < lots - drop < cm.min_pledge_lots[cm.pair_obligation[j]]:
            drop = lots
        if drop > 0 and (drop >= cm.min_move_lots[j] or drop == lots) and state.moves_left >= 1:
            state.shift(j, -drop)
    for j in np.flatnonzero(delta > 1e-6).tolist():
        o = int(cm.pair_obligation[j])
        isin = int(state.pair_isin[j])
        if (
            cm.max_isins[o] != NO_LIMIT
            and isin not in state.isins[o]
            and len(state.isins[o]) >= cm.max_isins[o]
        ):
            continue
        take = min(math.floor(delta[j] + 1e-6), state.room(j))
        least = max(
            int(cm.min_move_lots[j]),
            int(cm.min_pledge_lots[cm.pair_obligation[j]]) - int(current[j]),
        )
        if take >= max(least, 1) and (state.moves_left >= 1 or state.changed(j)):
            state.shift(j, take)
    _repair(state)
    starts = cm.obligation_slices()
    rho = cm.cost_per_value
    short = np.flatnonzero(state.cover < cm.cover_target).tolist()
    ordered = {}
    for o in short:  # every short obligation first tries the moves it has...
        pairs = np.arange(starts[o], starts[o + 1], dtype=np.int64)
        if allowed is not None:
            pairs = pairs[allowed[pairs]]
        ordered[o] = pairs[np.argsort(rho[pairs], kind="stable")]
        _top_up_moving(state, o, ordered[o])
    for o in short:  # ...before any takes a new one (and the face another needs)
        if state.cover[o] < cm.cover_target[o]:
            _top_up(state, o, ordered[o])
    below = ledger_rule.breaks_floor(cm, state.lots)
    for o in short:  # below the ledger's floor: keep what it released
        if below[o]:
            pairs = np.arange(starts[o], starts[o + 1], dtype=np.int64)
            for j in pairs[state.lots[pairs] < current[pairs]].tolist():
                back = min(
                    int(current[j] - state.lots[j]),
                    state.room(j) if cm.value_per_lot[j] > 0 else int(current[j] - state.lots[j]),
                )
                if back == current[j] - state.lots[j]:
                    state.shift(j, back)
    return state.lots
