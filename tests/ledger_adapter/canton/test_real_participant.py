"""Against a real Canton participant, when one is configured; skipped otherwise.

Set ``TANPO_CANTON_URL`` (the JSON API, e.g. ``http://localhost:7575``) and a user
token in ``TANPO_CANTON_TOKEN`` or a file named by ``TANPO_CANTON_TOKEN_FILE``;
``TANPO_CANTON_PARTY`` (a party the user can read as) adds reads of its contracts.
``TANPO_CANTON_WRITE=1`` with ``TANPO_CANTON_REGISTRAR`` (both parties hosted, the user
with CanActAs on both, the ``tanpo-collateral`` DAR uploaded) also submits: it creates
a holding, checks a resubmission is deduplicated, and archives it again.

The participant's answers are validated leniently against the spec of its version
(Canton may add fields); tanpo's requests strictly.
"""

from __future__ import annotations

import os
import uuid

import pytest

from ledger_adapter.canton import CantonLedger, env_token_source
from ledger_adapter.canton.wire import template_id
from ledger_adapter.errors import DuplicateCommand
from ledger_adapter.protocol import CreateCommand, ExerciseCommand
from tests.ledger_adapter.canton import spec
from tests.ledger_adapter.canton.conftest import Traffic, holding_arguments

URL = os.environ.get("TANPO_CANTON_URL")
PARTY = os.environ.get("TANPO_CANTON_PARTY")
REGISTRAR = os.environ.get("TANPO_CANTON_REGISTRAR")

pytestmark = pytest.mark.skipif(
    not URL or env_token_source() is None,
    reason="no real participant: set TANPO_CANTON_URL and TANPO_CANTON_TOKEN"
    " (or TANPO_CANTON_TOKEN_FILE)",
)


@pytest.fixture
def participant() -> tuple[CantonLedger, Traffic]:
    traffic = Traffic()
    assert URL is not None
    return CantonLedger(URL, token=env_token_source(), event_hooks=traffic.hooks()), traffic


def _check(traffic: Traffic) -> None:
    """tanpo's requests strictly in both versions; each answer leniently in at least one
    (a 3.5 participant may leave out fields 3.4's spec requires)."""
    if spec.spec_dir() is None:
        return
    for x in traffic.exchanges:
        for version in spec.OPENAPI_VERSIONS:
            assert spec.openapi(version).request_errors(x.path, x.method, x.request) == []
        problems = [
            spec.openapi(v, strict=False).response_errors(
                x.path, x.method, x.status, x.response, x.content_type
            )
            for v in spec.OPENAPI_VERSIONS
        ]
        assert any(not p for p in problems), problems


def test_reads(participant: tuple[CantonLedger, Traffic]) -> None:
    client, traffic = participant
    with client:
        end = client.ledger_end()
        assert end >= 0
        if PARTY:
            for event in client.active_contracts(PARTY):
                assert PARTY in event.witness_parties
            for tx in client.updates(max(0, end - 20), PARTY):
                assert 0 < tx.offset <= end
    _check(traffic)


@pytest.mark.skipif(
    os.environ.get("TANPO_CANTON_WRITE") != "1" or not PARTY or not REGISTRAR,
    reason="writes need TANPO_CANTON_WRITE=1, TANPO_CANTON_PARTY and TANPO_CANTON_REGISTRAR",
)
def test_submit_deduplicate_and_archive(participant: tuple[CantonLedger, Traffic]) -> None:
    client, traffic = participant
    assert PARTY and REGISTRAR
    holding = template_id("Holding")
    arguments = {**holding_arguments(PARTY, "JP1103811L91", 1), "registrar": REGISTRAR}
    command_id = f"tanpo-test-{uuid.uuid4().hex}"
    with client:
        tx = client.submit(
            [CreateCommand(holding, arguments)], act_as=[REGISTRAR, PARTY], command_id=command_id
        )
        (created,) = tx.created(holding)
        with pytest.raises(DuplicateCommand):
            client.submit(
                [CreateCommand(holding, arguments)],
                act_as=[REGISTRAR, PARTY],
                command_id=command_id,
            )
        client.submit(
            [ExerciseCommand(holding, created.contract_id, "Archive")],
            act_as=[REGISTRAR, PARTY],
            command_id=f"{command_id}-archive",
        )
    _check(traffic)
