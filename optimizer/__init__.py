"""tanpo's collateral optimizer: cheapest-to-deliver allocation (Pyomo + HiGHS).

The entry points other layers call::

    problem = optimizer.load_problem("book.json")   # or parse_problem(dict)
    plan = optimizer.optimize(problem)              # method="mip" (default) or "greedy"
    report = optimizer.verify(problem, plan)        # independent re-derivation
    plan.to_dict()                                  # the plan contract (issue Part 2)
    session = optimizer.IntradaySession(problem)    # warm through the day

See docs/OPTIMIZER.md for the formulation and the measurements behind it.
"""

from optimizer.contract import load_problem, parse_problem
from optimizer.intraday import IntradaySession
from optimizer.optimize import Method, optimize
from optimizer.plan import Plan
from optimizer.verify import VerificationReport, verify

__all__ = [
    "IntradaySession",
    "Method",
    "Plan",
    "VerificationReport",
    "load_problem",
    "optimize",
    "parse_problem",
    "verify",
]
