"""Benchmarks (`make bench`): each module's `run()` prints ratios to a baseline of the same run."""
