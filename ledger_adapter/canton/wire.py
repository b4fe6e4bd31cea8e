"""The JSON Ledger API v2 wire format: request bodies and response shapes, both ways.

The client (:mod:`ledger_adapter.canton.client`) builds requests and reads responses
with these functions; the loopback server (:mod:`ledger_adapter.canton.server`) reads
requests and builds responses with the same ones, so a round trip through HTTP is a
round trip through this module. Every shape follows the published OpenAPI
specification (``openapi-3.4.11.yaml`` and ``openapi-3.5.10.yaml`` in
``../shared/specs/canton-json-ledger-api/``; component names in the docstrings), and
only fields present in *both* versions are written, so one body is valid for a 3.4 and
a 3.5 participant alike (the tests validate each against both).

Template ids: tanpo names templates in the package-name reference format
(``#tanpo-collateral:Tanpo.Holding:Holding``), which Canton accepts in commands and
filters. Canton answers in the package-id format (``<package-id>:Tanpo.Holding:Holding``
with ``packageName`` beside it); :func:`package_name_form` maps an answer back, so ids
compare equal whatever the participant's package id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger_adapter.errors import InvalidArgument
from ledger_adapter.model import TEMPLATES
from ledger_adapter.protocol import (
    ArchivedEvent,
    Command,
    CreateAndExerciseCommand,
    CreateCommand,
    CreatedEvent,
    Event,
    ExerciseCommand,
    ExercisedEvent,
    JsonValue,
    Transaction,
    TransactionShape,
)
from ledger_adapter.templates import PACKAGE_NAME

SUBMIT_PATH = "/v2/commands/submit-and-wait-for-transaction"
ACTIVE_CONTRACTS_PATH = "/v2/state/active-contracts"
LEDGER_END_PATH = "/v2/state/ledger-end"
UPDATES_PATH = "/v2/updates"

Json = dict[str, Any]
"""A decoded JSON object."""

TEMPLATE_MODULES: Mapping[str, str] = {t.name: t.module for t in TEMPLATES.values()}
"""The Daml module of each tanpo template (``ledger_adapter/daml/daml/Tanpo/*.daml``)."""


# --- template ids ---------------------------------------------------------------------


def template_id(name: str, package_name: str = PACKAGE_NAME) -> str:
    """The package-name reference id of a tanpo template: ``Holding`` -> ``#tanpo-collateral:Tanpo.Holding:Holding``.

    A full id (``#pkg:Module:Entity`` or ``pkgid:Module:Entity``) is returned as it is.
    """
    if ":" in name:
        split_template_id(name)  # validates the form
        return name
    module = TEMPLATE_MODULES.get(name)
    if module is None:
        known = ", ".join(sorted(TEMPLATE_MODULES))
        raise InvalidArgument(f"{name!r} is not a tanpo template ({known})", field="templateId")
    return f"#{package_name}:{module}:{name}"


def split_template_id(template: str) -> tuple[str, str, str]:
    """``(package reference, module, entity)`` of ``#name:M:E`` or ``pkgid:M:E``."""
    parts = template.split(":")
    if len(parts) != 3 or not all(parts) or parts[0] == "#":
        raise InvalidArgument(
            f"{template!r} is not a template id (#package-name:Module:Entity or"
            " package-id:Module:Entity)",
            field="templateId",
        )
    return parts[0], parts[1], parts[2]


@functools.lru_cache(maxsize=256)
def package_name_form(template: str, package_name: str | None) -> str:
    """A template id as Canton returned it, in the package-name reference format.

    ``<package-id>:M:E`` with ``packageName`` ``tanpo-collateral`` becomes
    ``#tanpo-collateral:M:E``; an id already in that form, or one without a package
    name, is kept.
    """
    if template.startswith("#") or not package_name:
        return template
    _, module, entity = split_template_id(template)
    return f"#{package_name}:{module}:{entity}"


def package_id_form(template: str, package_ids: Mapping[str, str]) -> str:
    """``#name:M:E`` as ``<package-id>:M:E`` when ``package_ids`` knows ``name``."""
    reference, module, entity = split_template_id(template)
    if reference.startswith("#") and reference[1:] in package_ids:
        return f"{package_ids[reference[1:]]}:{module}:{entity}"
    return template


# --- scalars --------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """An ISO-8601 UTC timestamp as Canton writes it (``2025-11-06T01:02:03.456789Z``)."""
    if moment.tzinfo is None:
        raise InvalidArgument(f"{moment} has no time zone", field="timestamp")
    return _timestamp_text(moment)


@functools.lru_cache(maxsize=1024)  # every event of a transaction has the same time
def _timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: object, where: str) -> datetime:
    """A Canton timestamp (``...Z``, up to nanoseconds) as an aware datetime."""
    if not isinstance(text, str):
        raise InvalidArgument(f"expected a timestamp string, got {text!r}", field=where)
    moment = _parse_timestamp(text)
    if moment is None:
        raise InvalidArgument(f"{text!r} is not an ISO-8601 timestamp", field=where)
    return moment


@functools.lru_cache(maxsize=1024)
def _parse_timestamp(text: str) -> datetime | None:
    head, dot, fraction = text.removesuffix("Z").partition(".")
    if dot:  # Canton may send nanoseconds; datetime keeps microseconds
        head = f"{head}.{fraction[:6].ljust(6, '0')}"
    try:
        moment = datetime.fromisoformat(head)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def duration(window: timedelta) -> Json:
    """A protobuf ``Duration`` (``{"seconds", "nanos"}``) of ``window``."""
    micros = round(window / timedelta(microseconds=1))
    seconds, rest = divmod(micros, 1_000_000)
    return {"seconds": seconds, "nanos": rest * 1000}


def parse_duration(value: object, where: str) -> timedelta:
    """A protobuf ``Duration`` object as a timedelta."""
    if not isinstance(value, dict) or not isinstance(value.get("seconds", 0), int):
        raise InvalidArgument(f"expected {{seconds, nanos}}, got {value!r}", field=where)
    nanos = value.get("nanos", 0)
    if not isinstance(nanos, int):
        raise InvalidArgument(f"nanos must be an integer, got {nanos!r}", field=where)
    return timedelta(seconds=value.get("seconds", 0), microseconds=nanos // 1000)


# --- commands (JsCommands) ------------------------------------------------------------


def command_json(command: Command, package_ids: Mapping[str, str] | None = None) -> Json:
    """One ``Command`` (a ``oneOf`` wrapper: ``{"CreateCommand": {...}}``...)."""
    ref = (
        command.template_id
        if not package_ids
        else package_id_form(command.template_id, package_ids)
    )
    if isinstance(command, CreateCommand):
        return {"CreateCommand": {"templateId": ref, "createArguments": dict(command.arguments)}}
    if isinstance(command, CreateAndExerciseCommand):
        return {
            "CreateAndExerciseCommand": {
                "templateId": ref,
                "createArguments": dict(command.arguments),
                "choice": command.choice,
                "choiceArgument": dict(command.argument),
            }
        }
    return {
        "ExerciseCommand": {
            "templateId": ref,
            "contractId": command.contract_id,
            "choice": command.choice,
            "choiceArgument": dict(command.argument),
        }
    }


def js_commands(
    commands: Sequence[Command],
    *,
    act_as: Iterable[str],
    read_as: Iterable[str],
    command_id: str,
    user_id: str | None,
    submission_id: str,
    deduplication_window: timedelta | None,
    workflow_id: str | None,
    package_ids: Mapping[str, str] | None = None,
) -> Json:
    """``JsCommands``: the composite command of one atomic transaction.

    ``deduplicationPeriod`` is omitted for ``None`` (the participant's maximum).
    """
    body: Json = {
        "commands": [command_json(c, package_ids) for c in commands],
        "commandId": command_id,
        "actAs": sorted(act_as),
        "readAs": sorted(read_as),
        "submissionId": submission_id,
    }
    if user_id is not None:
        body["userId"] = user_id
    if deduplication_window is not None:
        body["deduplicationPeriod"] = {
            "DeduplicationDuration": {"value": duration(deduplication_window)}
        }
    if workflow_id is not None:
        body["workflowId"] = workflow_id
    return body


def parse_command(value: object, where: str) -> Command:
    """A ``Command`` object back into a tanpo command (server side)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidArgument("expected one of CreateCommand, ExerciseCommand...", field=where)
    ((kind, body),) = value.items()
    if not isinstance(body, dict):
        raise InvalidArgument(f"{kind} must be an object", field=where)
    try:
        if kind == "CreateCommand":
            return CreateCommand(body["templateId"], _record(body["createArguments"], where))
        if kind == "ExerciseCommand":
            return ExerciseCommand(
                body["templateId"],
                body["contractId"],
                body["choice"],
                _record(body["choiceArgument"], where),
            )
        if kind == "CreateAndExerciseCommand":
            return CreateAndExerciseCommand(
                body["templateId"],
                _record(body["createArguments"], where),
                body["choice"],
                _record(body["choiceArgument"], where),
            )
    except KeyError as exc:
        raise InvalidArgument(f"missing field {exc.args[0]}", field=f"{where}.{kind}") from exc
    raise InvalidArgument(f"{kind} is not supported (contract keys are not unique)", field=where)


def _record(value: object, where: str) -> dict[str, JsonValue]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"expected a record object, got {value!r}", field=where)
    return value


# --- filters (EventFormat, TransactionFormat, UpdateFormat) ---------------------------


def filters(template: str | None) -> Json:
    """``Filters`` for one party: every template (wildcard) or one template."""
    if template is None:
        identifier: Json = {"WildcardFilter": {"value": {"includeCreatedEventBlob": False}}}
    else:
        identifier = {
            "TemplateFilter": {"value": {"templateId": template, "includeCreatedEventBlob": False}}
        }
    return {"cumulative": [{"identifierFilter": identifier}]}


def event_format(parties: Iterable[str], template: str | None = None) -> Json:
    """``EventFormat``: per-party filters, ``verbose`` so records carry field labels."""
    return {"filtersByParty": {p: filters(template) for p in sorted(parties)}, "verbose": True}


def transaction_format(parties: Iterable[str], shape: TransactionShape) -> Json:
    """``TransactionFormat``: which parties' events, in which shape."""
    return {"eventFormat": event_format(parties), "transactionShape": shape.value}


def parse_event_format(value: object, where: str) -> dict[str, frozenset[str] | None]:
    """``EventFormat`` -> party -> template ids it asks for (``None``: all templates)."""
    if not isinstance(value, dict):
        raise InvalidArgument("expected an EventFormat object", field=where)
    if value.get("filtersForAnyParty"):
        raise InvalidArgument(
            "filtersForAnyParty needs CanReadAsAnyParty, which this server grants no user",
            field=f"{where}.filtersForAnyParty",
        )
    by_party = value.get("filtersByParty") or {}
    if not isinstance(by_party, dict) or not by_party:
        raise InvalidArgument("at least one party is required", field=f"{where}.filtersByParty")
    out: dict[str, frozenset[str] | None] = {}
    for party, party_filters in by_party.items():
        cumulative = (party_filters or {}).get("cumulative") or []
        templates: set[str] = set()
        wildcard = not cumulative
        for entry in cumulative:
            identifier = (entry or {}).get("identifierFilter") or {}
            if "WildcardFilter" in identifier or "Empty" in identifier:
                wildcard = True
            elif "TemplateFilter" in identifier:
                templates.add(identifier["TemplateFilter"]["value"]["templateId"])
            else:
                raise InvalidArgument(
                    "only template and wildcard filters are supported", field=f"{where}.{party}"
                )
        out[party] = None if wildcard else frozenset(templates)
    return out


def active_contracts_request(parties: Iterable[str], template: str | None, at_offset: int) -> Json:
    """``GetActiveContractsRequest`` at ``activeAtOffset``."""
    return {"activeAtOffset": at_offset, "eventFormat": event_format(parties, template)}


def updates_request(
    begin_exclusive: int, end_inclusive: int, parties: Iterable[str], shape: TransactionShape
) -> Json:
    """``GetUpdatesRequest`` for transactions only (no reassignments, no topology)."""
    return {
        "beginExclusive": begin_exclusive,
        "endInclusive": end_inclusive,
        "updateFormat": {"includeTransactions": transaction_format(parties, shape)},
    }


# --- events and transactions ----------------------------------------------------------


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"expected a list of strings, got {value!r}", field=where)
    return tuple(value)


def _int(obj: Json, key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"expected an integer, got {value!r}", field=f"{where}.{key}")
    return value


def _str(obj: Json, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidArgument(f"expected a string, got {value!r}", field=f"{where}.{key}")
    return value


def parse_created_event(obj: Json, where: str = "CreatedEvent") -> CreatedEvent:
    """A ``CreatedEvent`` (3.5 may omit empty ``observers``)."""
    arguments = obj.get("createArgument")
    if not isinstance(arguments, dict):
        raise InvalidArgument(
            "expected a record object (verbose encoding)", field=f"{where}.createArgument"
        )
    return CreatedEvent(
        offset=_int(obj, "offset", where),
        node_id=_int(obj, "nodeId", where),
        contract_id=_str(obj, "contractId", where),
        template_id=package_name_form(_str(obj, "templateId", where), obj.get("packageName")),
        arguments=arguments,
        signatories=_strings(obj.get("signatories"), f"{where}.signatories"),
        observers=_strings(obj.get("observers"), f"{where}.observers"),
        witness_parties=_strings(obj.get("witnessParties"), f"{where}.witnessParties"),
        created_at=parse_timestamp(obj.get("createdAt"), f"{where}.createdAt"),
    )


def parse_event(value: object, where: str = "Event") -> Event:
    """One ``Event`` (``{"CreatedEvent": ...}``, ``ArchivedEvent`` or ``ExercisedEvent``)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidArgument(f"expected one event, got {value!r}", field=where)
    ((kind, obj),) = value.items()
    if kind == "CreatedEvent":
        return parse_created_event(obj, f"{where}.CreatedEvent")
    at = f"{where}.{kind}"
    template = package_name_form(_str(obj, "templateId", at), obj.get("packageName"))
    witnesses = _strings(obj.get("witnessParties"), f"{at}.witnessParties")
    if kind == "ArchivedEvent":
        return ArchivedEvent(
            _int(obj, "offset", at),
            _int(obj, "nodeId", at),
            _str(obj, "contractId", at),
            template,
            witnesses,
        )
    if kind == "ExercisedEvent":
        return ExercisedEvent(
            offset=_int(obj, "offset", at),
            node_id=_int(obj, "nodeId", at),
            contract_id=_str(obj, "contractId", at),
            template_id=template,
            choice=_str(obj, "choice", at),
            argument=obj.get("choiceArgument"),
            acting_parties=_strings(obj.get("actingParties"), f"{at}.actingParties"),
            consuming=bool(obj.get("consuming")),
            witness_parties=witnesses,
            last_descendant_node_id=_int(obj, "lastDescendantNodeId", at),
            exercise_result=obj.get("exerciseResult"),
        )
    raise InvalidArgument(f"unknown event kind {kind!r}", field=where)


def parse_transaction(obj: object, where: str = "JsTransaction") -> Transaction:
    """A ``JsTransaction`` as a tanpo :class:`~ledger_adapter.protocol.Transaction`."""
    if not isinstance(obj, dict):
        raise InvalidArgument(f"expected a transaction object, got {obj!r}", field=where)
    events = obj.get("events") or []
    return Transaction(
        update_id=_str(obj, "updateId", where),
        offset=_int(obj, "offset", where),
        effective_at=parse_timestamp(obj.get("effectiveAt"), f"{where}.effectiveAt"),
        record_time=parse_timestamp(obj.get("recordTime"), f"{where}.recordTime"),
        events=tuple(parse_event(e, f"{where}.events[{i}]") for i, e in enumerate(events)),
        command_id=obj.get("commandId") or None,
        workflow_id=obj.get("workflowId") or None,
    )


def created_event_json(
    event: CreatedEvent, *, package_ids: Mapping[str, str], acs_delta: bool = True
) -> Json:
    """A ``CreatedEvent`` with the fields both spec versions require."""
    package_name, pkg_id, template = _package_of(event.template_id, package_ids)
    return {
        "offset": event.offset,
        "nodeId": event.node_id,
        "contractId": event.contract_id,
        "templateId": template,
        "createArgument": dict(event.arguments),
        "createdAt": timestamp(event.created_at),
        "signatories": list(event.signatories),
        "observers": list(event.observers),
        "witnessParties": list(event.witness_parties),
        "interfaceViews": [],
        "packageName": package_name,
        "representativePackageId": pkg_id,
        "acsDelta": acs_delta,
    }


def _package_of(template: str, package_ids: Mapping[str, str]) -> tuple[str, str, str]:
    """(package name, package id, package-id form) of a package-name form template id."""
    reference, module, entity = split_template_id(template)
    name = reference.removeprefix("#")
    pkg_id = package_ids.get(name, name)
    return name, pkg_id, f"{pkg_id}:{module}:{entity}"


def event_json(
    event: Event,
    *,
    package_ids: Mapping[str, str],
    created: frozenset[str],
    consumed: frozenset[str],
) -> Json:
    """One ``Event`` wrapper; ``created``/``consumed`` (contract ids of the transaction)
    decide ``acsDelta`` for the ledger-effects shape."""
    if isinstance(event, CreatedEvent):
        return {
            "CreatedEvent": created_event_json(
                event, package_ids=package_ids, acs_delta=event.contract_id not in consumed
            )
        }
    name, _, template = _package_of(event.template_id, package_ids)
    common: Json = {
        "offset": event.offset,
        "nodeId": event.node_id,
        "contractId": event.contract_id,
        "templateId": template,
        "witnessParties": list(event.witness_parties),
        "packageName": name,
        "implementedInterfaces": [],
    }
    if isinstance(event, ArchivedEvent):
        return {"ArchivedEvent": common}
    return {
        "ExercisedEvent": {
            **common,
            "choice": event.choice,
            "choiceArgument": event.argument,
            "actingParties": list(event.acting_parties),
            "consuming": event.consuming,
            "lastDescendantNodeId": event.last_descendant_node_id,
            "exerciseResult": event.exercise_result,
            "acsDelta": event.consuming and event.contract_id not in created,
        }
    }


def transaction_json(
    tx: Transaction, *, synchronizer_id: str, package_ids: Mapping[str, str]
) -> Json:
    """A ``JsTransaction`` with the fields both spec versions require."""
    created = frozenset(e.contract_id for e in tx.events if isinstance(e, CreatedEvent))
    consumed = frozenset(tx.archived_contract_ids())
    body: Json = {
        "updateId": tx.update_id,
        "offset": tx.offset,
        "effectiveAt": timestamp(tx.effective_at),
        "recordTime": timestamp(tx.record_time),
        "synchronizerId": synchronizer_id,
        "events": [
            event_json(e, package_ids=package_ids, created=created, consumed=consumed)
            for e in tx.events
        ],
    }
    if tx.command_id is not None:
        body["commandId"] = tx.command_id
    if tx.workflow_id is not None:
        body["workflowId"] = tx.workflow_id
    return body
