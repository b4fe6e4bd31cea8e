"""A price move written straight into the HiGHS rows (optimizer.inplace): the updated
session is the session built afresh on the new cost model, coefficient by coefficient,
bound by bound and cost by cost (rows and columns matched by their Pyomo names), and
stays so through margin calls, a second reprice and Pyomo's own parameter update."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.problems import synthetic_problem
from optimizer.candidates import candidate_mask
from optimizer.contract import parse_problem
from optimizer.costmodel import CostModel, resolve
from optimizer.greedy import greedy_lots
from optimizer.problem import Problem
from optimizer.solve import MipSession
from optimizer.stress import add_parallel_scenarios
from valuation.curve import ZeroCurve

Row = tuple[float, float, dict[str, float]]


@pytest.fixture(scope="module")
def book() -> Problem:
    return parse_problem(synthetic_problem(12, seed=5, n_accounts=3, n_isins=40, time_limit_s=10))


def _model(session: MipSession) -> tuple[dict[str, Row], dict[str, tuple[float, float, float]]]:
    """Rows (name -> lower, upper, {column name: coefficient}) and columns (name ->
    cost, lower, upper) of the session's HiGHS model, named after its Pyomo model."""
    lp = session.highs.getLp()
    solver = session.solver
    col_name = {
        col: v.name
        for v, col in (
            (var, solver._pyomo_var_to_solver_var_map[id(var)])
            for var in session.cmodel.model.component_data_objects(ctype=_var_type())
            if id(var) in solver._pyomo_var_to_solver_var_map
        )
    }
    matrix = lp.a_matrix_
    start, index, value = (np.asarray(a) for a in (matrix.start_, matrix.index_, matrix.value_))
    entries: dict[int, dict[str, float]] = {r: {} for r in range(lp.num_row_)}
    rowwise = matrix.format_.name == "kRowwise"
    for outer in range(len(start) - 1):
        for p in range(int(start[outer]), int(start[outer + 1])):
            r, c = (outer, int(index[p])) if rowwise else (int(index[p]), outer)
            entries[r][col_name[c]] = float(value[p])
    lower, upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
    rows = {
        con.name: (float(lower[r]), float(upper[r]), entries[r])
        for con, r in solver._pyomo_con_to_solver_con_map.items()
    }
    cost, col_lower, col_upper = (
        np.asarray(a) for a in (lp.col_cost_, lp.col_lower_, lp.col_upper_)
    )
    cols = {
        name: (float(cost[c]), float(col_lower[c]), float(col_upper[c]))
        for c, name in col_name.items()
    }
    cols["offset"] = (float(lp.offset_), 0.0, 0.0)
    return rows, cols


def _var_type() -> Any:
    import pyomo.environ as pyo

    return pyo.Var


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1.0)


def assert_same_model(session: MipSession, cm: CostModel) -> None:
    """``session`` holds, number for number, the model built afresh on ``cm`` over its
    candidates (columns the fresh model lacks may linger, unreferenced and free)."""
    fresh = MipSession(cm, session.cmodel.pairs, obligations=session.scope)
    ours, theirs = _model(session), _model(fresh)
    assert set(ours[0]) == set(theirs[0])
    for name, (lo, hi, coefs) in theirs[0].items():
        our_lo, our_hi, our_coefs = ours[0][name]
        assert _close(our_lo, lo) and _close(our_hi, hi), (name, our_lo, lo, our_hi, hi)
        assert set(our_coefs) == set(coefs), (name, set(our_coefs) ^ set(coefs))
        for col, c in coefs.items():
            assert _close(our_coefs[col], c), (name, col, our_coefs[col], c)
    for col, (cost, lo, hi) in theirs[1].items():
        assert all(map(_close, ours[1][col], (cost, lo, hi))), (col, ours[1][col], cost, lo, hi)
    for col in set(ours[1]) - set(theirs[1]):
        assert ours[1][col][0] == 0.0, col


def _session(cm: CostModel) -> MipSession:
    return MipSession(cm, np.flatnonzero(candidate_mask(cm, greedy_lots(cm))))


@pytest.mark.parametrize("factor", [0.995, 0.6, 1.3])
def test_a_price_move_is_written_straight_into_highs(book: Problem, factor: float) -> None:
    """-0.5% of every third ISIN (numbers only), -40% (bounds, minimum transfers,
    whole-lot caps change too, move cuts appear: those rows through Pyomo) and +30%
    (move cuts go)."""
    cm = resolve(book)
    session = _session(cm)
    updated = cm.with_prices({s.isin: s.dirty_price * factor for s in book.securities[::3]})
    session.update_prices(updated)
    # Only pairs whose bounds moved have rows rewritten (through Pyomo); the rest is written.
    assert session.update_counts["coefficients_written"] > session.update_counts["rows_rewritten"]
    assert_same_model(session, updated)


def test_a_stressed_book_with_a_margin_call_before_the_move(book: Problem) -> None:
    stressed = add_parallel_scenarios(
        book, ZeroCurve((0.0, 30.0), (0.01, 0.01)), [100], [o.id for o in book.obligations[:4]]
    )
    cm = resolve(stressed)
    session = _session(cm)
    target = stressed.obligations[1]
    called = cm.with_required_value(target.id, target.required_value * 1.2)
    updated = called.with_prices({s.isin: s.dirty_price * 0.97 for s in stressed.securities[::4]})
    session.update_prices(updated)
    assert session.update_counts["coefficients_written"] > 0
    assert_same_model(session, updated)


def test_two_reprices_with_a_margin_call_between(book: Problem) -> None:
    """The second reprice diffs against the first's numbers (written straight into
    HiGHS) and the call's rows (through Pyomo); then Pyomo's own update of every
    parameter (what growing the model runs) must change nothing."""
    cm = resolve(book)
    session = _session(cm)
    first = cm.with_prices({s.isin: s.dirty_price * 0.995 for s in book.securities[::3]})
    session.update_prices(first)
    target = book.obligations[5]
    called = first.with_required_value(target.id, target.required_value * 1.25)
    session.update_requirement(called, target.id)
    assert_same_model(session, called)
    second = called.with_prices({s.isin: s.dirty_price * 0.8 for s in book.securities[1::4]})
    session.update_prices(second)
    assert_same_model(session, second)
    session.solver.update_parameters()
    assert_same_model(session, second)


def test_margin_calls_that_make_the_move_cuts_go_and_come(book: Problem) -> None:
    """A call that leaves an obligation covered drops its move cuts (they no longer
    hold: a fresh model has none); a call that makes one short adds them."""
    cm = resolve(book)
    session = _session(cm)
    rows = session.cmodel.model
    lowered, raised = book.obligations[0], book.obligations[3]  # short now, covered now
    assert lowered.id in rows.move_count_cut
    assert raised.id not in rows.move_count_cut
    cm = cm.with_required_value(lowered.id, lowered.required_value * 0.5)
    session.update_requirement(cm, lowered.id)
    assert lowered.id not in rows.move_count_cut and lowered.id not in rows.move_cover_cut
    assert_same_model(session, cm)
    cm = cm.with_required_value(raised.id, raised.required_value * 1.5)
    session.update_requirement(cm, raised.id)
    assert raised.id in rows.move_count_cut
    assert_same_model(session, cm)
