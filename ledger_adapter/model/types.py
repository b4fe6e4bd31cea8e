"""Daml ``Tanpo.Types``: the account column enum and the records choices take."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ledger_adapter.errors import InvalidArgument
from ledger_adapter.templates import Record
from ledger_adapter.typecheck import TypeChecker


class Column(StrEnum):
    """The two columns of a book-entry account (保有欄 / 質権欄): Daml ``data Column``."""

    HOLDINGS = "HoldingsColumn"
    PLEDGE = "PledgeColumn"

    @classmethod
    def parse(cls, text: str) -> Column:
        """Parse ``holdings``/``pledge`` or the Daml constructor names."""
        key = text.strip().lower().removesuffix("column")
        for column in cls:
            if column.name.lower() == key:
                return column
        raise InvalidArgument(f"{text!r} is not a column (holdings, pledge)", field="column")


HOLDINGS_COLUMN = Column.HOLDINGS.value
PLEDGE_COLUMN = Column.PLEDGE.value

RECORDS = {
    "IsinFace": Record("IsinFace", (("isin", "Text"), ("face", "Int"))),
    "MarginCallStep": Record(
        "MarginCallStep",
        (
            ("obligationCid", "ContractId MarginObligation"),
            ("newRequiredValue", "Optional Int"),
            ("newValuation", "Optional (TextMap Decimal)"),
            ("coverCid", "Optional (ContractId ObligationCover)"),
            ("pledgeCids", "[ContractId Pledge]"),
        ),
    ),
    "PledgeRelease": Record("PledgeRelease", (("pledgeCid", "ContractId Pledge"), ("face", "Int"))),
    "PledgeOrder": Record(
        "PledgeOrder",
        (("obligationId", "Text"), ("account", "Text"), ("isin", "Text"), ("face", "Int")),
    ),
    "Free": Record(
        "Free",
        (
            ("cid", "ContractId Holding"),
            ("account", "Text"),
            ("isin", "Text"),
            ("face", "Int"),
        ),
    ),
    "RebalanceResult": Record(
        "RebalanceResult",
        (
            ("pool", "[Free]"),
            ("pledgeCids", "[ContractId Pledge]"),
            ("coverCids", "[ContractId ObligationCover]"),
        ),
    ),
    "RebalanceStep": Record(
        "RebalanceStep",
        (
            ("agreementCid", "ContractId PledgeAgreement"),
            ("obligationCids", "[ContractId MarginObligation]"),
            ("coverCids", "[ContractId ObligationCover]"),
            ("releases", "[PledgeRelease]"),
            ("pledges", "[PledgeOrder]"),
        ),
    ),
}
"""The ``data`` records of ``Tanpo.Types`` (choice arguments)."""

ENUMS = {"Column": frozenset(c.value for c in Column)}
TYPES = TypeChecker(ENUMS, RECORDS)
"""Checks commands' values against the Daml types of the model."""


def optional_party(party: str | None) -> list[str]:
    """Daml ``optionalToList``."""
    return [party] if party else []


def pair(first: Any, second: Any) -> dict[str, Any]:
    """A Daml tuple ``(a, b)`` in the JSON encoding (``{"_1": a, "_2": b}``)."""
    return {"_1": first, "_2": second}
