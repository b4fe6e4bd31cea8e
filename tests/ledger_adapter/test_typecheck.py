"""The fast (generated) type check accepts exactly what the detailed check accepts.

Each row is a value for a record with one field of a type; both checks see it, and the
detailed one must raise :class:`InvalidArgument` naming the field exactly when the fast
one refuses. Contract ids are collected only from accepted values.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger_adapter.errors import InvalidArgument
from ledger_adapter.model import RECORDS, TEMPLATES, TYPES
from ledger_adapter.typecheck import TypeChecker

CID = "00" + "ab" * 32
VALUES: dict[str, list[Any]] = {
    "Party": ["BANK1", "", "A,B", 3, None, ["BANK1"]],
    "Text": ["", "x", 1, None, True],
    "Int": [
        "0",
        "-12",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.5",
        3,
        "",
        None,
    ],
    "Decimal": ["1", "-0.0000000001", "1.00000000001", "1e3", 1.5, None],
    "Bool": [True, False, "true", 0, None],
    "()": [None, {}, {"a": 1}, [], 0],
    "Column": ["HoldingsColumn", "PledgeColumn", "Other", ["HoldingsColumn"], None],
    "ContractId Holding": [CID, "", 5, None],
    "Optional Party": [None, "BANK1", "", 5],
    "[Int]": [[], ["1", "2"], ["1", 2], "1", None],
    "TextMap Decimal": [{}, {"JP1": "0.98"}, {"JP1": 0.98}, [], None],
    "[ContractId Pledge]": [[CID, CID], [CID, ""], None],
    "Optional (TextMap Decimal)": [None, {}, {"JP1": "0.98"}, {"JP1": 0.98}, [], "0.98"],
    "[MarginCallStep]": [
        [],
        [{"obligationCid": CID, "newRequiredValue": "5", "newValuation": None}],
        [{"obligationCid": CID, "newValuation": {"JP1": "0.9800000000"}}],
        [{"obligationCid": CID, "newRequiredValue": 5}],
        [{"obligationCid": CID, "newValuation": {"JP1": 0.98}}],
        [{"newRequiredValue": "5"}],
    ],
    "PledgeOrder": [
        {"obligationId": "O", "account": "A", "isin": "I", "face": "1"},
        {"obligationId": "O", "account": "A", "isin": "I"},
        {"obligationId": "O", "account": "A", "isin": "I", "face": "1", "extra": 1},
        {"obligationId": "O", "account": "A", "isin": "I", "face": 1},
        "O",
    ],
    "[RebalanceStep]": [
        [],
        [
            {
                "agreementCid": CID,
                "obligationCids": [CID],
                "releases": [{"pledgeCid": CID, "face": "5"}],
                "pledges": [],
            }
        ],
        [
            {
                "agreementCid": CID,
                "obligationCids": [CID],
                "releases": [{"pledgeCid": CID, "face": "x"}],
                "pledges": [],
            }
        ],
    ],
}


def _detailed_accepts(types: TypeChecker, fields: tuple[tuple[str, str], ...], value: Any) -> bool:
    try:
        types.check_record(fields, value, "arg")
    except InvalidArgument as err:
        assert err.field is not None and err.field.startswith("arg")
        return False
    return True


@pytest.mark.parametrize(
    ("daml_type", "value"),
    [(t, v) for t, values in VALUES.items() for v in values],
    ids=lambda x: repr(x)[:40],
)
def test_fast_and_detailed_checks_agree(daml_type: str, value: Any) -> None:
    fields = (("field", daml_type),)
    record = {"field": value}
    fast_cids: list[str] = []
    fast = TYPES.fast_check(fields)(record, fast_cids)
    detailed = _detailed_accepts(TYPES, fields, record)
    assert fast == detailed
    if fast:
        cids: list[str] = []
        TYPES.check_record(fields, record, "arg", cids)
        assert cids == fast_cids


@pytest.mark.parametrize("daml_type", list(VALUES))
def test_fast_and_detailed_checks_agree_on_an_absent_field(daml_type: str) -> None:
    """Absent is refused unless optional (the fast check gets a sentinel no test accepts)."""
    fields = (("field", daml_type),)
    fast = TYPES.fast_check(fields)({}, [])
    assert fast == _detailed_accepts(TYPES, fields, {})
    assert fast == daml_type.startswith("Optional ")


def test_int64_bounds_are_daml_s() -> None:
    """Daml's Int64 runs from -2^63 to 2^63 - 1: both ends accepted, one past refused."""
    fields = (("field", "Int"),)
    for text, ok in (
        ("9223372036854775807", True),
        ("-9223372036854775808", True),
        ("9223372036854775808", False),
        ("-9223372036854775809", False),
    ):
        assert TYPES.fast_check(fields)({"field": text}, []) is ok, text
        assert _detailed_accepts(TYPES, fields, {"field": text}) is ok, text


def test_missing_and_unknown_fields() -> None:
    fields = RECORDS["PledgeRelease"].fields
    records: list[Any] = [{"pledgeCid": CID}, {"pledgeCid": CID, "face": "1", "x": 1}, [], None]
    for record in records:
        assert not TYPES.fast_check(fields)(record, [])
        with pytest.raises(InvalidArgument):
            TYPES.check_record(fields, record, "arg")


def test_every_choice_argument_compiles() -> None:
    for template in TEMPLATES.values():
        TYPES.fast_check(template.fields)
        for choice in template.choices.values():
            TYPES.fast_check(choice.fields)


def test_an_enum_given_a_list_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="not one of"):
        TYPES.check_record((("column", "Column"),), {"column": ["HoldingsColumn"]}, "arg")
