"""The benchmark harness: registry, timing context, machine description, reports, runner.

Area modules (``benchmarks/valuation.py``...) import :func:`benchmark` and
:class:`Context` from here.
"""

from benchmarks.harness.registry import REGISTRY, Context, benchmark

__all__ = ["REGISTRY", "Context", "benchmark"]
