"""tanpo's valuation and haircut core: JGB conventions, prices, yields, curves and
haircuts over flat arrays (numba kernels). Imports no other tanpo package."""
