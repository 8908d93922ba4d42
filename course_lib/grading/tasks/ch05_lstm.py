"""Tasks of ``exercises/05_lstm.ipynb``: an LSTM cell and a whole LSTM layer, forward and backward (gates i, f, g, o)."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import call_learner, expect_array, expect_mapping, expect_tuple
from ..registry import Task, Test
from .common import cell_weights, check_callable, normal, sizes
from .sequences import backward_task, forward_task

NOTEBOOK = "05_lstm"
CACHE_KEYS = ("x", "h", "c", "i", "f", "g", "o", "c_next", "W_ih", "W_hh")
GRAD_NAMES = ("dx", "dh", "dc", "dW_ih", "dW_hh", "db_ih", "db_hh")


def _case(rng):
    """Random inputs, the reference's (h_next, c_next) and the cache a correct forward builds."""
    batch, n_in, hidden = sizes(rng)
    x, h, c = normal(rng, batch, n_in), normal(rng, batch, hidden, scale=0.8), normal(rng, batch, hidden)
    w = cell_weights(rng, 4, n_in, hidden)
    (h_next, c_next), ref_cache = ref.lstm_cell_forward(x, h, c, **w)
    a = x @ w["W_ih"].T + w["b_ih"] + h @ w["W_hh"].T + w["b_hh"]
    i, f, g, o = (a[:, k * hidden:(k + 1) * hidden] for k in range(4))
    cache = {"x": x, "h": h, "c": c, "i": ref.sigmoid(i), "f": ref.sigmoid(f), "g": np.tanh(g),
             "o": ref.sigmoid(o), "c_next": c_next, "W_ih": w["W_ih"], "W_hh": w["W_hh"]}
    return (x, h, c, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"]), (h_next, c_next), cache, ref_cache


# ----------------------------------------------------------------------------- lstm_cell_forward
def _run_forward(fn, rng):
    check_callable(fn, "lstm_cell_forward(x, h, c, W_ih, W_hh, b_ih, b_hh)")
    args, expected, cache, _ = _case(rng)
    out = call_learner(fn, *args, name="lstm_cell_forward")
    states, got_cache = expect_tuple(out, 2, "lstm_cell_forward", "((h_next, c_next), cache)")
    h_next, c_next = expect_tuple(states, 2, "lstm_cell_forward", "((h_next, c_next), cache) -- its first item")
    return (h_next, c_next), got_cache, expected, cache


def _forward_shapes(fn, rng):
    got, _, expected, _ = _run_forward(fn, rng)
    for g, e, n in zip(got, expected, ("h_next", "c_next")):
        if not isinstance(g, np.ndarray) or g.shape != e.shape:
            expect_array(g, e, n)


def _forward_c(fn, rng):
    got, _, expected, _ = _run_forward(fn, rng)
    expect_array(got[1], expected[1], "c_next")


def _forward_h(fn, rng):
    got, _, expected, _ = _run_forward(fn, rng)
    expect_array(got[0], expected[0], "h_next")


def _forward_cache(fn, rng):
    got, got_cache, _, cache = _run_forward(fn, rng)
    expect_mapping(got_cache, CACHE_KEYS, "cache")
    for key in CACHE_KEYS:
        wanted = got[1] if key == "c_next" and isinstance(got[1], np.ndarray) and got[1].shape == cache[key].shape \
            else cache[key]
        expect_array(got_cache[key], wanted, f"cache[{key!r}]")


LSTM_FORWARD = Task(
    "lstm_cell_forward", NOTEBOOK,
    "One LSTM step, gate order i, f, g, o (book eqs. eq-lstm-gates, eq-lstm-c, eq-lstm-h).",
    (
        Test("returns ((h_next, c_next), cache), each state shaped (batch, hidden)", 1, _forward_shapes),
        Test("c_next = f * c + i * g is right", 1, _forward_c),
        Test("h_next = o * tanh(c_next) is right", 1, _forward_h),
        Test("cache holds x, h, c, the gates i, f, g, o, c_next, W_ih, W_hh", 1, _forward_cache),
    ),
)


# ----------------------------------------------------------------------------- lstm_cell_backward
def _run_backward(fn, rng, with_dc=True):
    check_callable(fn, "lstm_cell_backward(d_next, cache)")
    _, (h_next, _), cache, ref_cache = _case(rng)
    dh_next = normal(rng, *h_next.shape)
    dc_next = normal(rng, *h_next.shape) if with_dc else np.zeros_like(h_next)
    expected = ref.lstm_cell_backward((dh_next, dc_next), ref_cache)
    out = call_learner(fn, (dh_next, dc_next), cache, name="lstm_cell_backward")
    got = expect_tuple(out, 7, "lstm_cell_backward", "(dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh)")
    return got, expected


def _compare(got, expected, which, suffix=""):
    for g, e, n in zip(got, expected, GRAD_NAMES):
        if which is None or n in which:
            expect_array(g, e, n + suffix, kind="gradient")


def _backward_shapes(fn, rng):
    got, expected = _run_backward(fn, rng)
    for g, e, n in zip(got, expected, GRAD_NAMES):
        if not isinstance(g, np.ndarray) or g.shape != e.shape:
            expect_array(g, e, n)


def _backward_no_dc(fn, rng):
    got, expected = _run_backward(fn, rng, with_dc=False)
    _compare(got, expected, ("dx", "dh", "dc"), " (with dc_next = 0)")


def _backward_dc(fn, rng):
    got, expected = _run_backward(fn, rng)
    _compare(got, expected, ("dx", "dh", "dc"), " (with dc_next != 0)")


def _backward_weights(fn, rng):
    got, expected = _run_backward(fn, rng)
    _compare(got, expected, ("dW_ih", "dW_hh", "db_ih", "db_hh"))


LSTM_BACKWARD = Task(
    "lstm_cell_backward", NOTEBOOK,
    "Backward of one LSTM step: the chain rule through eqs. eq-lstm-h, eq-lstm-c, eq-lstm-gates.",
    (
        Test("returns seven gradients shaped like x, h, c, W_ih, W_hh, b_ih, b_hh", 1, _backward_shapes),
        Test("dx, dh, dc are right when only h_next receives a gradient", 1, _backward_no_dc),
        Test("dx, dh, dc are right when c_next receives a gradient too", 1, _backward_dc),
        Test("dW_ih, dW_hh, db_ih, db_hh are right", 1, _backward_weights),
    ),
)

LSTM_SEQ_FORWARD = forward_task(
    "lstm", "lstm_forward", NOTEBOOK,
    "An LSTM over a whole batch of sequences: out[:, t] = h_t, and the final (h_n, c_n).")

LSTM_SEQ_BACKWARD = backward_task(
    "lstm", "lstm_backward", NOTEBOOK,
    "BPTT through an LSTM: gradients from every output and from the final (h_n, c_n), carried back through "
    "both h and the cell state c; weight gradients summed over all steps.")

TASKS = (LSTM_FORWARD, LSTM_BACKWARD, LSTM_SEQ_FORWARD, LSTM_SEQ_BACKWARD)
