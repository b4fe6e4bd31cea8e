"""tanpo on Canton: the JSON Ledger API v2 client, and a loopback participant to test it.

- :class:`CantonLedger` (:mod:`.client`): the :class:`~ledger_adapter.protocol.Ledger`
  protocol over a participant's JSON API; :func:`connect` builds one from a URL and the
  environment (``$TANPO_CANTON_TOKEN`` or ``$TANPO_CANTON_TOKEN_FILE``).
- :class:`JsonApiServer` (:mod:`.server`): the same endpoints over any ``Ledger`` (the
  embedded one), on 127.0.0.1, with user rights and injectable faults;
  ``python -m ledger_adapter.canton`` runs it as a program.
- :mod:`.wire` (request/response shapes), :mod:`.error_codes` (Canton errors <-> tanpo
  errors), :mod:`.retry` (the retry policy), :mod:`.auth` (tokens; the user rights they stand for are
  :class:`~ledger_adapter.protocol.UserRights`).
"""

from __future__ import annotations

from ledger_adapter.canton.auth import (
    TokenSource,
    TokenVerifier,
    env_token_source,
    token_user_id,
    user_token,
)
from ledger_adapter.canton.client import CantonLedger
from ledger_adapter.canton.error_codes import Unauthenticated
from ledger_adapter.canton.faults import Fault
from ledger_adapter.canton.retry import NO_RETRY, RetryPolicy
from ledger_adapter.canton.server import JsonApiServer
from ledger_adapter.canton.wire import template_id
from ledger_adapter.protocol import UserRights
from ledger_adapter.templates import PACKAGE_NAME

__all__ = [
    "NO_RETRY",
    "PACKAGE_NAME",
    "CantonLedger",
    "Fault",
    "JsonApiServer",
    "RetryPolicy",
    "TokenSource",
    "TokenVerifier",
    "Unauthenticated",
    "UserRights",
    "connect",
    "env_token_source",
    "template_id",
    "token_user_id",
    "user_token",
]


def connect(
    url: str,
    *,
    token: TokenSource | None = None,
    user_id: str | None = None,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
) -> CantonLedger:
    """A :class:`CantonLedger` for an ``http(s)://`` participant URL.

    ``token`` defaults to :func:`env_token_source` (``$TANPO_CANTON_TOKEN``, or the file
    named by ``$TANPO_CANTON_TOKEN_FILE``, re-read at every request).
    """
    return CantonLedger(
        url,
        token=token if token is not None else env_token_source(),
        user_id=user_id,
        timeout=timeout,
        retry=retry,
    )
