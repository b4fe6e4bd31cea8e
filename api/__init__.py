"""tanpo's interfaces: the CLI (and, from part 4, the HTTP service and batch runs)."""
