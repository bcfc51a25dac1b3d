"""MeteorPi benchmarks: ``python -m benchmarks [--scale small|full]``."""
