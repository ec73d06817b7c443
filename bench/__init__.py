"""Benchmarks, run with `python -m bench [SUITE ...] [OPTIONS]` (`make bench` runs them all).

Each suite is a module `bench/<name>.py` (no leading underscore) with `main(argv: list[str]) -> int`;
`python -m bench` finds them by name, so adding a suite is adding a module. Figures and how to read them are
recorded in docs/benchmarks.md.
"""
