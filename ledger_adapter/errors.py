"""Ledger errors with Canton's error code ids, categories and retry semantics.

Every ledger behind the :class:`~ledger_adapter.protocol.Ledger` protocol (the embedded
ledger and the Canton JSON API client) raises these, so a caller handles one family
whatever the back end. Each class carries Canton's error code id (``code``), its error
category id and gRPC status (Daml error codes: "Error categories" inventory, category
ids 1-13), and whether the caller may retry:

=============================  ====================================  ==========  =========
class                          Canton code id                        category    retry
=============================  ====================================  ==========  =========
:class:`ContractNotFound`      ``CONTRACT_NOT_FOUND``                11          re-plan
:class:`AuthorizationError`    ``DAML_AUTHORIZATION_ERROR``          8           no
:class:`InterpretationError`   ``DAML_INTERPRETATION_ERROR``         9           no
:class:`DuplicateCommand`      ``DUPLICATE_COMMAND``                 10          success
:class:`InvalidArgument`       ``INVALID_ARGUMENT``                  8           no
:class:`LockedContracts`       ``LOCAL_VERDICT_LOCKED_CONTRACTS``    2           backoff
:class:`RequestTimeout`        ``REQUEST_TIME_OUT``                  3           same id
:class:`PermissionDenied`      ``PERMISSION_DENIED``                 7           no
:class:`Unavailable`           ``UNAVAILABLE``                       1           backoff
=============================  ====================================  ==========  =========

DOMAIN.md section 7 gives the policy: a duplicate is a success, contention on a
consumed contract means refresh and re-plan, locked contracts are retried with backoff,
and a timeout has an unknown outcome, so it is retried with the same ``command_id``
(deduplication makes that safe) and a fresh ``submission_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from valuation.errors import TanpoError

if TYPE_CHECKING:
    from ledger_adapter.protocol import Transaction


class LedgerError(TanpoError):
    """A ledger rejected a request or could not answer it.

    Parameters
    ----------
    message
        What went wrong, for a person.
    code
        Canton's error code id; defaults to the class's :attr:`default_code`, so an
        adapter can keep the exact id a participant returned
        (``LOCAL_VERDICT_INACTIVE_CONTRACTS`` is a :class:`ContractNotFound`).
    context
        Canton's machine-readable error context (``JsCantonError.context``).

    Attributes
    ----------
    retries_exhausted
        Set by a ledger client that already retried this (retryable) error by its own
        policy and gave up: a caller with a retry loop of its own (the executor) raises
        it rather than multiplying the attempts.
    """

    default_code: ClassVar[str] = "UNKNOWN"
    category: ClassVar[int] = 4  # SystemInternalAssumptionViolated
    grpc_status: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, code: str | None = None, context: Mapping[str, str] | None = None
    ) -> None:
        self.message = message
        self.code = code or self.default_code
        self.context: dict[str, str] = dict(context or {})
        self.retries_exhausted = False
        super().__init__(f"{self.code}: {message}")


class ContractNotFound(LedgerError):  # noqa: N818 - Canton's name
    """A contract is archived, never existed, or is not visible to the submitting parties.

    Canton does not say which of the three: a party that is not a stakeholder learns
    nothing about a contract it cannot see. Raised on contention too (another
    transaction consumed the contract first); refresh the state and re-plan.
    """

    default_code = "CONTRACT_NOT_FOUND"
    category = 11
    grpc_status = "NOT_FOUND"

    def __init__(self, contract_ids: Iterable[str], *, code: str | None = None) -> None:
        self.contract_ids = tuple(contract_ids)
        shown = ", ".join(self.contract_ids[:5])
        more = f" and {len(self.contract_ids) - 5} more" if len(self.contract_ids) > 5 else ""
        super().__init__(
            f"contract(s) not found, archived or not visible: {shown}{more}",
            code=code,
            context={"contract_ids": ",".join(self.contract_ids)},
        )


class AuthorizationError(LedgerError):
    """An action lacks the authority Daml requires (signatories, controllers)."""

    default_code = "DAML_AUTHORIZATION_ERROR"
    category = 8
    grpc_status = "INVALID_ARGUMENT"


class InterpretationError(LedgerError):
    """A choice's assertion or a template's ``ensure`` failed during interpretation."""

    default_code = "DAML_INTERPRETATION_ERROR"
    category = 9
    grpc_status = "FAILED_PRECONDITION"


class DuplicateCommand(LedgerError):  # noqa: N818 - Canton's name
    """The change (user_id, act_as set, command_id) was already accepted in the window.

    Treat it as success: ``original`` is the transaction the first submission committed
    (``None`` when the ledger only reports where it completed: ``completion_offset``).
    """

    default_code = "DUPLICATE_COMMAND"
    category = 10
    grpc_status = "ALREADY_EXISTS"

    def __init__(
        self,
        command_id: str,
        *,
        original: Transaction | None = None,
        completion_offset: int | None = None,
        submission_id: str | None = None,
        code: str | None = None,
    ) -> None:
        self.command_id = command_id
        self.original = original
        if completion_offset is None and original is not None:
            completion_offset = original.offset
        self.completion_offset = completion_offset
        self.submission_id = submission_id
        where = f" at offset {completion_offset}" if completion_offset is not None else ""
        super().__init__(
            f"command {command_id!r} was already committed{where}",
            code=code,
            context={"command_id": command_id},
        )


class InvalidArgument(LedgerError):  # noqa: N818 - Canton's name
    """A request is malformed independent of the ledger's state (a field is wrong)."""

    default_code = "INVALID_ARGUMENT"
    category = 8
    grpc_status = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message, code=code)


class LockedContracts(LedgerError):  # noqa: N818 - Canton's name
    """Contracts are locked by an in-flight transaction: retry with backoff."""

    default_code = "LOCAL_VERDICT_LOCKED_CONTRACTS"
    category = 2
    grpc_status = "ABORTED"
    retryable = True

    def __init__(
        self, message: str, *, contract_ids: Iterable[str] = (), code: str | None = None
    ) -> None:
        self.contract_ids = tuple(contract_ids)
        super().__init__(message, code=code)


class RequestTimeout(LedgerError):  # noqa: N818 - Canton's name
    """No answer in time: the outcome is unknown; retry with the same command_id."""

    default_code = "REQUEST_TIME_OUT"
    category = 3
    grpc_status = "DEADLINE_EXCEEDED"
    retryable = True


class PermissionDenied(LedgerError):  # noqa: N818 - Canton's name
    """The user may not act or read as a requested party (its CanActAs/CanReadAs rights)."""

    default_code = "PERMISSION_DENIED"
    category = 7
    grpc_status = "PERMISSION_DENIED"


class Unavailable(LedgerError):  # noqa: N818 - Canton's name
    """The ledger cannot be reached or is not ready: retry with backoff."""

    default_code = "UNAVAILABLE"
    category = 1
    grpc_status = "UNAVAILABLE"
    retryable = True


def is_database_failure(error: BaseException) -> bool:
    """``error`` is the database's (unreachable, locked, read-only, damaged), not a
    verdict on the commands: interpreting them again cannot change it."""
    if isinstance(error, Unavailable | LockedContracts | PermissionDenied):
        return True
    return isinstance(error, LedgerError) and error.code == "LEDGER_DAMAGED"
