"""Parley's load benchmark: `python -m bench SCENARIO` (see docs/PERFORMANCE.md)."""
