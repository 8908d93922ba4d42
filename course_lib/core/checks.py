"""Argument checks shared by the library: each raises with what was expected and what was given."""
from __future__ import annotations

import numbers


def positive_int(value, name, minimum=1):
    """``value`` if it is an int (not a bool) ``>= minimum``; else ``TypeError``/``ValueError``.

    ``TypeError`` when it is not an int at all (``3.0``, ``"3"``), ``ValueError`` when it is too small.
    numpy integers are accepted and returned as ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__} ({value!r})")
    if value < minimum:
        what = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return int(value)


def strict_bool(value, name):
    """``value`` if it is a real ``bool``; ``TypeError`` otherwise (``0``, ``"False"`` are not read by truthiness)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be of type bool, got: {type(value).__name__} ({value!r})")
    return value


def count(value, name, minimum=1):
    """``value`` if it is an int (not a bool) ``>= minimum``; else ``ValueError`` naming what was given.

    The check for sizes and counts (steps, seeds' repeats, hidden sizes) in ``ref`` and ``experiments``: one
    error class for every wrong value, ``"steps must be a positive int; got 0"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return int(value)
