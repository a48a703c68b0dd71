"""`make bench`: Steward's production-shaped benchmark (see docs/benchmarks.md)."""
