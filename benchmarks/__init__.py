"""Reproducible performance benchmarks (run ``python -m benchmarks.api --help``)."""
