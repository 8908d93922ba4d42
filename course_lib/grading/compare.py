"""Comparing a learner's result with the reference, and saying precisely what differs.

Every helper raises :class:`Mismatch` with a one-line reason naming the quantity, what was expected
and what was given (``"h_next: wrong shape: expected (4, 8), got (8, 4)"``). Reasons quote shapes,
dtypes and the largest error -- never the expected arrays themselves.
"""
from __future__ import annotations

import operator
import os
import sys
import traceback
import warnings

import numpy as np

__all__ = [
    "Mismatch", "LearnerError", "WorkerLost", "call_learner", "shape_str", "type_name",
    "expect_array", "expect_tuple", "expect_mapping", "expect_pm1", "expect_index", "expect_number",
    "ATOL", "RTOL",
]

ATOL = 1e-6
RTOL = 1e-5

_LIBRARY_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(np.__file__)})


class Mismatch(Exception):
    """The learner's result is not the expected one; ``str(err)`` is the reason shown to the learner."""


class LearnerError(Exception):
    """The learner's function raised; ``str(err)`` names the exception, its message and the line."""


class WorkerLost(BaseException):
    """Batch grading: the sandboxed process running the learner's code died or stopped answering."""


def type_name(obj) -> str:
    """``ndarray``, ``torch.Tensor``, ``tuple``, ... for messages."""
    remote = getattr(obj, "remote_type_name", None)
    if isinstance(remote, str):
        return remote
    cls = type(obj)
    module = cls.__module__
    if module.startswith("torch"):
        return "torch.Tensor" if cls.__name__ == "Tensor" else f"torch.{cls.__name__}"
    return cls.__name__


def shape_str(shape) -> str:
    """``(4, 8)``; a 1-D shape is ``(4,)``."""
    shape = tuple(int(s) for s in shape)
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _where(tb) -> str:
    """' (line 7 of rnn_cell_forward)' for the innermost frame of the learner's own code, or ''."""
    frames = traceback.extract_tb(tb)
    prefixes = _LIBRARY_DIRS + (sys.prefix, sys.base_prefix)
    own = [f for f in frames if (f.filename.endswith(".py") or f.filename.startswith("<"))
           and "site-packages" not in f.filename and not os.path.abspath(f.filename).startswith(prefixes)]
    if not own:
        return ""
    f = own[-1]
    return f" (line {f.lineno} of {f.name})"


def _copy(value):
    """Copies of arrays (also inside dicts, lists, tuples); anything else -- a random generator -- as is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def call_learner(fn, *args, name: str | None = None, **kwargs):
    """``fn(*args, **kwargs)`` on copies of the array arguments (so the reference's inputs stay intact).

    Any exception the learner's code raises -- including ``SystemExit`` -- becomes a
    :class:`LearnerError` with its type, message and line; so does a call into the course's
    reference implementations (see :mod:`course_lib.grading.guard`). The time limit
    (:class:`~course_lib.grading.timelimit.TimeLimitExceeded`) and ``KeyboardInterrupt`` pass through.
    NumPy warnings (overflow, invalid value) are silenced: their NaNs are reported instead.
    """
    from .guard import ReferenceUsed, reference_guard
    from .timelimit import TimeLimitExceeded

    name = name or getattr(fn, "__name__", "your function")
    if getattr(fn, "runs_remotely", False):  # batch grading: the sandbox reports the learner's errors itself
        fn.session.name = name
        return fn(*args, **kwargs)
    args = _copy(args)
    kwargs = _copy(kwargs)
    used: list = []
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), reference_guard(name) as used:
            warnings.simplefilter("ignore")
            value = fn(*args, **kwargs)
    except (TimeLimitExceeded, KeyboardInterrupt, LearnerError, WorkerLost):
        raise
    except ReferenceUsed as err:
        raise LearnerError(str(err)) from None
    except NotImplementedError as err:
        detail = f": {err}" if str(err) else ""
        raise LearnerError(f"{name} is not implemented yet (it raised NotImplementedError{detail})") from None
    except BaseException as err:  # the learner's error, whatever it is, is reported, never fatal
        if used:
            raise LearnerError(f"{name} called {used[0]}, the course's reference implementation: "
                               "a graded function must compute its result itself") from None
        message = str(err).strip().splitlines()[0][:300] if str(err).strip() else "(no message)"
        raise LearnerError(f"{name} raised {type(err).__name__}: {message}{_where(err.__traceback__)}") from None
    if used:  # the function caught the guard's exception and went on: it still counts
        raise LearnerError(f"{name} called {used[0]}, the course's reference implementation: "
                           "a graded function must compute its result itself")
    return value


def expect_tuple(value, n: int, what: str, names: str):
    """``value`` must be a tuple (or list) of ``n`` items, described as ``names`` (e.g. ``"(h_next, cache)"``)."""
    if not isinstance(value, (tuple, list)):
        raise Mismatch(f"{what} must return a tuple {names}; got {type_name(value)}")
    if len(value) != n:
        raise Mismatch(f"{what} must return a tuple of {n} items {names}; got {len(value)} items")
    return tuple(value)


def expect_mapping(value, keys, what: str):
    """``value`` must be a dict holding (at least) ``keys``."""
    if not isinstance(value, dict):
        raise Mismatch(f"{what} must be a dict with keys {', '.join(map(repr, keys))}; got {type_name(value)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise Mismatch(f"{what} is missing the key(s) {', '.join(map(repr, missing))}")
    return value


def _as_checked_array(got, expected: np.ndarray, name: str) -> np.ndarray:
    if type(got).__module__.startswith("torch"):
        raise Mismatch(f"{name}: expected a NumPy array, got a torch.Tensor (return {name}.detach().numpy())")
    if not isinstance(got, (np.ndarray, np.generic)):
        raise Mismatch(f"{name}: expected a NumPy array of shape {shape_str(expected.shape)}, got {type_name(got)}")
    got = np.asarray(got)
    if got.shape != expected.shape:
        hint = ""
        if got.ndim == expected.ndim == 2 and got.shape == expected.shape[::-1]:
            hint = " (transposed?)"
        elif got.size == expected.size:
            hint = " (same number of entries: a reshape or transpose?)"
        raise Mismatch(f"{name}: wrong shape: expected {shape_str(expected.shape)}, got {shape_str(got.shape)}{hint}")
    if not (np.issubdtype(got.dtype, np.number) or got.dtype == np.bool_):
        raise Mismatch(f"{name}: expected a float array, got dtype {got.dtype}")
    if np.issubdtype(expected.dtype, np.floating) and got.dtype != expected.dtype:
        raise Mismatch(f"{name}: wrong dtype: expected {expected.dtype} (the inputs' dtype), got {got.dtype}")
    return got


def expect_array(got, expected, name: str, kind: str = "values", atol: float = ATOL, rtol: float = RTOL):
    """``got`` must be an ndarray of ``expected``'s shape and dtype, equal within ``atol + rtol*|expected|``.

    ``kind`` names what is compared in the reason: ``"values"`` or ``"gradient"``.
    """
    expected = np.asarray(expected)
    got = _as_checked_array(got, expected, name)
    bad = ~np.isfinite(got)
    if bad.any() and np.all(np.isfinite(expected)):
        raise Mismatch(f"{name}: contains NaN or inf in {int(bad.sum())} of {got.size} entries")
    g, e = got.astype(np.float64), expected.astype(np.float64)
    err = np.abs(g - e)
    tol = atol + rtol * np.abs(e)
    if np.any(err > tol):
        worst = np.unravel_index(int(np.argmax(err - tol)), err.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if err.ndim else ""
        raise Mismatch(f"{name}: wrong {kind}: max abs error {float(err.max()):.3g}{where}")
    return got


def expect_pm1(got, expected, name: str):
    """A -1/+1 state: right shape, only -1/+1 entries, and equal to ``expected`` unit for unit."""
    expected = np.asarray(expected)
    if type(got).__module__.startswith("torch") or not isinstance(got, np.ndarray):
        raise Mismatch(f"{name}: expected a NumPy array of shape {shape_str(expected.shape)}, got {type_name(got)}")
    if got.shape != expected.shape:
        raise Mismatch(f"{name}: wrong shape: expected {shape_str(expected.shape)}, got {shape_str(got.shape)}")
    bad = (got != 1) & (got != -1)
    if bad.any():
        values = ", ".join(str(v) for v in np.unique(got[bad])[:3].tolist())
        raise Mismatch(f"{name}: must hold only -1 and +1; {int(bad.sum())} unit(s) hold {values} "
                       "(np.sign gives 0 for a zero field: such a unit must keep its value)")
    wrong = int(np.sum(got != expected))
    if wrong:
        raise Mismatch(f"{name}: {wrong} of {got.size} units differ from the expected state")
    return got


def expect_index(got, n: int, name: str) -> int:
    """An integer index in ``[0, n)`` (Python int or NumPy integer)."""
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
        hint = " (use int(...))" if isinstance(got, (np.ndarray, float, np.floating)) else ""
        raise Mismatch(f"{name}: expected an int index in [0, {n}), got {type_name(got)}{hint}")
    value = operator.index(got)
    if not 0 <= value < n:
        raise Mismatch(f"{name}: expected an index in [0, {n}), got {value}")
    return value


def expect_number(got, expected: float, name: str, rel: float = 1e-6, abs_: float = 0.0) -> float:
    """A real number equal to ``expected`` within ``abs_ + rel*|expected|``."""
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)) and not (
            isinstance(got, np.ndarray) and got.size == 1):
        raise Mismatch(f"{name}: expected a number, got {type_name(got)}")
    value = float(np.asarray(got).reshape(()))
    if not np.isfinite(value):
        raise Mismatch(f"{name}: expected a finite number, got {value}")
    if abs(value - expected) > abs_ + rel * abs(expected):
        raise Mismatch(f"{name}: wrong value: off by {abs(value - expected):.3g} (relative {abs(value - expected) / max(abs(expected), 1e-300):.2g})")
    return value
