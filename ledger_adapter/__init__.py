"""tanpo's ledger adapter: carries a plan out as atomic pledges on a Canton-style ledger."""
