"""``python -m benchmarks run [NAME ...] [--quick]``: see :mod:`benchmarks.harness.runner`."""

from __future__ import annotations

import sys

from benchmarks.harness.runner import main

sys.exit(main())
