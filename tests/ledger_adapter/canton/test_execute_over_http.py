"""A plan carried out through the JSON API: the executor over ``CantonLedger``.

The same executor that drives the embedded ledger drives the loopback participant over
HTTP, with a timeout after the commit thrown in: the plan applies exactly once, the
pledges reconcile with the plan's target, a re-run changes nothing, and the ledger
behind the API keeps its invariants (conservation of face, pledges backed).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger_adapter.book import load_book, parse_book
from ledger_adapter.canton import CantonLedger, Fault, JsonApiServer, UserRights, user_token
from ledger_adapter.canton.wire import SUBMIT_PATH
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import LedgerError
from ledger_adapter.executor import execute_plan
from ledger_adapter.invariants import invariant_violations
from ledger_adapter.plan import parse_plan
from ledger_adapter.testing import substitution_plan, synthetic_book
from tests.ledger_adapter.canton.conftest import FAST_RETRY, SECRET, Traffic

USERS = {
    "ops": UserRights(frozenset({"BOJ", "JSCC", "BANK1"})),
    "bank1-ops": UserRights(frozenset({"BANK1"})),
}


@pytest.fixture
def loopback(
    embedded: EmbeddedLedger, traffic: Traffic
) -> Iterator[tuple[JsonApiServer, CantonLedger, CantonLedger]]:
    with JsonApiServer(embedded, users=USERS, secret=SECRET) as server:

        def client(user: str) -> CantonLedger:
            return CantonLedger(
                server.url,
                token=user_token(user, secret=SECRET),
                retry=FAST_RETRY,
                event_hooks=traffic.hooks(),
            )

        with client("ops") as ops, client("bank1-ops") as bank:
            yield server, ops, bank


@pytest.mark.parametrize("per_group", [False, True], ids=["one-transaction", "per-group"])
def test_a_plan_executes_over_the_json_api_exactly_once(
    loopback: tuple[JsonApiServer, CantonLedger, CantonLedger],
    embedded: EmbeddedLedger,
    per_group: bool,
) -> None:
    server, ops, bank = loopback
    book = synthetic_book(isins_per_bank=12, obligations_per_bank=2, lots=2)
    load_book(ops, parse_book(book))
    plan = parse_plan(substitution_plan(book, 4))
    server.faults.arm(
        Fault.TIMEOUT_AFTER_COMMIT, path=SUBMIT_PATH
    )  # the first unit's answer is lost
    report = execute_plan(bank, plan, parties=["BANK1"], per_group=per_group)
    assert report.status == "applied" and report.reconciled and not report.mismatches
    assert server.faults.fired == [(SUBMIT_PATH, Fault.TIMEOUT_AFTER_COMMIT)]
    first = [s for s in server.submissions if s.command_id == report.units[0].command_id]
    assert len(first) == 2 and first[0].submission_id != first[1].submission_id  # retried
    for unit in report.units:
        committed = [t for t in embedded.stored_transactions() if t.command_id == unit.command_id]
        assert len(committed) == 1, unit
    again = execute_plan(bank, plan, parties=["BANK1"], per_group=per_group)
    assert again.status == "already applied" and again.ledger_end == report.ledger_end
    assert invariant_violations(embedded) == []


@pytest.mark.parametrize("per_group", [False, True], ids=["one-transaction", "per-group"])
def test_two_executors_racing_through_the_api_apply_the_plan_once(
    loopback: tuple[JsonApiServer, CantonLedger, CantonLedger],
    embedded: EmbeddedLedger,
    per_group: bool,
) -> None:
    server, ops, first = loopback
    book = synthetic_book(isins_per_bank=12, obligations_per_bank=2, lots=2)
    load_book(ops, parse_book(book))
    plan = parse_plan(substitution_plan(book, 4))
    with (
        CantonLedger(
            server.url, token=user_token("bank1-ops", secret=SECRET), retry=FAST_RETRY
        ) as second,
        ThreadPoolExecutor(2) as pool,
    ):
        reports = list(
            pool.map(
                lambda client: execute_plan(client, plan, parties=["BANK1"], per_group=per_group),
                [first, second],
            )
        )
    assert all(r.reconciled for r in reports)
    for unit in reports[0].units:
        committed = [t for t in embedded.stored_transactions() if t.command_id == unit.command_id]
        assert len(committed) == 1, unit
    assert invariant_violations(embedded) == []


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.TIMEOUT])
def test_the_executor_does_not_retry_what_the_client_gave_up_on(
    loopback: tuple[JsonApiServer, CantonLedger, CantonLedger],
    embedded: EmbeddedLedger,
    fault: Fault,
) -> None:
    """Nested retries do not multiply: the client's policy is the only one that runs."""
    server, ops, bank = loopback
    book = synthetic_book(isins_per_bank=12, obligations_per_bank=2, lots=2)
    load_book(ops, parse_book(book))
    plan = parse_plan(substitution_plan(book, 4))
    end = embedded.ledger_end()
    server.faults.arm(fault, times=100, path=SUBMIT_PATH)
    with pytest.raises(LedgerError) as err:
        execute_plan(bank, plan, parties=["BANK1"])
    assert err.value.retries_exhausted
    assert len(server.faults.fired) == FAST_RETRY.max_attempts  # not 5 x 5
    assert embedded.ledger_end() == end
    server.faults.clear()
    assert execute_plan(bank, plan, parties=["BANK1"]).reconciled  # a later run applies it
