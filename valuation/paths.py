"""Where tanpo's own data files and the shared reference data live.

The project ships what it generates itself (``data/``). Large official files (the MOF
par yield curve since 1974, the outstanding-by-issue table) are *not* copied into the
project: tests and benchmarks reach them in ``<project root>/../shared/data`` or in
``$TANPO_SHARED_DIR/data``, and skip with a reason where neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DIR_ENV = "TANPO_SHARED_DIR"
"""Environment variable naming the shared folder (the one holding ``data/``)."""


def project_root() -> Path:
    """The checkout's root (the folder holding ``valuation/`` and ``data/``)."""
    return Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The project's committed data folder, ``<project root>/data``."""
    return project_root() / "data"


def shared_dir() -> Path | None:
    """The shared reference folder, or ``None`` where it is absent.

    ``$TANPO_SHARED_DIR`` wins when set (and must exist); otherwise
    ``<project root>/../shared``.
    """
    env = os.environ.get(SHARED_DIR_ENV)
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    path = project_root().parent / "shared"
    return path if path.is_dir() else None


def shared_file(*parts: str) -> Path | None:
    """``<shared>/data/<parts...>`` if that file exists, else ``None``.

    >>> shared_file("mof", "jgbcme_all.csv")  # doctest: +SKIP
    PosixPath('.../shared/data/mof/jgbcme_all.csv')
    """
    root = shared_dir()
    if root is None:
        return None
    path = root.joinpath("data", *parts)
    return path if path.is_file() else None


MOF_PAR_CURVE_PARTS = ("mof", "jgbcme_all.csv")
"""MOF JGB par yield curve, daily since 1974 (``shared_file(*MOF_PAR_CURVE_PARTS)``)."""

JGB_OUTSTANDING_PARTS = ("jgb_outstanding", "jgbtot.csv")
"""Monthly amounts outstanding per JGB issue (Nakajima, Hitotsubashi IER DP A.758)."""
