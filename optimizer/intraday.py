"""The optimizer kept warm through the day: margin calls and price moves in under a second.

JSCC recomputes initial margin at 07:00, 11:00 and 14:00 (DOMAIN.md section 4); a
bilateral call can come at any time. :class:`IntradaySession` runs the full optimization
once, then answers each change from where it stands instead of starting over:

* the cost model is updated in place for what changed
  (:meth:`~optimizer.costmodel.CostModel.with_required_value`,
  :meth:`~optimizer.costmodel.CostModel.with_prices`), not resolved again;
* the obligations touched are re-solved exactly with everyone else fixed
  (:func:`optimizer.subproblem.improve`), starting from the standing plan -- the answer
  within the second;
* the persistent HiGHS session of the component takes the new parameters in place
  (mutable ``Param`` values, bounds, the rewritten rows of the obligations touched; no
  rebuild) when :meth:`refine` needs it, kept out of the call's answer: a margin call
  its obligation's rows (~0.4 s of Pyomo per call on the 300 x 20,000 book), a price
  move every datum that moved (:meth:`~optimizer.solve.MipSession.update_prices`,
  the numbers written straight into HiGHS where a row keeps its shape,
  :mod:`optimizer.inplace`: 2 s for the three sessions against 8 s through Pyomo);
  then it re-solves warm-started from that answer, for a better plan and a fresh
  bound.

Plans are relative to the allocation the session started from (the problem's
holdings): a plan already carried out on the ledger makes a new problem, and a new
session.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from optimizer.costmodel import CostModel, IntArray, resolve
from optimizer.greedy import greedy_lots
from optimizer.lower_bound import component_bounds
from optimizer.optimize import MipRun, checked_bound, components, optimize_mip
from optimizer.plan import Plan, PlanStatus, build_plan, cost_of
from optimizer.problem import Problem
from optimizer.subproblem import improve

if TYPE_CHECKING:
    from optimizer.solve import MipSession


class IntradaySession:
    """One day's optimizer (see the module docstring).

    Parameters
    ----------
    problem
        The start-of-day problem; :meth:`optimize` solves it within its time limit.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.cm: CostModel | None = None
        self.run: MipRun | None = None
        self.lots: IntArray | None = None
        self.baseline: IntArray | None = None
        self.pending: list[str] = []
        """Obligations whose new requirement the MIP sessions have not taken yet."""
        self.repriced = False
        """Whether prices moved since the MIP sessions last took the cost model."""

    def optimize(self) -> Plan:
        """The full optimization (waterfall, fix-and-optimize, MIP); keeps it warm."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        self.cm = resolve(self.problem)
        self.pending, self.repriced = [], False
        timings["resolve"] = time.perf_counter() - started
        self.baseline = greedy_lots(self.cm)
        baseline_total = cost_of(self.cm, self.baseline).total
        self.run = optimize_mip(self.cm, self.baseline, baseline_total, started, timings)
        self.lots = self.run.lots
        return self.run.plan

    def margin_call(
        self, obligation_id: str, required_value: float, *, time_limit: float = 1.0
    ) -> Plan:
        """Obligation ``obligation_id`` now requires ``required_value`` yen: the plan
        re-solved for it (and nothing else) within ``time_limit`` seconds."""
        cm, lots = self._warm()
        started = time.perf_counter()
        cm = cm.with_required_value(obligation_id, required_value)
        o = cm.problem.obligation_index(obligation_id)
        if obligation_id not in self.pending:
            self.pending.append(obligation_id)  # the sessions take it in refine()
        return self._resolve_locally(cm, lots, np.array([o]), started, time_limit)

    def reprice(self, dirty_prices: Mapping[str, float], *, time_limit: float = 1.0) -> Plan:
        """Dirty prices moved (ISIN -> price per 100): the obligations holding or
        drawing on those bonds re-solved within ``time_limit`` seconds. The persistent
        MIP sessions take the new prices in place at :meth:`refine`
        (:meth:`~optimizer.solve.MipSession.update_prices`), out of this call's answer."""
        cm, lots = self._warm()
        started = time.perf_counter()
        cm = cm.with_prices(dirty_prices)
        moved = np.isin(cm.pair_isin, [cm.problem.security_index(i) for i in dirty_prices])
        touched = np.unique(cm.pair_obligation[moved & ((lots > 0) | (cm.current_lots > 0))])
        self.repriced = True  # the sessions take it in refine()
        return self._resolve_locally(cm, lots, touched, started, time_limit)

    def refine(self, time_limit: float = 10.0) -> Plan:
        """Re-solve the persistent MIP sessions, warm-started from the standing plan:
        a better plan where one exists, and a bound for it: per component the better
        of its session's and its quick bound (:mod:`optimizer.lower_bound`), so a
        component without a session (one whose time ran out at the start) still has
        one. Margin calls and price moves since the last refine reach the sessions
        here, in place."""
        cm, lots = self._warm()
        started = time.perf_counter()
        sessions = self._take_changes(cm)
        solved: dict[tuple[int, ...], float | None] = {}
        for group, session in sessions:
            share = time_limit / max(len(sessions), 1)
            result = session.solve(
                [lots, cm.current_lots], time_limit=share, gap=cm.problem.solver.mip_rel_gap
            )
            in_group = np.isin(cm.pair_obligation, group)
            if result.lots is not None and session.scope_cost(result.lots) < session.scope_cost(
                lots
            ):
                merged = np.where(in_group, result.lots, lots)
                if not cm.infeasibility(merged):
                    lots = merged
            solved[tuple(group.tolist())] = result.objective_bound
        parts = components(cm)
        try:
            quick = component_bounds(cm, parts)
        except Exception:  # a plan, never an exception: the sessions' bounds alone
            quick = [-math.inf] * len(parts)
        bound: float | None = 0.0
        for part, floor in zip(parts, quick, strict=True):
            own = solved.get(tuple(part.tolist()))
            best = max(floor, -math.inf if own is None else own)
            bound = None if bound is None or not math.isfinite(best) else bound + best
        self.lots = lots
        return self._plan(cm, lots, started, bound)

    def _warm(self) -> tuple[CostModel, IntArray]:
        if self.cm is None or self.lots is None:
            self.optimize()
        assert self.cm is not None and self.lots is not None
        return self.cm, self.lots

    def _sessions(self) -> list[tuple[IntArray, MipSession]]:
        return [] if self.run is None else self.run.sessions

    def _take_changes(self, cm: CostModel) -> list[tuple[IntArray, MipSession]]:
        """The sessions, after taking what changed since they last saw the cost model:
        after a price move every datum that moved (prices and margin calls alike,
        :meth:`~optimizer.solve.MipSession.update_prices`), else each margin call's
        obligation alone. A session whose cost model no longer has the same pairs (it
        cannot be updated in place) is built afresh over its candidates."""
        from optimizer.model import same_structure
        from optimizer.solve import MipSession

        sessions = self._sessions()
        if self.repriced:
            for k, (group, session) in enumerate(sessions):
                if same_structure(session.cm, cm):
                    session.update_prices(cm)
                else:
                    options = cm.problem.solver
                    sessions[k] = (group, MipSession(
                        cm, session.cmodel.pairs, obligations=group, seed=options.seed,
                        threads=options.threads, pools=session.cmodel.use_pools,
                        cuts=session.cmodel.use_cuts, relaxed_lots=session.relax_lots,
                    ))  # fmt: skip
        else:
            for obligation_id in self.pending:  # margin calls since the last refine
                o = cm.problem.obligation_index(obligation_id)
                for group, session in sessions:
                    if o in group.tolist():
                        session.update_requirement(cm, obligation_id)
        self.pending, self.repriced = [], False
        return sessions

    def _resolve_locally(
        self,
        cm: CostModel,
        lots: IntArray,
        obligations: IntArray,
        started: float,
        time_limit: float,
    ) -> Plan:
        # The desk's response (the baseline): the waterfall on the obligations hit,
        # from the desk's own standing allocation.
        assert self.baseline is not None
        self.baseline = greedy_lots(cm, self.baseline, obligations)
        # Ours starts from the standing plan with the same response, then re-solves
        # the obligations hit exactly; it keeps whichever is cheaper.
        start = greedy_lots(cm, lots, obligations)
        deadline = started + 0.8 * time_limit
        new = improve(cm, start, obligations=obligations, passes=1, deadline=deadline)
        if cm.infeasibility(new) or cost_of(cm, new).total > cost_of(cm, start).total:
            new = start
        self.cm, self.lots = cm, new
        return self._plan(cm, new, started, None)

    def _plan(self, cm: CostModel, lots: IntArray, started: float, bound: float | None) -> Plan:
        total = cost_of(cm, lots).total
        bound, note = checked_bound(bound, total)
        proven = bound is not None and total - bound <= cm.problem.solver.mip_rel_gap * max(
            abs(total), 1e-9
        )
        return build_plan(
            cm, lots, method="mip",
            status=PlanStatus.OPTIMAL if proven else PlanStatus.FEASIBLE,
            termination_condition="optimal" if proven else "intraday",
            objective_bound=bound, solve_seconds=time.perf_counter() - started,
            baseline_total=None if self.baseline is None else cost_of(cm, self.baseline).total,
            message=note,
        )  # fmt: skip
