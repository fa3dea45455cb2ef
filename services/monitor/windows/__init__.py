"""Advancing a stream's windows: what the worker does each tick, between the store (rows)
and the analysis (counts, drift, performance). No SQL of its own."""
