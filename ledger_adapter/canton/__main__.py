"""Run the loopback participant over an embedded ledger, for trying tanpo against a JSON API.

::

    export TANPO_CANTON_SECRET=$(openssl rand -hex 32)      # the HS256 token key
    python -m ledger_adapter.canton --ledger sqlite:///book.db --port 7575 \\
        --user ops=BANK1,JSCC,BOJ --user auditor=:BANK1 --token ops=/tmp/ops.jwt
    TANPO_CANTON_TOKEN_FILE=/tmp/ops.jwt tanpo execute plan.json --ledger http://127.0.0.1:7575

``--user NAME=ACT,AS,PARTIES[:READ,AS,PARTIES]`` grants ``CanActAs``/``CanReadAs``;
``--token NAME=PATH`` writes a one-day token for that user. The secret comes from the
environment only, never the command line. Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from ledger_adapter.canton.auth import user_token
from ledger_adapter.canton.server import JsonApiServer
from ledger_adapter.embedded import EmbeddedLedger
from ledger_adapter.errors import InvalidArgument
from ledger_adapter.protocol import UserRights

SECRET_ENV = "TANPO_CANTON_SECRET"


def parse_user(text: str) -> tuple[str, UserRights]:
    """``ops=BANK1,JSCC`` or ``auditor=:BANK1`` (act-as parties ``:`` read-as parties)."""
    name, _, rights = text.partition("=")
    acting, _, reading = rights.partition(":")
    act_as = frozenset(p for p in acting.split(",") if p)
    read_as = frozenset(p for p in reading.split(",") if p)
    if not name or not (act_as or read_as):
        raise InvalidArgument(f"{text!r}: write NAME=ACT,AS[:READ,AS]", field="--user")
    return name, UserRights(act_as, read_as)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger_adapter.canton", description=__doc__)
    parser.add_argument("--ledger", required=True, help="sqlite:///path or postgresql://...")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7575)
    parser.add_argument("--user", action="append", default=[], help="NAME=ACT,AS[:READ,AS]")
    parser.add_argument("--token", action="append", default=[], help="NAME=PATH")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    try:
        if len(secret) < 32:
            raise InvalidArgument(f"set ${SECRET_ENV} to at least 32 characters", field="secret")
        users = dict(parse_user(u) for u in args.user)
        if not users:
            raise InvalidArgument("give at least one --user", field="--user")
        tokens = [t.partition("=") for t in args.token]
        for name, _, path in tokens:
            if name not in users or not path:
                raise InvalidArgument(f"{name}={path}: an unknown user or no path", field="--token")
        ledger = EmbeddedLedger(args.ledger)
    except InvalidArgument as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    for name, _, path in tokens:
        token = user_token(name, secret=secret, expires_in=timedelta(days=1))
        Path(path).write_text(token + "\n", encoding="utf-8")
    server = JsonApiServer(ledger, users=users, secret=secret, host=args.host, port=args.port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    sys.stderr.write(f"serving the JSON Ledger API over {args.ledger} at {server.url}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
