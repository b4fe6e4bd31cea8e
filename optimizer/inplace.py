"""A price move written straight into a session's HiGHS rows, not rewritten through Pyomo.

A reprice of every tenth ISIN moves a number in nearly every aggregate row of the
300 x 20,000 book (values, base values, move-cut coefficients, right-hand sides); with
Pyomo each row is built again as an expression, dropped from HiGHS and added back
(~22,000 rows, 7.0 s against 10.4 s to build the sessions afresh; measured, see
docs/OPTIMIZER.md "Intraday"). The rows keep their variables, though, so
:meth:`optimizer.model.CollateralModel.update_prices` (``direct=True``) lists each
row's new coefficients, bounds and the objective's costs here, computed from the
model's arrays by the same formulas as ``CollateralModel._rebuild_rows`` (keep the
two in step: ``tests/optimizer/test_inplace.py`` compares every coefficient with a
model built afresh), and :meth:`optimizer.solve.MipSession.update_prices` writes them
with ``Highs.changeCoeff`` (2.2 us a coefficient, measured), ``changeRowsBounds`` and
``changeColsCost``.

What stays true of the Pyomo model. Every ``Param`` takes its new value, so rows and
an objective whose price-dependent numbers are ``Param``\\ s (cover, ISIN and bucket
caps, move-count cuts, pool links, the objective) are the Pyomo model's own. Rows with
float coefficients (the ledger floor, the move-cover cut's pledge coefficients, the
ISIN links) keep their old expression in Pyomo; nothing reads it again: every later
rewrite (a margin call, a reprice, new pairs) builds the row afresh from the model's
arrays, and Pyomo's ``update_parameters`` (after :meth:`~optimizer.solve.MipSession.grow`)
re-evaluates only ``Param`` coefficients and bounds, which are current. The one row
mixing the two, a bucket cap under stress (its own edge values, a ``Param`` cap), is
rewritten through Pyomo.

An obligation whose rows change shape (a pool opens, an ISIN cap becomes finite) is
rewritten through Pyomo (:func:`reshaped`); so are a ledger floor or move cut that
appears or goes (those rows alone), a pair's own rows where its bounds or minimum move
changed, and the objective only where a pool opened (a new column in it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.costmodel import NO_LIMIT, CostModel
from optimizer.model import COST_UNIT, GENERAL_POOL, VALUE_UNIT

if TYPE_CHECKING:
    from optimizer.model import Changes, CollateralModel, Key, PoolKey


def reshaped(
    cmodel: CollateralModel,
    touched: Iterable[str],
    *,
    pools_before: Mapping[str, list[PoolKey]],
    faces_before: set[Any],
    old: CostModel,
) -> set[str]:
    """The obligations of ``touched`` whose rows change shape with the new cost model
    (a pool opened or took a face, an ISIN cap or ``max_isins`` changed kind): those are
    rewritten through Pyomo. (A ledger floor or move cut that appears or goes is
    written through Pyomo alone, by the caller.)"""
    cm, m = cmodel.cm, cmodel.model
    out: set[str] = set()
    for o in touched:
        i = cmodel.index[o]
        pools = cmodel.pools_of.get(o, [])
        groups = {(o, k[2]) for k in cmodel.by_obligation.get(o, [])}
        if (
            pools != pools_before.get(o, [])
            or any(q in m.pool_face and q not in faces_before for q in pools)
            or old.max_isins[i] != cm.max_isins[i]
            or any(
                math.isfinite(old.group_cap[g]) != math.isfinite(cm.group_cap[g])
                for g in (cmodel.group_index[q] for q in groups if q in cmodel.group_index)
            )
        ):
            out.add(o)
    return out


def write_rows(cmodel: CollateralModel, obligations: Iterable[str], changes: Changes) -> None:
    """List the new numbers of every row of ``obligations`` a price moves (their
    shape unchanged, :func:`reshaped`) in ``changes``; set the caps' ``Param``\\ s."""
    cm, m = cmodel.cm, cmodel.model
    value, base, reach = cmodel.value, cmodel.base, cmodel.reach
    current = cm.current_lots
    j_of = cmodel.j_of
    coefficients, bounds = changes.coefficients, changes.row_bounds
    inf = math.inf
    problem = cmodel.problem
    owner_of = {ob.id: ob.pledgor for ob in problem.obligations}
    row_of = {
        (problem.obligations[int(cm.row_obligation[b])].id, cm.row_label[b]): b
        for b in range(cm.row_cap.size)
    }

    # Per pair of the obligation at hand: its add and release columns and today's lots
    # (a pair sits in ~5 rows; an indexed Var lookup is ~1 us).
    lots: dict[Key, tuple[Any, Any, int]] = {}

    def valued(row: Any, keys: list[Key], coef: list[float]) -> float:
        """Write ``sum coef[k] x lots(k)``'s coefficients; return its constant part."""
        constant = 0.0
        for k, c in zip(keys, coef, strict=True):
            add, release, a = lots[k]
            coefficients.append((row, add, c))
            if a > 0:
                coefficients.append((row, release, -c))
                constant += c * a
        return constant

    for o in sorted(obligations):
        i = cmodel.index[o]
        keys = cmodel.by_obligation.get(o, [])
        mine = cmodel.pools_of.get(o, [])
        js = [j_of[k] for k in keys]
        lots.clear()
        for k, a in zip(keys, current[js].tolist(), strict=True):
            lots[k] = (m.add[k], m.release[k] if a > 0 else None, a)
        values = value[js].tolist()
        row = m.cover[o]
        bounds.append((row, m.required[o].value - valued(row, keys, values), inf))
        if o in m.ledger_floor:
            row = m.ledger_floor[o]
            constant = valued(row, keys, base[js].tolist())
            coefficients += [(row, m.pool_value[q], cmodel.pool_base_ratio[q]) for q in mine]
            bounds.append((row, float(cmodel.floor[i]) - constant, inf))
        if o in m.move_count_cut:
            row = m.move_count_cut[o]
            coefficients.append((row, m.shortfall[o], m.cut_alpha[o].value))
            bounds.append((row, float(m.cut_needed[o].value), inf))
        if o in m.move_cover_cut:
            row = m.move_cover_cut[o]
            deficit = float(cmodel.deficit[i])
            cut = np.minimum(reach[js], deficit).tolist()
            coefficients += [(row, m.pledge_move[k], c) for k, c in zip(keys, cut, strict=True)]
            coefficients += [(row, m.pool_moves[q], m.pool_cut_coef[q].value) for q in mine]
            bounds.append((row, m.cut_deficit[o].value, inf))
        for q in mine:
            if q in m.pool_link:
                coefficients.append((m.pool_link[q], m.pool_moves[q], -m.pool_chunk[q].value))
            if q in m.pool_isin_link:
                if q[1] == GENERAL_POOL:
                    slot, chunk = m.pool_isins[o], m.pool_isin_chunk[q].value
                else:
                    slot, chunk = m.isin_used[q], m.pool_reach[q].value
                coefficients.append((m.pool_isin_link[q], slot, -chunk))
        _write_groups(cmodel, o, keys, values, valued=valued, changes=changes)
        if not cmodel.bucket_own_coef:  # else rewritten through Pyomo (the module docstring)
            for bk in sorted(cmodel.buckets_of.get(o, set())):
                members = cmodel.by_bucket.get(bk, [])
                if not members or bk not in m.bucket_cap:
                    continue
                b = row_of[bk]
                m.bucket_cap_value[bk] = float(cm.row_cap[b] / VALUE_UNIT)
                row = m.bucket_cap[bk]
                constant = valued(row, members, value[[j_of[k] for k in members]].tolist())
                bounds.append((row, -inf, m.bucket_cap_value[bk].value - constant))
        for q in mine:  # the owner's face in the ISIN: a pool's face per value moved
            if q[1] == GENERAL_POOL or q not in m.pool_face:
                continue
            ik = (owner_of[o], q[1])
            if ik in m.isin_capacity:
                coefficients.append((m.isin_capacity[ik], m.pool_value[q], m.pool_face[q].value))


def _write_groups(
    cmodel: CollateralModel,
    o: str,
    keys: list[Key],
    values: list[float],
    *,
    valued: Any,
    changes: Changes,
) -> None:
    """The ISIN links and ISIN caps of obligation ``o``."""
    cm, m = cmodel.cm, cmodel.model
    j_of = cmodel.j_of
    bounds = changes.row_bounds
    of_key = dict(zip(keys, values, strict=True))
    capped = cm.max_isins[cmodel.index[o]] != NO_LIMIT
    for q in sorted({(o, k[2]) for k in keys}):
        members = cmodel.by_group.get(q, [])
        g = cmodel.group_index.get(q)
        member_values = [of_key[k] for k in members]
        if capped and q in m.isin_link:
            g_cap = cmodel._whole_lot_cap(g) if g is not None else math.inf
            held = sum(
                v * max(int(cm.max_lots[j_of[k]]), int(cm.current_lots[j_of[k]]))
                for k, v in zip(members, member_values, strict=True)
            )
            row = m.isin_link[q]
            constant = valued(row, members, member_values)
            changes.coefficients.append((row, m.isin_used[q], -min(held, g_cap)))
            bounds.append((row, -math.inf, -constant))
        if g is not None and q in m.isin_cap:
            m.isin_cap_value[q] = cmodel._whole_lot_cap(g)
            row = m.isin_cap[q]
            constant = valued(row, members, member_values)
            bounds.append((row, -math.inf, m.isin_cap_value[q].value - constant))


def write_objective(cmodel: CollateralModel, obligations: Iterable[str], changes: Changes) -> None:
    """List the objective's new costs (lot costs, pool rates of ``obligations``) and
    offset (today's lots at their cost) in ``changes``."""
    cm, m = cmodel.cm, cmodel.model
    current = cm.current_lots
    costs = changes.costs
    lot_cost = cm.cost_per_lot / COST_UNIT
    for o in sorted(obligations):
        for k in cmodel.by_obligation.get(o, []):
            j = cmodel.j_of[k]
            costs.append((m.add[k], float(lot_cost[j])))
            if current[j] > 0:
                costs.append((m.release[k], -float(lot_cost[j])))
        costs += [(m.pool_value[q], m.pool_rate[q].value) for q in cmodel.pools_of.get(o, [])]
    pairs = cmodel.pairs
    changes.offset = float(np.dot(lot_cost[pairs], current[pairs]))
