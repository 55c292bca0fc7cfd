"""Inloop's benchmarks: ``python -m benchmarks`` (``make bench``). Never run by the tests."""
