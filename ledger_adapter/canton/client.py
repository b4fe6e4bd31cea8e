"""``CantonLedger``: the :class:`~ledger_adapter.protocol.Ledger` protocol over Canton's JSON Ledger API v2.

==========================  ===================================================
protocol                    JSON Ledger API v2 (Canton 3.4 / 3.5)
==========================  ===================================================
``submit``                  ``POST /v2/commands/submit-and-wait-for-transaction``
``active_contracts``        ``POST /v2/state/active-contracts`` at
                            ``activeAtOffset`` (default: the ledger end)
``ledger_end``              ``GET /v2/state/ledger-end``
``updates``                 ``POST /v2/updates?limit=N``, paged by offset up to
                            a fixed ``endInclusive``
==========================  ===================================================

Requests carry ``Authorization: Bearer <token>`` from a token source asked before each
request (an expired token is refreshed once). Failures become the same
:mod:`ledger_adapter.errors` the embedded ledger raises
(:mod:`ledger_adapter.canton.error_codes`), retried as :mod:`ledger_adapter.canton.retry`
describes. When an attempt's outcome is unknown (timeout, dropped connection) and a
retry is then told ``DUPLICATE_COMMAND`` (or, as Canton interprets before it
deduplicates, ``CONTRACT_NOT_FOUND`` on inputs the first attempt consumed), the client
looks for the first attempt's transaction and returns it: the call applied exactly once.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import httpx

from ledger_adapter.canton import wire
from ledger_adapter.canton.auth import TokenSource, current_token, token_user_id
from ledger_adapter.canton.error_codes import Unauthenticated, error_from_response
from ledger_adapter.canton.retry import RetryPolicy, parse_retry_info
from ledger_adapter.canton.wire import (
    ACTIVE_CONTRACTS_PATH,
    LEDGER_END_PATH,
    SUBMIT_PATH,
    UPDATES_PATH,
)
from ledger_adapter.errors import (
    DuplicateCommand,
    InvalidArgument,
    LedgerError,
    RequestTimeout,
    Unavailable,
)
from ledger_adapter.protocol import (
    DEFAULT_USER_ID,
    Command,
    CreatedEvent,
    Parties,
    Transaction,
    TransactionShape,
    party_set,
)

EventHooks = Mapping[str, list[Callable[..., Any]]]


class CantonLedger:
    """A Canton participant's JSON Ledger API v2, as a tanpo :class:`~ledger_adapter.protocol.Ledger`.

    Parameters
    ----------
    base_url
        The participant's JSON API, e.g. ``http://localhost:7575``.
    token
        Bearer token or a callable returning the current one; ``None`` for a
        participant without authorization (a sandbox).
    user_id
        The ``userId`` to submit as; default: the token's ``sub`` (Canton requires the
        two to agree), else :data:`~ledger_adapter.protocol.DEFAULT_USER_ID`.
    timeout
        Seconds per HTTP request (connect, read, write, pool).
    retry
        How retryable failures are retried (:class:`RetryPolicy`).
    package_ids
        Package name -> package id, for participants that must be addressed in the
        deprecated package-id reference format; default: package-name references.
    update_page_size
        ``limit`` per ``/v2/updates`` request (below the participant's
        ``http-list-max-elements-limit``).
    transport, event_hooks, verify
        Passed to :class:`httpx.Client` (tests record and validate every exchange).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource | None = None,
        user_id: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        package_ids: Mapping[str, str] | None = None,
        update_page_size: int = 200,
        transport: httpx.BaseTransport | None = None,
        event_hooks: EventHooks | None = None,
        verify: bool | str = True,
        seed: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgument(f"{base_url!r} is not an http(s) URL", field="ledger")
        if update_page_size < 1:
            raise InvalidArgument("must be >= 1", field="update_page_size")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._user_id = user_id
        self._retry = retry or RetryPolicy()
        self._package_ids = dict(package_ids or {})
        self._page = update_page_size
        self._rng = random.Random(seed)
        self._high_water = 0  # the highest offset this client has seen committed
        self._token_users: dict[str, str] = {}
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            event_hooks={k: list(v) for k, v in (event_hooks or {}).items()},
            verify=verify,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"CantonLedger({self.base_url!r})"

    # --- HTTP ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = current_token(self._token)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _send(
        self, method: str, path: str, body: Any = None, params: Mapping[str, int] | None = None
    ) -> httpx.Response:
        """One request; transport failures as Unavailable (not sent) or RequestTimeout (unknown)."""
        try:
            return self._http.request(
                method, path, json=body, params=params, headers=self._headers()
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unavailable(f"{self.base_url}{path}: cannot connect: {exc!r}") from exc
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"{self.base_url}{path}: no answer in time: {exc!r}") from exc
        except httpx.TransportError as exc:  # dropped connection, protocol error
            raise RequestTimeout(f"{self.base_url}{path}: connection lost: {exc!r}") from exc

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, int] | None = None,
        *,
        command_id: str | None = None,
    ) -> Any:
        """One attempt: the decoded JSON of a 2xx answer, else the mapped error."""
        response = self._send(method, path, body, params)
        if response.status_code == 401 and not isinstance(self._token, str | None):
            error = self._error(response, command_id)
            if error.code == "ACCESS_TOKEN_EXPIRED":  # the source may have a new one
                response = self._send(method, path, body, params)
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise self._not_json_api(path, "the answer is not JSON") from exc
        raise self._error(response, command_id)

    def _not_json_api(self, path: str, what: str) -> LedgerError:
        return LedgerError(
            f"{self.base_url}{path}: {what}: is {self.base_url} a Canton participant's"
            " JSON Ledger API v2?",
            code="UNEXPECTED_ANSWER",
        )

    def _error(self, response: httpx.Response, command_id: str | None) -> LedgerError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = error_from_response(
            response.status_code,
            body,
            response.text,
            command_id=command_id,
            where=f"{self.base_url}{response.request.url.path}",
        )
        if isinstance(body, dict) and body.get("retryInfo"):
            error.context["retry_after_s"] = str(parse_retry_info(body["retryInfo"]))
        return error

    def _retrying(self, action: Callable[[], Any]) -> Any:
        """Run an idempotent read, retrying retryable failures by the policy."""
        started = time.monotonic()
        attempt = 1
        while True:
            try:
                return action()
            except LedgerError as error:
                self._pause_or_raise(error, attempt, started)
                attempt += 1

    def _pause_or_raise(self, error: LedgerError, attempt: int, started: float) -> None:
        policy = self._retry
        if not error.retryable:
            raise error
        if attempt >= policy.max_attempts or time.monotonic() - started >= policy.deadline:
            error.retries_exhausted = attempt > 1  # retried here: callers do not again
            raise error
        floor = float(error.context.get("retry_after_s", 0.0))
        time.sleep(policy.backoff(attempt, self._rng, floor))

    def _seen(self, offset: int) -> None:
        self._high_water = max(self._high_water, offset)

    # --- the protocol -------------------------------------------------------------------

    def _submitting_user(self, user_id: str) -> str | None:
        token = current_token(self._token)
        token_user = None
        if token:
            token_user = self._token_users.get(token)
            if token_user is None:
                if len(self._token_users) > 64:  # rotated tokens
                    self._token_users.clear()
                token_user = self._token_users.setdefault(token, token_user_id(token))
        default = self._user_id or token_user
        if user_id == DEFAULT_USER_ID and default is not None:
            return default
        if token_user is not None and user_id != token_user:
            raise InvalidArgument(
                f"user {user_id!r} differs from the token's user {token_user!r};"
                " Canton submits as the token's user",
                field="user_id",
            )
        return user_id

    def submit(
        self,
        commands: Iterable[Command],
        *,
        act_as: Parties,
        read_as: Parties = (),
        command_id: str,
        user_id: str = DEFAULT_USER_ID,
        submission_id: str | None = None,
        deduplication_window: timedelta | None = None,
        workflow_id: str | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Transaction:
        """Commit ``commands`` as one transaction (see :meth:`Ledger.submit <ledger_adapter.protocol.Ledger.submit>`).

        Retries by the policy; every retry keeps ``command_id`` and carries a new
        ``submissionId``. After an attempt whose outcome is unknown, a retry that is
        deduplicated or rejected (Canton interprets before it deduplicates, so inputs the
        first attempt consumed give ``CONTRACT_NOT_FOUND``) looks for the command's
        transaction after the highest offset this client had seen before the call, and
        returns it when found. Raises :class:`~ledger_adapter.errors.DuplicateCommand`
        when the change was committed by an earlier call, with the original transaction
        when the participant says where it completed (Canton 3.x ``completion_offset``),
        and :class:`~ledger_adapter.errors.RequestTimeout` when the retries ran out with
        the outcome still unknown.
        """
        command_list = list(commands)
        if not command_list:
            raise InvalidArgument("must not be empty", field="commands")
        if not command_id:
            raise InvalidArgument("must not be empty", field="commandId")
        acting = party_set(act_as)
        reading = party_set(read_as) if read_as else frozenset()
        viewers = acting | reading
        user = self._submitting_user(user_id)
        begin_hint = self._high_water  # the first attempt's transaction lies after this
        started = time.monotonic()
        outcome_unknown = False
        attempt = 1
        while True:
            body = {
                "commands": wire.js_commands(
                    command_list,
                    act_as=acting,
                    read_as=reading,
                    command_id=command_id,
                    user_id=user,
                    submission_id=submission_id if attempt == 1 and submission_id else _new_id(),
                    deduplication_window=deduplication_window,
                    workflow_id=workflow_id,
                    package_ids=self._package_ids,
                ),
                "transactionFormat": wire.transaction_format(viewers, transaction_shape),
            }
            try:
                answer = self._call("POST", SUBMIT_PATH, body, command_id=command_id)
                tx = wire.parse_transaction(answer.get("transaction"), "transaction")
                self._seen(tx.offset)
                return tx
            except DuplicateCommand as duplicate:
                original = self._original(duplicate, viewers, transaction_shape)
                if original is None and outcome_unknown:
                    original = self._find(command_id, viewers, begin_hint, transaction_shape)
                if original is not None and outcome_unknown:
                    return original  # our own earlier attempt committed: done, once
                raise DuplicateCommand(
                    command_id,
                    original=original,
                    completion_offset=duplicate.completion_offset,
                    submission_id=duplicate.submission_id,
                    code=duplicate.code,
                ) from None
            except LedgerError as error:
                if outcome_unknown and not error.retryable:
                    # e.g. CONTRACT_NOT_FOUND on inputs our own earlier attempt consumed
                    mine = self._find(command_id, viewers, begin_hint, transaction_shape)
                    if mine is not None:
                        return mine
                outcome_unknown = outcome_unknown or isinstance(error, RequestTimeout)
                try:
                    self._pause_or_raise(error, attempt, started)
                except LedgerError:
                    if (
                        outcome_unknown
                        and error.retryable
                        and not isinstance(error, RequestTimeout)
                    ):
                        unknown = RequestTimeout(
                            f"command {command_id!r}: an earlier attempt's outcome is unknown"
                            f" and the retries ran out ({error}); retry with the same command id"
                        )
                        unknown.retries_exhausted = True
                        raise unknown from error
                    raise
                attempt += 1

    def _original(
        self, duplicate: DuplicateCommand, viewers: frozenset[str], shape: TransactionShape
    ) -> Transaction | None:
        """The transaction at the duplicate's completion offset, when the participant gave one."""
        offset = duplicate.completion_offset
        if offset is None or offset < 1:
            return None
        for tx in self.updates(offset - 1, viewers, end_inclusive=offset, transaction_shape=shape):
            if tx.command_id in (None, duplicate.command_id):
                return tx
        return None

    def _find(
        self, command_id: str, viewers: frozenset[str], begin: int, shape: TransactionShape
    ) -> Transaction | None:
        """The transaction of ``command_id`` after offset ``begin``, if committed."""
        for tx in self.updates(begin, viewers, transaction_shape=shape):
            if tx.command_id == command_id:
                return tx
        return None

    def ledger_end(self) -> int:
        """``GET /v2/state/ledger-end`` (0 on an empty ledger)."""
        answer = self._retrying(lambda: self._call("GET", LEDGER_END_PATH))
        # {} on an empty ledger where zero is left out of the JSON; another server's
        # JSON without an offset is not taken for an empty ledger
        offset = answer.get("offset", None if answer else 0) if isinstance(answer, dict) else None
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise self._not_json_api(LEDGER_END_PATH, f"unexpected answer {str(answer)[:200]}")
        self._seen(offset)
        return offset

    def active_contracts(
        self,
        parties: Parties,
        template_id: str | None = None,
        at_offset: int | None = None,
    ) -> tuple[CreatedEvent, ...]:
        """``POST /v2/state/active-contracts`` at ``at_offset`` (default: the ledger end now).

        Contracts in flight between synchronizers (``JsIncompleteUnassigned``) are left
        out: they cannot be used until assigned.
        """
        wanted = party_set(parties)
        at = self.ledger_end() if at_offset is None else at_offset
        if at < 0:
            raise InvalidArgument("must be >= 0", field="activeAtOffset")
        if at == 0:
            return ()
        template = template_id
        if template is not None and self._package_ids:
            template = wire.package_id_form(template, self._package_ids)
        body = wire.active_contracts_request(wanted, template, at)
        answer = self._retrying(lambda: self._call("POST", ACTIVE_CONTRACTS_PATH, body))
        if not isinstance(answer, list):
            raise self._not_json_api(ACTIVE_CONTRACTS_PATH, f"expected a list, got {type(answer)}")
        found: list[CreatedEvent] = []
        for i, item in enumerate(answer):
            entry = (item or {}).get("contractEntry") or {}
            active = entry.get("JsActiveContract") or (entry.get("JsIncompleteAssigned") or {}).get(
                "assignedEvent"
            )
            if active:
                found.append(
                    wire.parse_created_event(active["createdEvent"], f"[{i}].createdEvent")
                )
        return tuple(sorted(found, key=lambda e: (e.offset, e.node_id)))

    def updates(
        self,
        begin_exclusive: int,
        parties: Parties,
        *,
        end_inclusive: int | None = None,
        transaction_shape: TransactionShape = TransactionShape.ACS_DELTA,
    ) -> Iterator[Transaction]:
        """``POST /v2/updates`` from ``begin_exclusive`` to ``end_inclusive`` (default: the
        ledger end when called), in pages of ``update_page_size``."""
        wanted = party_set(parties)
        if begin_exclusive < 0:
            raise InvalidArgument("must be >= 0", field="beginExclusive")
        end = self.ledger_end() if end_inclusive is None else end_inclusive
        return self._pages(begin_exclusive, end, wanted, transaction_shape)

    def _pages(
        self, cursor: int, end: int, wanted: frozenset[str], shape: TransactionShape
    ) -> Iterator[Transaction]:
        while cursor < end:
            body = wire.updates_request(cursor, end, wanted, shape)
            request = functools.partial(
                self._call, "POST", UPDATES_PATH, body, {"limit": self._page}
            )
            answer = self._retrying(request)
            if not isinstance(answer, list):
                raise self._not_json_api(UPDATES_PATH, f"expected a list, got {type(answer)}")
            advanced = cursor
            for item in answer:
                update = (item or {}).get("update") or {}
                if "Transaction" in update:
                    tx = wire.parse_transaction(update["Transaction"]["value"], "Transaction")
                    advanced = max(advanced, tx.offset)
                    self._seen(tx.offset)
                    yield tx
                else:  # OffsetCheckpoint, Reassignment, TopologyTransaction: just advance
                    wrapped: dict[str, Any] = next(iter(update.values()), {})
                    offset = (wrapped.get("value") or {}).get("offset")
                    if isinstance(offset, int):
                        advanced = max(advanced, offset)
            if len(answer) < self._page or advanced == cursor:
                return
            cursor = advanced

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> CantonLedger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _new_id() -> str:
    return uuid.uuid4().hex


__all__ = ["CantonLedger", "Unauthenticated"]
