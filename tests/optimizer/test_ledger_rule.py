"""The least a cure must release above an ISIN cap: the optimizer's count
(``ledger_rule.cure_releases``, which also says which pledges give it) and verify's own (``verify._fewest_lots``)
against every combination of releases, on small books."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from optimizer.ledger_rule import cure_releases
from optimizer.verify import _fewest_lots


def _by_enumeration(pledges: list[int], need: int, least: int, kept: int) -> int:
    """Every release each pledge allows (none, the whole pledge, or at least ``least``
    lots leaving at least ``kept``), every combination: the fewest total >= need."""
    allowed = [
        sorted({0, lots} | {r for r in range(min(least, lots), lots - kept + 1) if r > 0})
        for lots in pledges
    ]
    need = min(need, sum(pledges))
    return min(sum(c) for c in itertools.product(*allowed) if sum(c) >= need)


@given(
    pledges=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    share=st.floats(0.0, 1.0),
    least=st.integers(1, 4),
    kept=st.integers(1, 4),
)
def test_both_counts_match_enumeration(
    pledges: list[int], share: float, least: int, kept: int
) -> None:
    need = max(1, round(share * sum(pledges)))
    expected = _by_enumeration(pledges, need, least, kept)
    held = np.array(pledges, dtype=np.int64)
    moves = np.full(held.size, least, dtype=np.int64)
    releases = cure_releases(held, need, moves, kept)
    assert int(releases.sum()) == expected
    for lots, release in zip(pledges, releases.tolist(), strict=True):
        assert release in (0, lots) or min(least, lots) <= release <= lots - kept
    assert _fewest_lots(pledges, need, least, kept) == expected


def test_a_cure_that_would_leave_a_pledge_under_the_minimum_takes_all_of_it() -> None:
    """The case Hypothesis found (tests/optimizer/test_properties.py): one lot over the
    cap, a 2-lot pledge, minimum pledge 2 lots: the cure releases both lots."""
    held = np.array([2], dtype=np.int64)
    assert cure_releases(held, 1, np.ones(1, dtype=np.int64), 2).tolist() == [2]
    assert _fewest_lots([2], 1, 1, 2) == 2
