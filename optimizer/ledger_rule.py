"""The ledger's release rule, as the optimizer holds it.

The ledger (``MarginObligation_CheckCover``, ``ledger_adapter/daml``) accepts a step
that takes collateral from an obligation when, after it, the obligation is covered or
the step put in at least the value it took out. Every obligation's moves travel in one
group (:mod:`optimizer.ordering`), so over a plan the rule reads, per obligation,

.. math:: \\text{cover}_\\text{after} \\ge \\min(R_o, \\text{cover}_\\text{now})

with cover at base value (the ledger's valuation; a stressed obligation's worst-case
value is only the optimizer's). It is one linear row with a constant right-hand side
(:func:`ledger_floor`): a short obligation may swap dear collateral for cheap as long
as its cover does not fall, and is never made shorter.

**Breaches the ledger will not let the optimizer cure.** Where today's pledges break
one of an obligation's limits (a cap shrunk with the requirement, ``max_isins``, the
minimum pledge), the excess must come down, but releasing it while the obligation is
(or becomes) short needs additions of at least its value in the same step. Where
releasing the excess alone would leave the obligation short, :func:`keep_uncurable`
holds the breach at today's level (caps raised to today's use, no addition to an
over-cap ISIN or bucket): the pledgee keeps the collateral it has, the optimizer may
still swap the excess out for at least as much value, and the plan names the breach as
the obligation's binding limit. Otherwise the excess is released, and the obligation
stays covered after it. What a desk does: never weaken a short obligation's cover to
honour a limit that exists to protect that same cover.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from optimizer.costmodel import CostModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FLOOR_TOLERANCE = 1e-9  # relative, of the requirement: float sums against exact yen


def base_value_per_lot(cm: CostModel) -> FloatArray:
    """Value per lot as the ledger counts it (base prices, after haircut)."""
    result: FloatArray = cm.market_per_lot * (1.0 - cm.haircut)
    return result


def base_cover(cm: CostModel, lots: IntArray) -> FloatArray:
    """Per obligation, the base-value cover of allocation ``lots`` (yen)."""
    cover = np.zeros(cm.required_value.size)
    np.add.at(cover, cm.pair_obligation, lots * base_value_per_lot(cm))
    return cover


def ledger_floor(cm: CostModel) -> FloatArray:
    """Per obligation, the least base-value cover a plan may leave it with:
    ``min(required, cover now)`` (module docstring)."""
    result: FloatArray = np.minimum(cm.required_value, base_cover(cm, cm.current_lots))
    return result


def floor_of(cm: CostModel, o: int, lo: int, hi: int) -> tuple[float, FloatArray]:
    """Obligation ``o``'s :func:`ledger_floor` (yen) and its pairs' (``lo:hi``) base
    value per lot, without touching other obligations' pairs."""
    base: FloatArray = cm.market_per_lot[lo:hi] * (1.0 - cm.haircut[lo:hi])
    held = float(cm.current_lots[lo:hi] @ base)
    return min(float(cm.required_value[o]), held), base


def breaks_floor(cm: CostModel, lots: IntArray) -> BoolArray:
    """Per obligation, whether ``lots`` leaves it below its :func:`ledger_floor`: a
    step the ledger would refuse."""
    floor = ledger_floor(cm)
    result: BoolArray = base_cover(cm, lots) < floor - FLOOR_TOLERANCE * cm.required_value
    return result


def release_to_cure(cm: CostModel) -> FloatArray:
    """Per obligation, a lower estimate of the value (yen, optimizer's values) that
    bringing today's pledges within its limits releases: lots above the pairs'
    bounds, excess over ISIN and bucket caps, the smallest ISINs beyond ``max_isins``
    and pledges under the minimum pledge."""
    lots, value = cm.current_lots, cm.value_per_lot
    n = cm.required_value.size
    forced = np.zeros(n)
    np.add.at(forced, cm.pair_obligation, np.maximum(lots - cm.max_lots, 0) * value)
    used = np.zeros(cm.group_cap.size)
    np.add.at(used, cm.pair_group, lots * value)
    excess = np.zeros(n)
    np.add.at(excess, cm.group_obligation, np.maximum(used - cm.group_cap, 0.0))
    if cm.bucket_pair.size:
        rows = np.zeros(cm.row_cap.size)
        np.add.at(rows, cm.bucket_row, lots[cm.bucket_pair] * value[cm.bucket_pair])
        np.add.at(excess, cm.row_obligation, np.maximum(rows - cm.row_cap, 0.0))
    out = np.where(excess > 0, excess, forced)  # per-pair bounds overcount a shared cap
    under = (lots > 0) & (lots < cm.min_pledge_lots[cm.pair_obligation])
    np.add.at(out, cm.pair_obligation[under], (lots * value)[under])
    for o in np.flatnonzero(cm.max_isins >= 0).tolist():
        held = (cm.pair_obligation == o) & (lots > 0)
        per_isin = np.bincount(cm.pair_isin[held], weights=(lots * value)[held])
        per_isin = np.sort(per_isin[per_isin > 0])
        out[o] += float(per_isin[: max(per_isin.size - int(cm.max_isins[o]), 0)].sum())
    return out


def keep_uncurable(cm: CostModel) -> CostModel:
    """``cm`` with the limits today's pledges break held at today's level for every
    obligation that releasing the excess alone would leave short (module docstring);
    ``cm`` itself when there is none."""
    broken = cm.must_release()
    if not broken.any():
        return cm
    cover = np.zeros(broken.size)
    np.add.at(cover, cm.pair_obligation, cm.current_lots * cm.value_per_lot)
    kept = broken & (cover - np.minimum(release_to_cure(cm), cover) < cm.cover_target)
    if not kept.any():
        return cm
    lots, value = cm.current_lots, cm.value_per_lot
    used = np.zeros(cm.group_cap.size)
    np.add.at(used, cm.pair_group, lots * value)
    group_cap = cm.group_cap.copy()
    mine = kept[cm.group_obligation]
    group_cap[mine] = np.maximum(group_cap[mine], used[mine])
    row_cap = cm.row_cap.copy()
    if cm.bucket_pair.size:
        rows = np.zeros(cm.row_cap.size)
        np.add.at(rows, cm.bucket_row, lots[cm.bucket_pair] * value[cm.bucket_pair])
        mine = kept[cm.row_obligation]
        row_cap[mine] = np.maximum(row_cap[mine], rows[mine])
    max_isins = cm.max_isins.copy()
    for o in np.flatnonzero(kept).tolist():
        held = (cm.pair_obligation == o) & (lots > 0)
        if max_isins[o] >= 0:
            max_isins[o] = max(int(max_isins[o]), int(np.unique(cm.pair_isin[held]).size))
    # A pledge under the minimum pledge is not held (a per-obligation minimum can't
    # spare one pair): it is topped up, swapped or released as before.
    out = replace(cm, group_cap=group_cap, row_cap=row_cap, max_isins=max_isins)
    return replace(
        out, max_lots=np.maximum(out._bounds(0, out.n_pairs), lots * kept[cm.pair_obligation])
    )
