"""Benchmarks that print ratios against the library kernels, measured in one run.

Run ``python -m course_lib.bench ref`` or ``python -m course_lib.bench nn``.
Never asserted as absolute times in tests.
"""
