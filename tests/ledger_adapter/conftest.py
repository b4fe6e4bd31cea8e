"""Fixtures: a small hand-written book, and ledgers that check themselves after each test.

Every ``ledger`` fixture, when the test ends, runs ``verify`` (hash chain and derived
tables) and the model's invariants (conservation per (owner, isin), pledge backing),
so each scenario is checked without the test asking. Ledgers run on SQLite; also on
PostgreSQL when ``TANPO_TEST_POSTGRES_URL`` is set (a fresh schema per test; without it
``test_postgres_backend_is_configured`` is the one test skipped, with the reason).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger_adapter.book import parse_book
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.integrity import verify
from ledger_adapter.invariants import invariant_violations
from ledger_adapter.testing import synthetic_isin

POSTGRES_ENV = "TANPO_TEST_POSTGRES_URL"
ISIN = [synthetic_isin(i) for i in range(6)]
B = 1_000_000_000  # a billion yen of face


def small_book() -> dict[str, Any]:
    """Two banks, three obligations, existing pledges; numbers checkable by hand.

    Dirty price 100 everywhere, so the valuation is 1 - haircut: 0.98 under JSCC
    (2%), 0.99 under the BoJ (1%).
    """
    security = {"kind": "fixed", "coupon_rate": 0.01, "maturity_date": "2034-03-20"}
    return {
        "settlement_date": "2026-07-01",
        "securities": [
            {**security, "isin": isin, "dirty_price": 100.0, "opportunity_cost_bp": 1.0 + i}
            for i, isin in enumerate(ISIN)
        ],
        "holdings": [
            {
                "owner": "MIZUHO",
                "account": "MZH-01",
                "isin": ISIN[0],
                "face": 30 * B,
                "pledged_to": None,
            },
            {
                "owner": "MIZUHO",
                "account": "MZH-01",
                "isin": ISIN[0],
                "face": 20 * B,
                "pledged_to": "MZH-JSCC",
            },
            {
                "owner": "MIZUHO",
                "account": "MZH-01",
                "isin": ISIN[1],
                "face": 30 * B,
                "pledged_to": None,
            },
            {
                "owner": "MIZUHO",
                "account": "MZH-02",
                "isin": ISIN[2],
                "face": 30 * B,
                "pledged_to": None,
            },
            {
                "owner": "MIZUHO",
                "account": "MZH-02",
                "isin": ISIN[2],
                "face": 10 * B,
                "pledged_to": "MZH-BOJ",
            },
            {
                "owner": "NOMURA",
                "account": "NMR-01",
                "isin": ISIN[0],
                "face": 5 * B,
                "pledged_to": "NMR-JSCC",
            },
            {
                "owner": "NOMURA",
                "account": "NMR-01",
                "isin": ISIN[3],
                "face": 20 * B,
                "pledged_to": None,
            },
        ],
        "schedules": [
            {
                "id": "JSCC",
                "eligible_kinds": ["fixed", "tbill"],
                "haircuts": [{"max_residual_years": None, "haircut": 0.02}],
            },
            {
                "id": "BOJ",
                "eligible_kinds": ["fixed", "tbill", "inflation"],
                "haircuts": [{"max_residual_years": None, "haircut": 0.01}],
                "excluded_isins": [ISIN[1]],
            },
        ],
        "obligations": [
            {
                "id": "MZH-JSCC",
                "pledgor": "MIZUHO",
                "pledgee": "JSCC",
                "schedule": "JSCC",
                "required_value": 15 * B,
                "lot_face": 100_000_000,
            },
            {
                "id": "MZH-BOJ",
                "pledgor": "MIZUHO",
                "pledgee": "BOJ",
                "schedule": "BOJ",
                "required_value": 8 * B,
                "lot_face": 100_000_000,
            },
            {
                "id": "NMR-JSCC",
                "pledgor": "NOMURA",
                "pledgee": "JSCC",
                "schedule": "JSCC",
                "required_value": 4 * B,
                "lot_face": 100_000_000,
            },
        ],
    }


def make_plan(
    moves: list[tuple[str, str, str, str, int, int]],
    allocations: list[tuple[str, str, str, int]],
    *,
    plan_id: str | None = None,
    owner: str | None = "MIZUHO",
) -> dict[str, Any]:
    """A plan from (action, obligation, account, isin, face, group) and the target."""
    plan: dict[str, Any] = {
        "status": "optimal",
        "moves": [
            {
                "action": a,
                "obligation": o,
                "account": acc,
                "isin": i,
                "face": f,
                "group": g,
                **({"owner": owner} if owner else {}),
            }
            for a, o, acc, i, f, g in moves
        ],
        "allocations": [
            {"obligation": o, "account": acc, "isin": i, "face": f} for o, acc, i, f in allocations
        ],
    }
    if plan_id:
        plan["plan_id"] = plan_id
    return plan


def assert_sound(ledger: EmbeddedLedger) -> None:
    """The hash chain verifies and every invariant holds."""
    report = verify(ledger)
    assert report.ok, report.problems
    problems = invariant_violations(ledger)
    assert not problems, problems


def _postgres_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (a postgresql:// URL)")
    import psycopg

    schema = "tanpo_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in base else "?"
    try:
        yield f"{base}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


BACKENDS = ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[EmbeddedLedger]:
    """An empty embedded ledger, verified and invariant-checked after the test."""
    with EmbeddedLedger(ledger_url) as opened:
        yield opened
        assert_sound(opened)


@pytest.fixture
def book() -> dict[str, Any]:
    return small_book()


@pytest.fixture
def loaded(ledger: EmbeddedLedger, book: dict[str, Any]) -> EmbeddedLedger:
    """The ledger with the small book loaded (holdings, agreements, obligations, pledges)."""
    from ledger_adapter.book import load_book

    load_book(ledger, parse_book(book))
    return ledger
