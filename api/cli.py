"""The ``tanpo`` command line.

Each group of subcommands lives in its own module (``cli_value``, ``cli_optimize``,
``cli_ledger``, ``cli_data``, ``cli_demo``) and registers itself on :data:`app`. Every
error tanpo raises on purpose (:class:`~valuation.errors.TanpoError`) reaches the user
as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import typer

from api import cli_data, cli_demo, cli_ledger, cli_optimize, cli_value
from valuation.errors import TanpoError

app = typer.Typer(
    name="tanpo",
    help="JGB collateral optimizer: value, optimize and pledge on a Canton-style ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print tanpo's version."""
    from importlib.metadata import version as _version

    typer.echo(_version("tanpo"))


for _module in (cli_demo, cli_value, cli_data, cli_optimize, cli_ledger):
    _module.register(app)

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE
EXIT_INTERRUPTED = 130  # 128 + SIGINT
INTERRUPTED = (
    "tanpo: interrupted; what the ledger committed before stays, and the same command"
    " run again carries on from there (each move, load or call applied once)\n"
)


class Interrupted(BaseException):
    """Ctrl-C. Not a ``KeyboardInterrupt``: Typer turns that into a silent exit 130."""


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise Interrupted


def main() -> None:
    """Console-script entry point: run the app, turning errors into one-line messages."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:  # a background job of a script keeps ignoring it
        signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except TanpoError as exc:  # one line even when a driver's message has several
        sys.stderr.write(f"tanpo: error: {' '.join(str(exc).split())}\n")
        sys.exit(EXIT_INPUT_ERROR)
    except (Interrupted, KeyboardInterrupt):
        sys.stderr.write(INTERRUPTED)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # last resort: never a traceback at the user
        if os.environ.get("TANPO_DEBUG"):
            raise
        sys.stderr.write(
            f"tanpo: internal error: {type(exc).__name__}: {exc} "
            "(set TANPO_DEBUG=1 for a traceback, and please report it)\n"
        )
        sys.exit(EXIT_INTERNAL_ERROR)
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    main()
