"""Shared input checks for :mod:`course_lib.ref`.

Every public function of ``ref`` funnels its inputs through these helpers, so that bad input
fails with a ``ValueError``/``TypeError`` naming what was expected and what was given
(``"x must be (batch, time, 16); got (32, 16)"``) instead of a bare broadcasting error deep
inside NumPy.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "shape_str",
    "as_float_array",
    "check_shape",
    "check_finite",
    "check_same_dtype",
    "check_lengths",
    "check_dtype",
]


def shape_str(spec) -> str:
    """Render a shape spec such as ``("batch", "time", 16)`` as ``(batch, time, 16)``."""
    items = [str(s) for s in spec]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def check_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be np.float32 or np.float64; got {dtype!r}") from err
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be np.float32 or np.float64; got {dt}")
    return dt


def as_float_array(a, name: str, dtype=None) -> np.ndarray:
    """Turn ``a`` into a floating ndarray.

    Lists and scalars are converted (to ``dtype`` or float64). An ndarray keeps its dtype, which
    must be floating; when ``dtype`` is given it must match exactly (no silent casts: a float32
    input to a float64 model is a ``TypeError`` naming both dtypes). torch tensors are refused
    with a hint, because silently detaching them would hide a mistake.
    """
    if type(a).__module__.startswith("torch"):
        raise TypeError(f"{name} must be a NumPy array; got a torch tensor (use {name}.detach().cpu().numpy())")
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a, dtype=np.float64 if dtype is None else dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be an array of numbers; got {type(a).__name__}") from err
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array; got dtype {a.dtype}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name} has dtype {a.dtype} but the parameters are {np.dtype(dtype)}; "
            f"convert with {name}.astype(np.{np.dtype(dtype)}) or build the model with dtype=np.{a.dtype}"
        )
    return a


def check_shape(a: np.ndarray, spec, name: str, meaning: str | None = None) -> None:
    """Check ``a.shape`` against ``spec``: a tuple of ints (exact) or strings (any size, named).

    ``meaning`` (e.g. ``"(4*hidden, input_size)"``) is added to the message when given.

    >>> check_shape(np.zeros((32, 16)), ("batch", "time", 16), "x")
    Traceback (most recent call last):
    ValueError: x must be (batch, time, 16); got (32, 16)
    """
    ok = a.ndim == len(spec) and all(isinstance(s, str) or s == n for s, n in zip(spec, a.shape))
    if not ok:
        expected = shape_str(spec) + (f" = {meaning}" if meaning else "")
        raise ValueError(f"{name} must be {expected}; got {shape_str(a.shape)}")


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``a`` holds NaN or inf (and say how many and where the first is)."""
    if not np.all(np.isfinite(a)):
        bad = ~np.isfinite(a)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN/inf value(s), the first at index {first}"
        )


def check_same_dtype(named: dict) -> np.dtype:
    """All arrays in ``named`` (name -> ndarray) must share one float dtype; return it."""
    items = list(named.items())
    first_name, first = items[0]
    for name, a in items[1:]:
        if a.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but {first_name} has dtype {first.dtype}; "
                            "all arrays must share one float dtype")
    return first.dtype


def check_lengths(lengths, batch: int, time: int) -> np.ndarray | None:
    """Validate sequence lengths: a 1-D integer array of ``batch`` entries, each in ``[1, time]``.

    Returns an ``int64`` ndarray (or ``None`` when ``lengths`` is ``None``). Accepts lists,
    NumPy arrays and torch tensors (the torch convention for ``pack_padded_sequence``).
    """
    if lengths is None:
        return None
    if type(lengths).__module__.startswith("torch"):
        lengths = lengths.detach().cpu().numpy()
    arr = np.asarray(lengths)
    whole_floats = np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or whole_floats):
        raise TypeError(f"lengths must be integers; got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"lengths must be (batch,) = ({batch},); got {shape_str(arr.shape)}")
    arr = arr.astype(np.int64)
    if arr.min() < 1 or arr.max() > time:
        bad = arr[(arr < 1) | (arr > time)]
        raise ValueError(f"lengths must lie in [1, {time}] (1 <= length <= time); got {bad.tolist()}")
    return arr
