"""Hypothesis profiles: ``dev`` (the default) draws new examples on every run and keeps
failures in ``.hypothesis/`` to replay them; ``ci`` (``.ci/run`` sets
``HYPOTHESIS_PROFILE=ci``) derandomizes, so a clean-clone CI run checks the same
examples every time and a submission cannot fail on a draw nobody has seen. Bugs the
dev runs find become explicit ``@example``s or regression tests, which CI then runs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
