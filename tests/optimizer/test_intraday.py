"""The intraday path: incremental cost-model updates equal a fresh resolve, margin
calls keep the plan verified and never dearer than the desk's response, and the
persistent MIP session takes a call in place."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyomo.environ as pyo
import pytest

from benchmarks.problems import synthetic_problem
from optimizer.candidates import candidate_mask
from optimizer.contract import parse_problem
from optimizer.costmodel import CostModel, resolve
from optimizer.greedy import greedy_lots
from optimizer.intraday import IntradaySession
from optimizer.model import same_structure
from optimizer.problem import Problem
from optimizer.solve import MipSession, SolveResult
from optimizer.stress import add_parallel_scenarios
from optimizer.verify import verify
from valuation.curve import ZeroCurve

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
    assert session.pending == [] and session.cm is not None
    assert verify(session.cm.problem, refined).ok
    assert refined.objective_bound is not None
    assert refined.objective_bound <= refined.cost.total * (1 + 1e-9) + 1e-6
    plan = session.reprice({s.isin: s.dirty_price * 1.02 for s in book.securities[::3]})
    assert session.cm is not None
    assert verify(session.cm.problem, plan).ok
    refined = session.refine(time_limit=5)
    assert verify(session.cm.problem, refined).ok
    assert refined.cost.total <= plan.cost.total + 1e-6
    # The sessions survive the price move and took it at refine, in place.
    assert session.run is not None and session.run.sessions and not session.repriced
    assert all(s.cm is session.cm for _, s in session.run.sessions)
    assert refined.objective_bound is not None
    assert refined.objective_bound <= refined.cost.total * (1 + 1e-9) + 1e-6


def test_persistent_session_takes_a_margin_call_in_place(book: Problem) -> None:
    """After update_requirement the persistent model is the model built afresh for the
    new requirement: both prove the same bound (the relaxed-lot optimum) when both
    finish; when either is cut short by its time limit, each bound is still below the
    other's plan (they are one problem)."""
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
    _bounds_agree(in_place, fresh, updated)


def _same_model(session: MipSession, fresh: MipSession, updated: CostModel) -> None:
    """The updated session is the fresh one: the same rows and nonzeros, the same LP
    optimum (to float noise), and MIP bounds that agree or bound each other's plans."""
    assert session.highs.getNumRow() == fresh.highs.getNumRow()
    assert len(session.highs.getLp().a_matrix_.value_) == len(fresh.highs.getLp().a_matrix_.value_)
    ours, theirs = session.lp_prices(), fresh.lp_prices()
    assert ours is not None and theirs is not None
    assert ours[0] == pytest.approx(theirs[0], rel=1e-9, abs=1e-9)
    warm = greedy_lots(updated)
    in_place = session.solve([warm, updated.current_lots], time_limit=5, gap=1e-6)
    built = fresh.solve([warm, updated.current_lots], time_limit=5, gap=1e-6)
    _bounds_agree(in_place, built, updated)


def _bounds_agree(in_place: SolveResult, fresh: SolveResult, updated: CostModel) -> None:
    """An updated session's solve and a fresh session's on the same cost model prove
    the same bound when both finish; when either is cut short by its time limit, each
    bound is still below the other's plan (they are one problem). The in-place plan
    meets every limit."""
    assert in_place.objective_bound is not None and fresh.objective_bound is not None
    if in_place.termination_condition == fresh.termination_condition == "optimal":
        assert in_place.objective_bound == pytest.approx(fresh.objective_bound, rel=1e-5)
    else:  # a solve cut short by a loaded machine: each still bounds the other's plan
        assert in_place.objective_value is not None and fresh.objective_value is not None
        assert in_place.objective_bound <= fresh.objective_value * (1 + 1e-9) + 1e-6
        assert fresh.objective_bound <= in_place.objective_value * (1 + 1e-9) + 1e-6
    assert in_place.lots is not None and not updated.infeasibility(in_place.lots)


@pytest.mark.parametrize("factor", [0.995, 0.6])
def test_persistent_session_takes_a_price_move_in_place(book: Problem, factor: float) -> None:
    """After update_prices the persistent model is the model built afresh on the new
    prices; a move of -40% changes pairs' bounds, minimum-transfer lots and the ISIN
    caps' whole-lot rounding, so rows appear, go and change their coefficients."""
    cm = resolve(book)
    candidates = np.flatnonzero(candidate_mask(cm, greedy_lots(cm)))
    session = MipSession(cm, candidates)
    caps_before = {q: pyo.value(v) for q, v in session.cmodel.model.isin_cap_value.items()}
    updated = cm.with_prices({s.isin: s.dirty_price * factor for s in book.securities[::3]})
    session.update_prices(updated)
    if factor < 0.9:
        assert np.any(updated.max_lots != cm.max_lots)
        assert np.any(updated.min_move_lots != cm.min_move_lots)
        caps = session.cmodel.model.isin_cap_value
        assert any(pyo.value(caps[q]) != v for q, v in caps_before.items())
    _same_model(session, MipSession(updated, candidates), updated)


def test_persistent_session_takes_a_price_move_of_a_stressed_book(book: Problem) -> None:
    """A stressed obligation's values follow the scenario prices, which move with the
    base price (the cost model is resolved afresh): the session still updates in
    place, margin calls since its last update included."""
    stressed = add_parallel_scenarios(
        book, ZeroCurve((0.0, 30.0), (0.01, 0.01)), [100], [o.id for o in book.obligations[:4]]
    )
    cm = resolve(stressed)
    candidates = np.flatnonzero(candidate_mask(cm, greedy_lots(cm)))
    session = MipSession(cm, candidates)
    target = stressed.obligations[1]
    called = cm.with_required_value(target.id, target.required_value * 1.2)
    updated = called.with_prices({s.isin: s.dirty_price * 0.97 for s in stressed.securities[::4]})
    assert same_structure(cm, updated)
    session.update_prices(updated)
    _same_model(session, MipSession(updated, candidates), updated)


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


def test_a_margin_call_that_opens_new_pools_is_taken_in_place(book: Problem) -> None:
    """An obligation requiring nothing has no pools (no pair can add anything); a call
    to a real requirement creates them. Their links are new rows, not rows to replace:
    the update must not ask HiGHS to remove what it never had (it did, found in the
    price-move review), and the in-place model must still bound a fresh one's plan."""
    target = book.obligations[4]
    cm = resolve(book).with_required_value(target.id, 0.0)
    lots = greedy_lots(cm)
    session = MipSession(cm, np.flatnonzero(candidate_mask(cm, lots)))
    pools_before = len(session.cmodel.pools_of.get(target.id, []))
    updated = cm.with_required_value(target.id, target.required_value * 1.5)
    session.update_requirement(updated, target.id)
    assert len(session.cmodel.pools_of.get(target.id, [])) > pools_before
    warm = greedy_lots(updated)
    in_place = session.solve([warm, updated.current_lots], time_limit=10, gap=1e-6)
    fresh = MipSession(updated, np.flatnonzero(candidate_mask(updated, warm))).solve(
        [warm, updated.current_lots], time_limit=10, gap=1e-6
    )
    assert in_place.objective_bound is not None and fresh.objective_value is not None
    assert in_place.objective_bound <= fresh.objective_value * (1 + 1e-9) + 1e-6
    assert in_place.lots is not None and not updated.infeasibility(in_place.lots)
