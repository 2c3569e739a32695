"""Synthetic media with known ground truth, for the tests and the benchmarks (needs numpy and OpenCV)."""
