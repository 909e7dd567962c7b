"""Benchmarks: figures over real servers, each beside a raw baseline run in the same process."""
