"""Benchmark environment adapters, installed as ``foresight.envs.<name>``."""
