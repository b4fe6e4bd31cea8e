"""The ``Ledger`` protocol in Canton Ledger API v2 terms: commands, events, transactions.

Two back ends implement it: the embedded ledger (:mod:`ledger_adapter.embedded`, the
default) and the Canton JSON Ledger API v2 client (:mod:`ledger_adapter.canton`). The
types mirror the JSON API shapes field by field, so the client's mapping is mechanical
(OpenAPI ``openapi-3.5.10.yaml`` in ``../shared/specs/canton-json-ledger-api/``):

==========================  ==================================================
tanpo                        JSON Ledger API v2
==========================  ==================================================
``CreateCommand``            ``CreateCommand`` {templateId, createArguments}
``ExerciseCommand``          ``ExerciseCommand`` {templateId, contractId,
                             choice, choiceArgument}
``CreateAndExerciseCommand`` ``CreateAndExerciseCommand``
``Ledger.submit``            ``POST /v2/commands/submit-and-wait-for-transaction``
                             with ``JsCommands`` {commands, commandId, actAs,
                             readAs, userId, submissionId, deduplicationPeriod}
``Transaction``              ``JsTransaction`` {updateId, commandId, offset,
                             effectiveAt, recordTime, events}
``CreatedEvent``             ``CreatedEvent`` {offset, nodeId, contractId,
                             templateId, createArgument, signatories,
                             observers, witnessParties}
``ArchivedEvent``            ``ArchivedEvent``
``ExercisedEvent``           ``ExercisedEvent`` {choice, choiceArgument,
                             actingParties, consuming, lastDescendantNodeId,
                             exerciseResult}
``Ledger.active_contracts``  ``POST /v2/state/active-contracts``
``Ledger.ledger_end``        ``GET /v2/state/ledger-end``
``Ledger.updates``           ``POST /v2/updates`` (beginExclusive, endInclusive)
==========================  ==================================================

Values stay in the Daml-LF JSON encoding: ``Int64`` and ``Numeric`` as strings
(``"30000000000"``, ``"0.9850000000"``), parties and ``Text`` as strings, ``Optional``
as ``null`` or the value, enums as the constructor name, records as objects, lists as
arrays, ``TextMap`` as an object. Template ids use the package-name reference format
``#<package-name>:<Module>:<Entity>`` (``#tanpo-collateral:Tanpo.Holding:Holding``).
Errors are :mod:`ledger_adapter.errors` (Canton code ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeAlias, runtime_checkable

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

__all__ = [
    "DEFAULT_USER_ID",
    "ArchivedEvent",
    "AuthorizationError",
    "Command",
    "ContractNotFound",
    "CreateAndExerciseCommand",
    "CreateCommand",
    "CreatedEvent",
    "DuplicateCommand",
    "Event",
    "ExerciseCommand",
    "ExercisedEvent",
    "InterpretationError",
    "InvalidArgument",
    "JsonRecord",
    "JsonValue",
    "Ledger",
    "LedgerError",
    "LockedContracts",
    "Parties",
    "PermissionDenied",
    "RequestTimeout",
    "Transaction",
    "TransactionShape",
    "Unavailable",
    "UserRights",
    "party_set",
]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
"""A value in the Daml-LF JSON encoding (what ``createArguments`` and friends hold)."""

JsonRecord: TypeAlias = Mapping[str, Any]
"""A Daml record in the JSON encoding. Typed ``Any`` inside because ``list`` and ``dict``
are invariant: a ``list[dict[str, str]]`` would not be a ``list[JsonValue]``."""

Parties: TypeAlias = "str | Iterable[str]"
"""One party or several; every read is the projection for these parties."""

DEFAULT_USER_ID = "tanpo"
"""The ``userId`` tanpo submits as when none is given (Canton: the token's ``sub``)."""


def party_set(parties: Parties) -> frozenset[str]:
    """Normalise one party or an iterable of parties into a non-empty set.

    Raises
    ------
    InvalidArgument
        When no party is given or a party is not a non-empty string.
    """
    found = frozenset((parties,)) if isinstance(parties, str) else frozenset(parties)
    if not found:
        raise InvalidArgument("at least one party is required", field="parties")
    for party in found:
        if not isinstance(party, str) or not party or "," in party:
            raise InvalidArgument(f"{party!r} is not a party id", field="parties")
    return found


@dataclass(frozen=True, slots=True)
class UserRights:
    """A ledger user's rights, Canton's ``CanActAs`` and ``CanReadAs`` parties (acting
    implies reading): what a participant's user management grants, and what the
    embedded ledger checks when it is given rights."""

    act_as: frozenset[str]
    read_as: frozenset[str] = frozenset()

    def check(self, user_id: str, act_as: frozenset[str], read_as: frozenset[str]) -> None:
        """Raise :class:`PermissionDenied` unless ``user_id`` may act and read as asked."""
        if not act_as <= self.act_as:
            missing = sorted(act_as - self.act_as)
            raise PermissionDenied(f"user {user_id!r} has no CanActAs right for {missing}")
        readable = self.act_as | self.read_as
        if not read_as <= readable:
            missing = sorted(read_as - readable)
            raise PermissionDenied(f"user {user_id!r} has no CanReadAs right for {missing}")


class TransactionShape(StrEnum):
    """Which events a transaction carries (Canton ``TransactionShape``).

    ``ACS_DELTA``: the net change of the active contract set (created and archived
    contracts; a contract created and archived in the same transaction is absent).
    ``LEDGER_EFFECTS``: every create and exercise, nested, with node ids.
    """

    ACS_DELTA = "TRANSACTION_SHAPE_ACS_DELTA"
    LEDGER_EFFECTS = "TRANSACTION_SHAPE_LEDGER_EFFECTS"

    @classmethod
    def parse(cls, text: str) -> TransactionShape:
        """Parse ``acs_delta``/``ledger_effects`` or Canton's full enum names."""
        key = text.strip().upper()
        for shape in cls:
            if key in (shape.value, shape.name):
                return shape
        raise InvalidArgument(
            f"{text!r} is not a transaction shape (ACS_DELTA, LEDGER_EFFECTS)",
            field="transaction_shape",
        )


# --- commands ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateCommand:
    """Create a contract of ``template_id`` (JSON API ``createArguments`` = ``arguments``)."""

    template_id: str
    arguments: JsonRecord


@dataclass(frozen=True, slots=True)
class ExerciseCommand:
    """Exercise ``choice`` on ``contract_id`` (JSON API ``choiceArgument`` = ``argument``)."""

    template_id: str
    contract_id: str
    choice: str
    argument: JsonRecord = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateAndExerciseCommand:
    """Create a contract and exercise a choice on it in the same command."""

    template_id: str
    arguments: JsonRecord
    choice: str
    argument: JsonRecord = field(default_factory=dict)


Command: TypeAlias = CreateCommand | ExerciseCommand | CreateAndExerciseCommand


# --- events and transactions ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedEvent:
    """A contract was created (JSON API ``CreatedEvent``; ``createArgument`` = ``arguments``).

    ``offset`` is the offset of the transaction that created it; ``witness_parties`` are
    the requesting parties that see this event.
    """

    offset: int
    node_id: int
    contract_id: str
    template_id: str
    arguments: JsonRecord
    signatories: tuple[str, ...]
    observers: tuple[str, ...]
    witness_parties: tuple[str, ...]
    created_at: datetime

    @property
    def stakeholders(self) -> frozenset[str]:
        """Signatories and observers: the parties that see the contract."""
        return frozenset(self.signatories) | frozenset(self.observers)


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """A contract was archived (ACS delta shape)."""

    offset: int
    node_id: int
    contract_id: str
    template_id: str
    witness_parties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExercisedEvent:
    """A choice was exercised (ledger-effects shape).

    Events with ``node_id`` in ``(node_id, last_descendant_node_id]`` are its
    consequences.
    """

    offset: int
    node_id: int
    contract_id: str
    template_id: str
    choice: str
    argument: Any
    acting_parties: tuple[str, ...]
    consuming: bool
    witness_parties: tuple[str, ...]
    last_descendant_node_id: int
    exercise_result: Any = None


Event: TypeAlias = CreatedEvent | ArchivedEvent | ExercisedEvent


@dataclass(frozen=True, slots=True)
class Transaction:
    """A committed transaction as some parties see it (JSON API ``JsTransaction``).

    ``command_id`` is set only for the submitting parties' view (as in Canton).
    """

    update_id: str
    offset: int
    effective_at: datetime
    record_time: datetime
    events: tuple[Event, ...]
    command_id: str | None = None
    workflow_id: str | None = None

    def created(self, template_id: str | None = None) -> tuple[CreatedEvent, ...]:
        """The created events, optionally only those of ``template_id``."""
        return tuple(
            [
                e
                for e in self.events
                if isinstance(e, CreatedEvent)
                and (template_id is None or e.template_id == template_id)
            ]
        )

    def archived_contract_ids(self) -> tuple[str, ...]:
        """Contract ids archived by this transaction (archive events or consuming exercises)."""
        return tuple(
            e.contract_id
            for e in self.events
            if isinstance(e, ArchivedEvent) or (isinstance(e, ExercisedEvent) and e.consuming)
        )


# --- the protocol -----------------------------------------------------------------


@runtime_checkable
class Ledger(Protocol):
    """A Canton-style ledger: atomic multi-command transactions, per-party projections.

    Semantics every implementation honours (DOMAIN.md section 7):

    - ``submit`` commits all commands as one transaction or none (atomic).
    - The change id is (``user_id``, set of ``act_as``, ``command_id``); a resubmission
      inside the deduplication window raises :class:`DuplicateCommand` carrying the
      original outcome, never applies twice.
    - Authorization as in Daml; a contract the submitting parties (``act_as`` and
      ``read_as``) cannot see is :class:`ContractNotFound`, indistinguishable from an
      archived one.
    - Offsets are positive int64, strictly increasing; ``ledger_end()`` is 0 on an empty
      ledger.
    """

    def submit(
        self,
        commands: Iterable[Command],
        *,
        act_as: Parties,
        read_as: Parties = (),
        command_id: str,
        user_id: str = DEFAULT_USER_ID,
        submission_id: str | None = None,
        deduplication_window: timedelta | None = None,
        workflow_id: str | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Transaction:
        """Commit ``commands`` as one transaction and return it as ``act_as`` + ``read_as`` see it.

        ``deduplication_window`` ``None`` means the ledger's maximum (Canton's default when
        ``deduplicationPeriod`` is omitted).

        Raises
        ------
        DuplicateCommand
            The change was already committed (treat as success; see ``original``).
        ContractNotFound, AuthorizationError, InterpretationError, InvalidArgument,
        PermissionDenied
            Rejected; nothing changed.
        LockedContracts, Unavailable
            Not committed; retry with backoff.
        RequestTimeout
            Outcome unknown; retry with the same ``command_id``.
        """
        ...

    def active_contracts(
        self,
        parties: Parties,
        template_id: str | None = None,
        at_offset: int | None = None,
    ) -> tuple[CreatedEvent, ...]:
        """Contracts active at ``at_offset`` (default: ledger end) that ``parties`` see."""
        ...

    def ledger_end(self) -> int:
        """The offset of the last committed transaction (0 when there is none)."""
        ...

    def updates(
        self,
        begin_exclusive: int,
        parties: Parties,
        *,
        end_inclusive: int | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Iterator[Transaction]:
        """Transactions after ``begin_exclusive`` (up to ``end_inclusive``) that ``parties`` see.

        Each transaction holds only the events visible to ``parties``; transactions with
        none are skipped (the party's projection of the ledger).
        """
        ...

    def close(self) -> None:
        """Release connections; the ledger object is unusable afterwards."""
        ...
