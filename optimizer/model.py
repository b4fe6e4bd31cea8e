"""The Pyomo model of the collateral problem over a candidate set of pairs.

:class:`CollateralModel` builds the model from the resolved problem and a candidate set
(a pure function of both) and can grow it pair by pair. Each candidate pair ``j =
(obligation, account, isin)`` pledged ``a_j`` lots now ends with ``a_j + add_j -
release_j`` lots; only the added and released parts cost a move (``pledge_move_j``,
``release_move_j`` binaries), kept lots are free:

.. math::

    \\min \\sum_j c_j (a_j + add_j - rel_j) + \\sum_q r_q\\, pv_q
          + F \\Big(\\sum_j (pm_j + rm_j) + \\sum_q pn_q\\Big) + P \\sum_o s_o

    add_j \\le (U_j - a_j)\\, pm_j,\\qquad rel_j \\le a_j\\, rm_j

    \\sum_{j \\in o} v_j (a_j + add_j - rel_j) + \\sum_{q \\in o} pv_q + s_o \\ge R_o

with ``U_j`` the tight bound of :mod:`optimizer.costmodel`, position capacity, ISIN and
maturity-bucket concentration, ``max_isins``, minimum pledge and transfer and
``max_moves``. Two devices make it strong and honest:

* **Pools** ``q``: every pair *left out* of the candidate set is relaxed into a pool,
  one per candidate (obligation, ISIN) for that ISIN's other accounts (same cost per
  yen exactly, inside the same ISIN and bucket caps) and one per obligation for the
  ISINs not in the model (the cheapest such rate). A pool's value ``pv_q`` costs its
  rate ``r_q`` and needs ``pn_q >= pv_q / chunk_q`` moves (``chunk_q``: the most one of
  its pairs can add). Dropping the pooled pairs' capacity rows only loosens, so the
  model is a *relaxation of the full problem*: its MIP bound certifies the plan's gap.
  Pools of one ISIN compete with its candidate pairs for the owner's total face in that
  ISIN (``isin_capacity``: the sum of its accounts' capacity rows), so a pool cannot
  offer face other obligations already use.
  A plan that draws on a pool brings the pool's pairs in (:meth:`add_pairs`).
* **Move cuts** per obligation short of cover now: with ``D_o`` the deficit of today's
  pledges and ``C_j`` the most pair ``j`` could add, at least ``k_o`` additions are
  needed (``k_o`` the fewest largest ``C_j`` reaching ``D_o``), and ``sum min(C_j, D_o)
  pm_j + s_o >= D_o`` (coefficient-tightened cover; Wolsey, *Integer Programming*,
  1998, section 8.2). The LP otherwise charges a margin call only the fraction of a move
  its lots fill.

Units keep rows well scaled: lots for face, million yen for values
(:data:`VALUE_UNIT`), thousand yen for the objective (:data:`COST_UNIT`). Requirements,
values (prices, haircuts), opportunity costs, bounds and cut data are mutable
``Param``s, so an intraday re-run updates them on the persistent solver
(:meth:`update`). Constraints are indexed by what they limit: ``cover[obligation]``,
``isin_cap[obligation, isin]``, ``capacity[owner, account, isin]``...
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from optimizer.costmodel import NO_LIMIT, CostModel, FloatArray, IntArray

VALUE_UNIT = 1e6
"""Collateral and market values, and face, in the model: million yen."""
COST_UNIT = 1e3
"""Objective: thousand yen (a move of 10,000 yen is 10, a lot-day at 3 bp ~0.08)."""
GENERAL_POOL = "*"
"""ISIN slot of an obligation's pool of ISINs not in the model."""

Key = tuple[str, str, str]
PoolKey = tuple[str, str]


@dataclass(slots=True)
class Changes:
    """Constraints an incremental change touched, for the persistent solver."""

    removed: list[Any] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)


class CollateralModel:
    """The model over a growing candidate set, for all obligations or the ``obligations``
    given (a component sharing no position with the rest); see the module docstring."""

    def __init__(self, cm: CostModel, pairs: IntArray, obligations: IntArray | None = None) -> None:
        self.cm = cm
        self.problem = cm.problem
        self.index = {o.id: i for i, o in enumerate(self.problem.obligations)}
        self.scope = (
            list(self.problem.obligations)
            if obligations is None
            else [self.problem.obligations[int(i)] for i in np.sort(obligations)]
        )
        scope_ids = {o.id for o in self.scope}
        self.in_model = np.zeros(cm.n_pairs, dtype=np.bool_)
        self.keys: dict[int, Key] = {}
        self.j_of: dict[Key, int] = {}
        self.by_obligation: dict[str, list[Key]] = defaultdict(list)
        self.by_group: dict[PoolKey, list[Key]] = defaultdict(list)
        self.by_position: dict[tuple[str, str, str], list[Key]] = defaultdict(list)
        self.by_bucket: dict[tuple[str, str], list[Key]] = defaultdict(list)
        self.bucket_isins: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.isin_faces: dict[tuple[str, str], float] = defaultdict(float)
        self.isin_positions: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
        for position in self.problem.positions:
            self.isin_faces[(position.owner, position.isin)] += position.face / VALUE_UNIT
            self.isin_positions[(position.owner, position.isin)].append(position.key)
        self.rows_of_pair: dict[int, list[int]] = defaultdict(list)
        for j, b in zip(cm.bucket_pair.tolist(), cm.bucket_row.tolist(), strict=True):
            self.rows_of_pair[j].append(b)
        self._set_derived(cm)
        self.must_release = cm.must_release()
        self._declare()
        self._add_pair_components(np.unique(np.asarray(pairs, dtype=np.int64)))
        self._refresh_pools(scope_ids)
        self._rebuild_rows(
            scope_ids, set(self.by_group), set(self.by_position), set(self.by_bucket)
        )
        self._set_objective()

    # -- data -------------------------------------------------------------------------

    def _set_derived(self, cm: CostModel) -> None:
        self.add_lots = np.maximum(cm.max_lots - cm.current_lots, 0)
        self.forced = np.maximum(cm.current_lots - cm.max_lots, 0)
        self.value = cm.value_per_lot / VALUE_UNIT
        self.reach = self.value * self.add_lots
        cover = np.zeros(len(self.problem.obligations))
        np.add.at(cover, cm.pair_obligation, self.value * cm.current_lots)
        self.deficit = np.maximum(cm.cover_target / VALUE_UNIT - cover, 0.0)
        self.needed, self.alpha = _cardinality(cm.obligation_slices(), self.reach, self.deficit)

    @property
    def pairs(self) -> IntArray:
        """Candidate pairs in the model (indices into the cost model's pairs)."""
        return np.flatnonzero(self.in_model)

    def pair_key(self, j: int) -> Key:
        """``(obligation id, account, isin)`` of pair ``j``."""
        cm = self.cm
        position = self.problem.positions[int(cm.pair_position[j])]
        return (
            self.problem.obligations[int(cm.pair_obligation[j])].id,
            position.account,
            position.isin,
        )

    # -- components -------------------------------------------------------------------

    def _declare(self) -> None:
        m = self.model = pyo.ConcreteModel(name="tanpo_collateral")
        obligations = self.scope
        costs = self.problem.costs
        index = self.index
        m.OBLIGATIONS = pyo.Set(initialize=[o.id for o in obligations], ordered=True)
        for name in (
            "value",
            "lot_cost",
            "current",
            "add_bound",
            "forced",
            "cut_coef",
            "pool_rate",
            "pool_chunk",
            "pool_reach",
            "pool_cut_coef",
            "pool_face",
            "pool_isin_chunk",
        ):
            setattr(m, name, pyo.Param(pyo.Any, mutable=True, initialize={}))
        m.required = pyo.Param(
            m.OBLIGATIONS,
            mutable=True,
            initialize={
                o.id: float(self.cm.cover_target[index[o.id]]) / VALUE_UNIT for o in obligations
            },
        )
        m.cut_needed = pyo.Param(
            m.OBLIGATIONS,
            mutable=True,
            initialize={o.id: int(self.needed[index[o.id]]) for o in obligations},
        )
        m.cut_alpha = pyo.Param(
            m.OBLIGATIONS,
            mutable=True,
            initialize={o.id: float(self.alpha[index[o.id]]) for o in obligations},
        )
        m.cut_deficit = pyo.Param(
            m.OBLIGATIONS,
            mutable=True,
            initialize={o.id: float(self.deficit[index[o.id]]) for o in obligations},
        )
        m.isin_cap_value = pyo.Param(pyo.Any, mutable=True, initialize={})
        m.bucket_cap_value = pyo.Param(pyo.Any, mutable=True, initialize={})
        m.move_cost = pyo.Param(initialize=costs.move_cost / COST_UNIT, mutable=True)
        m.penalty = pyo.Param(
            initialize=costs.shortfall_penalty_per_yen * VALUE_UNIT / COST_UNIT, mutable=True
        )

        m.add = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeIntegers)
        m.pledge_move = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.release = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeIntegers)
        m.release_move = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.full_release = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.isin_used = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.pool_value = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)
        m.pool_moves = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeIntegers)
        m.pool_isins = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeIntegers)
        m.shortfall = pyo.Var(m.OBLIGATIONS, domain=pyo.NonNegativeReals)
        for name in (
            "add_link", "release_link", "release_covered", "pool_isin_link", "one_way", "least_add", "least_release", "min_pledge",
            "full_release_lots", "full_release_move", "isin_link", "pool_link", "cover", "isin_cap",
            "bucket_cap", "capacity", "isin_capacity", "max_isins", "max_moves", "move_count_cut",
            "move_cover_cut",
        ):  # fmt: skip
            setattr(m, name, pyo.Constraint(pyo.Any))

    def _lots(self, k: Key) -> Any:
        m = self.model
        expr = m.current[k] + m.add[k]
        return expr - m.release[k] if self.cm.current_lots[self.j_of[k]] > 0 else expr

    def _add_pair_components(self, pairs: IntArray) -> list[Any]:
        """Parameters, variables and per-pair rows of new ``pairs``; returns the rows."""
        cm, m = self.cm, self.model
        added: list[Any] = []
        for j in pairs.tolist():
            if self.in_model[j]:
                continue
            self.in_model[j] = True
            k = self.pair_key(j)
            self.keys[j], self.j_of[k] = k, j
            o, _, isin = k
            position = self.problem.positions[int(cm.pair_position[j])]
            self.by_obligation[o].append(k)
            self.by_group[(o, isin)].append(k)
            self.by_position[position.key].append(k)
            for b in self.rows_of_pair.get(j, ()):
                self.by_bucket[(o, cm.row_label[b])].append(k)
            a = int(cm.current_lots[j])
            m.value[k] = float(self.value[j])
            m.lot_cost[k] = float(cm.cost_per_lot[j] / COST_UNIT)
            m.current[k] = a
            m.add_bound[k] = int(self.add_lots[j])
            m.cut_coef[k] = min(float(self.reach[j]), float(self.deficit[self.index[o]]))
            m.add[k].setub(m.add_bound[k])
            m.pledge_move[k]
            added.append(self._set(m.add_link, k, m.add[k] <= m.add_bound[k] * m.pledge_move[k]))
            least = int(cm.min_move_lots[j])
            o_index = self.index[o]
            min_pledge = int(cm.min_pledge_lots[o_index])
            if a == 0:
                least = max(least, min_pledge)
            if least > 1 and self.add_lots[j] > 0:
                added.append(
                    self._set(
                        m.least_add,
                        k,
                        m.add[k] >= least * m.pledge_move[k],
                    )
                )
            if a > 0:
                m.forced[k] = int(self.forced[j])
                m.release[k].setlb(m.forced[k])
                m.release[k].setub(m.current[k])
                added.append(
                    self._set(m.release_link, k, m.release[k] <= m.current[k] * m.release_move[k])
                )
                if not self.must_release[self.index[o]]:
                    added.append(
                        # Nothing is released from an obligation that stays short (the
                        # pledgee keeps what it holds while a call is outstanding).
                        self._set(
                            m.release_covered,
                            k,
                            m.shortfall[o] + m.required[o] * m.release_move[k] <= m.required[o],
                        )
                    )
                least_release = min(int(cm.min_move_lots[j]), a)
                if least_release > 1:
                    added.append(
                        self._set(
                            m.least_release, k, m.release[k] >= least_release * m.release_move[k]
                        )
                    )
                if least > 1 or least_release > 1 or min_pledge > 1:
                    added.append(self._set(m.one_way, k, m.pledge_move[k] + m.release_move[k] <= 1))
                if min_pledge > 1:
                    added.append(
                        self._set(
                            m.min_pledge, k, self._lots(k) >= min_pledge * (1 - m.full_release[k])
                        )
                    )
                    added.append(
                        self._set(
                            m.full_release_lots, k, m.release[k] >= m.current[k] * m.full_release[k]
                        )
                    )
                    added.append(
                        self._set(m.full_release_move, k, m.full_release[k] <= m.release_move[k])
                    )
            if cm.max_isins[o_index] != NO_LIMIT:
                bound = max(int(cm.max_lots[j]), a)
                added.append(
                    self._set(m.isin_link, k, self._lots(k) <= bound * m.isin_used[o, isin])
                )
        return added

    @staticmethod
    def _set(component: Any, index: Any, expr: Any) -> Any:
        if index in component:
            component[index].set_value(expr)
        else:
            component[index] = expr
        return component[index]

    def _refresh_pools(self, obligations: Iterable[str]) -> list[Any]:
        """(Re)compute the pools of ``obligations`` from the pairs not in the model."""
        cm, m = self.cm, self.model
        starts = cm.obligation_slices()
        rho = np.where(
            self.value > 0,
            (cm.cost_per_lot / COST_UNIT) / np.where(self.value > 0, self.value, 1.0),
            np.inf,
        )
        added: list[Any] = []
        security_isin = [s.isin for s in self.problem.securities]
        for o in obligations:
            i = self.index[o]
            pairs = np.arange(starts[i], starts[i + 1])
            out = pairs[~self.in_model[pairs] & (self.reach[pairs] > 0)]
            in_groups = {isin for (oo, isin) in self.by_group if oo == o}
            groups: dict[str, list[int]] = defaultdict(list)
            for j in out.tolist():
                isin = security_isin[int(cm.pair_isin[j])]
                groups[isin if isin in in_groups else GENERAL_POOL].append(j)
            keys = {(o, isin) for isin in in_groups} | {(o, GENERAL_POOL)}
            for isin in sorted(i for _, i in keys):
                q = (o, isin)
                members = np.array(groups.get(isin, []), dtype=np.int64)
                reach = (
                    float(min(self.reach[members].sum(), cm.cover_target[i] / VALUE_UNIT))
                    if members.size
                    else 0.0
                )
                chunk = float(min(self.reach[members].max(), reach)) if members.size else 0.0
                rate = float(rho[members].min()) if members.size else 0.0
                exists = q in m.pool_reach
                if not exists and reach <= 0:
                    continue
                m.pool_rate[q] = rate
                m.pool_chunk[q] = chunk
                m.pool_reach[q] = reach
                m.pool_cut_coef[q] = min(chunk, float(self.deficit[i]))
                if isin != GENERAL_POOL and members.size:
                    j0 = int(members[0])  # every account of the ISIN: the same face per value
                    m.pool_face[q] = float(cm.lot_face[i] / cm.value_per_lot[j0])
                capped = cm.max_isins[i] != NO_LIMIT
                if capped and isin == GENERAL_POOL:
                    # Each new ISIN brings at most its accounts' reach within its cap.
                    per_isin: dict[int, float] = defaultdict(float)
                    for j in members.tolist():
                        per_isin[int(cm.pair_group[j])] += float(self.reach[j])
                    m.pool_isin_chunk[q] = max(
                        (
                            min(r, float(cm.group_cap[g]) / VALUE_UNIT, reach)
                            for g, r in per_isin.items()
                        ),
                        default=0.0,
                    )
                if not exists:
                    m.pool_value[q].setub(m.pool_reach[q])
                    m.pool_moves[q]
                    added.append(
                        self._set(
                            m.pool_link, q, m.pool_value[q] <= m.pool_chunk[q] * m.pool_moves[q]
                        )
                    )
                    if capped and isin == GENERAL_POOL:  # new ISINs take max_isins slots
                        added.append(
                            self._set(
                                m.pool_isin_link,
                                q,
                                m.pool_value[q] <= m.pool_isin_chunk[q] * m.pool_isins[o],
                            )
                        )
                    elif capped:  # more accounts of an ISIN in use: the same slot
                        added.append(
                            self._set(
                                m.pool_isin_link,
                                q,
                                m.pool_value[q] <= m.pool_reach[q] * m.isin_used[o, isin],
                            )
                        )
        return added

    def _pools_of(self, o: str) -> list[PoolKey]:
        return [q for q in self.model.pool_reach if q[0] == o]

    def _rebuild_rows(
        self,
        obligations: set[str],
        groups: set[PoolKey],
        positions: set[tuple[str, str, str]],
        buckets: set[tuple[str, str]],
    ) -> Changes:
        """(Re)write the aggregate rows that involve the given obligations, ISIN groups,
        positions and buckets; :class:`Changes` lists the old and new rows."""
        cm, m = self.cm, self.model
        changes = Changes()

        def put(component: Any, index: Any, expr: Any) -> None:
            if index in component:
                changes.removed.append(component[index])
            changes.added.append(self._set(component, index, expr))

        pools = set(m.pool_reach)
        for o in obligations:
            keys = self.by_obligation.get(o, [])
            mine = [q for q in pools if q[0] == o]
            put(
                m.cover,
                o,
                sum(m.value[k] * self._lots(k) for k in keys)
                + sum(m.pool_value[q] for q in mine)
                + m.shortfall[o]
                >= m.required[o],
            )
            i = self.index[o]
            if self.needed[i] > 0:
                put(
                    m.move_count_cut,
                    o,
                    sum(m.pledge_move[k] for k in keys)
                    + sum(m.pool_moves[q] for q in mine)
                    + m.cut_alpha[o] * m.shortfall[o]
                    >= m.cut_needed[o],
                )
                put(
                    m.move_cover_cut,
                    o,
                    sum(m.cut_coef[k] * m.pledge_move[k] for k in keys)
                    + sum(m.pool_cut_coef[q] * m.pool_moves[q] for q in mine)
                    + m.shortfall[o]
                    >= m.cut_deficit[o],
                )
            if cm.max_isins[i] != NO_LIMIT:
                used = {k[2] for k in keys}
                slots = sum(m.isin_used[o, isin] for isin in sorted(used))
                if o in m.pool_isins:
                    slots += m.pool_isins[o]
                put(m.max_isins, o, slots <= int(cm.max_isins[i]))
            groups |= {(o, k[2]) for k in keys}
            buckets |= {b for b in self.by_bucket if b[0] == o}
        group_index = {
            (self.problem.obligations[int(g_o)].id, self.problem.securities[int(g_s)].isin): g
            for g, (g_o, g_s) in enumerate(zip(cm.group_obligation, cm.group_isin, strict=True))
        }
        for q in groups:
            g = group_index.get(q)
            if g is None or not math.isfinite(cm.group_cap[g]):
                continue
            members = self.by_group.get(q, [])
            if len(members) + (q in pools) < 2:
                continue  # one pair alone: its bound already holds the cap
            m.isin_cap_value[q] = float(cm.group_cap[g] / VALUE_UNIT)
            put(
                m.isin_cap,
                q,
                sum(m.value[k] * self._lots(k) for k in members)
                + (m.pool_value[q] if q in pools else 0.0)
                <= m.isin_cap_value[q],
            )
        row_of = {
            (self.problem.obligations[int(cm.row_obligation[b])].id, cm.row_label[b]): b
            for b in range(cm.row_cap.size)
        }
        for bk in buckets:
            b = row_of[bk]
            members = self.by_bucket.get(bk, [])
            isins = {k[2] for k in members}
            in_pools = [q for q in pools if q[0] == bk[0] and q[1] in isins]
            if not members:
                continue
            m.bucket_cap_value[bk] = float(cm.row_cap[b] / VALUE_UNIT)
            put(
                m.bucket_cap,
                bk,
                sum(m.value[k] * self._lots(k) for k in members)
                + sum(m.pool_value[q] for q in in_pools)
                <= m.bucket_cap_value[bk],
            )
        lot_face = cm.lot_face / VALUE_UNIT
        owner_of = {o.id: o.pledgor for o in self.problem.obligations}
        isin_rows = {(owner_of[q[0]], q[1]) for q in groups if q in pools and q[1] != GENERAL_POOL}
        isin_rows |= {(pk[0], pk[2]) for pk in positions if (pk[0], pk[2]) in self.isin_faces}
        for ik in isin_rows:
            members = [
                k for pk in self.isin_positions.get(ik, ()) for k in self.by_position.get(pk, [])
            ]
            in_pools = [
                q for q in pools if q[1] == ik[1] and owner_of[q[0]] == ik[0] and q in m.pool_face
            ]
            if not in_pools:
                continue
            put(
                m.isin_capacity,
                ik,
                sum(float(lot_face[self.index[k[0]]]) * self._lots(k) for k in members)
                + sum(m.pool_face[q] * m.pool_value[q] for q in in_pools)
                <= float(self.isin_faces[ik]),
            )
        for pk in positions:
            members = self.by_position.get(pk, [])
            if len(members) < 2:
                continue
            p = self.cm.pair_position[self.j_of[members[0]]]
            face = float(cm.position_face[p] / VALUE_UNIT)
            put(
                m.capacity,
                pk,
                sum(float(lot_face[self.index[k[0]]]) * self._lots(k) for k in members) <= face,
            )
        if self.problem.limits.max_moves is not None:
            put(m.max_moves, "all", self._moves() <= self.problem.limits.max_moves)
        return changes

    def _moves(self) -> Any:
        m = self.model
        return (
            sum(m.pledge_move.values()) + sum(m.release_move.values()) + sum(m.pool_moves.values())
        )

    def _set_objective(self) -> None:
        m = self.model
        if hasattr(m, "objective"):
            m.del_component(m.objective)
        m.objective = pyo.Objective(
            expr=sum(m.lot_cost[k] * self._lots(k) for k in self.j_of)
            + sum(m.pool_rate[q] * m.pool_value[q] for q in m.pool_reach)
            + m.move_cost * self._moves()
            + m.penalty * sum(m.shortfall[o] for o in m.OBLIGATIONS),
            sense=pyo.minimize,
        )

    # -- growth and intraday updates --------------------------------------------------

    def add_pairs(self, pairs: IntArray) -> Changes:
        """Bring ``pairs`` into the model; rows they touch are rewritten and the pools
        they leave are recomputed. The objective is replaced (``model.objective``)."""
        scope = {o.id for o in self.scope}
        fresh = [j for j in np.unique(pairs).tolist() if not self.in_model[j]]
        new = np.array([j for j in fresh if self.pair_key(j)[0] in scope], dtype=np.int64)
        changes = Changes()
        if new.size == 0:
            return changes
        changes.added += self._add_pair_components(new)
        obligations = {self.pair_key(j)[0] for j in new.tolist()}
        changes.added += self._refresh_pools(obligations)
        keys = [self.keys[j] for j in new.tolist()]
        groups = {(k[0], k[2]) for k in keys}
        positions = {
            self.problem.positions[int(self.cm.pair_position[j])].key for j in new.tolist()
        }
        rows = self._rebuild_rows(obligations, groups, positions, set())
        changes.removed += rows.removed
        changes.added += rows.added
        self._set_objective()
        return changes


def _cardinality(
    starts: IntArray, reach: FloatArray, deficit: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Per obligation short now: the fewest additions ``k`` whose largest reaches cover
    the deficit, and the shortfall coefficient ``alpha`` keeping ``sum pm + alpha s >= k``
    valid when fewer additions leave a shortfall of at least ``D`` minus their reach."""
    n = starts.size - 1
    needed = np.zeros(n, dtype=np.int64)
    alpha = np.zeros(n)
    for o in np.flatnonzero(deficit > 1e-9).tolist():
        c = np.sort(reach[starts[o] : starts[o + 1]])[::-1]
        c = c[c > 0]
        total = np.concatenate(([0.0], np.cumsum(c)))
        k = int(np.searchsorted(total, deficit[o] - 1e-9))
        needed[o] = min(k, c.size + 1)
        gaps = deficit[o] - total[: min(needed[o], c.size + 1)]
        steps = np.arange(gaps.size)
        alpha[o] = float(np.max((needed[o] - steps) / np.maximum(gaps, 1e-12)))
    return needed, alpha
