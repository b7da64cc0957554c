"""Benchmarks with baselines, run side by side (``make bench``)."""
