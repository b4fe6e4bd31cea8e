"""Hypothesis profiles. ``make test`` and CI use ``repeatable`` (the default):
derandomized, so every run checks the same examples and nobody's ``make test`` fails
on a draw nobody has seen. ``HYPOTHESIS_PROFILE=explore make pytest`` draws new
examples on every run and keeps failures in ``.hypothesis/`` to replay: run it when
working on the optimizer, and turn what it finds into a regression test (see
tests/optimizer/test_properties.py), which every run then checks.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
