"""Benchmarks with their baselines, run side by side (``make bench``); see ``__main__``."""
