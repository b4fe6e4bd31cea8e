"""The JSON Ledger API path: ``CantonLedger`` -> HTTP -> loopback participant -> embedded ledger.

Peers in the same run, on the same seeded book (:func:`ledger_adapter.testing.synthetic_book`,
one bank, FLAT haircut schedule) and the same commands:

- ``embedded``: the embedded ledger called directly (SQLite WAL, ``synchronous=FULL``);
- ``round trip``: an authenticated ``GET /v2/state/ledger-end``, the HTTP floor of one call.

The participant runs in its own process (forked), as a real one would: a server thread in
the benchmark's process would share the GIL with the client and measure lock convoys,
not the API. Each move is one pledge order (the agreement's
``PledgeAgreement_Rebalance``), built by
:func:`ledger_adapter.rebalance.rebalance_commands` from the pledgor's live state (the
executor's own path), submitted as one transaction; command building is inside the timed
loop on both sides. The 1,000-move plan is :func:`ledger_adapter.testing.substitution_plan`
(500 substitutions) carried out by :func:`ledger_adapter.executor.execute_plan` as one
transaction, on a freshly loaded ledger per run (loading is not timed): it includes the
executor's reads of the live state before and after.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.harness import Context, benchmark
from ledger_adapter.book import load_book, parse_book
from ledger_adapter.canton import CantonLedger, JsonApiServer, RetryPolicy, UserRights, user_token
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.executor import execute_plan
from ledger_adapter.plan import parse_plan
from ledger_adapter.protocol import Ledger
from ledger_adapter.rebalance import LiveState, rebalance_commands
from ledger_adapter.testing import substitution_plan, synthetic_book

SECRET = "tanpo-benchmark-loopback-secret-0123456789abcdef"
PLEDGOR = "BANK1"
USERS = {"ops": UserRights(frozenset({"BOJ", "JSCC", PLEDGOR}))}
PATIENT = RetryPolicy(max_attempts=8, initial_backoff=0.01, max_backoff=0.5)


def _participant(ledger_url: str, ready: Connection) -> None:
    """A participant process: the loopback server over the embedded ledger at ``ledger_url``."""
    server = JsonApiServer(EmbeddedLedger(ledger_url), users=USERS, secret=SECRET)
    ready.send(server.url)
    server.serve_forever()


@contextmanager
def participant(ledger_url: str) -> Iterator[CantonLedger]:
    """A client of a loopback participant running in a child process."""
    if "fork" in multiprocessing.get_all_start_methods():
        context: Any = multiprocessing.get_context("fork")  # instant: modules already loaded
    else:
        context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_participant, args=(ledger_url, theirs), daemon=True)
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the loopback participant did not start")
        url = ours.recv()
        with CantonLedger(url, token=user_token("ops", secret=SECRET), retry=PATIENT) as client:
            client.ledger_end()  # connected and authorized
            yield client
    finally:
        process.terminate()
        process.join(10)


class Mover:
    """Submits one-move transactions (one pledge order each), keeping the live state."""

    def __init__(self, ledger: Ledger, book: dict[str, Any], lot_face: int) -> None:
        self.ledger = ledger
        self.state = LiveState.read(ledger, [PLEDGOR])
        self.free = sorted(
            {(h["account"], h["isin"]) for h in book["holdings"] if not h["pledged_to"]}
        )
        self.obligations = sorted(o["id"] for o in book["obligations"])
        self.lot_face = lot_face
        self.count = 0

    def moves(self, n: int) -> None:
        for _ in range(n):
            i = self.count
            account, isin = self.free[i % len(self.free)]
            order = (self.obligations[i % len(self.obligations)], account, isin, self.lot_face)
            commands = rebalance_commands(self.state, [([], [order])])
            tx = self.ledger.submit(commands, act_as=[PLEDGOR], command_id=f"move-{i}")
            self.state.apply(tx)
            self.count += 1


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _book(isins: int, lots: int, lot_face: int) -> dict[str, Any]:
    return synthetic_book(
        banks=1, isins_per_bank=isins, obligations_per_bank=4, lots=lots, lot_face=lot_face
    )


@benchmark(
    "ledger_json_api.one_move",
    "one-move transactions/s through the JSON API on loopback, beside the embedded ledger",
)
def one_move(ctx: Context) -> None:
    k = ctx.size(full=200, quick=3)  # moves per timed run
    lot_face = 100_000_000
    runs = ctx.repeat + 1
    free_isins = max(4, (runs * k) // 8 + 1)  # 10 lots each: enough free face for every run
    book = _book(2 * free_isins, 10, lot_face)
    ctx.param(moves_per_run=k, free_isins=free_isins, lots=10, lot_face=lot_face)
    with tempfile.TemporaryDirectory() as tmp:
        direct = EmbeddedLedger(f"sqlite:///{Path(tmp) / 'direct.db'}")
        load_book(direct, parse_book(book))
        served_url = f"sqlite:///{Path(tmp) / 'served.db'}"
        with participant(served_url) as client:
            load_book(client, parse_book(book))
            over_http, embedded = Mover(client, book, lot_face), Mover(direct, book, lot_face)
            over_http.moves(2)  # warm: connection, caches
            embedded.moves(2)
            # interleaved, so drifting load on a shared machine hits both sides alike
            seconds: dict[str, list[float]] = {"json": [], "embedded": [], "trip": []}
            m = 10 * k
            for _ in range(ctx.repeat):
                seconds["json"].append(_timed(lambda: over_http.moves(k)))
                seconds["embedded"].append(_timed(lambda: embedded.moves(k)))
                seconds["trip"].append(_timed(lambda: [client.ledger_end() for _ in range(m)]))
            ctx.record("one_move", seconds["json"], items=k)
            ctx.record("one_move", seconds["embedded"], items=k, who="embedded")
            ctx.record("round_trip", seconds["trip"], items=m, who="round trip")
        direct.close()
    ours = ctx.timing("one_move").per_item("median") or float("nan")
    alone = ctx.timing("one_move", "embedded").per_item("median") or float("nan")
    trip = ctx.timing("round_trip", "round trip").per_item("median") or float("nan")
    ctx.metric("JSON API one-move transactions", 1.0 / ours, "tx/s")
    ctx.metric("embedded one-move transactions (same run)", 1.0 / alone, "tx/s")
    ctx.metric("JSON API time per move / embedded", ours / alone, "x")
    ctx.metric("JSON API cost per move over embedded", (ours - alone) * 1e3, "ms")
    ctx.metric("authenticated HTTP round trip (GET ledger-end)", trip * 1e6, "us")
    ctx.note(
        "Participant forked into its own process (client and server would otherwise share"
        " the GIL). Each move: rebalance_commands from the live state + one submit + state"
        " update, the executor's path; the JSON API adds client encode, HTTP/1.1 keep-alive,"
        " token check (cached per token), server decode, projection encode, client decode."
    )


@benchmark(
    "ledger_json_api.plan_1000",
    "a 1,000-move plan as one transaction through the JSON API, beside the embedded ledger",
)
def plan_1000(ctx: Context) -> None:
    substitutions = ctx.size(full=500, quick=5)  # 2 moves each
    runs = 1 if ctx.quick else 3
    book = _book(max(20, 2 * substitutions), 10, 100_000_000)
    plan = parse_plan(substitution_plan(book, substitutions, seed=ctx.seed))
    moves = len(plan.moves)
    ctx.param(moves=moves, runs=runs, isins=len(book["securities"]))
    over_http: list[float] = []
    embedded: list[float] = []
    for run in range(runs):  # interleaved: each run times both sides
        with tempfile.TemporaryDirectory() as tmp:
            direct = EmbeddedLedger(f"sqlite:///{Path(tmp) / 'direct.db'}")
            load_book(direct, parse_book(book))
            with ctx.phase(f"embedded run {run}", items=moves, who="embedded"):
                report = execute_plan(direct, plan, parties=[PLEDGOR])
            assert report.reconciled, report.mismatches
            embedded.append(ctx.timings.pop().seconds[0])
            direct.close()
            with participant(f"sqlite:///{Path(tmp) / 'served.db'}") as client:
                load_book(client, parse_book(book))
                with ctx.phase(f"json api run {run}", items=moves):
                    report = execute_plan(client, plan, parties=[PLEDGOR])
                assert report.reconciled, report.mismatches
                over_http.append(ctx.timings.pop().seconds[0])
    ctx.record("execute_plan", over_http, items=moves)
    ctx.record("execute_plan", embedded, items=moves, who="embedded")
    ours_s, direct_s = sorted(over_http)[runs // 2], sorted(embedded)[runs // 2]
    ctx.metric("JSON API plan time (median)", ours_s, "s")
    ctx.metric("embedded plan time (median, same run)", direct_s, "s")
    ctx.metric("JSON API plan time / embedded", ours_s / direct_s, "x")
    ctx.note(
        "execute_plan on a freshly loaded ledger per run (loading untimed): read the"
        " pledgor's live state, build one RebalanceBatch, submit, reconcile. The JSON API"
        " side reads the active contracts and gets the transaction back over HTTP."
    )
