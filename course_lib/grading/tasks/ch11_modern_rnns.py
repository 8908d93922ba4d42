"""Tasks of ``exercises/11_modern_rnns.ipynb``: the linear recurrence h_t = a_t * h_{t-1} + b_t,
as a loop and as a parallel scan (book eq. eq-linear-recurrence); causal linear attention as an RNN
(book eq. eq-linattn-recurrent), checked against its parallel form (``course_lib.ref.linear_attention``).

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



# ----------------------------------------------------------------------------- linear attention as an RNN
def _linattn_case(rng, time=None, dv=None):
    from ... import ref

    batch, d = sizes(rng, 2, 2, 6)
    time = int(rng.integers(4, 12)) if time is None else time
    dv = int(rng.choice([n for n in range(2, 8) if n != d])) if dv is None else dv
    q, k, v = normal(rng, batch, time, d), normal(rng, batch, time, d), normal(rng, batch, time, dv)
    return (q, k, v), ref.linear_attention(q, k, v)               # the parallel form, eq-linattn-parallel


def _linattn_run(fn, args):
    check_callable(fn, "linear_attention_recurrent(q, k, v)")
    return call_learner(fn, *args, name="linear_attention_recurrent")


def _linattn_shape(fn, rng):
    args, expected = _linattn_case(rng)
    got = _linattn_run(fn, args)
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        expect_array(got, expected, "out (batch, time, d_v)")


def _linattn_values(fn, rng):
    args, expected = _linattn_case(rng)
    expect_array(_linattn_run(fn, args), expected, "out (against the parallel form)")


def _linattn_normaliser(fn, rng):
    (q, k, v), _ = _linattn_case(rng)
    got = _linattn_run(fn, (q, k, np.ones_like(v)))
    if isinstance(got, np.ndarray) and got.shape == v.shape and np.all(np.isfinite(got)) \
            and not np.allclose(got, 1.0, atol=1e-6, rtol=0):
        raise Mismatch("with every v_t = 1 every output must be 1: the weights of a row sum to one only after "
                       "dividing phi(q_t)^T S_t by the normaliser phi(q_t)^T z_t")
    expect_array(got, np.ones_like(v), "out (with every v_t = 1)")


def _linattn_causal(fn, rng):
    (q, k, v), expected = _linattn_case(rng, time=10)
    q2, k2, v2 = q.copy(), k.copy(), v.copy()
    for x in (q2, k2, v2):
        x[:, 5:] = normal(rng, *x[:, 5:].shape)
    first, second = _linattn_run(fn, (q, k, v)), _linattn_run(fn, (q2, k2, v2))
    for got in (first, second):
        if not isinstance(got, np.ndarray) or got.shape != expected.shape:
            expect_array(got, expected, "out")
    if not np.allclose(first[:, :5], second[:, :5], atol=1e-9, rtol=0):
        raise Mismatch("out_t changed when only inputs after t changed: the state at step t must hold steps "
                       "1..t only (update S_t and z_t, then read out, one step at a time)")


LINEAR_ATTENTION = Task(
    "linear_attention_recurrent", NOTEBOOK,
    "Causal linear attention as an RNN: S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t), "
    "out_t = phi(q_t)^T S_t / phi(q_t)^T z_t (book eq. eq-linattn-recurrent), against the parallel form.",
    (
        Test("returns out shaped (batch, time, d_v)", 1, _linattn_shape),
        Test("equals the parallel form (phi(Q) phi(K)^T * M) V / row sums", 1, _linattn_values),
        Test("normalised: with v = 1 every output is 1", 1, _linattn_normaliser),
        Test("causal: out_t does not depend on later steps", 1, _linattn_causal),
    ),
)

TASKS = (LOOP, SCAN, LINEAR_ATTENTION)
