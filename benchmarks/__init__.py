"""tanpo benchmark harness: ``make bench`` (``python -m benchmarks run``).

See ``benchmarks/README.md``: one module per area (``valuation``, ``optimizer``,
``ledger``) registers its benchmarks with ``@benchmark``.
"""
