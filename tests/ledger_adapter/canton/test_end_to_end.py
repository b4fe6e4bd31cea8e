"""CantonLedger against the loopback participant over real HTTP on 127.0.0.1.

Every exchange of every test is validated against the OpenAPI 3.4.11 and 3.5.10 and
AsyncAPI 3.4.11 specifications (the ``traffic`` fixture), strictly: no undeclared field.
Paths that must fail are tested as Daml's ``submitMustFail``: the error class, its
Canton code, and that the ledger did not change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from ledger_adapter.canton import CantonLedger, JsonApiServer, Unauthenticated, user_token
from ledger_adapter.canton.wire import SUBMIT_PATH, template_id
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import (
    AuthorizationError,
    ContractNotFound,
    DuplicateCommand,
    InvalidArgument,
    PermissionDenied,
)
from ledger_adapter.protocol import (
    CreateCommand,
    CreatedEvent,
    ExerciseCommand,
    Ledger,
    TransactionShape,
)
from tests.ledger_adapter.canton.conftest import (
    BOJ,
    HOLDING,
    JGB_10Y_381,
    JGB_20Y_195,
    JSCC,
    MIZUHO,
    NOMURA,
    SECRET,
    Connect,
    holding_arguments,
    issue,
)


def _seen_by(event: CreatedEvent, *parties: str) -> CreatedEvent:
    """``event`` as a reader for ``parties`` gets it (its witnesses among them)."""
    return replace(event, witness_parties=tuple(sorted(set(parties) & event.stakeholders)))


def _split(cid: str, face: int) -> ExerciseCommand:
    return ExerciseCommand(HOLDING, cid, "Holding_Split", {"splitFace": str(face)})


def _commits(ledger: EmbeddedLedger, command_id: str) -> int:
    return sum(1 for tx in ledger.stored_transactions() if tx.command_id == command_id)


def test_submit_and_read_back_as_the_embedded_ledger_does(
    connect: Connect, embedded: EmbeddedLedger
) -> None:
    operator, mizuho = connect("operator"), connect("mizuho-ops")
    created = issue(operator, MIZUHO, JGB_10Y_381, 30_000_000_000)
    assert created.template_id == "#tanpo-collateral:Tanpo.Holding:Holding"  # from package-id form
    assert set(created.signatories) == {BOJ, MIZUHO}
    assert created.arguments["face"] == "30000000000"
    assert mizuho.ledger_end() == embedded.ledger_end() == created.offset

    over_http = mizuho.active_contracts(MIZUHO)
    direct = embedded.active_contracts(MIZUHO)
    assert over_http == direct  # same events, field for field, timestamps to the microsecond
    assert mizuho.active_contracts(MIZUHO, HOLDING, at_offset=created.offset) == direct
    assert mizuho.active_contracts(MIZUHO, at_offset=0) == ()
    assert list(mizuho.updates(0, MIZUHO)) == list(embedded.updates(0, MIZUHO))


def test_split_as_owner_alone_in_both_shapes(connect: Connect, embedded: EmbeddedLedger) -> None:
    mizuho = connect("mizuho-ops")
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    tx = mizuho.submit(
        [_split(holding.contract_id, 400)],
        act_as=MIZUHO,
        command_id="split-1",
        workflow_id="rebalance-2025-11-06",
        transaction_shape=TransactionShape.LEDGER_EFFECTS,
    )
    assert tx.command_id == "split-1" and tx.workflow_id == "rebalance-2025-11-06"
    assert tx.archived_contract_ids() == (holding.contract_id,)
    faces = sorted(int(e.arguments["face"]) for e in tx.created(HOLDING))
    assert faces == [400, 600]
    flat = list(mizuho.updates(holding.offset, MIZUHO))
    effects = list(
        mizuho.updates(holding.offset, MIZUHO, transaction_shape=TransactionShape.LEDGER_EFFECTS)
    )
    assert flat == list(embedded.updates(holding.offset, MIZUHO))
    assert effects == [tx]


def test_resubmission_is_deduplicated_and_returns_the_original(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    mizuho = connect("mizuho-ops")
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    first = mizuho.submit([_split(holding.contract_id, 100)], act_as=MIZUHO, command_id="move-7")
    end = embedded.ledger_end()
    with pytest.raises(DuplicateCommand) as caught:
        mizuho.submit([_split(holding.contract_id, 100)], act_as=MIZUHO, command_id="move-7")
    assert caught.value.code == "DUPLICATE_COMMAND"
    assert caught.value.original == first
    assert caught.value.completion_offset == first.offset
    assert embedded.ledger_end() == end and _commits(embedded, "move-7") == 1
    attempts = [s for s in participant.submissions if s.command_id == "move-7"]
    assert len(attempts) == 2
    assert len({s.submission_id for s in attempts}) == 2  # a fresh submissionId each time


def test_contention_on_a_consumed_contract_is_contract_not_found(
    connect: Connect, embedded: EmbeddedLedger
) -> None:
    mizuho = connect("mizuho-ops")
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    mizuho.submit([_split(holding.contract_id, 100)], act_as=MIZUHO, command_id="a")
    end = embedded.ledger_end()
    with pytest.raises(ContractNotFound) as caught:
        mizuho.submit([_split(holding.contract_id, 200)], act_as=MIZUHO, command_id="b")
    assert caught.value.code == "CONTRACT_NOT_FOUND"
    assert caught.value.contract_ids == (holding.contract_id,)
    assert embedded.ledger_end() == end


def test_another_partys_token_cannot_see_or_use_contracts(connect: Connect) -> None:
    operator, nomura = connect("operator"), connect("nomura-ops")
    holding = issue(operator, MIZUHO, JGB_10Y_381, 1_000)
    pledge = operator.submit(
        [
            ExerciseCommand(
                HOLDING,
                holding.contract_id,
                "Holding_Pledge",
                {"pledgeTo": JSCC, "pledgeFace": "600"},
            )
        ],
        act_as=[MIZUHO, JSCC],
        command_id="pledge-to-jscc",
    )
    pledged = [e for e in pledge.created(HOLDING) if e.arguments["column"] == "PledgeColumn"]
    seen = connect("jscc-ops").active_contracts(JSCC)
    assert seen == tuple(_seen_by(e, JSCC) for e in pledged)  # the pledgee sees it
    assert nomura.active_contracts(NOMURA) == ()
    assert list(nomura.updates(0, NOMURA)) == []
    with pytest.raises(PermissionDenied, match="CanReadAs"):
        nomura.active_contracts(MIZUHO)
    with pytest.raises(PermissionDenied):
        list(nomura.updates(0, [NOMURA, MIZUHO]))
    with pytest.raises(ContractNotFound):  # invisible is indistinguishable from archived
        nomura.submit([_split(pledged[0].contract_id, 1)], act_as=NOMURA, command_id="peek")
    # the Pledge that records what the entry secures (the model's backing invariant)
    entry = pledged[0].arguments
    record = {"pledgor": MIZUHO, "pledgee": JSCC, "obligationId": "IM-1"}
    record |= {k: entry[k] for k in ("account", "isin", "face")}
    record["holdingCid"] = pledged[0].contract_id
    operator.submit(
        [CreateCommand(template_id("Pledge"), record)], act_as=[MIZUHO, JSCC], command_id="record"
    )


def test_read_as_rights_allow_reading_but_not_acting(connect: Connect) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    auditor = connect("mizuho-auditor")
    assert auditor.active_contracts(MIZUHO) == (_seen_by(holding, MIZUHO),)
    with pytest.raises(PermissionDenied, match="CanActAs"):
        auditor.submit([_split(holding.contract_id, 1)], act_as=MIZUHO, command_id="x")


def test_acting_as_a_party_the_user_has_no_right_for_is_refused(
    connect: Connect, embedded: EmbeddedLedger
) -> None:
    nomura = connect("nomura-ops")
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    end = embedded.ledger_end()
    with pytest.raises(PermissionDenied) as caught:
        nomura.submit([_split(holding.contract_id, 1)], act_as=MIZUHO, command_id="steal")
    assert caught.value.code == "PERMISSION_DENIED"
    with pytest.raises(PermissionDenied):
        nomura.submit(
            [_split(holding.contract_id, 1)], act_as=NOMURA, read_as=MIZUHO, command_id="peek"
        )
    assert embedded.ledger_end() == end


def test_missing_signatory_is_a_daml_authorization_error(
    connect: Connect, embedded: EmbeddedLedger
) -> None:
    mizuho = connect("mizuho-ops")
    with pytest.raises(AuthorizationError) as caught:  # the registrar must sign a holding
        mizuho.submit(
            [CreateCommand(HOLDING, holding_arguments(MIZUHO, JGB_20Y_195, 5))],
            act_as=MIZUHO,
            command_id="self-issue",
        )
    assert caught.value.code == "DAML_AUTHORIZATION_ERROR"
    assert embedded.ledger_end() == 0


def test_invalid_arguments_name_the_field(connect: Connect) -> None:
    operator = connect("operator")
    bad = {**holding_arguments(MIZUHO, JGB_20Y_195, 5), "face": 5}  # Int64 must be a string
    with pytest.raises(InvalidArgument, match="face"):
        operator.submit([CreateCommand(HOLDING, bad)], act_as=[BOJ, MIZUHO], command_id="bad")


def test_tokens_are_checked(participant: JsonApiServer, connect: Connect) -> None:
    forged = connect("operator", token=user_token("operator", secret="not-the-" + SECRET))
    with pytest.raises(Unauthenticated) as caught:
        forged.ledger_end()
    assert caught.value.code == "UNAUTHENTICATED"
    with pytest.raises(Unauthenticated):
        connect("operator", token=None).ledger_end()
    with pytest.raises(PermissionDenied, match="not known"):
        connect("stranger").ledger_end()
    with pytest.raises(InvalidArgument, match="token's user"):
        connect("mizuho-ops").submit(
            [_split("00" * 33, 1)], act_as=MIZUHO, user_id="someone-else", command_id="x"
        )


def test_an_expired_token_is_refreshed_from_its_source(connect: Connect) -> None:
    from datetime import UTC, datetime, timedelta

    issued = iter(
        [
            user_token("operator", secret=SECRET, now=datetime.now(UTC) - timedelta(hours=2)),
            user_token("operator", secret=SECRET),
        ]
    )
    tokens: list[str] = []

    def source() -> str:
        if not tokens or len(tokens) == 1:
            tokens.append(next(issued))
        return tokens[-1]

    client = connect("operator", token=source)
    assert client.ledger_end() == 0
    assert len(tokens) == 2  # the expired one, then a fresh one after ACCESS_TOKEN_EXPIRED


def test_package_id_references_are_mapped_both_ways(
    connect: Connect, participant: JsonApiServer
) -> None:
    client = connect("operator", package_ids=participant.package_ids)
    created = issue(client, MIZUHO, JGB_10Y_381, 10)
    assert created.template_id == HOLDING
    assert client.active_contracts(MIZUHO, HOLDING) == (_seen_by(created, MIZUHO),)


def test_updates_are_paged_below_the_list_limit(
    connect: Connect, participant: JsonApiServer
) -> None:
    operator = connect("operator")
    for i in range(7):
        issue(operator, MIZUHO, JGB_10Y_381, 10 + i)
    participant.max_list_elements = 3
    paged = connect("mizuho-ops", update_page_size=2)
    assert [int(e.arguments["face"]) for tx in paged.updates(0, MIZUHO) for e in tx.created()] == [
        10,
        11,
        12,
        13,
        14,
        15,
        16,
    ]
    with pytest.raises(Exception, match="http-list-max-elements-limit"):
        paged.active_contracts(MIZUHO)  # no paging for the ACS in 3.4: 413, said plainly


def test_the_server_answers_malformed_requests_as_a_participant(participant: JsonApiServer) -> None:
    token = user_token("operator", secret=SECRET)
    with httpx.Client(base_url=participant.url) as http:
        headers = {"Authorization": f"Bearer {token}"}
        text = http.post(SUBMIT_PATH, content=b"{not json", headers=headers)
        assert text.status_code == 400 and text.headers["content-type"].startswith("text/plain")
        missing = http.post(SUBMIT_PATH, json={"commands": {}}, headers=headers)
        assert missing.status_code == 400 and missing.json()["code"] == "INVALID_ARGUMENT"
        assert http.get("/v2/nothing-here", headers=headers).status_code == 404


def test_clients_share_one_ledger_across_protocol_implementations(
    connect: Connect, embedded: EmbeddedLedger
) -> None:
    client: Ledger = connect("operator")
    assert isinstance(client, Ledger) and isinstance(client, CantonLedger)
    issue(client, NOMURA, JGB_20Y_195, 50)
    assert len(embedded.active_contracts(NOMURA)) == 1


def test_the_participant_runs_as_a_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m ledger_adapter.canton``: serve a ledger file, write a token, stop on SIGTERM."""
    token_file = tmp_path / "ops.jwt"
    env = {**os.environ, "TANPO_CANTON_SECRET": SECRET}
    command = [sys.executable, "-m", "ledger_adapter.canton", "--port", "0"]
    command += ["--ledger", f"sqlite:///{tmp_path / 'book.db'}", "--user", "ops=BOJ,MIZUHO"]
    command += ["--token", f"ops={token_file}"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = line.strip().rsplit(" at ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), line
        token = token_file.read_text().strip()
        with CantonLedger(url, token=token) as client:
            issue(client, MIZUHO, JGB_10Y_381, 10)
            assert client.ledger_end() == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    from ledger_adapter.canton.__main__ import main

    monkeypatch.delenv("TANPO_CANTON_SECRET", raising=False)
    assert main(command[3:]) == 2  # no secret in the environment: refused, nothing served
