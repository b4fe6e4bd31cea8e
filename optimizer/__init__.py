"""tanpo's collateral optimizer: cheapest-to-deliver allocation (Pyomo + HiGHS)."""
