"""Benchmarks (`make bench`): each module's `run()` prints figures against a baseline of the same run."""
