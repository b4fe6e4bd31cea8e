"""An independent check of a plan against its problem: ``verify(problem, plan)``.

Re-derives feasibility and cost from the problem alone and the plan's JSON form (what
the ledger receives), sharing no code with the cost model, the model or the plan
builder: residual years (days / 365), eligibility, the haircut bucket (the first whose
``max_residual_years`` >= the residual years), values (face x index_ratio x dirty /
100 x (1 - haircut)), limits, moves, execution order and cost are all recomputed here
in plain Python; of :mod:`valuation` only the schedule's *data* is read, none of its
look-ups. Every violation is listed, none raised, so a test (or an operator) sees
everything wrong at once.

Execution order is checked against the ledger's rule (``ObligationCover_Settle``):
each group is one transaction, releases before pledges, and after it every obligation's
cover is at least the lower of its requirement and its cover before the group (a step
may leave an obligation short only by adding at least what it takes out). A plan may
release from an obligation it leaves short, as long as each such step adds no less.

A limit today's pledges already break (a cap shrunk with the requirement, ``max_isins``,
a pledge under the minimum) may stay broken, held at today's level, only where curing
it by releasing alone could leave the obligation short: the ledger would refuse that
release. The rule, the same as ``optimizer.ledger_rule.keep_uncurable`` (re-derived
here): with today's pledges at base value, an obligation *may hold* its breaches when

    cover now - release now < required

where the release is what a cure may take out in whole lots: above each ISIN cap the
fewest whole lots of that ISIN, at least the excess, that its pledges can release, each
release the whole pledge or at least the minimum transfer leaving at least the minimum
pledge, above each bucket cap the excess plus the largest step of a pledge there
(a lot, the minimum transfer or the minimum pledge; all of a pledge that cannot be
released in part), at most all of it, the smallest ISINs beyond ``max_isins``, the
pledges under the minimum pledge. Held at today's level: an ISIN's or a bucket's value
no more than today's, no more ISINs than today, a pledge under the minimum kept at its
face.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optimizer.plan import Plan
from optimizer.problem import Obligation, Problem, Security
from valuation.haircuts import HaircutSchedule, MaturityBucketLimit

ABS_TOL_YEN = 1.0
REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong: ``kind`` (``capacity``, ``cover``, ``cost``...), the record, why."""

    kind: str
    record: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.record}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """Every violation found, and the cost recomputed from the problem."""

    violations: tuple[Violation, ...]
    opportunity: float = 0.0
    moves: float = 0.0
    shortfall_penalty: float = 0.0
    move_count: int = 0
    shortfall: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the plan passed every check."""
        return not self.violations

    @property
    def total(self) -> float:
        """Recomputed objective."""
        return self.opportunity + self.moves + self.shortfall_penalty

    def __str__(self) -> str:
        if self.ok:
            return f"plan verified: cost {self.total:,.2f} yen, {self.move_count} moves"
        lines = "\n".join(f"  {v}" for v in self.violations)
        return f"{len(self.violations)} violation(s):\n{lines}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ABS_TOL_YEN + REL_TOL * max(abs(a), abs(b))


def above_cap(value: float, cap: float) -> bool:
    """Whether collateral ``value`` breaks ``cap`` beyond float round-off: by more than
    1 yen plus ``REL_TOL`` of the cap, so every value the optimizer's own gate accepts
    (``cap x (1 + costmodel.CAP_TOLERANCE)``, the same 1e-9) passes here too, with a yen
    to spare for the rounding of that product."""
    return value > cap + ABS_TOL_YEN + REL_TOL * abs(cap)


def _years(problem: Problem, security: Security) -> float:
    return (security.bond.maturity_date - problem.settlement_date).days / 365.0


def _market_per_face(security: Security) -> float:
    """Yen of market value per yen of face: index_ratio x dirty / 100 (a JGBi's price is
    per 100 of adjusted principal; the ratio is 1 for every other kind)."""
    return security.index_ratio * security.dirty_price / 100.0


def _in_bucket(limit: MaturityBucketLimit, years: float) -> bool:
    """Residual years in (min_residual_years, max_residual_years] (null: no upper end)."""
    upper = limit.max_residual_years
    return years > limit.min_residual_years and (upper is None or years <= upper)


def _upper(limit: MaturityBucketLimit) -> str:
    return "inf" if limit.max_residual_years is None else f"{limit.max_residual_years:g}"


def _whole(value: object) -> int:
    """An integer face from JSON: an int, or a float with no fractional part."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _isin_cap(schedule: HaircutSchedule, obligation: Obligation) -> float | None:
    """The collateral value one ISIN may carry for ``obligation`` (``None``: no cap)."""
    caps = [c for c in (
        None if schedule.max_share_per_isin is None else schedule.max_share_per_isin * obligation.required_value,
        schedule.max_value_per_isin,
    ) if c is not None]  # fmt: skip
    return min(caps) if caps else None


def _bucket_cap(limit: MaturityBucketLimit, obligation: Obligation) -> float | None:
    """The collateral value a maturity bucket may carry (``None``: no cap)."""
    caps = [c for c in (
        None if limit.max_share is None else limit.max_share * obligation.required_value,
        limit.max_value,
    ) if c is not None]  # fmt: skip
    return min(caps) if caps else None


def _fewest_lots(pledges: list[int], need: int, least: int, kept: int) -> int:
    """The fewest lots, at least ``need``, that releases from ``pledges`` (lots, one
    ISIN's accounts pledged to one obligation) can take out in all, each release the
    whole pledge or at least ``least`` lots (the minimum transfer) leaving at least
    ``kept`` (the minimum pledge): a cure may not leave a pledge under the minimum, so
    where it would, it takes the whole pledge. Reachable totals are kept as disjoint
    closed ranges."""
    reach = [(0, 0)]
    for lots in pledges:
        ways = [(lots, lots)]  # the whole pledge, or part of it
        if min(least, lots) <= lots - kept:
            ways.append((min(least, lots), lots - kept))
        spans = sorted(reach + [(a + c, b + d) for a, b in reach for c, d in ways])
        reach = [spans[0]]
        for a, b in spans[1:]:
            if a <= reach[-1][1] + 1:
                reach[-1] = (reach[-1][0], max(reach[-1][1], b))
            else:
                reach.append((a, b))
    need = min(need, sum(pledges))  # releasing all of them always cures
    return min(max(a, need) for a, b in reach if b >= need)


def _haircut(schedule: HaircutSchedule, security: Security, years: float) -> float | None:
    """The schedule's haircut for this bond, or ``None`` when it does not take it."""
    bond = security.bond
    if bond.kind not in schedule.eligible_kinds or bond.isin in schedule.excluded_isins:
        return None
    if years <= 0 or years < schedule.min_residual_years:
        return None
    if schedule.max_residual_years is not None and years > schedule.max_residual_years:
        return None
    if bond.isin in schedule.isin_haircuts:
        return schedule.isin_haircuts[bond.isin]
    for bucket in schedule.kind_haircuts.get(bond.kind, schedule.haircuts):
        if bucket.max_residual_years is None or years <= bucket.max_residual_years:
            return bucket.haircut
    return None


class _Checker:
    def __init__(self, problem: Problem, plan: Mapping[str, Any]) -> None:
        self.problem = problem
        self.plan = plan
        self.violations: list[Violation] = []
        self.securities = {s.isin: s for s in problem.securities}
        self.obligations = {o.id: o for o in problem.obligations}
        self.faces = {(p.owner, p.account, p.isin): p.face for p in problem.positions}
        self.owner_of_account = {(p.account, p.isin): p.owner for p in problem.positions}
        self.current: dict[tuple[str, str, str, str], int] = {}
        self.held_small: list[tuple[tuple[str, str, str, str], str]] = []
        for p in problem.positions:
            for oid, face in p.pledged.items():
                self.current[(oid, p.owner, p.account, p.isin)] = face

    def fail(self, kind: str, record: str, message: str) -> None:
        self.violations.append(Violation(kind, record, message))

    def unit_value(self, obligation: Obligation, isin: str) -> tuple[float, float]:
        """(market value per yen face, haircut) of ``isin`` for ``obligation``; haircut
        1.0 when the schedule does not take it."""
        security = self.securities[isin]
        h = _haircut(
            self.problem.schedules[obligation.schedule], security, _years(self.problem, security)
        )
        return _market_per_face(security), 1.0 if h is None else h

    def final_allocation(self) -> dict[tuple[str, str, str, str], int]:
        final: dict[tuple[str, str, str, str], int] = {}
        for i, a in enumerate(self.plan.get("allocations") or []):
            record = f"allocations[{i}]"
            try:
                oid, account, isin, face = (
                    a["obligation"],
                    a["account"],
                    a["isin"],
                    _whole(a["face"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                self.fail("format", record, f"missing or bad field: {exc}")
                continue
            obligation = self.obligations.get(oid)
            owner = str(a.get("owner") or self.owner_of_account.get((account, isin)))
            record = f"allocations[{i}] ({oid}/{account}/{isin})"
            if obligation is None:
                self.fail("unknown", record, f"unknown obligation {oid!r}")
                continue
            if isin not in self.securities or (owner, account, isin) not in self.faces:
                self.fail("unknown", record, "no such position in the problem")
                continue
            if owner != obligation.pledgor:
                self.fail(
                    "pledgor",
                    record,
                    f"owned by {owner}, but {oid} is owed by {obligation.pledgor}",
                )
            key = (oid, owner, account, isin)
            if key in final:
                self.fail("format", record, "duplicate allocation")
            final[key] = final.get(key, 0) + face
            unit, h = self.unit_value(obligation, isin)
            if h >= 1.0 and self.current.get(key) != face:
                self.fail(
                    "eligibility", record, f"schedule {obligation.schedule} does not take {isin}"
                )
            if face <= 0 or face % obligation.lot_face:
                self.fail(
                    "lot",
                    record,
                    f"face {face} is not a positive multiple of lot_face {obligation.lot_face}",
                )
            if obligation.min_pledge_face and 0 < face < obligation.min_pledge_face:
                if self.current.get(key) == face:  # held from today: judged with the cover
                    self.held_small.append((key, record))
                    continue
                self.fail(
                    "min_pledge",
                    record,
                    f"face {face} below min_pledge_face {obligation.min_pledge_face}",
                )
            for name, expected in (
                ("market_value", unit * face),
                ("haircut", h),
                ("collateral_value", unit * face * (1 - h)),
            ):
                reported = a.get(name)
                if (
                    not isinstance(reported, int | float)
                    or not _close(float(reported), expected)
                    or (name == "haircut" and abs(float(reported) - expected) > 1e-12)
                ):
                    self.fail("value", record, f"{name} {reported!r}, recomputed {expected!r}")
        return final

    def check_limits(self, final: dict[tuple[str, str, str, str], int]) -> dict[str, float]:
        used: dict[tuple[str, str, str], int] = defaultdict(int)
        cover: dict[str, float] = defaultdict(float)
        per_isin: dict[tuple[str, str], float] = defaultdict(float)
        isins: dict[str, set[str]] = defaultdict(set)
        for (oid, owner, account, isin), face in final.items():
            obligation = self.obligations[oid]
            unit, h = self.unit_value(obligation, isin)
            value = unit * face * (1 - h)
            used[(owner, account, isin)] += face
            cover[oid] += value
            per_isin[(oid, isin)] += value
            if face > 0:
                isins[oid].add(isin)
        now_isin: dict[tuple[str, str], float] = defaultdict(float)
        for (oid, _owner, _account, isin), face in self.current.items():
            if oid in self.obligations:
                unit, h = self.unit_value(self.obligations[oid], isin)
                now_isin[(oid, isin)] += unit * face * (1 - h)

        def held(oid: str, now: float, after: float) -> bool:
            # A breach held at today's level (no larger than today's) by an obligation
            # that may hold it (``may_hold``: the ledger rule stated in the module
            # docstring).
            return after <= now + ABS_TOL_YEN and self.may_hold(oid)

        for small, record in self.held_small:
            unit, h = self.unit_value(self.obligations[small[0]], small[3])
            value = unit * final[small] * (1 - h)
            if not held(small[0], value, value):
                self.fail("min_pledge", record, f"face {final[small]} below min_pledge_face "
                          f"{self.obligations[small[0]].min_pledge_face} and could be released")  # fmt: skip
        for key, face in used.items():
            if face > self.faces[key]:
                self.fail("capacity", "/".join(key), f"pledged {face} of {self.faces[key]} held")
        for (oid, isin), value in per_isin.items():
            obligation = self.obligations[oid]
            schedule = self.problem.schedules[obligation.schedule]
            cap = _isin_cap(schedule, obligation)
            if cap is not None and above_cap(value, cap):
                if held(oid, now_isin.get((oid, isin), 0.0), value):
                    continue
                self.fail(
                    "concentration",
                    f"{oid}/{isin}",
                    f"collateral value {value:,.0f} above cap {cap:,.0f}",
                )
        for oid, obligation in self.obligations.items():
            schedule = self.problem.schedules[obligation.schedule]
            for limit in schedule.bucket_limits:
                cap = _bucket_cap(limit, obligation)
                if cap is None:
                    continue
                total = sum(
                    v for (o2, isin), v in per_isin.items()
                    if o2 == oid and _in_bucket(limit, _years(self.problem, self.securities[isin]))
                )  # fmt: skip
                now = sum(
                    v for (o2, isin), v in now_isin.items()
                    if o2 == oid and _in_bucket(limit, _years(self.problem, self.securities[isin]))
                )  # fmt: skip
                if above_cap(total, cap) and not held(oid, now, total):
                    self.fail(
                        "bucket",
                        f"{oid}/({limit.min_residual_years:g}, {_upper(limit)}] years",
                        f"collateral value {total:,.0f} above cap {cap:,.0f}",
                    )
            if obligation.max_isins is not None and len(isins[oid]) > obligation.max_isins:
                before = {isin for (o2, isin), v in now_isin.items() if o2 == oid and v > 0}
                if held(oid, len(before), len(isins[oid])):
                    continue
                self.fail(
                    "max_isins",
                    oid,
                    f"{len(isins[oid])} ISINs pledged, max_isins {obligation.max_isins}",
                )
        return dict(cover)

    def check_moves(
        self, final: dict[tuple[str, str, str, str], int]
    ) -> tuple[list[tuple[int, int, str, tuple[str, str, str, str], int]], int]:
        """The plan's moves as (group, step, action, key, signed face), and how many moves
        the allocations imply (what the move cost and ``max_moves`` count)."""
        expected = {
            k: final.get(k, 0) - self.current.get(k, 0) for k in set(final) | set(self.current)
        }
        expected = {k: d for k, d in expected.items() if d != 0}
        seen: dict[tuple[str, str, str, str], int] = {}
        moves = []
        for i, m in enumerate(self.plan.get("moves") or []):
            try:
                action, oid, account, isin, face = (
                    m["action"],
                    m["obligation"],
                    m["account"],
                    m["isin"],
                    _whole(m["face"]),
                )
                group, step = _whole(m["group"]), _whole(m.get("step", i + 1))
            except (KeyError, TypeError, ValueError) as exc:
                self.fail("format", f"moves[{i}]", f"missing or bad field: {exc}")
                continue
            owner = m.get("owner") or self.owner_of_account.get((account, isin), "?")
            key = (oid, owner, account, isin)
            record = f"moves[{i}] ({action} {oid}/{account}/{isin})"
            if action not in ("pledge", "release") or face <= 0:
                self.fail("format", record, f"action {action!r} face {face}")
                continue
            if not m.get("reason"):
                self.fail("format", record, "no reason given")
            signed = face if action == "pledge" else -face
            if key in seen:
                self.fail("moves", record, "second move of the same (account, isin, obligation)")
            seen[key] = signed
            if expected.get(key) != signed:
                self.fail(
                    "moves",
                    record,
                    f"moves {signed:+d}, allocations imply {expected.get(key, 0):+d}",
                )
            obligation = self.obligations.get(oid)
            if obligation and obligation.min_transfer_value and isin in self.securities:
                value = _market_per_face(self.securities[isin]) * face
                whole = action == "release" and face == self.current.get(key, 0)
                if value < obligation.min_transfer_value - ABS_TOL_YEN and not whole:
                    self.fail(
                        "min_transfer",
                        record,
                        f"market value {value:,.0f} below min_transfer_value {obligation.min_transfer_value:,.0f}",
                    )
            moves.append((group, step, action, key, signed))
        for key, delta in expected.items():
            if key not in seen:
                self.fail(
                    "moves", "/".join(key), f"allocation changes by {delta:+d} but no move says so"
                )
        max_moves = self.problem.limits.max_moves
        if max_moves is not None and len(expected) > max_moves:
            self.fail("max_moves", "plan", f"{len(expected)} moves, max_moves {max_moves}")
        return moves, len(expected)

    def check_order(
        self, moves: list[tuple[int, int, str, tuple[str, str, str, str], int]]
    ) -> None:
        """Execute the groups in order as the ledger does and check each one."""
        state = dict(self.current)
        used: dict[tuple[str, str, str], int] = defaultdict(int)
        for (_, owner, account, isin), face in state.items():
            used[(owner, account, isin)] += face
        before = self.cover_of(state)
        by_group: dict[int, list[tuple[tuple[str, str, str, str], int]]] = defaultdict(list)
        for group, _step, _action, key, signed in sorted(moves, key=lambda m: (m[0], m[1])):
            by_group[group].append((key, signed))
        for group, members in sorted(by_group.items()):
            # One transaction: its releases free face before its pledges take it, so
            # capacity and pledged face are judged when the whole group has applied.
            for key, signed in members:
                state[key] = state.get(key, 0) + signed
                used[key[1:]] += signed
            for key, _signed in members:
                position = key[1:]
                if state[key] < 0:
                    self.fail("order", "/".join(key),
                              f"group {group}: releases more than is pledged at that point")  # fmt: skip
                if position in self.faces and used[position] > self.faces[position]:
                    self.fail("order", "/".join(position),
                              f"group {group}: pledges face not yet free at that point")  # fmt: skip
            after = self.cover_of(state)
            for oid, obligation in self.obligations.items():
                floor = min(obligation.required_value, before.get(oid, 0.0))
                if after.get(oid, 0.0) < floor - ABS_TOL_YEN:
                    self.fail(
                        "order",
                        oid,
                        f"after group {group} cover {after.get(oid, 0.0):,.0f} is below "
                        f"{floor:,.0f} (required {obligation.required_value:,.0f}, "
                        f"{before.get(oid, 0.0):,.0f} before the group)",
                    )
            before = after

    def may_hold(self, oid: str) -> bool:
        """Whether ``oid`` may keep a breach of today's pledges (module docstring): its
        cover today less what a cure may release is under its requirement (base values,
        recomputed here from the problem alone)."""
        obligation = self.obligations[oid]
        schedule = self.problem.schedules[obligation.schedule]
        per_isin: dict[str, float] = defaultdict(float)
        lot: dict[str, float] = {}
        least: dict[str, int] = {}  # lots a release moves at least (minimum transfer)
        pledges: dict[str, list[int]] = defaultdict(list)  # lots, one entry an account
        excess = 0.0
        for (o2, _owner, _account, isin), face in self.current.items():
            if o2 != oid or face <= 0:
                continue
            unit, h = self.unit_value(obligation, isin)
            per_isin[isin] += unit * face * (1 - h)
            lot[isin] = unit * obligation.lot_face * (1 - h)
            pledges[isin].append(face // obligation.lot_face)
            least[isin] = (
                max(
                    1,
                    math.ceil(
                        (obligation.min_transfer_value or 0) / (unit * obligation.lot_face) - 1e-9
                    ),
                )
                if unit > 0
                else 1
            )
            if obligation.min_pledge_face and face < obligation.min_pledge_face:
                excess += unit * face * (1 - h)
        cap = _isin_cap(schedule, obligation)
        kept = -(-(obligation.min_pledge_face or 0) // obligation.lot_face)
        for isin, v in per_isin.items():
            over = v - cap if cap is not None else 0.0
            if over > 0:  # whole lots of the ISIN, none leaving a pledge under the minimum
                excess += (
                    max(
                        _fewest_lots(
                            pledges[isin],
                            math.ceil(over / lot[isin] - 1e-9),
                            least[isin],
                            max(kept, 1),
                        )
                        * lot[isin],
                        over,
                    )
                    if lot[isin] > 0
                    else over
                )
        for limit in schedule.bucket_limits:
            bucket_cap = _bucket_cap(limit, obligation)
            members = [
                isin for isin in per_isin
                if _in_bucket(limit, _years(self.problem, self.securities[isin]))
            ]  # fmt: skip
            inside = sum(per_isin[isin] for isin in members)
            if bucket_cap is not None and inside > bucket_cap:
                # Released pledge by pledge, the last overshoots by less than its step:
                # a lot, the minimum transfer or the minimum pledge (the whole pledge
                # where no part of it may go); never more than the bucket holds.
                steps = []
                for isin in members:
                    for lots in pledges[isin]:
                        smallest = min(least[isin], lots)
                        partial = smallest <= lots - max(kept, 1)
                        steps.append(lot[isin] * (max(smallest, kept) if partial else lots))
                excess += min(inside - bucket_cap + max(steps), inside)
        if obligation.max_isins is not None:
            values = sorted(v for v in per_isin.values() if v > 0)
            excess += sum(values[: max(len(values) - obligation.max_isins, 0)])
        cover = sum(per_isin.values())
        return cover - min(excess, cover) < obligation.required_value - ABS_TOL_YEN

    def breaks_limits_now(self, oid: str) -> bool:
        """Whether today's pledges to ``oid`` break one of its limits (a cap, a bucket,
        ``max_isins``, the minimum pledge)."""
        obligation = self.obligations[oid]
        schedule = self.problem.schedules[obligation.schedule]
        per_isin: dict[str, float] = defaultdict(float)
        for (o2, _owner, _account, isin), face in self.current.items():
            if o2 != oid or face <= 0:
                continue
            if obligation.min_pledge_face and face < obligation.min_pledge_face:
                return True
            unit, h = self.unit_value(obligation, isin)
            per_isin[isin] += unit * face * (1 - h)
        cap = _isin_cap(schedule, obligation)
        if cap is not None and any(above_cap(v, cap) for v in per_isin.values()):
            return True
        if obligation.max_isins is not None and len(per_isin) > obligation.max_isins:
            return True
        for limit in schedule.bucket_limits:
            bucket_cap = _bucket_cap(limit, obligation)
            inside = sum(
                v
                for isin, v in per_isin.items()
                if _in_bucket(limit, _years(self.problem, self.securities[isin]))
            )
            if bucket_cap is not None and above_cap(inside, bucket_cap):
                return True
        return False

    def cover_of(self, allocation: Mapping[tuple[str, str, str, str], int]) -> dict[str, float]:
        cover: dict[str, float] = defaultdict(float)
        for (oid, _owner, _account, isin), face in allocation.items():
            if oid in self.obligations and isin in self.securities:
                unit, h = self.unit_value(self.obligations[oid], isin)
                cover[oid] += unit * face * (1 - h)
        return cover


def verify(problem: Problem, plan: Plan | Mapping[str, Any]) -> VerificationReport:
    """Check ``plan`` against ``problem``; the report lists every violation found.

    A plan with status ``error`` carries no allocation to check: it passes when it
    proposes no move (nothing of it may be executed) and says why in ``message``.
    """
    data = plan.to_dict() if isinstance(plan, Plan) else plan
    c = _Checker(problem, data)
    status = data.get("status")
    if status not in ("optimal", "feasible", "error"):
        c.fail("status", "status", f"{status!r} is not optimal, feasible or error")
    if status == "error":
        if data.get("moves"):
            c.fail("status", "moves", "an error plan proposes moves")
        if not data.get("message"):
            c.fail("status", "message", "an error plan does not say why")
        return VerificationReport(tuple(c.violations))
    final = c.final_allocation()
    final = {k: v for k, v in final.items() if k[0] in c.obligations}
    cover = c.check_limits(final)
    moves, move_count = c.check_moves(final)
    c.check_order(moves)

    costs = problem.costs
    opportunity = 0.0
    for (_oid, _owner, _account, isin), face in final.items():
        security = c.securities[isin]
        market_value = _market_per_face(security) * face
        opportunity += (
            security.opportunity_cost_bp / 1e4 * market_value * costs.horizon_days / 365.0
        )
    shortfall: dict[str, float] = {}
    reported = {o.get("id"): o for o in data.get("obligations") or []}
    worst = _worst_case_cover(c, final)
    for oid, obligation in c.obligations.items():
        shortfall[oid] = max(0.0, obligation.required_value - worst.get(oid, cover.get(oid, 0.0)))
        row = reported.get(oid)
        if row is None:
            c.fail("cover", oid, "obligation missing from the plan's obligations")
            continue
        _check_scenarios(c, final, oid, row.get("shortfall"))
        for name, expected in (
            ("collateral_value", cover.get(oid, 0.0)),
            ("shortfall", shortfall[oid]),
        ):
            value = row.get(name)
            if not isinstance(value, int | float) or not _close(float(value), expected):
                c.fail("cover", oid, f"{name} {value!r}, recomputed {expected:,.2f}")
        price = row.get("shadow_price")
        if not isinstance(price, int | float) or not math.isfinite(price) or price < 0:
            c.fail("cover", oid, f"shadow_price {price!r} is not a yen-per-yen cost >= 0")
        if shortfall[oid] > ABS_TOL_YEN and not row.get("binding"):
            c.fail("cover", oid, f"{shortfall[oid]:,.0f} yen short but no binding limit named")
    report = VerificationReport(
        (),
        opportunity=opportunity,
        moves=move_count * costs.move_cost,
        shortfall_penalty=sum(shortfall.values()) * costs.shortfall_penalty_per_yen,
        move_count=move_count,
        shortfall=shortfall,
    )
    _check_cost(c, data, report)
    return VerificationReport(
        tuple(c.violations),
        report.opportunity,
        report.moves,
        report.shortfall_penalty,
        report.move_count,
        report.shortfall,
    )


def _check_cost(c: _Checker, data: Mapping[str, Any], report: VerificationReport) -> None:
    """The reported cost, objective, bound, gap and baseline against the recomputed cost."""
    cost = data.get("cost") or {}
    for name, expected in (
        ("opportunity", report.opportunity),
        ("moves", report.moves),
        ("shortfall_penalty", report.shortfall_penalty),
        ("total", report.total),
    ):
        value = cost.get(name)
        if not isinstance(value, int | float) or not _close(float(value), expected):
            c.fail("cost", f"cost.{name}", f"{value!r}, recomputed {expected:,.2f}")
    if math.isnan(report.total):
        c.fail("cost", "total", "not a number")
    objective, bound, gap = (
        data.get("objective_value"),
        data.get("objective_bound"),
        data.get("mip_gap"),
    )
    if not isinstance(objective, int | float) or not _close(float(objective), report.total):
        c.fail("cost", "objective_value", f"{objective!r}, recomputed {report.total:,.2f}")
        return
    if bound is None:
        if data.get("status") == "optimal":
            c.fail("bound", "status", "optimal without an objective_bound to prove it")
        if gap is not None:
            c.fail("bound", "mip_gap", f"{gap!r} without an objective_bound")
    elif not isinstance(bound, int | float):
        c.fail("bound", "objective_bound", f"{bound!r} is not a number")
    else:
        if bound > objective + ABS_TOL_YEN + 1e-7 * abs(objective):
            c.fail("bound", "objective_bound", f"{bound:,.2f} above the objective {objective:,.2f}")
        expected_gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
        if not isinstance(gap, int | float) or abs(gap - expected_gap) > 1e-9 + 1e-6 * expected_gap:
            c.fail(
                "bound", "mip_gap", f"{gap!r}, (objective - bound) / objective = {expected_gap!r}"
            )
    baseline = data.get("baseline")
    if data.get("method") == "mip":
        total = baseline.get("total") if isinstance(baseline, Mapping) else None
        if not isinstance(total, int | float):
            c.fail(
                "baseline", "baseline.total", f"{total!r}: a MIP plan reports the waterfall's cost"
            )
        elif report.total > total + ABS_TOL_YEN + REL_TOL * abs(total):
            c.fail("baseline", "baseline.total",
                   f"the plan costs {report.total:,.2f}, more than the waterfall's {total:,.2f}")  # fmt: skip


def limits_broken_now(problem: Problem) -> list[str]:
    """Ids of the obligations whose pledges today already break one of their own limits
    (a cap, a bucket, ``max_isins``, the minimum pledge): the releases they owe may
    still be refused by the ledger when they would leave the obligation short."""
    checker = _Checker(problem, {})
    return [oid for oid in checker.obligations if checker.breaks_limits_now(oid)]


def _scenario_values(
    c: _Checker, final: Mapping[tuple[str, str, str, str], int], oid: str
) -> list[tuple[float, dict[str, float]]]:
    """Per allocation of ``oid``: (base value, {scenario: value}); a missing scenario
    price counts as 0 (the contract refuses it; a hand-built problem may not)."""
    obligation = c.obligations[oid]
    out = []
    for (o2, _owner, _account, isin), face in final.items():
        if o2 != oid or isin not in c.securities:
            continue
        unit, h = c.unit_value(obligation, isin)
        security = c.securities[isin]
        prices = security.scenario_dirty_prices
        scenarios = {  # a JGBi's scenario price is per 100 of adjusted principal too
            name: security.index_ratio * prices.get(name, 0.0) / 100.0 * face * (1 - h)
            for name in obligation.stress_scenarios
        }
        out.append((unit * face * (1 - h), scenarios))
    return out


def _worst_case_cover(
    c: _Checker, final: Mapping[tuple[str, str, str, str], int]
) -> dict[str, float]:
    """Robust cover of each obligation naming stress scenarios: the sum over its
    allocations of the least of the base value and each scenario value (the plan's
    shortfall is measured against it; :mod:`optimizer.stress`)."""
    return {
        oid: sum(
            min(base, *scenarios.values()) for base, scenarios in _scenario_values(c, final, oid)
        )
        for oid, obligation in c.obligations.items()
        if obligation.stress_scenarios
    }


def _check_scenarios(
    c: _Checker, final: Mapping[tuple[str, str, str, str], int], oid: str, shortfall: object
) -> None:
    """Cover of ``oid`` under each scenario it names, recomputed at the scenario's
    prices, plus the plan's reported shortfall, must reach the required value."""
    obligation = c.obligations[oid]
    if not obligation.stress_scenarios:
        return
    values = _scenario_values(c, final, oid)
    reported = float(shortfall) if isinstance(shortfall, int | float) else 0.0
    for name in obligation.stress_scenarios:
        cover = sum(scenarios[name] for _base, scenarios in values)
        if cover + reported < obligation.required_value - ABS_TOL_YEN:
            c.fail(
                "stress",
                f"{oid}/{name}",
                f"cover under scenario {name!r} is {cover:,.0f} + shortfall {reported:,.0f}, "
                f"below the required {obligation.required_value:,.0f}",
            )
