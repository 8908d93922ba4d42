"""Tasks of ``exercises/11_modern_rnns.ipynb``: the linear recurrence h_t = a_t * h_{t-1} + b_t,
as a loop and as a parallel scan (book eq. eq-linear-recurrence).

The reference is ``course_lib.nn.mingru.linear_recurrence_sequential`` (the loop minGRU is checked
against), run in float64. A scan is told apart from a loop by counting the Python steps (calls and
lines) the learner's own code executes: a loop needs at least one per time step, a scan a few per
level, and there are only log2(time) levels.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

from ..compare import Mismatch, call_learner, expect_array
from ..registry import Task, Test
from .common import check_callable, normal, sizes

NOTEBOOK = "11_modern_rnns"
_SKIP = tuple({os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
               os.path.dirname(np.__file__), sys.prefix, sys.base_prefix})


def _reference(a, b, h0):
    import torch

    from ...nn.mingru import linear_recurrence_sequential

    out = linear_recurrence_sequential(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(h0))
    return out.numpy()


def _case(rng, time, zero_h0=False, a_range=(0.3, 1.0)):
    batch, hidden = sizes(rng, 2, 2, 6)
    a = rng.uniform(*a_range, size=(batch, time, hidden))
    b = normal(rng, batch, time, hidden)
    h0 = np.zeros((batch, hidden)) if zero_h0 else normal(rng, batch, hidden)
    return (a, b, h0), _reference(a, b, h0)


def _run(fn, args, name):
    check_callable(fn, f"{name}(a, b, h0)")
    return call_learner(fn, *args, name=name)


def python_steps(fn, args, name):
    """(result, steps): run ``fn(*args)`` counting the calls and lines of Python executed outside
    libraries (NumPy, the standard library, course_lib): the learner's own code."""
    steps = [0]

    def local(frame, event, arg):
        if event == "line":
            steps[0] += 1
        return local

    def on_call(frame, event, arg):
        filename = frame.f_code.co_filename
        if filename.startswith(_SKIP) or "site-packages" in filename or filename.startswith("<frozen"):
            return None
        steps[0] += 1
        return local

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = _run(fn, args, name)
    finally:
        sys.settrace(previous)
    return result, steps[0]


# ----------------------------------------------------------------------------- the loop
def _loop_shape(fn, rng):
    args, expected = _case(rng, int(rng.integers(3, 9)))
    got = _run(fn, args, "linear_recurrence_loop")
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        expect_array(got, expected, "h")


def _loop_zero(fn, rng):
    args, expected = _case(rng, int(rng.integers(3, 9)), zero_h0=True)
    expect_array(_run(fn, args, "linear_recurrence_loop"), expected, "h (with h0 = 0)")


def _loop_h0(fn, rng):
    args, expected = _case(rng, int(rng.integers(3, 9)))
    expect_array(_run(fn, args, "linear_recurrence_loop"), expected, "h (with a random h0)")


LOOP = Task(
    "linear_recurrence_loop", NOTEBOOK,
    "h_t = a_t * h_{t-1} + b_t step by step (book eq. eq-linear-recurrence).",
    (
        Test("returns h shaped (batch, time, hidden)", 1, _loop_shape),
        Test("h is right with h0 = 0", 1, _loop_zero),
        Test("h is right with a random h0", 1, _loop_h0),
    ),
)


# ----------------------------------------------------------------------------- the scan
def _scan_short(fn, rng):
    time = int(rng.integers(5, 20)) * 2 + 1  # odd: not a power of two
    args, expected = _case(rng, time)
    expect_array(_run(fn, args, "linear_recurrence_scan"), expected, f"h (time = {time})")


def _scan_edges(fn, rng):
    for time in (1, 2, 3):
        args, expected = _case(rng, time)
        expect_array(_run(fn, args, "linear_recurrence_scan"), expected, f"h (time = {time})")


def _scan_long(fn, rng):
    args, expected = _case(rng, 1000, a_range=(0.01, 0.9))
    expect_array(_run(fn, args, "linear_recurrence_scan"), expected,
                 "h (time = 1000, a in (0.01, 0.9): products of many a_t underflow to 0, so do not divide by them)")


def _scan_parallel(fn, rng):
    time = 2048
    args, expected = _case(rng, time)
    got, steps = python_steps(fn, args, "linear_recurrence_scan")
    expect_array(got, expected, f"h (time = {time})")
    allowed = 30 * math.ceil(math.log2(time)) + 100
    if steps > allowed:
        raise Mismatch(f"for time = {time} your code ran {steps} Python steps (calls and lines); a scan needs "
                       f"O(log2 time) = {math.ceil(math.log2(time))} rounds of whole-array operations "
                       f"(at most {allowed} steps), a loop over time needs at least {time}")


SCAN = Task(
    "linear_recurrence_scan", NOTEBOOK,
    "The same recurrence as a parallel (Hillis-Steele or Blelloch) scan: O(log time) rounds of "
    "whole-array operations instead of a loop over time.",
    (
        Test("h is right for a sequence whose length is not a power of two", 1, _scan_short),
        Test("h is right for time = 1, 2 and 3", 1, _scan_edges),
        Test("h is right for a long sequence (numerically stable)", 1, _scan_long),
        Test("runs O(log time) rounds, not a loop over time", 1, _scan_parallel),
    ),
)

TASKS = (LOOP, SCAN)
