"""One enum parser (valuation.closed_set.ClosedSet) for every closed set read from input."""

from __future__ import annotations

import pytest

from optimizer.optimize import Method
from optimizer.plan import MoveAction
from valuation.closed_set import ClosedSet
from valuation.errors import InputError
from valuation.jgb import BondKind
from valuation.programs import Program


@pytest.mark.parametrize(
    ("enum", "text", "member"),
    [(BondKind, " Inflation ", BondKind.INFLATION), (Program, "i10y", Program.I10),
     (MoveAction, "PLEDGE", MoveAction.PLEDGE), (Method, "Greedy", Method.GREEDY)],
)  # fmt: skip
def test_any_case_and_blanks(enum: type[ClosedSet], text: str, member: ClosedSet) -> None:
    assert issubclass(enum, ClosedSet) and enum.parse(text, "r") is member


@pytest.mark.parametrize(
    ("enum", "field", "known"),
    [(BondKind, "kind", "fixed, tbill, inflation"), (MoveAction, "action", "pledge, release"),
     (Method, "method", "mip, greedy")],
)  # fmt: skip
def test_anything_else_names_record_field_and_members(
    enum: type[ClosedSet], field: str, known: str
) -> None:
    with pytest.raises(InputError) as info:
        enum.parse("floater", "rows[2]")
    assert (info.value.record, info.value.field) == ("rows[2]", field)
    assert info.value.message == f"unknown {field} 'floater'; expected one of {known}"
    with pytest.raises(InputError) as info:
        BondKind.parse(None, "s[0]", "eligible_kinds")
    assert info.value.field == "eligible_kinds"


def test_the_executor_reads_the_optimizer_s_move_actions() -> None:
    # ledger_adapter.plan declares its own MoveAction to keep `tanpo execute` free of
    # the optimizer's imports; both must name the same closed set.
    from ledger_adapter.plan import MoveAction as LedgerMoveAction

    assert [m.value for m in LedgerMoveAction] == [m.value for m in MoveAction]
    assert LedgerMoveAction.parse(" Pledge ", "moves[0]") is LedgerMoveAction.PLEDGE
