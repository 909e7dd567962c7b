"""The simulated city: generated entities for the demo and the benchmarks."""
