"""Tests written to kill the mutants `make mutate` found surviving (bench/mutate.py)."""
