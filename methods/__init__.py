"""Benchmark-specific methods, installed as ``foresight.methods.<name>``."""
