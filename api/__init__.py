"""tanpo's interfaces: the CLI (and, from part 4, the HTTP service and batch runs)."""

import sys


def main() -> None:
    """The ``tanpo`` console script: :func:`api.cli.main`, imported here so that a
    Ctrl-C while its libraries load is one line, not a traceback."""
    try:
        from api.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("tanpo: interrupted\n")
        sys.exit(130)
    run()
