"""The optimizer's plan as the executor reads it (the Part 2 plan contract).

Only what execution needs: ``moves`` (action pledge|release, obligation, account, isin,
face, group; optional ``owner`` and ``step``), ``allocations`` (obligation, account,
isin, face: the target the ledger must show afterwards) and an optional ``plan_id``;
without one the id is derived from the SHA-256 of the canonical plan JSON, so the same
plan always carries the same command ids. Groups are executed in increasing order
(integers) or in order of first appearance; within a group, by ``step`` where given.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from valuation.closed_set import ClosedSet
from valuation.errors import InputError

_MAX_FACE = 2**63 - 1  # Daml Int (Int64)
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


class MoveAction(ClosedSet):
    """A move pledges face to an obligation or releases face from it.

    The same closed set as :class:`optimizer.plan.MoveAction` (a test holds the two
    equal); declared here because importing the optimizer package loads Pyomo and the
    numba kernels, which ``tanpo execute`` does not need.
    """

    PLEDGE = "pledge"
    RELEASE = "release"

    @classmethod
    def noun(cls) -> str:
        """Called ``action`` in the plan contract."""
        return "action"


@dataclass(frozen=True, slots=True)
class PlanMove:
    """A change of the pledged face of one (obligation, account, isin)."""

    action: MoveAction
    obligation: str
    account: str
    isin: str
    face: int
    group: str
    step: int
    owner: str | None = None
    """The pledgor the plan says owns the position (optional): the executor refuses a
    move whose obligation the ledger shows pledged by another."""

    @property
    def pair(self) -> tuple[str, str, str]:
        return (self.obligation, self.account, self.isin)

    @property
    def signed_face(self) -> int:
        """+face for a pledge, -face for a release."""
        return self.face if self.action is MoveAction.PLEDGE else -self.face


@dataclass(frozen=True, slots=True)
class ExecutablePlan:
    """A plan ready to execute: id, groups of moves in order, target allocation."""

    plan_id: str
    groups: tuple[tuple[str, tuple[PlanMove, ...]], ...]
    allocations: Mapping[tuple[str, str, str], int]
    owners: frozenset[str] = frozenset()
    """Pledgors the plan names (optional ``owner`` fields): whom the executor acts for."""
    obligation_ids: frozenset[str] = frozenset()

    @property
    def moves(self) -> tuple[PlanMove, ...]:
        return tuple(m for _, moves in self.groups for m in moves)

    @property
    def obligations(self) -> frozenset[str]:
        """Obligations the plan speaks about (moves and target allocations)."""
        return self.obligation_ids


def canonical_plan_id(data: Mapping[str, Any]) -> str:
    """``plan-`` + the first 24 hex digits of SHA-256 of the canonical plan JSON."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "plan-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _shown(value: Any) -> str:
    """``value`` as an error message shows it: its repr, at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(record: Mapping[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise InputError(where, name, f"{_shown(value)} must be a non-empty string")
    hidden = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf")), None)
    if hidden is not None or value != value.strip():  # looks like an id, names none
        what = f"U+{ord(hidden):04X}" if hidden is not None else "white space at an end"
        raise InputError(where, name, f"{_shown(value)} holds an invisible character ({what})")
    return value


def _face(record: Mapping[str, Any], name: str, where: str, *, positive: bool) -> int:
    given = value = record.get(name)
    if isinstance(value, float) and value.is_integer():  # NaN and infinities are not
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(where, name, f"{_shown(given)} is not a whole number of yen")
    if value < 0 or (positive and value == 0):
        raise InputError(where, name, f"{_shown(given)} must be {'> 0' if positive else '>= 0'}")
    if value > _MAX_FACE:
        raise InputError(where, name, f"{_shown(given)} exceeds the ledger's Int ({_MAX_FACE})")
    return value


def parse_plan(data: Any) -> ExecutablePlan:
    """Read a plan; errors name the record (``moves[3]``) and the field."""
    if not isinstance(data, Mapping):
        raise InputError("plan", "(top level)", "must be a JSON object")
    if data.get("status") == "error":
        raise InputError("plan", "status", "the optimizer returned no plan (status error)")
    plan_id = data.get("plan_id") or canonical_plan_id(data)
    if not isinstance(plan_id, str) or not set(plan_id) <= _ID_CHARS or len(plan_id) > 200:
        raise InputError(
            "plan", "plan_id", f"{_shown(plan_id)} must be at most 200 letters, digits and -_.:"
        )
    raw_moves = data.get("moves")
    if not isinstance(raw_moves, list):
        raise InputError("plan", "moves", "must be a list")
    moves: list[PlanMove] = []
    for i, m in enumerate(raw_moves):
        where = f"moves[{i}]"
        if not isinstance(m, Mapping):
            raise InputError(where, "(record)", "must be an object")
        action = MoveAction.parse(m.get("action"), where)
        obligation = _text(m, "obligation", where)
        account, isin = _text(m, "account", where), _text(m, "isin", where)
        face = _face(m, "face", where, positive=True)
        group = m.get("group")
        if group is None or isinstance(group, bool | float | list | dict):
            raise InputError(where, "group", f"{_shown(group)} must be an integer or a string")
        step = given_step = m.get("step", i)
        if isinstance(step, float) and step.is_integer():  # as verify reads it (3.0 is 3)
            step = int(step)
        if isinstance(step, bool) or not isinstance(step, int):
            raise InputError(where, "step", f"{_shown(given_step)} must be an integer")
        owner = _text(m, "owner", where) if m.get("owner") is not None else None
        moves.append(PlanMove(action, obligation, account, isin, face, str(group), step, owner))
    allocations: dict[tuple[str, str, str], int] = {}
    for i, a in enumerate(data.get("allocations") or ()):
        where = f"allocations[{i}]"
        if not isinstance(a, Mapping):
            raise InputError(where, "(record)", "must be an object")
        key = (_text(a, "obligation", where), _text(a, "account", where), _text(a, "isin", where))
        allocations[key] = allocations.get(key, 0) + _face(a, "face", where, positive=False)
    _refuse_negative_start(moves, allocations)
    order: dict[str, int] = {}
    for m in moves:
        order.setdefault(m.group, len(order))
    numeric = all(g.lstrip("-").isdigit() for g in order)
    names = sorted(order, key=int if numeric else order.__getitem__)
    groups = tuple(
        (g, tuple(sorted((m for m in moves if m.group == g), key=lambda m: m.step))) for g in names
    )
    owners = frozenset(
        str(r["owner"])
        for r in [*raw_moves, *(data.get("allocations") or ())]
        if isinstance(r, Mapping) and r.get("owner")
    )
    obligation_ids = frozenset(m.obligation for m in moves) | frozenset(k[0] for k in allocations)
    return ExecutablePlan(
        plan_id, groups, {k: v for k, v in allocations.items() if v}, owners, obligation_ids
    )


def _refuse_negative_start(
    moves: list[PlanMove], allocations: Mapping[tuple[str, str, str], int]
) -> None:
    """Allocations are where the moves end: a pair whose moves pledge more than its
    allocation would have started below zero (a move repeated, or the allocations of
    another plan), which no ledger can match."""
    net: dict[tuple[str, str, str], int] = {}
    for m in moves:
        net[m.pair] = net.get(m.pair, 0) + m.signed_face
    for pair, added in net.items():
        start = allocations.get(pair, 0) - added
        if start < 0:
            first = next(i for i, m in enumerate(moves) if m.pair == pair)
            raise InputError(
                f"moves[{first}] ({' '.join(pair)})",
                "face",
                f"the moves pledge {added:,} net but the allocation is"
                f" {allocations.get(pair, 0):,}: the plan would start at {start:,}"
                " (a move repeated, or allocations of another plan?)",
            )
