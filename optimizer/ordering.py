"""Execution order of a plan's moves: atomic groups that never under-cover an obligation.

A group is executed atomically by the ledger (one Canton transaction: all or nothing).
Every obligation's moves travel in one group, so a substitution's release and the
pledge that replaces it commit together, and at every group boundary each obligation
holds either its starting or its final allocation: its cover never drops below
``min(start, final)``. Groups are ordered so each one finds the free face its pledges
need: face freed by another obligation's release comes from an earlier group; where
two obligations need each other's face (a swap) their groups merge into one.

Priority among groups that can go: obligations short of cover now (margin calls,
largest deficit first), then substitutions, then pure releases of excess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """One move before ordering: ``delta_face`` > 0 pledges, < 0 releases.

    ``position`` and ``obligation`` are indices; ``key`` is what sorts moves within a
    group after releases-first (so a group's releases free face before its pledges).
    """

    position: int
    obligation: int
    delta_face: int
    key: tuple[str, ...] = ()


def execution_groups(
    changes: Sequence[Change],
    free_face: Sequence[int],
    deficit: Sequence[float],
) -> list[list[int]]:
    """Indices into ``changes``, grouped and ordered for execution.

    Parameters
    ----------
    changes
        The moves.
    free_face
        Face of each position not pledged before the run.
    deficit
        Per obligation, required value minus cover before the run (> 0: short now).

    Returns
    -------
    list of list of int
        Groups in execution order; within a group, releases first, then pledges.
    """
    by_obligation: dict[int, list[int]] = {}
    for i, change in enumerate(changes):
        by_obligation.setdefault(change.obligation, []).append(i)

    def priority(members: list[int]) -> tuple[int, float]:
        obligations = {changes[i].obligation for i in members}
        worst = max(deficit[o] for o in obligations)
        if worst > 0:
            return (0, -worst)
        pledges = any(changes[i].delta_face > 0 for i in members)
        releases = any(changes[i].delta_face < 0 for i in members)
        return (1 if pledges and releases else 2 if pledges else 3, 0.0)

    pending = sorted(by_obligation.values(), key=priority)
    free = list(free_face)
    ordered: list[list[int]] = []

    def shortage(members: list[int]) -> set[int]:
        need: dict[int, int] = {}
        for i in members:
            need[changes[i].position] = need.get(changes[i].position, 0) + changes[i].delta_face
        return {p for p, n in need.items() if n > free[p]}

    while pending:
        ready = next((k for k, members in enumerate(pending) if not shortage(members)), None)
        if ready is None:
            # Stuck: the first group needs face only other groups' releases free; run
            # them together atomically. The union of all remaining groups always fits
            # (the final allocation respects every position), so this terminates.
            first = pending[0]
            lacking = shortage(first)
            donors = [
                g
                for g in pending[1:]
                if any(changes[i].position in lacking and changes[i].delta_face < 0 for i in g)
            ]
            if not donors:
                donors = pending[1:]
            merged = first + [i for g in donors for i in g]
            pending = [merged] + [g for g in pending[1:] if g not in donors]
            pending.sort(key=priority)
            continue
        members = pending.pop(ready)
        for i in members:
            free[changes[i].position] -= changes[i].delta_face
        members.sort(key=lambda i: (changes[i].delta_face > 0, changes[i].key))
        ordered.append(members)
    return ordered
