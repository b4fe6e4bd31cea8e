"""Canton error responses (``JsCantonError``) <-> tanpo's ledger errors, both ways.

A participant answers a failed request with an HTTP status derived from the error's
gRPC code and a ``JsCantonError`` body ``{code, cause, context, errorCategory,
grpcCodeValue, resources, ...}`` (OpenAPI component ``JsCantonError``; the status
mapping is Canton's ``asSttpStatus``: ``INVALID_ARGUMENT``/``FAILED_PRECONDITION``/
``OUT_OF_RANGE`` 400, ``UNAUTHENTICATED`` 401, ``PERMISSION_DENIED`` 403,
``NOT_FOUND`` 404, ``ABORTED``/``ALREADY_EXISTS`` 409, ``RESOURCE_EXHAUSTED`` 429,
``INTERNAL`` 500, ``UNAVAILABLE`` 503, ``DEADLINE_EXCEEDED`` 504).

:func:`error_from_response` turns such a response into the same
:class:`~ledger_adapter.errors.LedgerError` the embedded ledger raises: first by the
exact code id (table :data:`CODE_CLASSES`), then by error category (Daml error
categories 1-13, table :data:`CATEGORY_CLASSES`), keeping Canton's code id and context.
:func:`error_body` is the inverse the loopback server uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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

GRPC_CODES: Mapping[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}
"""gRPC status codes (``google/rpc/code.proto``)."""

HTTP_STATUS: Mapping[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
"""HTTP status of each gRPC code in the JSON API (Canton ``asSttpStatus``); others 500."""

CATEGORY_GRPC: Mapping[int, str] = {
    1: "UNAVAILABLE",  # TransientServerFailure
    2: "ABORTED",  # ContentionOnSharedResources
    3: "DEADLINE_EXCEEDED",  # DeadlineExceededRequestStateUnknown
    4: "INTERNAL",  # SystemInternalAssumptionViolated
    5: "UNKNOWN",  # MaliciousOrFaultyBehaviour
    6: "UNAUTHENTICATED",  # AuthInterceptorInvalidAuthenticationCredentials
    7: "PERMISSION_DENIED",  # InsufficientPermission
    8: "INVALID_ARGUMENT",  # InvalidIndependentOfSystemState
    9: "FAILED_PRECONDITION",  # InvalidGivenCurrentSystemStateOther
    10: "ALREADY_EXISTS",  # InvalidGivenCurrentSystemStateResourceExists
    11: "NOT_FOUND",  # InvalidGivenCurrentSystemStateResourceMissing
    12: "OUT_OF_RANGE",  # InvalidGivenCurrentSystemStateSeekAfterEnd
}
"""The gRPC code of each Daml error category (Daml error codes, "Error categories")."""


class Unauthenticated(PermissionDenied):
    """The request carried no valid token (missing, malformed, wrongly signed, expired).

    A :class:`~ledger_adapter.errors.PermissionDenied` to callers; the client refreshes
    its token once on ``ACCESS_TOKEN_EXPIRED``.
    """

    default_code = "UNAUTHENTICATED"
    category = 6
    grpc_status = "UNAUTHENTICATED"


CODE_CLASSES: Mapping[str, type[LedgerError]] = {
    "CONTRACT_NOT_FOUND": ContractNotFound,
    "LOCAL_VERDICT_INACTIVE_CONTRACTS": ContractNotFound,
    "CONTRACT_NOT_ACTIVE": ContractNotFound,
    "DAML_AUTHORIZATION_ERROR": AuthorizationError,
    "DAML_INTERPRETATION_ERROR": InterpretationError,
    "INTERPRETATION_USER_ERROR": InterpretationError,
    "UNHANDLED_EXCEPTION": InterpretationError,
    "TEMPLATE_PRECONDITION_VIOLATED": InterpretationError,
    "DUPLICATE_COMMAND": DuplicateCommand,
    "LOCAL_VERDICT_LOCKED_CONTRACTS": LockedContracts,
    "LOCAL_VERDICT_LOCKED_KEYS": LockedContracts,
    "SUBMISSION_ALREADY_IN_FLIGHT": LockedContracts,
    "REQUEST_TIME_OUT": RequestTimeout,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "ACCESS_TOKEN_EXPIRED": Unauthenticated,
    "INVALID_ARGUMENT": InvalidArgument,
    "INVALID_FIELD": InvalidArgument,
    "MISSING_FIELD": InvalidArgument,
    "INVALID_DEDUPLICATION_PERIOD": InvalidArgument,
    "UNAVAILABLE": Unavailable,
    "SERVICE_NOT_RUNNING": Unavailable,
    "PARTICIPANT_BACKPRESSURE": Unavailable,
}
"""Canton error code id -> tanpo error class (checked before the category)."""

CATEGORY_CLASSES: Mapping[int, type[LedgerError]] = {
    1: Unavailable,
    2: LockedContracts,
    3: RequestTimeout,
    6: Unauthenticated,
    7: PermissionDenied,
    8: InvalidArgument,
    9: InterpretationError,
    12: InvalidArgument,
}
"""Daml error category -> tanpo error class for code ids not in :data:`CODE_CLASSES`.

Categories 10 and 11 (resource exists / missing) cover many unrelated codes (a party,
a package, a user...), so an unknown code there stays a plain :class:`LedgerError`.
"""

CONTRACT_ID_RESOURCE = "CONTRACT_ID"
"""``ErrorResource.ContractId``: how Canton names contract ids in ``resources``."""

_CONTRACT_ID = re.compile(r"\b00[0-9a-f]{64,}\b")  # Canton V1 contract ids: 00 + hex


def contract_ids_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The contract ids an error names: its ``resources``, its context, else its cause."""
    found: list[str] = []
    for resource in body.get("resources") or ():
        if isinstance(resource, list | tuple) and len(resource) == 2:
            kind, value = resource
            if kind == CONTRACT_ID_RESOURCE and isinstance(value, str):
                found.extend(v for v in value.split(",") if v)
    if not found:
        context = body.get("context") or {}
        for key in ("contract_ids", "contractIds", "contract_id"):
            if isinstance(context.get(key), str):
                found.extend(v for v in context[key].split(",") if v)
    if not found:
        found = _CONTRACT_ID.findall(str(body.get("cause", "")))
    return tuple(dict.fromkeys(found))


def error_from_body(body: Mapping[str, Any], *, command_id: str | None = None) -> LedgerError:
    """A ``JsCantonError`` body as the tanpo error it stands for."""
    code = str(body.get("code") or "UNKNOWN")
    cause = str(body.get("cause") or code)
    category = body.get("errorCategory")
    context = {str(k): str(v) for k, v in (body.get("context") or {}).items()}
    for key in ("correlationId", "traceId"):
        if body.get(key):
            context[key] = str(body[key])
    cls = CODE_CLASSES.get(code) or (
        CATEGORY_CLASSES.get(category, LedgerError) if isinstance(category, int) else LedgerError
    )
    error: LedgerError
    if cls is ContractNotFound:
        error = ContractNotFound(contract_ids_of(body), code=code)
    elif cls is DuplicateCommand and context.get("accepted", "true").lower() == "false":
        # Canton 3.x (CommandDeduplicationError.DuplicateCommandReject): the earlier
        # submission of this change completed *without* being accepted: not a success.
        error = LedgerError(
            f"{cause}: the earlier submission of this command was not accepted"
            f" (completion offset {context.get('completion_offset', '?')});"
            " nothing was committed for it",
            code=code,
        )
    elif cls is DuplicateCommand:
        offset = context.get("completion_offset", "")
        error = DuplicateCommand(
            command_id or context.get("command_id", "?"),
            completion_offset=int(offset) if offset.isdigit() else None,
            submission_id=context.get("existingSubmissionId")
            or context.get("existing_submission_id"),
            code=code,
        )
    elif cls is LockedContracts:
        error = LockedContracts(cause, contract_ids=contract_ids_of(body), code=code)
    elif cls is InvalidArgument:
        error = InvalidArgument(cause, field=context.get("field"), code=code)
    else:
        error = cls(cause, code=code)
    error.context = {**context, **error.context}
    return error


def error_from_response(
    status: int, body: object, text: str, *, command_id: str | None = None, where: str = ""
) -> LedgerError:
    """The tanpo error of a non-2xx response (a ``JsCantonError`` or a plain-text body);
    ``where`` (the URL asked) begins the message of a body that is not Canton's."""
    detail = " ".join(text.split())[:500] or f"HTTP {status}"
    if where:
        detail = f"{where}: HTTP {status}: {detail}"
    if status == 413:
        return LedgerError(
            f"the answer is longer than the participant's http-list-max-elements-limit: {detail}",
            code="HTTP_LIST_MAX_ELEMENTS_LIMIT_EXCEEDED",
        )
    if isinstance(body, dict) and "code" in body:
        return error_from_body(body, command_id=command_id)
    if status == 400:  # request decoding failed: "Invalid value for: body ..."
        return InvalidArgument(detail, field="body")
    if status == 401:
        return Unauthenticated(detail)
    if status == 403:
        return PermissionDenied(detail)
    if status in (408, 504):
        return RequestTimeout(detail)
    if status in (429, 502, 503):
        return Unavailable(detail)
    return LedgerError(detail if where else f"HTTP {status}: {detail}")


def error_body(error: LedgerError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, ``JsCantonError`` body) of a tanpo error, as a participant sends it."""
    grpc = CATEGORY_GRPC.get(type(error).category, type(error).grpc_status)
    context = dict(error.context)
    resources: list[list[str]] = []
    if isinstance(error, ContractNotFound | LockedContracts):
        resources = [[CONTRACT_ID_RESOURCE, cid] for cid in error.contract_ids]
    if isinstance(error, DuplicateCommand):  # Canton 3.x DuplicateCommandReject's context
        context["accepted"] = "true"
        if error.completion_offset is not None:
            context["completion_offset"] = str(error.completion_offset)
        if error.submission_id is not None:
            context["existingSubmissionId"] = error.submission_id
    if isinstance(error, InvalidArgument) and error.field:
        context["field"] = error.field
    body: dict[str, Any] = {
        "code": error.code,
        "cause": error.message,
        "context": context,
        "resources": resources,
        "errorCategory": type(error).category,
        "grpcCodeValue": GRPC_CODES.get(grpc, 13),
    }
    return HTTP_STATUS.get(grpc, 500), body
