"""The retry policy of DOMAIN.md section 7, against a real loopback participant that
fails the first N calls (fault injection), not a mock.

Each test checks what the ledger holds afterwards: a retried command applies exactly
once, every attempt carried the same commandId and a fresh submissionId, and a
non-retryable rejection is not retried.
"""

from __future__ import annotations

import random

import pytest

from ledger_adapter.canton import NO_RETRY, Fault, JsonApiServer, RetryPolicy
from ledger_adapter.canton.retry import parse_retry_info
from ledger_adapter.canton.server import Submission
from ledger_adapter.canton.wire import LEDGER_END_PATH, SUBMIT_PATH
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import (
    ContractNotFound,
    DuplicateCommand,
    InvalidArgument,
    LockedContracts,
    RequestTimeout,
    Unavailable,
)
from ledger_adapter.protocol import ExerciseCommand, Transaction
from tests.ledger_adapter.canton.conftest import (
    HOLDING,
    JGB_10Y_381,
    MIZUHO,
    USERS,
    Connect,
    issue,
)


def _split(cid: str, face: int = 100) -> ExerciseCommand:
    return ExerciseCommand(HOLDING, cid, "Holding_Split", {"splitFace": str(face)})


def _attempts(participant: JsonApiServer, command_id: str) -> list[Submission]:
    return [s for s in participant.submissions if s.command_id == command_id]


def _committed(ledger: EmbeddedLedger, command_id: str) -> list[int]:
    return [tx.offset for tx in ledger.stored_transactions() if tx.command_id == command_id]


def _assert_applied_once(
    tx: Transaction, participant: JsonApiServer, embedded: EmbeddedLedger, attempts: int
) -> None:
    assert _committed(embedded, tx.command_id or "") == [tx.offset]
    seen = _attempts(participant, tx.command_id or "")
    assert len(seen) == attempts
    assert len({s.submission_id for s in seen}) == attempts  # fresh submissionId per retry


@pytest.mark.parametrize(
    ("fault", "times"),
    [(Fault.LOCKED, 3), (Fault.UNAVAILABLE, 2), (Fault.TIMEOUT, 2)],
    ids=["locked-contracts", "unavailable", "timeout-before-commit"],
)
def test_transient_failures_are_retried_until_committed(
    connect: Connect,
    participant: JsonApiServer,
    embedded: EmbeddedLedger,
    fault: Fault,
    times: int,
) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(fault, times=times, path=SUBMIT_PATH)
    tx = connect("mizuho-ops").submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="m")
    _assert_applied_once(tx, participant, embedded, attempts=times + 1)
    assert participant.faults.pending == 0


@pytest.mark.parametrize(
    "fault",
    [Fault.TIMEOUT_AFTER_COMMIT, Fault.DROP_AFTER_COMMIT],
    ids=["request-time-out", "connection-lost"],
)
def test_unknown_outcome_is_retried_with_the_same_command_id_and_applies_once(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger, fault: Fault
) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(fault, path=SUBMIT_PATH)
    tx = connect("mizuho-ops").submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="m")
    # the first attempt committed; the retry was deduplicated and returned its transaction
    _assert_applied_once(tx, participant, embedded, attempts=2)
    assert [e.contract_id for e in tx.created()] == [
        e.contract_id for e in embedded.active_contracts(MIZUHO)
    ]


def test_a_client_side_read_timeout_is_an_unknown_outcome_too(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(Fault.SLOW_AFTER_COMMIT, path=SUBMIT_PATH, delay=1.0)
    client = connect("mizuho-ops", timeout=0.3)
    tx = client.submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="slow")
    _assert_applied_once(tx, participant, embedded, attempts=2)


def test_a_participant_that_interprets_before_deduplicating_still_applies_once(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    participant.interpret_before_dedup = True  # the retry meets CONTRACT_NOT_FOUND
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(Fault.TIMEOUT_AFTER_COMMIT, path=SUBMIT_PATH)
    client = connect("mizuho-ops")
    tx = client.submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="m")
    _assert_applied_once(tx, participant, embedded, attempts=2)
    with pytest.raises(ContractNotFound):  # a fresh call on consumed input is contention
        client.submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="n")


def test_contract_not_found_is_not_retried(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    client = connect("mizuho-ops")
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    client.submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="first")
    with pytest.raises(ContractNotFound):
        client.submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="second")
    assert len(_attempts(participant, "second")) == 1
    assert _committed(embedded, "second") == []


def test_retries_stop_at_the_policy_and_raise_the_last_error(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(Fault.LOCKED, times=10, path=SUBMIT_PATH)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
    with pytest.raises(LockedContracts) as caught:
        connect("mizuho-ops", retry=policy).submit(
            [_split(holding.contract_id)], act_as=MIZUHO, command_id="m"
        )
    assert caught.value.code == "LOCAL_VERDICT_LOCKED_CONTRACTS"
    assert len(_attempts(participant, "m")) == 3 and _committed(embedded, "m") == []
    participant.faults.clear()
    participant.faults.arm(Fault.TIMEOUT_AFTER_COMMIT, path=SUBMIT_PATH)
    with pytest.raises(RequestTimeout):  # outcome unknown, and no retry allowed: say so
        connect("mizuho-ops", retry=NO_RETRY).submit(
            [_split(holding.contract_id)], act_as=MIZUHO, command_id="once"
        )
    assert len(_committed(embedded, "once")) == 1  # ... it did commit; re-running is safe


def test_running_out_of_retries_after_an_unknown_outcome_says_unknown(
    connect: Connect, participant: JsonApiServer, embedded: EmbeddedLedger
) -> None:
    holding = issue(connect("operator"), MIZUHO, JGB_10Y_381, 1_000)
    participant.faults.arm(Fault.TIMEOUT_AFTER_COMMIT, path=SUBMIT_PATH)
    participant.faults.arm(Fault.UNAVAILABLE, times=5, path=SUBMIT_PATH)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
    with pytest.raises(RequestTimeout, match="same command id"):  # not "Unavailable"
        connect("mizuho-ops", retry=policy).submit(
            [_split(holding.contract_id)], act_as=MIZUHO, command_id="m"
        )
    assert len(_committed(embedded, "m")) == 1
    participant.faults.clear()
    with pytest.raises(DuplicateCommand) as caught:  # the caller's retry is safe: success
        connect("mizuho-ops").submit([_split(holding.contract_id)], act_as=MIZUHO, command_id="m")
    assert caught.value.original is not None
    assert _committed(embedded, "m") == [caught.value.original.offset]


def test_reads_are_retried(connect: Connect, participant: JsonApiServer) -> None:
    participant.faults.arm(Fault.UNAVAILABLE, times=2, path=LEDGER_END_PATH)
    participant.faults.arm(Fault.DROP_AFTER_COMMIT, path=LEDGER_END_PATH)
    assert connect("mizuho-ops").ledger_end() == 0
    assert [f for _, f in participant.faults.fired] == [
        Fault.UNAVAILABLE,
        Fault.UNAVAILABLE,
        Fault.DROP_AFTER_COMMIT,
    ]


def test_a_participant_that_is_down_is_unavailable(embedded: EmbeddedLedger) -> None:
    from ledger_adapter.canton import CantonLedger

    server = JsonApiServer(embedded, users=USERS, secret="s" * 32).start()
    url = server.url
    server.stop()
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001)
    with CantonLedger(url, retry=policy) as client, pytest.raises(Unavailable, match="connect"):
        client.ledger_end()


def test_backoff_is_bounded_jittered_and_honours_the_participants_hint() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    rng = random.Random(7)
    for retry in range(1, 10):
        ceiling = min(1.0, 0.1 * 2 ** (retry - 1))
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert 0 <= min(waits) and max(waits) <= ceiling
        assert max(waits) > 0.5 * ceiling  # full jitter spans the range
    assert policy.backoff(1, rng, floor=0.5) >= 0.5
    assert policy.backoff(1, rng, floor=30.0) == 1.0  # a hint never exceeds the cap
    assert parse_retry_info("1 second") == 1.0
    assert parse_retry_info("500 milliseconds") == pytest.approx(0.5)
    assert parse_retry_info("soon") == 0.0 and parse_retry_info(None) == 0.0
    with pytest.raises(InvalidArgument):
        RetryPolicy(max_attempts=0)
