"""Experiments the chapters run: small, documented functions ("train model X on task Y for these
settings and return the metrics"), one module per chapter topic, e.g. :mod:`.bptt` for chapter 03.

The machinery they use (``course_lib.ref``, ``nn``, ``data``, ``train``) lives in the core modules;
an experiment only composes it and measures.
"""
