"""Request bodies and response shapes against the published specifications.

Every body the client builds is validated, strictly (no undeclared field), against the
OpenAPI specs of Canton 3.4.11 and 3.5.10 and, for the streaming endpoints, the
AsyncAPI spec of 3.4.11; every answer the loopback server builds likewise; and the
client reads a participant's answer in Canton's own form (package-id template ids,
nanosecond timestamps, 3.5's optional fields left out, fields tanpo does not use).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_adapter.canton import wire
from ledger_adapter.canton.server import LOOPBACK_PACKAGE_ID
from ledger_adapter.errors import InvalidArgument
from ledger_adapter.model import TEMPLATES
from ledger_adapter.protocol import (
    ArchivedEvent,
    CreateAndExerciseCommand,
    CreateCommand,
    CreatedEvent,
    ExerciseCommand,
    ExercisedEvent,
    Transaction,
    TransactionShape,
)
from tests.ledger_adapter.canton import spec

HOLDING = wire.template_id("Holding")
AGREEMENT = wire.template_id("PledgeAgreement")
BATCH = wire.template_id("RebalanceBatch")
CID = "00" + "ab" * 33
PACKAGES = {wire.PACKAGE_NAME: LOOPBACK_PACKAGE_ID}
MOMENT = datetime(2025, 11, 6, 1, 2, 3, 456789, tzinfo=UTC)

COMMANDS = [
    CreateCommand(
        HOLDING,
        {
            "registrar": "BOJ",
            "owner": "MIZUHO",
            "account": "MIZUHO-01",
            "isin": "JP1103811L91",
            "face": "30000000000",
            "column": "HoldingsColumn",
            "pledgee": None,
        },
    ),
    ExerciseCommand(
        AGREEMENT,
        CID,
        "PledgeAgreement_Rebalance",
        {
            "obligationCids": [CID],
            "coverCids": [CID],
            "releases": [{"pledgeCid": CID, "face": "100"}],
            "pledges": [],
            "pool": [],
        },
    ),
    CreateCommand(  # an obligation's cover: the collateral value pledged to it (Decimal)
        wire.template_id("ObligationCover"),
        {
            "pledgee": "JSCC",
            "pledgor": "MIZUHO",
            "obligationId": "MZH-JSCC",
            "value": "19600000000.0000000000",
        },
    ),
    ExerciseCommand(
        wire.template_id("ObligationCover"),
        CID,
        "ObligationCover_Settle",
        {
            "obligationCid": CID,
            "released": [{"isin": "JP1103811L91", "face": "1000000000"}],
            "added": [{"isin": "JP1103834L66", "face": "1000000000"}],
        },
    ),
    ExerciseCommand(
        wire.template_id("ObligationCover"),
        CID,
        "ObligationCover_Recompute",
        {"obligationCid": CID, "pledgeCids": [CID]},
    ),
    CreateAndExerciseCommand(BATCH, {"pledgor": "MIZUHO"}, "RebalanceBatch_Execute", {"steps": []}),
    CreateAndExerciseCommand(  # a margin call and a revaluation (null: no new requirement)
        wire.template_id("MarginCallBatch"),
        {"pledgee": "JSCC"},
        "MarginCallBatch_Execute",
        {
            "steps": [
                {
                    "obligationCid": CID,
                    "newRequiredValue": "16000000000",
                    "newValuation": None,
                    "coverCid": None,
                    "pledgeCids": [],
                },
                {  # a revaluation recomputes the cover from the pledges the pledgee sees
                    "obligationCid": CID,
                    "newRequiredValue": None,
                    "newValuation": {"JP1103811L91": "0.9702000000"},
                    "coverCid": CID,
                    "pledgeCids": [CID, CID],
                },
            ]
        },
    ),
]


def _require() -> None:
    spec.require_specs()


def _submit_body(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "act_as": ["MIZUHO"],
        "read_as": ["JSCC"],
        "command_id": "plan-1:group-0",
        "user_id": "mizuho-ops",
        "submission_id": "5c1f",
        "deduplication_window": timedelta(hours=24),
        "workflow_id": "plan-1",
    }
    options.update(overrides)
    return {
        "commands": wire.js_commands(COMMANDS, **options),
        "transactionFormat": wire.transaction_format(
            ["MIZUHO", "JSCC"], TransactionShape.ACS_DELTA
        ),
    }


def _all_errors(path: str, method: str, body: Any) -> list[str]:
    found: list[str] = []
    for version in spec.OPENAPI_VERSIONS:
        found += spec.openapi(version).request_errors(path, method, body)
    return found


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"deduplication_window": None, "workflow_id": None, "user_id": None, "read_as": []},
        {"deduplication_window": timedelta(seconds=1.5)},
    ],
    ids=["full", "minimal", "fractional-dedup"],
)
def test_submit_request_is_valid_in_both_versions(overrides: dict[str, Any]) -> None:
    _require()
    body = _submit_body(**overrides)
    assert _all_errors(wire.SUBMIT_PATH, "POST", body) == []
    for version in spec.OPENAPI_VERSIONS:
        assert spec.openapi(version).component_errors("JsCommands", body["commands"]) == []


def test_submit_request_in_package_id_form_and_ledger_effects_shape() -> None:
    _require()
    body = _submit_body(package_ids=PACKAGES)
    body["transactionFormat"] = wire.transaction_format(["MIZUHO"], TransactionShape.LEDGER_EFFECTS)
    assert body["commands"]["commands"][0]["CreateCommand"]["templateId"].startswith(
        LOOPBACK_PACKAGE_ID + ":Tanpo.Holding:"
    )
    assert _all_errors(wire.SUBMIT_PATH, "POST", body) == []


@pytest.mark.parametrize("template", [None, HOLDING], ids=["wildcard", "template"])
def test_read_requests_are_valid_in_both_versions_and_the_asyncapi(template: str | None) -> None:
    _require()
    acs = wire.active_contracts_request(["MIZUHO", "JSCC"], template, 42)
    updates = wire.updates_request(0, 42, ["MIZUHO"], TransactionShape.LEDGER_EFFECTS)
    assert _all_errors(wire.ACTIVE_CONTRACTS_PATH, "POST", acs) == []
    assert _all_errors(wire.UPDATES_PATH, "POST", updates) == []
    assert _all_errors(wire.LEDGER_END_PATH, "GET", None) == []
    for version in spec.ASYNCAPI_VERSIONS:
        api = spec.asyncapi(version)
        assert api.message_errors(wire.ACTIVE_CONTRACTS_PATH, "publish", acs) == []
        assert api.message_errors(wire.UPDATES_PATH, "publish", updates) == []


def test_the_validator_catches_what_a_participant_would_silently_ignore() -> None:
    _require()
    body = _submit_body()
    body["commands"]["commandID"] = body["commands"].pop("commandId")  # misspelt
    problems = _all_errors(wire.SUBMIT_PATH, "POST", body)
    assert any("commandID" in p for p in problems) and any("commandId" in p for p in problems)
    no_parties = _submit_body()
    del no_parties["commands"]["actAs"]
    assert any("actAs" in p for p in _all_errors(wire.SUBMIT_PATH, "POST", no_parties))
    lenient = spec.openapi("3.5.10", strict=False)
    assert not any("commandID" in p for p in lenient.request_errors(wire.SUBMIT_PATH, "POST", body))


def _transaction(shape: TransactionShape) -> Transaction:
    created = CreatedEvent(
        offset=7,
        node_id=2,
        contract_id=CID,
        template_id=HOLDING,
        arguments=dict(COMMANDS[0].arguments),  # type: ignore[union-attr]
        signatories=("BOJ", "MIZUHO"),
        observers=(),
        witness_parties=("MIZUHO",),
        created_at=MOMENT,
    )
    if shape is TransactionShape.ACS_DELTA:
        events: tuple[Any, ...] = (
            ArchivedEvent(7, 0, "00" + "cd" * 33, HOLDING, ("MIZUHO",)),
            created,
        )
    else:
        events = (
            ExercisedEvent(
                offset=7,
                node_id=0,
                contract_id="00" + "cd" * 33,
                template_id=HOLDING,
                choice="Holding_Split",
                argument={"splitFace": "100"},
                acting_parties=("MIZUHO",),
                consuming=True,
                witness_parties=("MIZUHO",),
                last_descendant_node_id=2,
                exercise_result={"_1": CID, "_2": CID},
            ),
            created,
        )
    return Transaction(
        update_id="1220" + "ef" * 32,
        offset=7,
        effective_at=MOMENT,
        record_time=MOMENT,
        events=events,
        command_id="split-1",
        workflow_id="plan-1",
    )


@pytest.mark.parametrize("shape", list(TransactionShape), ids=lambda s: s.name)
def test_server_transactions_are_valid_and_read_back_unchanged(shape: TransactionShape) -> None:
    _require()
    tx = _transaction(shape)
    body = wire.transaction_json(tx, synchronizer_id="sync::1220", package_ids=PACKAGES)
    assert body["events"][-1]["CreatedEvent"]["templateId"].startswith(LOOPBACK_PACKAGE_ID)
    for version in spec.OPENAPI_VERSIONS:
        api = spec.openapi(version)
        answer = {"transaction": body}
        assert api.response_errors(wire.SUBMIT_PATH, "POST", 200, answer, "application/json") == []
        updates = [{"update": {"Transaction": {"value": body}}}]
        assert (
            api.response_errors(wire.UPDATES_PATH, "POST", 200, updates, "application/json") == []
        )
    assert wire.parse_transaction(body) == tx


# A participant's answer as Canton 3.5 writes it: package-id template ids, nanosecond
# timestamps, empty observers left out, fields tanpo does not read (traffic cost, hashes).
CANTON_ANSWER: dict[str, Any] = {
    "transaction": {
        "updateId": "1220d0e1",
        "commandId": "plan-1:group-0",
        "workflowId": "",
        "effectiveAt": "2025-11-06T01:02:03.123456789Z",
        "recordTime": "2025-11-06T01:02:03.2Z",
        "offset": 19,
        "synchronizerId": "global::1220aa",
        "paidTrafficCost": 1234,
        "events": [
            {
                "CreatedEvent": {
                    "offset": 19,
                    "nodeId": 1,
                    "contractId": CID,
                    "templateId": "e2b9f0:Tanpo.Holding:Holding",
                    "contractKeyHash": "",
                    "createArgument": {"registrar": "BOJ", "owner": "MIZUHO", "face": "100"},
                    "createdEventBlob": "",
                    "interfaceViews": [],
                    "witnessParties": ["MIZUHO::1220aa"],
                    "signatories": ["BOJ::1220bb", "MIZUHO::1220aa"],
                    "createdAt": "2025-11-06T01:02:03.123456789Z",
                    "packageName": "tanpo-collateral",
                    "representativePackageId": "e2b9f0",
                    "acsDelta": True,
                }
            },
            {
                "ArchivedEvent": {
                    "offset": 19,
                    "nodeId": 0,
                    "contractId": "00" + "cd" * 33,
                    "templateId": "e2b9f0:Tanpo.Holding:Holding",
                    "witnessParties": ["MIZUHO::1220aa"],
                    "packageName": "tanpo-collateral",
                }
            },
        ],
    }
}


def test_a_participants_answer_is_read_in_tanpo_terms() -> None:
    _require()
    assert (
        spec.openapi("3.5.10", strict=False).response_errors(
            wire.SUBMIT_PATH, "POST", 200, CANTON_ANSWER, "application/json"
        )
        == []
    )
    tx = wire.parse_transaction(CANTON_ANSWER["transaction"])
    created, archived = tx.events
    assert isinstance(created, CreatedEvent) and isinstance(archived, ArchivedEvent)
    assert created.template_id == archived.template_id == HOLDING
    assert created.observers == ()
    assert created.created_at == datetime(2025, 11, 6, 1, 2, 3, 123456, tzinfo=UTC)
    assert tx.record_time == datetime(2025, 11, 6, 1, 2, 3, 200000, tzinfo=UTC)
    assert tx.workflow_id is None and tx.command_id == "plan-1:group-0"


def test_malformed_answers_name_the_field() -> None:
    broken = {**CANTON_ANSWER["transaction"], "offset": "19"}
    with pytest.raises(InvalidArgument, match=r"JsTransaction\.offset"):
        wire.parse_transaction(broken)
    with pytest.raises(InvalidArgument, match="createArgument"):
        wire.parse_created_event(
            {**CANTON_ANSWER["transaction"]["events"][0]["CreatedEvent"], "createArgument": []}
        )
    with pytest.raises(InvalidArgument, match="timestamp"):
        wire.parse_timestamp("yesterday", "createdAt")


def test_commands_read_back_as_sent() -> None:
    for command in COMMANDS:
        assert wire.parse_command(wire.command_json(command), "c") == command
    with pytest.raises(InvalidArgument, match="ExerciseByKeyCommand"):
        wire.parse_command({"ExerciseByKeyCommand": {"templateId": HOLDING}}, "c")
    with pytest.raises(InvalidArgument, match="missing field choice"):
        wire.parse_command({"ExerciseCommand": {"templateId": HOLDING, "contractId": CID}}, "c")


def test_event_formats_read_back() -> None:
    assert wire.parse_event_format(wire.event_format(["A", "B"], HOLDING), "f") == {
        "A": frozenset({HOLDING}),
        "B": frozenset({HOLDING}),
    }
    assert wire.parse_event_format(wire.event_format(["A"]), "f") == {"A": None}
    with pytest.raises(InvalidArgument, match="CanReadAsAnyParty"):
        wire.parse_event_format({"filtersForAnyParty": {"cumulative": []}}, "f")
    interface = {"cumulative": [{"identifierFilter": {"InterfaceFilter": {"value": {}}}}]}
    with pytest.raises(InvalidArgument, match="template and wildcard"):
        wire.parse_event_format({"filtersByParty": {"A": interface}}, "f")


def test_template_ids_in_both_reference_forms() -> None:
    assert wire.template_id("Holding") == "#tanpo-collateral:Tanpo.Holding:Holding"
    assert (
        wire.template_id("MarginObligation")
        == "#tanpo-collateral:Tanpo.Obligation:MarginObligation"
    )
    assert wire.template_id(HOLDING) == HOLDING
    assert wire.package_id_form(HOLDING, PACKAGES) == f"{LOOPBACK_PACKAGE_ID}:Tanpo.Holding:Holding"
    assert (
        wire.package_name_form(f"{LOOPBACK_PACKAGE_ID}:Tanpo.Holding:Holding", "tanpo-collateral")
        == HOLDING
    )
    assert wire.package_name_form("abc:M:E", None) == "abc:M:E"
    for bad in ("Holdings", "#:M:E", "a:b", "#pkg:M:"):
        with pytest.raises(InvalidArgument, match="templateId"):
            wire.template_id(bad)


def test_template_modules_are_those_of_the_daml_source() -> None:
    daml = Path(wire.__file__).resolve().parents[1] / "daml" / "daml"
    declared: dict[str, str] = {}
    for source in daml.rglob("*.daml"):
        text = source.read_text(encoding="utf-8")
        module = re.search(r"^module (\S+) where", text, re.M)
        assert module, source
        for name in re.findall(r"^template (\w+)", text, re.M):
            declared[name] = module.group(1)
    assert declared == dict(wire.TEMPLATE_MODULES)
    assert {wire.template_id(n) for n in declared} == set(TEMPLATES)


def test_timestamps_and_durations() -> None:
    assert wire.timestamp(MOMENT) == "2025-11-06T01:02:03.456789Z"
    assert wire.parse_timestamp(wire.timestamp(MOMENT), "t") == MOMENT
    assert wire.parse_timestamp("2025-11-06T01:02:03Z", "t") == MOMENT.replace(microsecond=0)
    with pytest.raises(InvalidArgument, match="time zone"):
        wire.timestamp(datetime(2025, 1, 1))
    assert wire.duration(timedelta(days=7)) == {"seconds": 604_800, "nanos": 0}


@settings(max_examples=200, deadline=None)
@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_durations_round_trip(window: timedelta) -> None:
    assert wire.parse_duration(wire.duration(window), "d") == window


party = st.sampled_from(["BOJ", "MIZUHO", "NOMURA", "JSCC"])
parties = st.lists(party, min_size=1, max_size=3, unique=True).map(tuple)
json_leaf = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.integers(0, 10**12).map(str)
)
record = st.dictionaries(st.text("abcdefghij", min_size=1, max_size=6), json_leaf, max_size=4)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    offset = draw(st.integers(1, 2**40))
    moment = draw(st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)))
    moment = moment.astimezone(UTC)
    events: list[Any] = []
    for node in range(draw(st.integers(0, 4))):
        template = draw(st.sampled_from(sorted(TEMPLATES)))
        cid = "00" + draw(st.binary(min_size=33, max_size=33)).hex()
        kind = draw(st.sampled_from(["created", "archived", "exercised"]))
        if kind == "created":
            events.append(
                CreatedEvent(
                    offset,
                    node,
                    cid,
                    template,
                    draw(record),
                    draw(parties),
                    draw(parties),
                    draw(parties),
                    moment,
                )
            )
        elif kind == "archived":
            events.append(ArchivedEvent(offset, node, cid, template, draw(parties)))
        else:
            events.append(
                ExercisedEvent(
                    offset,
                    node,
                    cid,
                    template,
                    "Archive",
                    draw(record),
                    draw(parties),
                    draw(st.booleans()),
                    draw(parties),
                    node,
                    draw(json_leaf),
                )
            )
    return Transaction(
        "1220" + draw(st.binary(min_size=8, max_size=8)).hex(),
        offset,
        moment,
        moment,
        tuple(events),
        draw(st.one_of(st.none(), st.text("xyz-:0123", min_size=1, max_size=12))),
    )


@settings(max_examples=60, deadline=None)
@given(transactions())
def test_any_transaction_is_spec_valid_and_round_trips(tx: Transaction) -> None:
    _require()
    body = wire.transaction_json(tx, synchronizer_id="sync::1220", package_ids=PACKAGES)
    for version in spec.OPENAPI_VERSIONS:
        assert spec.openapi(version).component_errors("JsTransaction", body) == []
    assert wire.parse_transaction(body) == tx
