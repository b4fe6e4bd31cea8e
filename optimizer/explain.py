"""Why each move, and why an obligation is short: one line each, in the desk's terms.

Rates are quoted as the desk ranks bonds: basis points per year of opportunity cost
per yen of collateral value, ``opportunity_cost_bp / (1 - haircut)`` (DOMAIN.md
section 5), so a long bond with a large haircut shows as dearer than its coupon says.
"""

from __future__ import annotations

import numpy as np

from optimizer.costmodel import NO_LIMIT, CostModel, FloatArray, IntArray


class Explainer:
    """Reasons for the moves and shortfalls of one allocation (``lots`` per pair)."""

    def __init__(self, cm: CostModel, lots: IntArray) -> None:
        self.cm = cm
        self.lots = lots
        self.delta = lots - cm.current_lots
        problem = cm.problem
        opportunity = np.array([s.opportunity_cost_bp for s in problem.securities])
        self.pair_isin = cm.pair_isin
        # Rates of the pairs that move (the only ones a reason names); inf elsewhere.
        moved = np.flatnonzero(self.delta)
        self.rate_bp = np.full(cm.n_pairs, np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 bp / 0 of a released
            self.rate_bp[moved] = np.where(  # ineligible pledge (haircut 1): inf below
                cm.value_per_lot[moved] > 0,
                opportunity[self.pair_isin[moved]] / (1.0 - cm.haircut[moved]),
                np.inf,
            )
        self.starts = cm.obligation_slices()
        self.start_cover = np.zeros(len(problem.obligations))
        self.start_cover += np.bincount(
            cm.pair_obligation,
            weights=cm.current_lots * cm.value_per_lot,
            minlength=self.start_cover.size,
        )
        self.final_cover = np.zeros(len(problem.obligations))
        self.final_cover += np.bincount(
            cm.pair_obligation, weights=lots * cm.value_per_lot, minlength=self.final_cover.size
        )
        self._free: IntArray | None = None
        self._group_used: FloatArray | None = None
        self._row_used: FloatArray = np.zeros(0)
        self._bucket_order: IntArray = np.zeros(0, dtype=np.int64)
        self._bucket_sorted: IntArray = np.zeros(0, dtype=np.int64)
        added = np.flatnonzero(self.delta > 0)
        self.pledged_position = dict(
            zip(cm.pair_position[added].tolist(), added.tolist(), strict=True)
        )
        used = np.zeros(cm.group_cap.size)
        used += np.bincount(
            cm.pair_group, weights=cm.current_lots * cm.value_per_lot, minlength=used.size
        )
        self.over_cap_now = used > cm.group_cap * (1 + 1e-9)

    def _isin(self, j: int) -> str:
        return self.cm.problem.securities[int(self.pair_isin[j])].isin

    def _pairs(self, o: int) -> IntArray:
        return np.arange(self.starts[o], self.starts[o + 1], dtype=np.int64)

    def _slot_swap(self, o: int) -> tuple[list[int], list[int]]:
        """Under a binding ``max_isins``: the ISINs ``o`` gives up and the ones it takes."""
        cm = self.cm
        if cm.max_isins[o] == NO_LIMIT:
            return [], []
        pairs = self._pairs(o)
        before = set(self.pair_isin[pairs][cm.current_lots[pairs] > 0].tolist())
        after = set(self.pair_isin[pairs][self.lots[pairs] > 0].tolist())
        if len(after) < cm.max_isins[o]:
            return [], []
        return sorted(before - after), sorted(after - before)

    def move_reason(self, j: int) -> str:
        """One line on why pair ``j`` changes."""
        cm = self.cm
        o = int(cm.pair_obligation[j])
        pairs = self._pairs(o)
        rate = self.rate_bp[j]
        dropped, taken = self._slot_swap(o)
        slots = int(cm.max_isins[o])
        if self.delta[j] > 0:
            released = pairs[(self.delta[pairs] < 0)]
            if int(self.pair_isin[j]) in taken and dropped:
                gone = cm.problem.securities[dropped[0]].isin
                return f"takes the ISIN slot {gone} frees (max_isins {slots}): more cover per slot ({rate:.2f} bp/yr per yen of collateral value)"
            if released.size:
                r = int(released[np.argmax(self.rate_bp[released])])
                if not np.isfinite(self.rate_bp[r]):
                    return f"replaces {self._isin(r)}, no longer eligible ({rate:.2f} bp/yr per yen of collateral value)"
                if self.rate_bp[r] > rate:
                    return (
                        f"cheaper by {self.rate_bp[r] - rate:.2f} bp/yr per yen of collateral value than "
                        f"{self._isin(r)} it replaces ({rate:.2f} vs {self.rate_bp[r]:.2f})"
                    )
                return f"replaces {self._isin(r)}, whose face serves another obligation better ({rate:.2f} bp/yr per yen of collateral value)"
            deficit = cm.required_value[o] - self.start_cover[o]
            if deficit > 0:
                return f"covers the deficit of {deficit:,.0f} yen at {rate:.2f} bp/yr per yen of collateral value, the cheapest eligible left"
            return f"restores cover at {rate:.2f} bp/yr per yen of collateral value"
        if not np.isfinite(rate):
            schedule = cm.problem.obligations[o].schedule
            return f"released: no longer eligible under schedule {schedule}"
        if self.over_cap_now[cm.pair_group[j]]:
            cap = cm.group_cap[cm.pair_group[j]]
            return f"released: today's pledge of {self._isin(j)} is above its concentration cap ({cap:,.0f} yen, which follows the requirement)"
        if int(self.pair_isin[j]) in dropped and taken:
            new = cm.problem.securities[taken[0]].isin
            return f"released: frees an ISIN slot (max_isins {slots}) for {new}, which brings more cover"
        other_pair = self.pledged_position.get(int(cm.pair_position[j]))
        if other_pair is not None and cm.pair_obligation[other_pair] != o:
            other = cm.problem.obligations[int(cm.pair_obligation[other_pair])].id
            return f"released: its face is pledged to {other} instead, where it saves more"
        pledged = pairs[self.delta[pairs] > 0]
        if pledged.size:
            best = int(pledged[np.argmin(self.rate_bp[pledged])])
            if self.rate_bp[best] < rate:
                return (
                    f"released: replaced by {self._isin(best)}, cheaper by "
                    f"{rate - self.rate_bp[best]:.2f} bp/yr per yen of collateral value"
                )
        excess = self.final_cover[o] - cm.required_value[o]
        return f"released: excess cover ({rate:.2f} bp/yr per yen of collateral value; {excess:,.0f} yen above required after release)"

    def _free_face(self) -> IntArray:
        """Each position's face left free by the allocation (computed once)."""
        if self._free is None:
            cm = self.cm
            pledged = np.bincount(  # exact: float64 sums of whole yen far below 2**53
                cm.pair_position,
                weights=self.lots * cm.lot_face[cm.pair_obligation],
                minlength=cm.position_face.size,
            )
            self._free = cm.position_face - np.rint(pledged).astype(np.int64)
        return self._free

    def room(self, o: int) -> IntArray:
        """Lots each pair of obligation ``o`` could still take, given the allocation and
        every limit (position face, the pair's bound, ISIN and bucket caps). Per
        obligation: the plan needs it only for the few covered exactly or short, and
        the book-wide version (every pair, every call) was the slowest part of an
        intraday margin call's plan."""
        cm, lots = self.cm, self.lots
        lo, hi = int(self.starts[o]), int(self.starts[o + 1])
        mine = lots[lo:hi]
        pair_lot = int(cm.lot_face[o])
        if self._group_used is None:
            self._group_used = np.bincount(
                cm.pair_group, weights=lots * cm.value_per_lot, minlength=cm.group_cap.size
            ).astype(np.float64, copy=False)
            order = np.argsort(cm.bucket_pair, kind="stable")
            self._bucket_order = order
            self._bucket_sorted = cm.bucket_pair[order]
            self._row_used = np.bincount(
                cm.bucket_row,
                weights=lots[cm.bucket_pair] * cm.bucket_value,  # base value
                minlength=cm.row_cap.size,
            ).astype(np.float64, copy=False)
        free = self._free_face()[cm.pair_position[lo:hi]] // pair_lot
        room = np.minimum(cm.max_lots[lo:hi] - mine, free).astype(np.float64)
        groups = cm.pair_group[lo:hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(cm.value_per_lot[lo:hi] > 0, cm.value_per_lot[lo:hi], np.nan)
            room = np.fmin(
                room,
                np.floor((cm.group_cap[groups] - self._group_used[groups]) / value * (1 + 1e-12)),
            )
            first, last = np.searchsorted(self._bucket_sorted, [lo, hi])
            edges = self._bucket_order[first:last]
            if edges.size:
                rows = cm.bucket_row[edges]
                local = cm.bucket_pair[edges] - lo
                base = np.where(cm.bucket_value[edges] > 0, cm.bucket_value[edges], np.nan)
                slack = np.floor((cm.row_cap[rows] - self._row_used[rows]) / base * (1 + 1e-12))
                np.minimum.at(room, local, slack)
        room = np.where(np.isnan(value), 0.0, room)
        result: IntArray = np.maximum(room, 0).astype(np.int64)
        return result

    def marginal_costs(self) -> FloatArray:
        """Yen of cost per extra yen of required value, per obligation: the marginal
        cost of one more yen of requirement on this allocation.

        - short (cover below the requirement; worst-case cover for a stressed
          obligation): the shortfall penalty per yen -- the extra yen is short too;
        - covered with slack (cover >= required + 1 yen: it still covers one more
          yen): 0;
        - covered with less than a yen to spare: the cost per yen of collateral value
          of the cheapest top-up the desk would make, a pair that can take the lots a
          top-up needs (one lot, at least the minimum transfer, a new pledge at least
          the minimum pledge; a new ISIN only with a ``max_isins`` slot free), and the
          shortfall penalty when none can. A top-up brings whole lots, so this is the
          rate of the step, not of one yen; move costs are left out (they are the
          step's fixed part, not its slope).
        """
        cm = self.cm
        penalty = cm.problem.costs.shortfall_penalty_per_yen
        per_yen = cm.cost_per_value
        lots = self.lots
        cover = np.zeros(len(cm.problem.obligations))
        cover += np.bincount(
            cm.pair_obligation, weights=lots * cm.value_per_lot, minlength=cover.size
        )
        out = np.zeros(cover.size)
        for o in range(len(out)):
            if cover[o] < cm.required_value[o]:
                out[o] = penalty
                continue
            if cover[o] >= cm.required_value[o] + 1.0:
                continue
            pairs = self._pairs(o)
            room = self.room(o)[cm.value_per_lot[pairs] > 0]
            pairs = pairs[cm.value_per_lot[pairs] > 0]
            needs = np.maximum(cm.min_move_lots[pairs], 1)
            fresh = lots[pairs] == 0
            needs[fresh] = np.maximum(needs[fresh], cm.min_pledge_lots[o])
            open_ = room >= needs
            if cm.max_isins[o] != NO_LIMIT:
                held = np.unique(self.pair_isin[pairs][lots[pairs] > 0])
                if held.size >= cm.max_isins[o]:
                    open_ &= np.isin(self.pair_isin[pairs], held)
            out[o] = min(penalty, float(per_yen[pairs[open_]].min())) if open_.any() else penalty
        return out

    def shortfall_reason(self, o: int) -> str:
        """Which limit stops obligation ``o`` getting more cover."""
        cm = self.cm
        obligation = cm.problem.obligations[o]
        pairs = self._pairs(o)
        pairs = pairs[cm.value_per_lot[pairs] > 0]
        if pairs.size == 0:
            return f"shortfall: no eligible position: schedule {obligation.schedule} takes none of {obligation.pledgor}'s holdings"
        room = self.room(o)[cm.value_per_lot[self._pairs(o)] > 0]
        if np.any(room > 0):
            isins = {int(i) for i in self.pair_isin[pairs][self.lots[pairs] > 0]}
            max_moves = cm.problem.limits.max_moves
            moves = int(np.count_nonzero(self.delta))
            if max_moves is not None and moves >= max_moves:
                return f"shortfall: movement budget binds (max_moves {max_moves} used)"
            if cm.max_isins[o] != NO_LIMIT and len(isins) >= cm.max_isins[o]:
                return f"shortfall: max_isins {int(cm.max_isins[o])} binds"
            return "shortfall: lot size, minimum pledge or minimum transfer leaves it short"
        pair_lot = cm.lot_face[cm.pair_obligation[pairs]]
        no_face = self._free_face()[cm.pair_position[pairs]] < pair_lot
        capped = ~no_face
        parts = []
        if capped.any():
            names = sorted({self._isin(int(j)) for j in pairs[capped]})
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"concentration cap binds on {shown}")
        if no_face.any():
            parts.append(
                f"no eligible position left ({int(no_face.sum())} pledged elsewhere or exhausted)"
            )
        return "shortfall: " + "; ".join(parts)
