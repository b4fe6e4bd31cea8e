"""Ledger API user tokens: what the client sends and what the loopback server checks.

Canton authorizes a JSON API request by ``Authorization: Bearer <JWT>``. tanpo uses
*user tokens* (Canton "scope-based" format): ``sub`` is the participant user id,
``scope`` contains ``daml_ledger_api``, ``exp`` bounds its life and ``aud`` names the
participant when the participant is configured with an audience. The user's rights
(``CanActAs``/``CanReadAs`` a party), not the token, decide what it may do.

The client takes its token from a :data:`TokenSource`: a string, or a callable asked
before each request, so a token can be refreshed without rebuilding the client
(:func:`env_token_source` re-reads a token file that another process renews).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from ledger_adapter.canton.error_codes import Unauthenticated
from ledger_adapter.errors import InvalidArgument

TokenSource = str | Callable[[], str]
"""A bearer token, or a function returning the current one."""

LEDGER_API_SCOPE = "daml_ledger_api"
"""The scope a Canton user token carries."""

TOKEN_ENV = "TANPO_CANTON_TOKEN"
TOKEN_FILE_ENV = "TANPO_CANTON_TOKEN_FILE"


def current_token(source: TokenSource | None) -> str | None:
    """The token ``source`` gives now (``None``: no authorization header)."""
    if source is None or isinstance(source, str):
        return source
    return source()


def user_token(
    user_id: str,
    *,
    secret: str,
    audience: str | None = None,
    expires_in: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> str:
    """An HS256 user token for ``user_id`` (tests, the loopback server, a sandbox).

    Real participants are usually configured with RS256/ES256 keys from an identity
    provider; tanpo only needs to *send* those, never to sign them.
    """
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        "scope": LEDGER_API_SCOPE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + expires_in).timestamp()),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def token_user_id(token: str) -> str:
    """The ``sub`` of a token, read without checking the signature (the participant does)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidArgument(f"not a JWT: {exc}", field="token") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidArgument("the token has no 'sub' (user id) claim", field="token")
    return subject


def env_token_source() -> TokenSource | None:
    """The token from ``$TANPO_CANTON_TOKEN``, or a reader of ``$TANPO_CANTON_TOKEN_FILE``.

    The file is read at every request, so a sidecar that renews it is picked up.
    """
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token.strip()
    path = os.environ.get(TOKEN_FILE_ENV)
    if path:
        token_file = Path(path)
        return lambda: token_file.read_text(encoding="utf-8").strip()
    return None


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    """Checks bearer tokens the way a participant does (the loopback server's half).

    Parameters
    ----------
    key
        The HS256 secret (or an RS256/ES256 public key with ``algorithms`` set).
    audience
        The ``aud`` a token must carry; ``None`` accepts tokens without one.
    """

    key: str
    algorithms: tuple[str, ...] = ("HS256",)
    audience: str | None = None
    leeway: timedelta = field(default=timedelta(0))

    def user_id(self, authorization: str | None) -> str:
        """The user id of an ``Authorization`` header value; :class:`Unauthenticated` if none."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("the request has no bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["sub", "exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(f"the token expired: {exc}", code="ACCESS_TOKEN_EXPIRED") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        scope = str(claims.get("scope", "")).split()
        if LEDGER_API_SCOPE not in scope:
            raise Unauthenticated(f"the token's scope does not include {LEDGER_API_SCOPE}")
        return str(claims["sub"])

    def expiry(self, authorization: str) -> float:
        """The ``exp`` (POSIX seconds) of a header :meth:`user_id` accepted."""
        token = authorization.removeprefix("Bearer ").strip()
        claims = jwt.decode(token, options={"verify_signature": False})
        return float(claims["exp"]) + self.leeway.total_seconds()
