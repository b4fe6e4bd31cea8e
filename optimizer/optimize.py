"""``optimize(problem)``: the one entry point from a problem to a verified-shape plan.

``method="greedy"`` runs the desk's waterfall (:mod:`optimizer.greedy`);
``method="mip"`` runs the candidate-set MIP (:mod:`optimizer.solve`), warm-started from
the current allocation and the waterfall. Every run returns a :class:`Plan`; solver
failures become a plan with status ``error`` and a message, never an exception.
"""

from __future__ import annotations

import dataclasses
import time
from enum import StrEnum

from optimizer.costmodel import resolve
from optimizer.greedy import greedy_lots
from optimizer.plan import Plan, PlanStatus, build_plan, cost_of
from optimizer.problem import Problem
from valuation.errors import InputError


class Method(StrEnum):
    """How to optimize: the MIP, or the desk's greedy waterfall."""

    MIP = "mip"
    GREEDY = "greedy"

    @classmethod
    def parse(cls, value: object) -> Method:
        """The method named by ``value``, or an :class:`InputError`."""
        try:
            return cls(str(value).lower())
        except ValueError:
            raise InputError("options", "method", f"{value!r} is not mip or greedy") from None


def optimize(problem: Problem, method: Method | str = Method.MIP) -> Plan:
    """Optimize ``problem`` and return the plan (see :class:`~optimizer.plan.Plan`)."""
    method = Method.parse(method)
    if method is Method.MIP:  # the MIP lands in optimizer.solve; until then the waterfall
        plan = optimize(problem, Method.GREEDY)
        return dataclasses.replace(plan, message="MIP not available yet: greedy waterfall plan")
    started = time.perf_counter()
    cm = resolve(problem)
    resolved = time.perf_counter()
    baseline = greedy_lots(cm)
    baseline_total = cost_of(cm, baseline).total
    greedy_done = time.perf_counter()
    if method is Method.GREEDY:
        return build_plan(
            cm,
            baseline,
            method=method.value,
            status=PlanStatus.FEASIBLE,
            termination_condition="heuristic",
            objective_bound=None,
            solve_seconds=greedy_done - started,
            baseline_total=baseline_total,
            timings={"resolve": resolved - started, "greedy": greedy_done - resolved},
        )
    raise AssertionError("unreachable")
