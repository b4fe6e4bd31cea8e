"""The error-mapping table: Canton's code ids and categories <-> tanpo's ledger errors.

Rows cite the Canton error code (``JsCantonError.code``), its Daml error category and
the HTTP status the JSON API answers with (Canton ``asSttpStatus`` of the category's
gRPC code). Both directions are tested: a participant's error body becomes the tanpo
error the embedded ledger raises for the same thing, and the loopback server's body for
a tanpo error is a spec-valid ``JsCantonError`` that maps back to the same error.
"""

from __future__ import annotations

import pytest

from ledger_adapter.canton.error_codes import (
    HTTP_STATUS,
    Unauthenticated,
    contract_ids_of,
    error_body,
    error_from_body,
    error_from_response,
)
from ledger_adapter.errors import (
    AuthorizationError,
    ContractNotFound,
    DuplicateCommand,
    InterpretationError,
    InvalidArgument,
    LedgerError,
    LockedContracts,
    PermissionDenied,
    RequestTimeout,
    Unavailable,
)
from tests.ledger_adapter.canton import spec

CID_A = "00" + "a1" * 33
CID_B = "00" + "b2" * 33

# (Canton code id, category, HTTP status, tanpo class, retryable)
TABLE = [
    ("CONTRACT_NOT_FOUND", 11, 404, ContractNotFound, False),
    ("LOCAL_VERDICT_INACTIVE_CONTRACTS", 11, 404, ContractNotFound, False),
    ("DAML_AUTHORIZATION_ERROR", 8, 400, AuthorizationError, False),
    ("DAML_INTERPRETATION_ERROR", 9, 400, InterpretationError, False),
    ("TEMPLATE_PRECONDITION_VIOLATED", 9, 400, InterpretationError, False),
    ("DUPLICATE_COMMAND", 10, 409, DuplicateCommand, False),
    ("LOCAL_VERDICT_LOCKED_CONTRACTS", 2, 409, LockedContracts, True),
    ("SUBMISSION_ALREADY_IN_FLIGHT", 2, 409, LockedContracts, True),
    ("REQUEST_TIME_OUT", 3, 504, RequestTimeout, True),
    ("PERMISSION_DENIED", 7, 403, PermissionDenied, False),
    ("UNAUTHENTICATED", 6, 401, Unauthenticated, False),
    ("ACCESS_TOKEN_EXPIRED", 6, 401, Unauthenticated, False),
    ("INVALID_ARGUMENT", 8, 400, InvalidArgument, False),
    ("INVALID_DEDUPLICATION_PERIOD", 8, 400, InvalidArgument, False),
    ("UNAVAILABLE", 1, 503, Unavailable, True),
    # unknown code ids fall back to their category
    ("SEQUENCER_BACKPRESSURE", 2, 409, LockedContracts, True),
    ("MEDIATOR_SAYS_TX_TIMED_OUT", 3, 504, RequestTimeout, True),
    ("SOME_FUTURE_TRANSIENT_ERROR", 1, 503, Unavailable, True),
    ("PARTY_NOT_KNOWN_ON_LEDGER", 11, 404, LedgerError, False),  # not a contract: no re-plan
]


def _body(code: str, category: int, **extra: object) -> dict[str, object]:
    return {
        "code": code,
        "cause": f"{code} happened",
        "context": {},
        "errorCategory": category,
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "category", "status", "cls", "retryable"), TABLE, ids=[r[0] for r in TABLE]
)
def test_canton_errors_map_to_tanpo_errors(
    code: str, category: int, status: int, cls: type[LedgerError], retryable: bool
) -> None:
    error = error_from_response(status, _body(code, category), "", command_id="plan-1:g0")
    assert type(error) is cls
    assert error.code == code and error.retryable is retryable


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ContractNotFound([CID_A, CID_B]), 404),
        (AuthorizationError("Holding: missing authorization from BOJ"), 400),
        (InterpretationError("Holding_Pledge: already pledged"), 400),
        (DuplicateCommand("plan-1:g0", completion_offset=17, submission_id="s-1"), 409),
        (LockedContracts("locked", contract_ids=[CID_A]), 409),
        (RequestTimeout("no answer"), 504),
        (PermissionDenied("no CanActAs right for ['MIZUHO']"), 403),
        (Unauthenticated("no bearer token"), 401),
        (InvalidArgument("expected an Int64", field="commands[0].face"), 400),
        (Unavailable("not ready"), 503),
        (LedgerError("a bug"), 500),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, LedgerError) else str(v),
)
def test_server_bodies_are_spec_valid_and_map_back(error: LedgerError, status: int) -> None:
    got_status, body = error_body(error)
    assert got_status == status
    back = error_from_response(got_status, body, "", command_id="plan-1:g0")
    assert type(back) is type(error) and back.code == error.code
    if isinstance(error, ContractNotFound | LockedContracts):
        assert back.contract_ids == error.contract_ids  # type: ignore[attr-defined]
    if isinstance(error, DuplicateCommand):
        assert isinstance(back, DuplicateCommand)
        assert (back.completion_offset, back.submission_id) == (17, "s-1")
    if isinstance(error, InvalidArgument):
        assert isinstance(back, InvalidArgument) and back.field == "commands[0].face"
    if spec.spec_dir() is not None:
        for version in spec.OPENAPI_VERSIONS:
            assert spec.openapi(version).component_errors("JsCantonError", body) == []


def test_contract_ids_are_read_from_resources_context_or_cause() -> None:
    resources = [["CONTRACT_ID", CID_A], ["CONTRACT_ID", CID_B], ["PARTY", "MIZUHO"]]
    assert contract_ids_of({"resources": resources}) == (CID_A, CID_B)
    assert contract_ids_of({"context": {"contract_ids": f"{CID_A},{CID_B}"}}) == (CID_A, CID_B)
    cause = f"Rejected transaction is referring to inactive contracts {CID_B}"
    assert contract_ids_of({"cause": cause}) == (CID_B,)
    error = error_from_body(_body("LOCAL_VERDICT_INACTIVE_CONTRACTS", 11, cause=cause))
    assert isinstance(error, ContractNotFound) and error.contract_ids == (CID_B,)


def test_a_duplicate_reads_cantons_deduplication_context() -> None:
    """Canton 3.x ``DuplicateCommandReject``: completion_offset, accepted, existingSubmissionId."""
    context = {"completion_offset": "42", "accepted": "true", "existingSubmissionId": "s-9"}
    duplicate = error_from_body(_body("DUPLICATE_COMMAND", 10, context=context), command_id="c")
    assert isinstance(duplicate, DuplicateCommand)
    assert (duplicate.command_id, duplicate.completion_offset, duplicate.submission_id) == (
        "c",
        42,
        "s-9",
    )
    rejected = error_from_body(
        _body("DUPLICATE_COMMAND", 10, context={**context, "accepted": "false"}), command_id="c"
    )
    assert type(rejected) is LedgerError and "not accepted" in str(rejected)  # not a success


def test_context_and_correlation_ids_are_kept() -> None:
    body = _body("DAML_AUTHORIZATION_ERROR", 8, correlationId="c-9", traceId="t-1")
    body["context"] = {"participant": "participant1"}
    error = error_from_body(body)
    assert error.context["participant"] == "participant1"
    assert error.context["correlationId"] == "c-9" and error.context["traceId"] == "t-1"


@pytest.mark.parametrize(
    ("status", "text", "cls"),
    [
        (400, "Invalid value for: body (missing actAs)", InvalidArgument),
        (401, "", Unauthenticated),
        (403, "forbidden", PermissionDenied),
        (413, "too many", LedgerError),
        (502, "bad gateway", Unavailable),
        (503, "", Unavailable),
        (504, "gateway timeout", RequestTimeout),
        (500, "boom", LedgerError),
    ],
)
def test_non_canton_answers_still_map(status: int, text: str, cls: type[LedgerError]) -> None:
    error = error_from_response(status, None, text)
    assert type(error) is cls
    if status == 413:
        assert "http-list-max-elements-limit" in str(error)


def test_http_statuses_follow_cantons_grpc_mapping() -> None:
    assert HTTP_STATUS["NOT_FOUND"] == 404 and HTTP_STATUS["ALREADY_EXISTS"] == 409
    assert HTTP_STATUS["ABORTED"] == 409 and HTTP_STATUS["DEADLINE_EXCEEDED"] == 504
    assert HTTP_STATUS["FAILED_PRECONDITION"] == 400 and HTTP_STATUS["UNAUTHENTICATED"] == 401
