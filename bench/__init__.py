"""Benchmarks: one script per figure; each prints a table and writes JSON to bench/results/."""
