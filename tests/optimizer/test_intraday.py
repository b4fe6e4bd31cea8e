"""The intraday path: incremental cost-model updates equal a fresh resolve, margin
calls keep the plan verified and never dearer than the desk's response, and the
persistent MIP session takes a call in place."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.problems import synthetic_problem
from optimizer.contract import parse_problem
from optimizer.costmodel import resolve
from optimizer.intraday import IntradaySession
from optimizer.problem import Problem
from optimizer.verify import verify

FIELDS = ("required_value", "cover_target", "group_cap", "row_cap", "max_lots", "value_per_lot",
          "market_per_lot", "cost_per_lot", "min_move_lots", "dirty_price")  # fmt: skip


@pytest.fixture(scope="module")
def book() -> Problem:
    return parse_problem(synthetic_problem(12, seed=5, n_accounts=3, n_isins=40, time_limit_s=10))


def test_incremental_requirement_equals_a_fresh_resolve(book: Problem) -> None:
    cm = resolve(book)
    target = book.obligations[3]
    updated = cm.with_required_value(target.id, target.required_value * 1.3)
    obligations = tuple(
        dataclasses.replace(o, required_value=o.required_value * 1.3) if o.id == target.id else o
        for o in book.obligations
    )
    fresh = resolve(dataclasses.replace(book, obligations=obligations))
    for name in FIELDS:
        assert np.array_equal(getattr(updated, name), getattr(fresh, name)), name


def test_incremental_prices_equal_a_fresh_resolve(book: Problem) -> None:
    cm = resolve(book)
    prices = {s.isin: s.dirty_price * 0.99 for s in book.securities[::5]}
    updated = cm.with_prices(prices)
    securities = tuple(
        dataclasses.replace(s, dirty_price=prices.get(s.isin, s.dirty_price))
        for s in book.securities
    )
    fresh = resolve(dataclasses.replace(book, securities=securities))
    for name in FIELDS:
        assert np.allclose(getattr(updated, name), getattr(fresh, name), rtol=1e-12, atol=0), name


def test_margin_calls_and_reprice_stay_verified_and_beat_the_desk(book: Problem) -> None:
    session = IntradaySession(book)
    first = session.optimize()
    assert verify(book, first).ok
    for k, factor in ((0, 1.4), (5, 0.7), (9, 1.1)):
        obligation = book.obligations[k]
        plan = session.margin_call(obligation.id, obligation.required_value * factor)
        assert session.cm is not None
        problem = session.cm.problem
        assert problem.obligation(obligation.id).required_value == pytest.approx(
            obligation.required_value * factor
        )
        assert verify(problem, plan).ok
        assert plan.baseline_total is not None and plan.cost.total <= plan.baseline_total + 1e-6
    assert session.pending == [book.obligations[k].id for k in (0, 5, 9)]
    refined = session.refine(time_limit=5)  # the sessions take the three calls here
    assert session.pending == []
    assert verify(session.cm.problem, refined).ok
    assert refined.objective_bound is not None
    assert refined.objective_bound <= refined.cost.total * (1 + 1e-9) + 1e-6
    plan = session.reprice({s.isin: s.dirty_price * 1.02 for s in book.securities[::3]})
    assert session.cm is not None
    assert verify(session.cm.problem, plan).ok
    refined = session.refine(time_limit=5)
    assert verify(session.cm.problem, refined).ok
    assert refined.cost.total <= plan.cost.total + 1e-6
    # No session survives a price move; the quick bounds still bound the plan.
    assert refined.objective_bound is not None
    assert refined.objective_bound <= refined.cost.total * (1 + 1e-9) + 1e-6


def test_persistent_session_takes_a_margin_call_in_place(book: Problem) -> None:
    """After update_requirement the persistent model is the model built afresh for the
    new requirement: both prove the same bound (the relaxed-lot optimum) when both
    finish; when either is cut short by its time limit, each bound is still below the
    other's plan (they are one problem)."""
    from optimizer.candidates import candidate_mask
    from optimizer.greedy import greedy_lots
    from optimizer.solve import MipSession

    cm = resolve(book)
    lots = greedy_lots(cm)
    candidates = np.flatnonzero(candidate_mask(cm, lots))
    session = MipSession(cm, candidates)
    target = book.obligations[2]
    updated = cm.with_required_value(target.id, target.required_value * 1.5)
    session.update_requirement(updated, target.id)
    warm = greedy_lots(updated)
    in_place = session.solve([warm, updated.current_lots], time_limit=10, gap=1e-6)
    fresh = MipSession(updated, candidates).solve(
        [warm, updated.current_lots], time_limit=10, gap=1e-6
    )
    assert in_place.objective_bound is not None and fresh.objective_bound is not None
    if in_place.termination_condition == fresh.termination_condition == "optimal":
        assert in_place.objective_bound == pytest.approx(fresh.objective_bound, rel=1e-5)
    else:  # a solve cut short by a loaded machine: each still bounds the other's plan
        assert in_place.objective_value is not None and fresh.objective_value is not None
        assert in_place.objective_bound <= fresh.objective_value * (1 + 1e-9) + 1e-6
        assert fresh.objective_bound <= in_place.objective_value * (1 + 1e-9) + 1e-6
    assert in_place.lots is not None and not updated.infeasibility(in_place.lots)


def test_a_bound_above_the_plan_is_clamped_only_within_float_noise() -> None:
    """optimize and the intraday session share one check: a bound a hair above the
    plan's cost (float sums) becomes the cost; a real excess is kept and noted, so
    verify sees the fault instead of a clamp hiding it."""
    from optimizer.optimize import checked_bound

    assert checked_bound(None, 100.0) == (None, "")
    assert checked_bound(99.0, 100.0) == (99.0, "")
    assert checked_bound(1e9 * (1 + 1e-12), 1e9) == (1e9, "")
    bound, note = checked_bound(101.0, 100.0)
    assert bound == 101.0 and "not a valid bound" in note
