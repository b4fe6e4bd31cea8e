"""Run the ``tanpo`` entry point in-process: the same :func:`api.cli.main` the console
script calls, with its argv, stdout, stderr and exit status, without a second of
interpreter start-up per call (the console script itself is run by a few tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from api.cli import main


@dataclass(frozen=True)
class Done:
    """What a run of ``tanpo`` left: exit status, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


Tanpo = Callable[..., Done]


@pytest.fixture
def tanpo(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Tanpo:
    """``tanpo(*argv)`` runs ``tanpo <argv>`` in this process and returns :class:`Done`."""
    monkeypatch.delenv("TANPO_DEBUG", raising=False)

    def run(*argv: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["tanpo", *argv])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run
