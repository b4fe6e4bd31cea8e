"""A loopback participant: the JSON Ledger API v2 endpoints tanpo uses, over any ``Ledger``.

No Canton node can be installed here, so this server stands in for one: the same
paths, request and response JSON (:mod:`ledger_adapter.canton.wire`, validated against
the published OpenAPI specification in the tests), Canton-style error bodies and HTTP
statuses (:mod:`ledger_adapter.canton.error_codes`), bearer-token checks and user
rights (``CanActAs``/``CanReadAs``, :mod:`ledger_adapter.canton.auth`), and injectable
faults (:mod:`ledger_adapter.canton.faults`). Behind it sits a ledger, normally the
embedded one, so :class:`~ledger_adapter.canton.client.CantonLedger` can be exercised
end to end on 127.0.0.1 and ``tanpo execute --ledger http://127.0.0.1:PORT`` can run
against it.

It is the standard library's threading HTTP/1.1 server (keep-alive, one thread per
connection); a request's reads hold one lock, so a request that reads twice (ledger
end, then updates) sees one state. Submissions do not take it: the ledger behind the
server must be thread-safe, as the embedded one is, and submissions from several
connections then share its commits (:mod:`ledger_adapter.group_commit`). Measured against uvicorn around the same handler, with the server in
its own process: 1.7-2.0 ms per authenticated GET and 4.9-5.7 ms per one-create
submit, against 1.7-2.4 ms and 6.0 ms (a loaded 2-core machine): no reason for the
extra dependency.

==========================================================  =======================
endpoint                                                    ledger call
==========================================================  =======================
``POST /v2/commands/submit-and-wait-for-transaction``       ``submit``
``POST /v2/state/active-contracts``                         ``active_contracts``
``GET /v2/state/ledger-end``                                ``ledger_end``
``POST /v2/updates`` (``?limit=N``)                         ``updates``
==========================================================  =======================

Templates are answered in the package-id format with ``packageName``, as a participant
does; the package id is a stand-in (:data:`LOOPBACK_PACKAGE_ID`), since no DAR is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger_adapter.canton import wire
from ledger_adapter.canton.auth import TokenVerifier
from ledger_adapter.canton.error_codes import error_body
from ledger_adapter.canton.faults import ArmedFault, Fault, FaultPlan
from ledger_adapter.errors import (
    ContractNotFound,
    DuplicateCommand,
    InvalidArgument,
    LedgerError,
    LockedContracts,
    PermissionDenied,
    RequestTimeout,
    Unavailable,
)
from ledger_adapter.protocol import (
    Command,
    CreatedEvent,
    ExerciseCommand,
    Ledger,
    Transaction,
    TransactionShape,
    UserRights,
)
from ledger_adapter.templates import PACKAGE_NAME

log = logging.getLogger(__name__)

LOOPBACK_PACKAGE_ID = hashlib.sha256(PACKAGE_NAME.encode()).hexdigest()
"""Stand-in package id of ``tanpo-collateral`` (a real one hashes the compiled DALF)."""

LOOPBACK_SYNCHRONIZER_ID = "tanpo-loopback::1220" + hashlib.sha256(b"tanpo-loopback").hexdigest()

PartyFilters = dict[str, frozenset[str] | None]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the HTTP layer sends: a JSON (or plain-text) body, or nothing at all."""

    status: int
    body: Any
    text: bool = False
    drop: bool = False
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission as received (tests check retries carried fresh submission ids)."""

    command_id: str
    submission_id: str | None
    user_id: str
    act_as: tuple[str, ...]


@dataclass
class _Request:
    user_id: str
    rights: UserRights
    body: dict[str, Any]
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class JsonApiServer:
    """The loopback participant (see the module docstring).

    Parameters
    ----------
    ledger
        The ledger behind the API (the server does not close it).
    users
        user id -> its rights; a token for any other user is refused.
    secret
        HS256 key the bearer tokens are checked with (or pass ``verifier``).
    port
        0 picks a free port; :attr:`url` says which.
    max_list_elements
        Canton's ``http-list-max-elements-limit``: a list answer longer than this is
        413 unless the request's ``limit`` truncates it.
    interpret_before_dedup
        Answer a resubmission whose inputs are consumed with ``CONTRACT_NOT_FOUND``
        rather than ``DUPLICATE_COMMAND``, as a participant that interprets before it
        deduplicates does.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        users: Mapping[str, UserRights],
        secret: str | None = None,
        verifier: TokenVerifier | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        package_ids: Mapping[str, str] | None = None,
        synchronizer_id: str = LOOPBACK_SYNCHRONIZER_ID,
        max_list_elements: int = 100_000,
        interpret_before_dedup: bool = False,
    ) -> None:
        if verifier is None:
            if secret is None:
                raise InvalidArgument("give the token secret or a verifier", field="secret")
            verifier = TokenVerifier(secret)
        self.ledger = ledger
        self.users = dict(users)
        self.verifier = verifier
        self.package_ids = dict(package_ids or {PACKAGE_NAME: LOOPBACK_PACKAGE_ID})
        self._package_names = {v: k for k, v in self.package_ids.items()}
        self.synchronizer_id = synchronizer_id
        self.max_list_elements = max_list_elements
        self.interpret_before_dedup = interpret_before_dedup
        self.faults = FaultPlan()
        self.submissions: list[Submission] = []
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[str, float]] = {}  # header -> (user, expiry)
        self._routes: dict[tuple[str, str], Callable[[_Request], Any]] = {
            ("POST", wire.SUBMIT_PATH): self._submit,
            ("POST", wire.ACTIVE_CONTRACTS_PATH): self._active_contracts,
            ("GET", wire.LEDGER_END_PATH): self._ledger_end,
            ("POST", wire.UPDATES_PATH): self._updates,
        }
        self._httpd = _HttpServer((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (a participant process's main loop)."""
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> JsonApiServer:
        """Serve in a daemon thread; returns at once."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> JsonApiServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- dispatch -----------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], auth: str | None, raw: bytes
    ) -> Reply:
        """Answer one request (the HTTP layer only reads and writes bytes)."""
        route = self._routes.get((method, path))
        if route is None:
            return Reply(404, f"no endpoint {method} {path}", text=True)
        try:
            user_id = self._user_of(auth)
            rights = self.users.get(user_id)
            if rights is None:
                raise PermissionDenied(f"user {user_id!r} is not known to this participant")
            body: Any = {}
            if method == "POST":
                try:
                    body = json.loads(raw or b"null")
                except ValueError as exc:
                    return Reply(400, f"Invalid value for: body ({exc})", text=True)
                if not isinstance(body, dict):
                    return Reply(400, "Invalid value for: body (expected an object)", text=True)
            limit = _limit(query)
            if path == wire.SUBMIT_PATH:
                self._record_submission(user_id, body)
            armed = self.faults.take(path)
            if armed is not None and not armed.fault.commits:
                raise _failure(armed.fault)
            result = route(_Request(user_id, rights, body, limit))
        except LedgerError as error:
            status, payload = error_body(error)
            return Reply(413 if isinstance(error, _ListTooLongError) else status, payload)
        except (KeyError, TypeError, ValueError) as exc:
            status, payload = error_body(InvalidArgument(f"malformed request: {exc!r}"))
            return Reply(status, payload)
        except Exception as exc:  # a server bug: answer as a participant would
            log.exception("loopback participant: %s %s failed", method, path)
            status, payload = error_body(LedgerError(f"internal error: {exc!r}"))
            return Reply(status, payload)
        if armed is not None:
            return _after_commit(armed, result)
        return Reply(200, result)

    def _record_submission(self, user_id: str, body: dict[str, Any]) -> None:
        commands = body.get("commands")
        if isinstance(commands, dict) and isinstance(commands.get("commandId"), str):
            act_as = tuple(sorted(str(p) for p in commands.get("actAs") or ()))
            submission = Submission(
                commands["commandId"], commands.get("submissionId"), user_id, act_as
            )
            with self._lock:
                self.submissions.append(submission)

    def _user_of(self, authorization: str | None) -> str:
        """The token's user, verified once per token and then cached until it expires."""
        if authorization is not None:
            cached = self._verified.get(authorization)
            if cached is not None and time.time() < cached[1]:
                return cached[0]
        user_id = self.verifier.user_id(authorization)
        assert authorization is not None  # verified above
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[authorization] = (user_id, self.verifier.expiry(authorization))
        return user_id

    # --- endpoints ----------------------------------------------------------------------

    def _template(self, template: str) -> str:
        """A request's template id in the package-name form the ledger uses."""
        reference, module, entity = wire.split_template_id(template)
        if reference.startswith("#"):
            return template
        name = self._package_names.get(reference)
        if name is None:
            raise InvalidArgument(f"package {reference} is not known here", field="templateId")
        return f"#{name}:{module}:{entity}"

    def _command(self, value: object, where: str) -> Command:
        command = wire.parse_command(value, where)
        return replace(command, template_id=self._template(command.template_id))

    def _filters(self, value: object, where: str) -> PartyFilters:
        parsed = wire.parse_event_format(value, where)
        return {
            party: None if templates is None else frozenset(self._template(t) for t in templates)
            for party, templates in parsed.items()
        }

    def _submit(self, request: _Request) -> Any:
        commands_json = request.body["commands"]
        act_as = frozenset(commands_json["actAs"])
        read_as = frozenset(commands_json.get("readAs") or ())
        if commands_json.get("userId", request.user_id) != request.user_id:
            raise PermissionDenied(
                f"userId {commands_json['userId']!r} is not the token's user {request.user_id!r}"
            )
        request.rights.check(request.user_id, act_as, read_as)
        commands = [
            self._command(c, f"commands.commands[{i}]")
            for i, c in enumerate(commands_json["commands"])
        ]
        transaction_format = request.body.get("transactionFormat")
        if transaction_format:
            filters = self._filters(transaction_format["eventFormat"], "transactionFormat")
            shape = TransactionShape.parse(transaction_format["transactionShape"])
        else:
            filters, shape = dict.fromkeys(act_as | read_as), TransactionShape.ACS_DELTA
        request.rights.check(request.user_id, frozenset(), frozenset(filters))
        submission_id = commands_json.get("submissionId")
        try:
            tx = self.ledger.submit(
                commands,
                act_as=act_as,
                read_as=read_as,
                command_id=commands_json["commandId"],
                user_id=request.user_id,
                submission_id=submission_id,
                deduplication_window=_deduplication_window(
                    commands_json.get("deduplicationPeriod")
                ),
                workflow_id=commands_json.get("workflowId"),
                transaction_shape=shape,
            )
        except DuplicateCommand:
            if self.interpret_before_dedup:
                consumed = self._consumed_inputs(commands, act_as | read_as)
                if consumed:
                    raise ContractNotFound(consumed) from None
            raise
        if not set(filters) <= act_as | read_as:
            tx = self._transaction_at(tx.offset, frozenset(filters), shape) or tx
        return {"transaction": self._transaction_json(_narrow(tx, filters))}

    def _consumed_inputs(self, commands: list[Command], parties: frozenset[str]) -> list[str]:
        inputs = [c.contract_id for c in commands if isinstance(c, ExerciseCommand)]
        active = {e.contract_id for e in self.ledger.active_contracts(parties)}
        return [cid for cid in inputs if cid not in active]

    def _transaction_at(
        self, offset: int, parties: frozenset[str], shape: TransactionShape
    ) -> Transaction | None:
        for tx in self.ledger.updates(
            offset - 1, parties, end_inclusive=offset, transaction_shape=shape
        ):
            return tx
        return None

    def _transaction_json(self, tx: Transaction) -> dict[str, Any]:
        return wire.transaction_json(
            tx, synchronizer_id=self.synchronizer_id, package_ids=self.package_ids
        )

    def _active_contracts(self, request: _Request) -> Any:
        at = request.body["activeAtOffset"]
        if not isinstance(at, int) or at < 0:
            raise InvalidArgument(
                f"must be a non-negative integer, got {at!r}", field="activeAtOffset"
            )
        event_format = request.body.get("eventFormat") or request.body.get("filter")
        filters = self._filters(event_format, "eventFormat")
        request.rights.check(request.user_id, frozenset(), frozenset(filters))
        groups: dict[frozenset[str] | None, set[str]] = {}
        for party, templates in filters.items():
            groups.setdefault(templates, set()).add(party)
        found: dict[str, CreatedEvent] = {}
        with self._lock:
            for templates, parties in groups.items():
                for template in sorted(templates) if templates is not None else [None]:
                    for event in self.ledger.active_contracts(parties, template, at):
                        seen = found.get(event.contract_id)
                        if seen is not None:
                            union = sorted({*seen.witness_parties, *event.witness_parties})
                            found[event.contract_id] = replace(seen, witness_parties=tuple(union))
                        else:
                            found[event.contract_id] = event
        events = sorted(found.values(), key=lambda e: (e.offset, e.node_id))
        self._check_list_size(len(events), request.limit)
        return [
            {
                "contractEntry": {
                    "JsActiveContract": {
                        "createdEvent": wire.created_event_json(e, package_ids=self.package_ids),
                        "synchronizerId": self.synchronizer_id,
                        "reassignmentCounter": 0,
                    }
                }
            }
            for e in events[: request.limit]
        ]

    def _check_list_size(self, count: int, limit: int | None) -> None:
        if count > self.max_list_elements and (limit is None or limit > self.max_list_elements):
            raise _ListTooLongError(
                f"the answer has {count} elements, more than http-list-max-elements-limit"
                f" {self.max_list_elements}; page with ?limit= or use the websocket endpoint"
            )

    def _ledger_end(self, _request: _Request) -> Any:
        with self._lock:
            return {"offset": self.ledger.ledger_end()}

    def _updates(self, request: _Request) -> Any:
        body = request.body
        begin = body.get("beginExclusive", 0)
        if not isinstance(begin, int) or begin < 0:
            raise InvalidArgument(
                f"must be a non-negative integer, got {begin!r}", field="beginExclusive"
            )
        transactions = (body.get("updateFormat") or {}).get("includeTransactions")
        if transactions is not None:
            filters = self._filters(transactions["eventFormat"], "updateFormat")
            shape = TransactionShape.parse(transactions["transactionShape"])
        elif body.get("filter") is not None:  # the 3.4 legacy form
            filters, shape = self._filters(body["filter"], "filter"), TransactionShape.ACS_DELTA
        else:
            return []  # no transactions asked for
        request.rights.check(request.user_id, frozenset(), frozenset(filters))
        cap = (
            self.max_list_elements
            if request.limit is None
            else min(request.limit, self.max_list_elements)
        )
        out: list[dict[str, Any]] = []
        with self._lock:
            end = body.get("endInclusive")
            end = self.ledger.ledger_end() if end is None else end
            for tx in self.ledger.updates(
                begin, frozenset(filters), end_inclusive=end, transaction_shape=shape
            ):
                view = _narrow(tx, filters)
                if not view.events:
                    continue
                if len(out) == cap:
                    self._check_list_size(cap + 1, request.limit)
                    break
                out.append({"update": {"Transaction": {"value": self._transaction_json(view)}}})
        return out


class _ListTooLongError(LedgerError):
    """413: more elements than ``http-list-max-elements-limit``."""

    default_code = "HTTP_LIST_MAX_ELEMENTS_LIMIT_EXCEEDED"
    category = 8
    grpc_status = "INVALID_ARGUMENT"


def _failure(fault: Fault) -> LedgerError:
    if fault is Fault.LOCKED:
        return LockedContracts("Rejected transaction is referring to locked contracts (injected)")
    if fault is Fault.UNAVAILABLE:
        return Unavailable("the participant is not ready (injected)")
    return RequestTimeout("the request timed out; its outcome is unknown (injected)")


def _after_commit(armed: ArmedFault, result: Any) -> Reply:
    if armed.fault is Fault.DROP_AFTER_COMMIT:
        return Reply(0, None, drop=True)
    if armed.fault is Fault.SLOW_AFTER_COMMIT:
        return Reply(200, result, delay=armed.delay)
    status, payload = error_body(_failure(Fault.TIMEOUT))
    return Reply(status, payload)


def _limit(query: Mapping[str, list[str]]) -> int | None:
    values = query.get("limit")
    if not values:
        return None
    if not values[0].isdigit() or int(values[0]) < 1:
        raise InvalidArgument(f"limit must be a positive integer, got {values[0]!r}", field="limit")
    return int(values[0])


def _deduplication_window(value: object) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidArgument(
            f"expected one deduplication period, got {value!r}", field="deduplicationPeriod"
        )
    ((kind, inner),) = value.items()
    if kind == "Empty":
        return None
    if kind == "DeduplicationDuration":
        return wire.parse_duration(inner["value"], "deduplicationPeriod.DeduplicationDuration")
    raise InvalidArgument(
        f"{kind} is not supported here; give a DeduplicationDuration",
        field="deduplicationPeriod",
        code="INVALID_DEDUPLICATION_PERIOD",
    )


def _narrow(tx: Transaction, filters: PartyFilters) -> Transaction:
    """``tx`` with each event's witnesses restricted to the parties whose filter admits it."""
    events = []
    for event in tx.events:
        witnesses = tuple(
            p
            for p in event.witness_parties
            if p in filters and (filters[p] is None or event.template_id in (filters[p] or ()))
        )
        if witnesses:
            events.append(
                event
                if witnesses == event.witness_parties
                else replace(event, witness_parties=witnesses)
            )
    return (
        tx
        if len(events) == len(tx.events)
        and all(a is b for a, b in zip(events, tx.events, strict=True))
        else replace(tx, events=tuple(events))
    )


# --- HTTP plumbing ----------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], participant: JsonApiServer
    ):
        self.participant = participant
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        reply = self.server.participant.handle(
            method, url.path, parse_qs(url.query), self.headers.get("Authorization"), raw
        )
        if reply.drop:
            self.close_connection = True
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.text:
            data, content_type = str(reply.body).encode(), "text/plain; charset=utf-8"
        else:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
            content_type = "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
