"""Benchmarks: `python -m bench [name ...]` runs every `bench/*_bench.py` and prints its figures.

A benchmark module exposes `main() -> None`, which prints what it measured. Benchmarks are not
tests: they never fail on a number, they report it (the figures go into reviews and docs).
"""
