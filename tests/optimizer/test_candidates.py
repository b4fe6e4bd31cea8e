"""The numba candidate kernels held to plain-Python twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.candidates import pair_deltas, rank_pairs, select_cheapest


def rank_reference(starts: list[int], cost: list[float], face: list[float]) -> list[int]:
    out: list[int] = []
    for o in range(len(starts) - 1):
        idx = list(range(starts[o], starts[o + 1]))
        out += sorted(idx, key=lambda j: (cost[j], -face[j], j))
    return out


def select_reference(
    starts, order, value, max_lots, group, cap, required, factor, min_pairs, account_factor
):  # type: ignore[no-untyped-def]
    chosen = [0] * len(order)
    reach_g = [0.0] * len(cap)
    supply_g = [0.0] * len(cap)
    for o in range(len(starts) - 1):
        target, reach, count = factor * required[o], 0.0, 0
        for k in range(starts[o], starts[o + 1]):
            j = order[k]
            if value[j] <= 0 or max_lots[j] <= 0:
                continue
            g = group[j]
            supply = value[j] * max_lots[j]
            limit = min(cap[g], required[o])
            room = limit - reach_g[g]
            if room <= 0 and supply_g[g] >= account_factor * limit and count >= min_pairs:
                continue
            chosen[j] = 1
            count += 1
            supply_g[g] += supply
            add = min(supply, max(room, 0.0))
            reach_g[g] += add
            reach += add
            if reach >= target and count >= min_pairs:
                break
    return chosen


@st.composite
def pairs(draw):  # type: ignore[no-untyped-def]
    n_obl = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(0, 8), min_size=n_obl, max_size=n_obl))
    starts = [0]
    for s in sizes:
        starts.append(starts[-1] + s)
    n = starts[-1]
    cost = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n))
    face = draw(st.lists(st.sampled_from([1.0, 5.0, 9.0]), min_size=n, max_size=n))
    value = draw(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=n, max_size=n))
    max_lots = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    n_groups = max(1, n // 2)
    group = draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n))
    cap = draw(
        st.lists(st.sampled_from([2.0, 5.0, math.inf]), min_size=n_groups, max_size=n_groups)
    )
    required = draw(st.lists(st.sampled_from([0.0, 3.0, 10.0]), min_size=n_obl, max_size=n_obl))
    return starts, cost, face, value, max_lots, group, cap, required


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_rank_and_select_match_reference(case) -> None:  # type: ignore[no-untyped-def]
    starts, cost, face, value, max_lots, group, cap, required = case
    a = lambda x, t=np.float64: np.array(x, dtype=t)  # noqa: E731
    order = rank_pairs(a(starts, np.int64), a(cost), a(face))
    assert order.tolist() == rank_reference(starts, cost, face)
    mask = select_cheapest(a(starts, np.int64), order, a(value), a(max_lots, np.int64), a(group, np.int64),
                           a(cap), a(required), 2.5, 2, 3.0)  # fmt: skip
    assert mask.tolist() == select_reference(
        starts, order.tolist(), value, max_lots, group, cap, required, 2.5, 2, 3.0
    )


def test_pair_deltas_by_hand() -> None:
    """One pair: 1 lot costs 2.0, covers 10 (cover dual 0.3) and uses 100 of face
    (capacity dual -0.001). rc_lot = 2.0 - (10 x 0.3 - 100 x 0.001) = -0.9; a move costs
    10 (moves dual 0), cut duals 0.5 (count) and 0.01 x 4 (cover cut): rc_move = 10 -
    0.5 - 0.04 = 9.46. With 5 lots addable: amortized = -0.9 + 9.46 / 5 = 0.992; delta
    (least 1 lot) = 9.46 + min(-0.9, -4.5) = 4.96."""
    f, i = np.float64, np.int64
    amortized, delta = pair_deltas(
        np.array([2.0]), np.array([10.0]), np.array([100.0]), 10.0, np.array([1], i), np.array([5], i),
        np.array([0], i), np.array([0], i), np.array([0], i), np.array([0.3]), np.array([-0.001]),
        np.array([0.0]), np.array([0, 0], i), np.zeros(0, i), np.zeros(0, f), np.zeros(0, f), 0.0,
        np.array([0.5]), np.array([0.01]), np.array([4.0]),
    )  # fmt: skip
    assert amortized[0] == pytest.approx(0.992)
    assert delta[0] == pytest.approx(4.96)


def test_pair_deltas_price_a_bucket_row_by_its_own_coefficient() -> None:
    """The pair of the test above in one bucket row (dual -0.1) where it counts 12 a lot
    (its base value; its cover value is 10, a stressed obligation's worst case): rc_lot
    = -0.9 + 12 x 0.1 = 0.3, not -0.9 + 10 x 0.1; amortized 0.3 + 9.46 / 5 = 2.192."""
    i = np.int64
    amortized, delta = pair_deltas(
        np.array([2.0]), np.array([10.0]), np.array([100.0]), 10.0, np.array([1], i), np.array([5], i),
        np.array([0], i), np.array([0], i), np.array([0], i), np.array([0.3]), np.array([-0.001]),
        np.array([0.0]), np.array([0, 1], i), np.array([0], i), np.array([12.0]), np.array([-0.1]),
        0.0, np.array([0.5]), np.array([0.01]), np.array([4.0]),
    )  # fmt: skip
    assert amortized[0] == pytest.approx(2.192)
    assert delta[0] == pytest.approx(9.46 + 0.3)
