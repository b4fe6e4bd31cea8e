"""Candidate pairs: rank every (position, obligation) pair and pick the few the model
needs; reduced costs of the rest from LP duals.

At a megabank's size (3 institutions x 20 accounts x 331 JGBs, hundreds of
obligations) there are millions of pairs, and Pyomo's build and hand-over would cost
more than the solve. The model is built over a *candidate set*: every pair pledged now,
every pair the greedy plan uses, and per obligation the cheapest pairs by opportunity
cost per yen of collateral value (``opportunity / (1 - haircut)``, DOMAIN.md section 5)
until they could cover the requirement several times over within their caps.

What certifies the bound for the excluded pairs is the model's *pools*
(:class:`optimizer.model.PoolData`, docs/OPTIMIZER.md "Pools"), not pricing.
:func:`pair_deltas` gives every excluded pair's reduced cost from the restricted LP's
duals and a lower bound ``delta`` on what using it would add (reduced-cost fixing,
e.g. Wolsey, *Integer Programming*, 1998, section 7.4); it was the first design and was
measured too weak here (with move costs the LP gap was 18% on a 10-obligation book,
more than one move, so no excluded pair could be ruled out), so pricing rounds are off
(:data:`optimizer.solve.MAX_PRICING_ROUNDS` = 0) and the kernel is kept, tested, for
the pricing loop to be switched back on where it pays.

Kernels are ``@njit(cache=True)`` over flat arrays; tests/optimizer/test_candidates.py
holds them to plain-Python twins.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from optimizer.costmodel import NO_LIMIT, CostModel, FloatArray, IntArray, whole_lots


@njit(cache=True)
def rank_pairs(starts: IntArray, cost_per_value: FloatArray, face: FloatArray) -> IntArray:
    """Pair indices ordered within each obligation by cost per yen of collateral value,
    ties broken by the larger position (fewer moves), then by index.

    ``starts[o]:starts[o+1]`` are obligation ``o``'s pairs; the result keeps that layout.
    """
    order = np.empty(starts[-1], dtype=np.int64)
    for o in range(starts.size - 1):
        lo, hi = starts[o], starts[o + 1]
        n = hi - lo
        keys = np.empty(n, dtype=np.float64)
        idx = np.arange(lo, hi)
        # Stable two-key sort: by face descending, then by cost (mergesort is stable).
        by_face = np.argsort(-face[lo:hi], kind="mergesort")
        for k in range(n):
            keys[k] = cost_per_value[lo + by_face[k]]
        by_cost = np.argsort(keys, kind="mergesort")
        for k in range(n):
            order[lo + k] = idx[by_face[by_cost[k]]]
    return order


@njit(cache=True)
def select_cheapest(  # noqa: PLR0917 - numba kernels take flat arrays positionally
    starts: IntArray,
    order: IntArray,
    value_per_lot: FloatArray,
    max_lots: IntArray,
    pair_group: IntArray,
    group_cap: FloatArray,
    required_value: FloatArray,
    cover_factor: float,
    min_pairs: int,
    account_factor: float,
) -> IntArray:
    """Per obligation, the cheapest pairs (in ``order``) until their combined reach --
    each pair's value at its bound, each ISIN group counted up to its cap -- is
    ``cover_factor`` x the requirement, and at least ``min_pairs`` of them.

    Within an ISIN, accounts keep joining until they could supply ``account_factor`` x
    what the group may take: the largest accounts of the cheapest ISINs are what every
    obligation wants first, so each needs spares.

    Returns a 0/1 mask over pairs.
    """
    chosen = np.zeros(order.size, dtype=np.int64)
    group_reach = np.zeros(group_cap.size, dtype=np.float64)
    group_supply = np.zeros(group_cap.size, dtype=np.float64)
    for o in range(starts.size - 1):
        target = cover_factor * required_value[o]
        reach = 0.0
        count = 0
        for k in range(starts[o], starts[o + 1]):
            j = order[k]
            if value_per_lot[j] <= 0.0 or max_lots[j] <= 0:
                continue
            g = pair_group[j]
            supply = value_per_lot[j] * max_lots[j]
            limit = min(group_cap[g], required_value[o])
            room = limit - group_reach[g]
            if room <= 0.0 and group_supply[g] >= account_factor * limit and count >= min_pairs:
                continue
            chosen[j] = 1
            count += 1
            group_supply[g] += supply
            add = min(supply, max(room, 0.0))
            group_reach[g] += add
            reach += add
            if reach >= target and count >= min_pairs:
                break
    return chosen


@njit(cache=True)
def pair_deltas(  # noqa: PLR0917
    lot_cost: FloatArray,
    lot_value: FloatArray,
    lot_face: FloatArray,
    move_cost: float,
    least_lots: IntArray,
    add_lots: IntArray,
    pair_obligation: IntArray,
    pair_position: IntArray,
    pair_group: IntArray,
    cover_dual: FloatArray,
    capacity_dual: FloatArray,
    group_dual: FloatArray,
    bucket_ptr: IntArray,
    bucket_rows: IntArray,
    bucket_coef: FloatArray,
    bucket_dual: FloatArray,
    moves_dual: float,
    cut_count_dual: FloatArray,
    cut_knap_dual: FloatArray,
    knap_coef: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Reduced costs of pledging more of each pair, from the LP's row duals.

    In the model's units, a new lot of pair ``j`` costs ``lot_cost`` and enters the
    cover row (coefficient ``lot_value``), its ISIN cap row (``lot_value``), its bucket
    rows (``bucket_coef``, per edge: the base value per lot, which a stressed
    obligation's bucket caps) and its position's capacity row (``lot_face``); its move
    indicator costs ``move_cost`` and enters ``max_moves`` and the obligation's two
    move-cover cuts (1 and ``knap_coef``). With ``y`` the row duals (HiGHS sign
    convention, ``rc = c - A^T y``):

    Returns
    -------
    amortized
        ``rc_lot + rc_move / add_lots``: negative means the LP would use the pair.
    delta
        ``rc_move + min(least x rc_lot, add_lots x rc_lot)``: any plan that moves at
        least ``least_lots`` of the pair costs at least the LP bound plus this.
    """
    n = lot_cost.size
    amortized = np.empty(n, dtype=np.float64)
    delta = np.empty(n, dtype=np.float64)
    for j in range(n):
        o = pair_obligation[j]
        dual = lot_value[j] * (cover_dual[o] + group_dual[pair_group[j]])
        dual += lot_face[j] * capacity_dual[pair_position[j]]
        for k in range(bucket_ptr[j], bucket_ptr[j + 1]):
            dual += bucket_coef[k] * bucket_dual[bucket_rows[k]]
        rc_lot = lot_cost[j] - dual
        rc_move = move_cost - moves_dual - cut_count_dual[o] - knap_coef[j] * cut_knap_dual[o]
        u = max(add_lots[j], 1)
        amortized[j] = rc_lot + rc_move / u
        delta[j] = rc_move + min(least_lots[j] * rc_lot, u * rc_lot)
    return amortized, delta


def candidate_mask(
    cm: CostModel,
    greedy_lots: IntArray,
    *,
    cover_factor: float = 2.5,
    min_pairs: int = 8,
    account_factor: float = 3.0,
) -> IntArray:
    """The starting candidate set: current pledges, the greedy plan's pairs and the
    cheapest pairs per obligation (:func:`select_cheapest`); a 0/1 mask over pairs."""
    starts = cm.obligation_slices()
    order = rank_pairs(
        starts, cm.cost_per_value, cm.position_face[cm.pair_position].astype(np.float64)
    )
    mask = select_cheapest(
        starts, order, cm.value_per_lot, cm.max_lots, cm.pair_group, cm.group_cap,
        cm.required_value, cover_factor, min_pairs, account_factor,
    )  # fmt: skip
    mask[(cm.current_lots > 0) | (greedy_lots > 0)] = 1
    # An obligation the waterfall leaves short gets every account of the ISINs it holds:
    # whether it can be cured turns on each account's minimum pledge, which the pools
    # (blind to per-account free face) would otherwise promise away.
    cover = np.zeros(len(cm.problem.obligations))
    np.add.at(cover, cm.pair_obligation, greedy_lots * cm.value_per_lot)
    for o in np.flatnonzero(cover < cm.required_value).tolist():
        pairs = np.arange(starts[o], starts[o + 1])
        held = np.unique(
            cm.pair_isin[pairs][(greedy_lots[pairs] > 0) | (cm.current_lots[pairs] > 0)]
        )
        mask[pairs[np.isin(cm.pair_isin[pairs], held)]] = 1
    # An obligation with few ISIN slots needs the ISINs that can bring the most, too.
    reach = cm.value_per_lot * cm.max_lots
    for o in np.flatnonzero(cm.max_isins != NO_LIMIT).tolist():
        pairs = np.arange(starts[o], starts[o + 1])
        unique, index = np.unique(cm.pair_group[pairs], return_inverse=True)
        lot_value = np.zeros(unique.size)
        lot_value[index] = cm.value_per_lot[pairs]  # one value per lot per ISIN
        total = np.minimum(
            np.bincount(index, weights=reach[pairs]), whole_lots(cm.group_cap[unique], lot_value)
        )
        for g in np.argsort(-total, kind="stable")[: int(cm.max_isins[o]) + 2].tolist():
            members = pairs[index == g]
            members = members[np.argsort(-reach[members], kind="stable")]
            enough = 1.5 * min(float(cm.group_cap[unique[g]]), float(cm.required_value[o]))
            count = int(np.searchsorted(np.cumsum(reach[members]), enough)) + 1
            mask[members[:count]] = 1  # its largest accounts, enough for its cap
    return mask
