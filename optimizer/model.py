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
maturity-bucket concentration (a bucket on base value, ``CostModel.bucket_value``),
``max_isins``, minimum pledge and transfer and ``max_moves``. Two devices make it strong and honest:

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
import numpy.typing as npt
import pyomo.environ as pyo

from optimizer import ledger_rule
from optimizer.costmodel import NO_LIMIT, CostModel, FloatArray, IntArray, whole_lots

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
    """What an incremental change touched, for the persistent solver: Pyomo rows to
    remove and add, and numbers to write straight into the solver's rows and objective
    (:mod:`optimizer.inplace`): ``coefficients`` (row, variable, value), ``row_bounds``
    (row, lower, upper), ``costs`` (variable, cost) and the objective's ``offset``.
    ``objective``: whether the Pyomo objective was replaced (``model.objective``)."""

    removed: list[Any] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)
    coefficients: list[tuple[Any, Any, float]] = field(default_factory=list)
    row_bounds: list[tuple[Any, float, float]] = field(default_factory=list)
    costs: list[tuple[Any, float]] = field(default_factory=list)
    offset: float | None = None
    objective: bool = False


class CollateralModel:
    """The model over a growing candidate set, for all obligations or the ``obligations``
    given (a component sharing no position with the rest); see the module docstring.
    ``pools`` and ``cuts`` can be switched off (to measure what they bring)."""

    def __init__(
        self,
        cm: CostModel,
        pairs: IntArray,
        obligations: IntArray | None = None,
        *,
        pools: bool = True,
        cuts: bool = True,
    ) -> None:
        self.cm = cm
        self.use_pools = pools
        self.use_cuts = cuts
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
        self.isins_of: dict[str, set[str]] = defaultdict(set)
        self.buckets_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.pools_of: dict[str, list[PoolKey]] = defaultdict(list)
        self.pool_base_ratio: dict[PoolKey, float] = {}
        self.pool_bucket_ratio: dict[PoolKey, float] = {}
        self.bucket_isins: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.isin_faces: dict[tuple[str, str], float] = defaultdict(float)
        self.isin_positions: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
        for position in self.problem.positions:
            self.isin_faces[(position.owner, position.isin)] += position.face / VALUE_UNIT
            self.isin_positions[(position.owner, position.isin)].append(position.key)
        order = np.argsort(cm.bucket_pair, kind="stable")
        self.bucket_rows_sorted = cm.bucket_row[order]
        self.bucket_value_sorted = cm.bucket_value[order] / VALUE_UNIT
        self.bucket_ptr = np.searchsorted(cm.bucket_pair[order], np.arange(cm.n_pairs + 1))
        # A bucket caps base value (CostModel.bucket_value): an edge's coefficient, the
        # cover's value parameter where the two agree (no stress: the rows as before).
        self.edge_value: dict[tuple[tuple[str, str], Key], float] = {}
        self.bucket_own_coef = not np.array_equal(cm.bucket_value, cm.value_per_lot[cm.bucket_pair])
        self._set_derived(cm)
        self.pair_min_pledge = cm.pair_min_pledge()
        in_scope = np.zeros(len(self.problem.obligations), dtype=np.bool_)
        in_scope[[self.index[o.id] for o in self.scope]] = True
        self.group_index = {
            (self.problem.obligations[int(g_o)].id, self.problem.securities[int(g_s)].isin): g
            for g, (g_o, g_s) in enumerate(zip(cm.group_obligation, cm.group_isin, strict=True))
            if in_scope[g_o]
        }
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
        self.base = ledger_rule.base_value_per_lot(cm) / VALUE_UNIT
        self.floor = ledger_rule.ledger_floor(cm) / VALUE_UNIT
        self.reach = self.value * self.add_lots
        # Value of one lot per (obligation, ISIN) group: the same in every account (one
        # price, one haircut, one lot size); 0 where members differ (then no rounding).
        high = np.zeros(cm.group_cap.size)
        low = np.full(cm.group_cap.size, np.inf)
        np.maximum.at(high, cm.pair_group, cm.value_per_lot)
        np.minimum.at(low, cm.pair_group, cm.value_per_lot)
        self.group_lot_value = np.where(np.isclose(low, high, rtol=1e-12, atol=0.0), high, 0.0)
        self._set_whole_caps(cm)
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
            "add_link", "release_link", "ledger_floor", "pool_isin_link", "one_way", "least_add", "least_release", "min_pledge",
            "full_release_lots", "full_release_move", "isin_link", "pool_link", "cover", "isin_cap",
            "bucket_cap", "capacity", "isin_capacity", "max_isins", "max_moves", "move_count_cut",
            "move_cover_cut",
        ):  # fmt: skip
            setattr(m, name, pyo.Constraint(pyo.Any))

    def _lots(self, k: Key) -> Any:
        """Final lots of pair ``k`` (an expression; today's lots are a constant)."""
        m = self.model
        a = int(self.cm.current_lots[self.j_of[k]])
        return a + m.add[k] - m.release[k] if a > 0 else m.add[k]

    def _set_whole_caps(self, cm: CostModel) -> None:
        """Every ISIN cap in whole lots (:meth:`_whole_lot_cap`), at once: one call per
        group cost 10 us of numpy set-up each, 0.5 s a reprice on the 300 x 20,000 book."""
        self.group_whole_cap = whole_lots(cm.group_cap, self.group_lot_value) / VALUE_UNIT

    def _whole_lot_cap(self, g: int) -> float:
        """ISIN cap ``g`` (million yen) rounded down to whole lots of the ISIN
        (:func:`optimizer.costmodel.whole_lots`). Lots are integer, so every plan meets
        the rounded cap; without it the model's continuous parts (relaxed lots, pools)
        fill the cap's last fraction of a lot, which no plan can (measured on the 100 x
        20,000 book: +1.5 million yen of bound; the gap there was the candidates, see
        ``candidates.candidate_mask``)."""
        return float(self.group_whole_cap[g])

    def _value_param(self, k: Key) -> Any:
        return self.model.value[k]

    def _value_float(self, k: Key) -> float:
        return float(self.value[self.j_of[k]])

    def _cost_param(self, k: Key) -> Any:
        return self.model.lot_cost[k]

    def _cut_coef(self, k: Key) -> float:
        return min(float(self.reach[self.j_of[k]]), float(self.deficit[self.index[k[0]]]))

    def _valued(self, keys: list[Key], coef: Any) -> tuple[Any, Any]:
        """``sum coef[k] x lots(k)`` as (variable part, constant part), in monomials:
        Pyomo hands a sum of ``param x var`` to the solver twice as fast as
        ``param x (a + add - release)``."""
        m = self.model
        current = self.cm.current_lots
        terms = [coef(k) * m.add[k] for k in keys]
        terms += [-coef(k) * m.release[k] for k in keys if current[self.j_of[k]] > 0]
        constant = sum(
            coef(k) * int(current[self.j_of[k]]) for k in keys if current[self.j_of[k]] > 0
        )
        return sum(terms), constant

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
            self.isins_of[o].add(isin)
            self.by_position[position.key].append(k)
            edges = slice(self.bucket_ptr[j], self.bucket_ptr[j + 1])
            for b, base in zip(
                self.bucket_rows_sorted[edges].tolist(),
                self.bucket_value_sorted[edges].tolist(),
                strict=True,
            ):
                self.by_bucket[(o, cm.row_label[b])].append(k)
                self.buckets_of[o].add((o, cm.row_label[b]))
                self.edge_value[((o, cm.row_label[b]), k)] = base
            m.value[k] = float(self.value[j])
            m.lot_cost[k] = float(cm.cost_per_lot[j] / COST_UNIT)
            added += self._pair_rows(j, k)
        return added

    _PAIR_ROWS = (
        "add_link", "least_add", "release_link", "least_release", "one_way", "min_pledge",
        "full_release_lots", "full_release_move",
    )  # fmt: skip
    """The constraint components indexed by pair (:meth:`_pair_rows`)."""

    def _pair_rows(self, j: int, k: Key) -> list[Any]:
        """Bounds and rows of pair ``j`` (key ``k``) alone; returns the rows."""
        cm, m = self.cm, self.model
        added: list[Any] = []
        a = int(cm.current_lots[j])
        add_lots = int(self.add_lots[j])
        m.add[k].setub(add_lots)
        m.pledge_move[k]
        added.append(self._set(m.add_link, k, m.add[k] - add_lots * m.pledge_move[k] <= 0))
        least = int(cm.min_move_lots[j])
        min_pledge = int(self.pair_min_pledge[j])
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
            m.release[k].setlb(int(self.forced[j]))
            m.release[k].setub(a)
            added.append(self._set(m.release_link, k, m.release[k] - a * m.release_move[k] <= 0))
            least_release = min(int(cm.min_move_lots[j]), a)
            if least_release > 1:
                added.append(
                    self._set(m.least_release, k, m.release[k] >= least_release * m.release_move[k])
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
                    self._set(m.full_release_lots, k, m.release[k] - a * m.full_release[k] >= 0)
                )
                added.append(
                    self._set(m.full_release_move, k, m.full_release[k] <= m.release_move[k])
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
        if not self.use_pools:  # the benchmark's ablation: a restricted model, no certificate
            return []
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
            in_groups = self.isins_of.get(o, set())
            inside = np.array([self.problem.security_index(x) for x in in_groups], dtype=np.int64)
            sec = cm.pair_isin[out]
            groups: dict[str, npt.NDArray[np.int64]] = {GENERAL_POOL: out[~np.isin(sec, inside)]}
            order = np.argsort(sec, kind="stable")
            for s_index, members in zip(*_split(sec[order], out[order]), strict=True):
                if security_isin[s_index] in in_groups:
                    groups[security_isin[s_index]] = members
            keys = {(o, isin) for isin in in_groups} | {(o, GENERAL_POOL)}
            for isin in sorted(i for _, i in keys):
                q = (o, isin)
                members = groups.get(isin, np.zeros(0, dtype=np.int64))
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
                if not exists:
                    self.pools_of[o].append(q)
                m.pool_rate[q] = rate
                m.pool_chunk[q] = chunk
                m.pool_reach[q] = reach
                m.pool_cut_coef[q] = min(chunk, float(self.deficit[i]))
                # Base value per unit of pool value (the floor row's coefficient): a
                # stressed obligation's pool is valued at the worst case, the ledger's
                # floor at base prices, which is at least as much.
                self.pool_base_ratio[q] = (
                    float(np.max(self.base[members] / self.value[members])) if members.size else 1.0
                )
                # In a bucket row (a cap on base value), its least: the row stays relaxed.
                self.pool_bucket_ratio[q] = (
                    float(np.min(self.base[members] / self.value[members])) if members.size else 1.0
                )
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
                        (min(r, self._whole_lot_cap(g), reach) for g, r in per_isin.items()),
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
            mine = self.pools_of.get(o, [])
            value = self._value_param
            variable, constant = self._valued(keys, value)
            put(
                m.cover,
                o,
                variable + sum(m.pool_value[q] for q in mine) + m.shortfall[o]
                >= m.required[o] - constant,
            )
            self._floor_and_cuts(o, put)
            i = self.index[o]
            if cm.max_isins[i] != NO_LIMIT:
                used = {k[2] for k in keys}
                slots = sum(m.isin_used[o, isin] for isin in sorted(used))
                if o in m.pool_isins:
                    slots += m.pool_isins[o]
                put(m.max_isins, o, slots <= int(cm.max_isins[i]))
            groups |= {(o, k[2]) for k in keys}
            buckets |= self.buckets_of.get(o, set())
        group_index = self.group_index
        capped = {o.id for o in self.scope if cm.max_isins[self.index[o.id]] != NO_LIMIT}
        for q in groups:
            members = self.by_group.get(q, [])
            if q[0] in capped and members:
                # An ISIN used at all takes a slot: its value <= its reach x isin_used.
                g_cap = self._whole_lot_cap(group_index[q]) if q in group_index else math.inf
                held = sum(
                    float(self.value[self.j_of[k]])
                    * max(int(cm.max_lots[self.j_of[k]]), int(cm.current_lots[self.j_of[k]]))
                    for k in members
                )
                bound = min(held, g_cap)
                variable, constant = self._valued(members, self._value_float)
                put(m.isin_link, q, variable - bound * m.isin_used[q] <= -constant)
        for q in groups:
            g = group_index.get(q)
            if g is None or not math.isfinite(cm.group_cap[g]):
                continue
            members = self.by_group.get(q, [])
            if len(members) + (q in pools) < 2:
                continue  # one pair alone: its bound already holds the cap
            m.isin_cap_value[q] = self._whole_lot_cap(g)
            variable, constant = self._valued(members, self._value_param)
            pool = m.pool_value[q] if q in pools else 0.0
            put(m.isin_cap, q, variable + pool <= m.isin_cap_value[q] - constant)
        row_of = {
            (self.problem.obligations[int(cm.row_obligation[b])].id, cm.row_label[b]): b
            for b in range(cm.row_cap.size)
        }
        for bk in buckets:
            b = row_of[bk]
            members = self.by_bucket.get(bk, [])
            isins = {k[2] for k in members}
            in_pools = [q for q in self.pools_of.get(bk[0], []) if q[1] in isins]
            if not members:
                continue
            m.bucket_cap_value[bk] = float(cm.row_cap[b] / VALUE_UNIT)
            if self.bucket_own_coef:
                variable, constant = self._valued(
                    members, lambda k, bk=bk: self.edge_value[(bk, k)]
                )
                pool = sum(self.pool_bucket_ratio[q] * m.pool_value[q] for q in in_pools)
            else:
                variable, constant = self._valued(members, self._value_param)
                pool = sum(m.pool_value[q] for q in in_pools)
            put(m.bucket_cap, bk, variable + pool <= m.bucket_cap_value[bk] - constant)
        lot_face = cm.lot_face / VALUE_UNIT
        owner_of = {o.id: o.pledgor for o in self.problem.obligations}
        self.isin_pools: dict[tuple[str, str], list[PoolKey]] = defaultdict(list)
        for q in pools:
            if q[1] != GENERAL_POOL:
                self.isin_pools[(owner_of[q[0]], q[1])].append(q)
        isin_rows = {(owner_of[q[0]], q[1]) for q in groups if q in pools and q[1] != GENERAL_POOL}
        isin_rows |= {(pk[0], pk[2]) for pk in positions if (pk[0], pk[2]) in self.isin_faces}
        for ik in isin_rows:
            members = [
                k for pk in self.isin_positions.get(ik, ()) for k in self.by_position.get(pk, [])
            ]
            in_pools = [q for q in self.isin_pools.get(ik, []) if q in m.pool_face]
            if not in_pools:
                continue
            variable, constant = self._valued(members, lambda k: float(lot_face[self.index[k[0]]]))
            pool = sum(m.pool_face[q] * m.pool_value[q] for q in in_pools)
            put(m.isin_capacity, ik, variable + pool <= float(self.isin_faces[ik]) - constant)
        for pk in positions:
            members = self.by_position.get(pk, [])
            if len(members) < 2:
                continue
            p = self.cm.pair_position[self.j_of[members[0]]]
            face = float(cm.position_face[p] / VALUE_UNIT)
            variable, constant = self._valued(members, lambda k: float(lot_face[self.index[k[0]]]))
            put(m.capacity, pk, variable <= face - constant)
        if self.problem.limits.max_moves is not None:
            put(m.max_moves, "all", self._moves() <= self.problem.limits.max_moves)
        return changes

    def _floor_and_cuts(self, o: str, put: Any) -> None:
        """The ledger floor and move cuts of obligation ``o``, where they hold, handed to
        ``put(component, index, expr)``."""
        m = self.model
        keys = self.by_obligation.get(o, [])
        mine = self.pools_of.get(o, [])
        i = self.index[o]
        if self.floor[i] > 0 and keys:
            # The ledger's rule: cover after >= min(required, cover now), at base
            # value (optimizer.ledger_rule); a pool counts its base value per unit.
            variable, constant = self._valued(keys, lambda k: float(self.base[self.j_of[k]]))
            put(
                m.ledger_floor,
                o,
                variable + sum(self.pool_base_ratio[q] * m.pool_value[q] for q in mine)
                >= float(self.floor[i]) - constant,
            )
        if self.needed[i] > 0 and self.use_cuts:
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
                sum(self._cut_coef(k) * m.pledge_move[k] for k in keys)
                + sum(m.pool_cut_coef[q] * m.pool_moves[q] for q in mine)
                + m.shortfall[o]
                >= m.cut_deficit[o],
            )

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
            expr=sum(self._valued(list(self.j_of), self._cost_param))
            + sum(m.pool_rate[q] * m.pool_value[q] for q in m.pool_reach)
            + m.move_cost * self._moves()
            + m.penalty * sum(m.shortfall[o] for o in m.OBLIGATIONS),
            sense=pyo.minimize,
        )

    # -- growth and intraday updates --------------------------------------------------

    def update_requirement(self, cm: CostModel, obligation_id: str) -> tuple[Changes, list[Any]]:
        """A margin call: ``cm`` is this model's cost model with ``obligation_id``'s
        requirement changed (:meth:`CostModel.with_required_value`). Parameters take the
        new requirement and caps; the rows whose coefficients follow from it (the
        obligation's add links, ISIN links and move cuts) are rewritten. Returns the
        rows touched and the variables whose bounds changed."""
        m = self.model
        o = self.index[obligation_id]
        starts = cm.obligation_slices()
        lo, hi = int(starts[o]), int(starts[o + 1])
        self.cm, self.problem = cm, cm.problem
        old_pair = (self.add_lots.copy(), self.forced.copy(), self.pair_min_pledge)
        old_floor, old_needed = float(self.floor[o]), int(self.needed[o])
        self.add_lots[lo:hi] = np.maximum(cm.max_lots[lo:hi] - cm.current_lots[lo:hi], 0)
        self.forced[lo:hi] = np.maximum(cm.current_lots[lo:hi] - cm.max_lots[lo:hi], 0)
        self.reach[lo:hi] = self.value[lo:hi] * self.add_lots[lo:hi]
        held = float(self.value[lo:hi] @ cm.current_lots[lo:hi])
        self.deficit[o] = max(float(cm.cover_target[o]) / VALUE_UNIT - held, 0.0)
        needed, alpha = _cardinality(
            np.array([0, hi - lo]), self.reach[lo:hi], self.deficit[o : o + 1]
        )
        self.needed[o], self.alpha[o] = needed[0], alpha[0]
        self.pair_min_pledge = cm.pair_min_pledge()
        self.floor = ledger_rule.ledger_floor(cm) / VALUE_UNIT
        self._set_whole_caps(cm)  # the ISIN caps follow the requirement
        m.required[obligation_id] = float(cm.cover_target[o]) / VALUE_UNIT
        m.cut_needed[obligation_id] = int(self.needed[o])
        m.cut_alpha[obligation_id] = float(self.alpha[o])
        m.cut_deficit[obligation_id] = float(self.deficit[o])
        changes = Changes()
        bounded: list[Any] = []
        # A pair's rows follow its bounds and minimum pledge: where one moved, they are
        # written again as a fresh model has them (a minimum-transfer row appears when
        # a pair that could add nothing now can).
        moved = (old_pair[0] != self.add_lots) | (old_pair[1] != self.forced)
        moved |= old_pair[2] != self.pair_min_pledge
        for k in self.by_obligation.get(obligation_id, []):
            j = self.j_of[k]
            if not moved[j]:
                continue
            for name in self._PAIR_ROWS:
                component = getattr(m, name)
                if k in component:
                    changes.removed.append(component[k])
                    del component[k]
            changes.added += self._pair_rows(j, k)
            bounded.append(m.add[k])
            if k in m.release:
                bounded.append(m.release[k])
        # The ledger floor and move cuts hold or not with the new requirement.
        for name, flipped in (
            ("ledger_floor", (old_floor > 0) != (self.floor[o] > 0)),
            ("move_count_cut", (old_needed > 0) != (self.needed[o] > 0)),
            ("move_cover_cut", (old_needed > 0) != (self.needed[o] > 0)),
        ):
            component = getattr(m, name)
            if flipped and obligation_id in component:
                changes.removed.append(component[obligation_id])
                del component[obligation_id]
        existing = set(self.pools_of.get(obligation_id, []))
        changes.added += self._refresh_pools({obligation_id})
        for q in self.pools_of.get(obligation_id, []):  # their data moved with the requirement
            bounded.append(m.pool_value[q])
            if q not in existing:  # created just now, its links with it (not yet in HiGHS)
                continue
            if q in m.pool_link:
                changes.removed.append(m.pool_link[q])
                changes.added.append(
                    self._set(m.pool_link, q, m.pool_value[q] <= m.pool_chunk[q] * m.pool_moves[q])
                )
            if q in m.pool_isin_link:
                changes.removed.append(m.pool_isin_link[q])
                expr = m.pool_isin_link[q].expr
                changes.added.append(self._set(m.pool_isin_link, q, expr))
        rows = self._rebuild_rows({obligation_id}, set(), set(), set())
        changes.removed += rows.removed
        changes.added += rows.added
        return changes, bounded

    def update_prices(self, cm: CostModel, *, direct: bool = False) -> tuple[Changes, list[Any]]:
        """A price move: ``cm`` is this model's cost model after
        :meth:`CostModel.with_prices` (or any update over the same pairs, obligations,
        ISIN groups and bucket edges: :func:`same_structure`). Every datum that follows
        from the prices is taken in place: derived arrays, value and cost parameters,
        pools, bounds; the rows of each obligation some datum of which moved (its pairs'
        links, cover, floor, move cuts, ISIN, bucket and pool rows) are rewritten, the
        others kept. A pair's or obligation's conditional row (a minimum move, a move
        cut, the ledger floor) is dropped or added as the fresh model would have it.
        Returns the rows touched and the variables whose bounds changed; the objective
        is replaced (``model.objective``).

        ``direct``: the rows of an obligation that keep their shape (the same variables,
        no row appearing or going) are not rewritten but their new numbers listed in
        the :class:`Changes` for the solver (:mod:`optimizer.inplace`), and so is the
        objective unless a row changed shape."""
        from optimizer import inplace

        if not same_structure(self.cm, cm):
            raise ValueError("update_prices needs a cost model over the same pairs")
        m, old = self.model, self.cm
        before = {
            "value": self.value, "base": self.base, "add_lots": self.add_lots,
            "forced": self.forced, "pair_min_pledge": self.pair_min_pledge,
        }  # fmt: skip
        old_floor, old_needed = self.floor, self.needed.copy()
        old_alpha, old_deficit = self.alpha.copy(), self.deficit.copy()
        self.cm, self.problem = cm, cm.problem
        order = np.argsort(cm.bucket_pair, kind="stable")
        self.bucket_value_sorted = cm.bucket_value[order] / VALUE_UNIT
        self.bucket_own_coef = not np.array_equal(cm.bucket_value, cm.value_per_lot[cm.bucket_pair])
        self._set_derived(cm)
        self.pair_min_pledge = cm.pair_min_pledge()
        # A pair's own rows follow its bounds, minimum move and minimum pledge; its
        # obligation's rows also its value, base value and cost.
        rows_moved = old.min_move_lots != cm.min_move_lots
        for name in ("add_lots", "forced", "pair_min_pledge"):
            rows_moved |= before[name] != getattr(self, name)
        pair_moved = rows_moved | (old.cost_per_lot != cm.cost_per_lot)
        pair_moved |= (before["value"] != self.value) | (before["base"] != self.base)
        pair_moved |= old.max_lots != cm.max_lots
        edge_moved = np.zeros(cm.n_pairs, dtype=np.bool_)
        edge_moved[cm.bucket_pair[old.bucket_value != cm.bucket_value]] = True
        n_obligations = len(self.problem.obligations)
        moved = np.zeros(n_obligations, dtype=np.bool_)
        moved[cm.pair_obligation[pair_moved | edge_moved]] = True
        moved[cm.group_obligation[old.group_cap != cm.group_cap]] = True
        moved[cm.row_obligation[old.row_cap != cm.row_cap]] = True
        moved |= (old.cover_target != cm.cover_target) | (old.max_isins != cm.max_isins)
        moved |= (old.min_pledge_lots != cm.min_pledge_lots) | (old_floor != self.floor)
        moved |= (old_needed != self.needed) | (old_alpha != self.alpha)
        moved |= old_deficit != self.deficit
        touched = {o.id for o in self.scope if moved[self.index[o.id]]}
        changes = Changes()
        bounded: list[Any] = []

        def drop(component: Any, index: Any) -> None:
            if index in component:
                changes.removed.append(component[index])
                del component[index]

        value_moved = before["value"] != self.value
        cost_moved = old.cost_per_lot != cm.cost_per_lot
        for o in touched:
            i = self.index[o]
            m.required[o] = float(cm.cover_target[i]) / VALUE_UNIT
            m.cut_needed[o] = int(self.needed[i])
            m.cut_alpha[o] = float(self.alpha[i])
            m.cut_deficit[o] = float(self.deficit[i])
            for k in self.by_obligation.get(o, []):
                j = self.j_of[k]
                if value_moved[j]:  # (a Param's __setitem__: 6 us, x 116,000 pairs)
                    m.value[k] = float(self.value[j])
                if cost_moved[j]:
                    m.lot_cost[k] = float(cm.cost_per_lot[j] / COST_UNIT)
                edges = slice(self.bucket_ptr[j], self.bucket_ptr[j + 1])
                for b, base in zip(
                    self.bucket_rows_sorted[edges].tolist(),
                    self.bucket_value_sorted[edges].tolist(),
                    strict=True,
                ):
                    self.edge_value[((o, cm.row_label[b]), k)] = base
                if not rows_moved[j]:
                    continue
                for name in self._PAIR_ROWS:
                    drop(getattr(m, name), k)
                changes.added += self._pair_rows(j, k)
                bounded.append(m.add[k])
                if k in m.release:
                    bounded.append(m.release[k])
        existing = set(m.pool_reach)
        pools_before = {o: list(self.pools_of.get(o, [])) for o in touched}
        faces_before = set(m.pool_face)
        changes.added += self._refresh_pools(sorted(touched))
        # Obligations whose rows keep their shape take the new numbers straight into
        # the solver (optimizer.inplace); the others are rewritten through Pyomo.
        numeric: set[str] = set()
        if direct:
            reshaped = inplace.reshaped(
                self, touched, pools_before=pools_before, faces_before=faces_before, old=old
            )
            numeric = touched - reshaped
        for o in touched:
            for q in self.pools_of.get(o, []):  # their data moved with the prices
                bounded.append(m.pool_value[q])
                if q not in existing or o in numeric:
                    continue  # its rows are new (in changes.added) / written directly
                if q in m.pool_link:
                    changes.removed.append(m.pool_link[q])
                    changes.added.append(
                        self._set(
                            m.pool_link, q, m.pool_value[q] <= m.pool_chunk[q] * m.pool_moves[q]
                        )
                    )
                if q in m.pool_isin_link:
                    changes.removed.append(m.pool_isin_link[q])
                    changes.added.append(self._set(m.pool_isin_link, q, m.pool_isin_link[q].expr))
            i = self.index[o]
            flipped = (old_floor[i] > 0) != (self.floor[i] > 0)
            flipped |= self.use_cuts and (old_needed[i] > 0) != (self.needed[i] > 0)
            if o in numeric and not flipped:
                continue
            for name in ("ledger_floor", "move_count_cut", "move_cover_cut"):
                drop(getattr(m, name), o)  # written again where they still hold
            if o in numeric:  # a floor or cut appears or goes: those rows alone
                self._floor_and_cuts(
                    o, lambda c, index, expr: changes.added.append(self._set(c, index, expr))
                )
        buckets: set[tuple[str, str]] = set()
        if numeric and self.bucket_own_coef:  # rows of own coefficients: through Pyomo
            buckets = {bk for o in numeric for bk in self.buckets_of.get(o, set())}
        rows = self._rebuild_rows(touched - numeric, set(), set(), buckets)
        changes.removed += rows.removed
        changes.added += rows.added
        inplace.write_rows(self, numeric, changes)
        if direct and existing.issuperset(m.pool_reach):  # no new pool: the same columns
            inplace.write_objective(self, touched, changes)
        else:
            self._set_objective()
            changes.objective = True
        return changes, bounded

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


_STRUCTURE = (
    "pair_position", "pair_obligation", "pair_isin", "pair_group", "current_lots",
    "group_obligation", "group_isin", "bucket_pair", "bucket_row", "row_obligation",
    "lot_face", "position_face",
)  # fmt: skip
"""Cost-model arrays that fix a model's variables and rows (:func:`same_structure`)."""


def same_structure(a: CostModel, b: CostModel) -> bool:
    """Whether ``b`` has ``a``'s pairs, ISIN groups and bucket edges in the same order
    (what :meth:`CollateralModel.update_prices` needs: only the numbers moved)."""
    return (
        a.n_pairs == b.n_pairs
        and len(a.problem.obligations) == len(b.problem.obligations)
        and list(a.row_label) == list(b.row_label)
        and all(np.array_equal(getattr(a, name), getattr(b, name)) for name in _STRUCTURE)
    )


def _split(keys: IntArray, values: IntArray) -> tuple[list[int], list[IntArray]]:
    """Runs of equal ``keys`` (sorted) and the ``values`` of each run."""
    if keys.size == 0:
        return [], []
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate(([0], cuts))
    return keys[starts].tolist(), np.split(values, cuts)


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
