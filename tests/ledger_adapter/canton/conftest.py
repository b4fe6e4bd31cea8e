"""Fixtures: an embedded ledger behind a loopback participant, clients per user, and a
recorder that validates every HTTP exchange against the published specifications."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledger_adapter.canton import CantonLedger, JsonApiServer, RetryPolicy, UserRights, user_token
from ledger_adapter.canton.wire import ACTIVE_CONTRACTS_PATH, UPDATES_PATH, template_id
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.protocol import CreateCommand, CreatedEvent, Ledger
from tests.ledger_adapter.canton import spec
from tests.ledger_adapter.conftest import assert_sound

SECRET = "tanpo-loopback-participant-test-secret-0123456789"
BOJ, MIZUHO, NOMURA, JSCC = "BOJ", "MIZUHO", "NOMURA", "JSCC"
USERS = {
    "operator": UserRights(frozenset({BOJ, MIZUHO, NOMURA, JSCC})),
    "mizuho-ops": UserRights(frozenset({MIZUHO})),
    "nomura-ops": UserRights(frozenset({NOMURA})),
    "jscc-ops": UserRights(frozenset({JSCC})),
    "mizuho-auditor": UserRights(frozenset(), read_as=frozenset({MIZUHO})),
}
FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.001, max_backoff=0.01, deadline=20)
HOLDING = template_id("Holding")
JGB_10Y_381 = "JP1103811L91"
JGB_20Y_195 = "JP1201951Q96"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer as they crossed the wire."""

    method: str
    path: str
    request: Any
    status: int
    content_type: str
    response: Any


class Traffic:
    """Records a client's HTTP exchanges (httpx response hook) for spec validation."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def hooks(self) -> dict[str, list[Callable[[httpx.Response], None]]]:
        return {"response": [self._record]}

    def _record(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        body = json.loads(request.content) if request.content else None
        content_type = response.headers.get("content-type", "")
        answer = response.json() if content_type.startswith("application/json") else response.text
        self.exchanges.append(
            Exchange(
                request.method, request.url.path, body, response.status_code, content_type, answer
            )
        )

    def errors(self, *, strict: bool = True) -> list[str]:
        """Every spec violation of every recorded exchange, in every spec version that has it."""
        found: list[str] = []
        for x in self.exchanges:
            for version in spec.OPENAPI_VERSIONS:
                api = spec.openapi(version, strict=strict)
                if not api.has(x.path, x.method):
                    continue
                found += api.request_errors(x.path, x.method, x.request)
                found += api.response_errors(x.path, x.method, x.status, x.response, x.content_type)
            if x.path in (ACTIVE_CONTRACTS_PATH, UPDATES_PATH):
                for version in spec.ASYNCAPI_VERSIONS:
                    api = spec.asyncapi(version, strict=strict)
                    found += api.message_errors(x.path, "publish", x.request)
                    if x.status == 200:
                        for item in x.response:
                            found += api.message_errors(x.path, "subscribe", item)
                    elif isinstance(x.response, dict):
                        found += api.message_errors(x.path, "subscribe", x.response)
        return found

    def assert_valid(self) -> None:
        if spec.spec_dir() is None:
            return  # nothing to validate against; the behaviour was still tested
        problems = self.errors()
        assert not problems, "\n".join(problems[:20])


@pytest.fixture
def traffic() -> Iterator[Traffic]:
    recorder = Traffic()
    yield recorder
    recorder.assert_valid()


@pytest.fixture
def embedded(tmp_path: Any) -> Iterator[EmbeddedLedger]:
    """The ledger behind the participant, verified and invariant-checked after the test."""
    with EmbeddedLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        yield ledger
        assert_sound(ledger)


@pytest.fixture
def participant(embedded: EmbeddedLedger) -> Iterator[JsonApiServer]:
    with JsonApiServer(embedded, users=USERS, secret=SECRET) as server:
        yield server


Connect = Callable[..., CantonLedger]


@pytest.fixture
def connect(participant: JsonApiServer, traffic: Traffic) -> Iterator[Connect]:
    """``connect(user, **options)``: a client of the loopback participant as ``user``."""
    clients: list[CantonLedger] = []

    def make(user: str, **options: Any) -> CantonLedger:
        options.setdefault("token", user_token(user, secret=SECRET))
        options.setdefault("retry", FAST_RETRY)
        client = CantonLedger(participant.url, event_hooks=traffic.hooks(), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def holding_arguments(owner: str, isin: str, face: int) -> dict[str, Any]:
    """A free holdings-column entry of ``owner`` kept by the BoJ."""
    return {
        "registrar": BOJ,
        "owner": owner,
        "account": f"{owner}-JGB-01",
        "isin": isin,
        "face": str(face),
        "column": "HoldingsColumn",
        "pledgee": None,
    }


def issue(ledger: Ledger, owner: str, isin: str, face: int) -> CreatedEvent:
    """Credit ``face`` of ``isin`` to ``owner`` (registrar and owner sign)."""
    tx = ledger.submit(
        [CreateCommand(HOLDING, holding_arguments(owner, isin, face))],
        act_as=[BOJ, owner],
        command_id=f"issue-{uuid.uuid4().hex}",
    )
    (created,) = tx.created(HOLDING)
    return created
