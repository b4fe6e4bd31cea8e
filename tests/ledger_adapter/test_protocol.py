"""The Ledger protocol's types mirror the JSON Ledger API v2 shapes field by field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger_adapter import errors
from ledger_adapter.protocol import (
    ArchivedEvent,
    CreateAndExerciseCommand,
    CreateCommand,
    CreatedEvent,
    ExerciseCommand,
    ExercisedEvent,
    InvalidArgument,
    Transaction,
    TransactionShape,
    party_set,
)
from tests.ledger_adapter.canton import spec

# tanpo field -> JSON API field where the name is not the plain camelCase of ours.
RENAMED = {
    (CreateCommand, "arguments"): "createArguments",
    (CreateAndExerciseCommand, "arguments"): "createArguments",
    (CreateAndExerciseCommand, "argument"): "choiceArgument",
    (ExerciseCommand, "argument"): "choiceArgument",
    (CreatedEvent, "arguments"): "createArgument",
    (ExercisedEvent, "argument"): "choiceArgument",
}
SCHEMA = {
    CreateCommand: "CreateCommand",
    ExerciseCommand: "ExerciseCommand",
    CreateAndExerciseCommand: "CreateAndExerciseCommand",
    CreatedEvent: "CreatedEvent",
    ArchivedEvent: "ArchivedEvent",
    ExercisedEvent: "ExercisedEvent",
    Transaction: "JsTransaction",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _spec() -> dict[str, Any]:
    """The 3.5.10 OpenAPI document, parsed once per process (skipped where absent)."""
    spec.require_specs()
    return spec.openapi("3.5.10", strict=False).document


@pytest.mark.parametrize("cls", list(SCHEMA), ids=lambda c: c.__name__)
def test_fields_are_json_api_fields(cls: type) -> None:
    schema = _spec()["components"]["schemas"][SCHEMA[cls]]
    properties = set(schema["properties"])
    for f in dataclasses.fields(cls):
        name = RENAMED.get((cls, f.name), _camel(f.name))
        assert name in properties, f"{cls.__name__}.{f.name} -> {name} not in {SCHEMA[cls]}"
    # every field the JSON API requires has a home in ours (or is transport-only)
    ours = {RENAMED.get((cls, f.name), _camel(f.name)) for f in dataclasses.fields(cls)}
    transport_only = {"packageName", "representativePackageId", "acsDelta", "synchronizerId"}
    missing = set(schema.get("required", ())) - ours - transport_only
    assert not missing, f"{SCHEMA[cls]} requires {missing}"


def test_party_set() -> None:
    assert party_set("MIZUHO") == {"MIZUHO"}
    assert party_set(["MIZUHO", "JSCC", "MIZUHO"]) == {"MIZUHO", "JSCC"}
    with pytest.raises(InvalidArgument, match="parties"):
        party_set([])
    with pytest.raises(InvalidArgument, match="party id"):
        party_set([""])


def test_transaction_shape_parse() -> None:
    assert TransactionShape.parse("acs_delta") is TransactionShape.ACS_DELTA
    assert TransactionShape.parse("TRANSACTION_SHAPE_LEDGER_EFFECTS") is (
        TransactionShape.LEDGER_EFFECTS
    )
    with pytest.raises(InvalidArgument, match="transaction shape"):
        TransactionShape.parse("tree")


@pytest.mark.parametrize(
    ("error", "code", "category"),
    [
        (errors.ContractNotFound(["00ab"]), "CONTRACT_NOT_FOUND", 11),
        (errors.AuthorizationError("x"), "DAML_AUTHORIZATION_ERROR", 8),
        (errors.InterpretationError("x"), "DAML_INTERPRETATION_ERROR", 9),
        (errors.DuplicateCommand("c1", completion_offset=7), "DUPLICATE_COMMAND", 10),
        (errors.InvalidArgument("x", field="actAs"), "INVALID_ARGUMENT", 8),
        (errors.LockedContracts("x"), "LOCAL_VERDICT_LOCKED_CONTRACTS", 2),
        (errors.RequestTimeout("x"), "REQUEST_TIME_OUT", 3),
        (errors.PermissionDenied("x"), "PERMISSION_DENIED", 7),
        (errors.Unavailable("x"), "UNAVAILABLE", 1),
    ],
)
def test_error_codes(error: errors.LedgerError, code: str, category: int) -> None:
    from valuation.errors import TanpoError

    assert isinstance(error, TanpoError)
    assert error.code == code
    assert error.category == category
    assert str(error).startswith(code)


def test_contract_not_found_names_the_contract_and_keeps_canton_code() -> None:
    err = errors.ContractNotFound(["00aa", "00bb"], code="LOCAL_VERDICT_INACTIVE_CONTRACTS")
    assert err.contract_ids == ("00aa", "00bb")
    assert "00aa" in str(err) and err.code == "LOCAL_VERDICT_INACTIVE_CONTRACTS"
    assert errors.LockedContracts("x").retryable and not err.retryable
