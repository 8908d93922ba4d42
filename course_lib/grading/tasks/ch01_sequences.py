"""Tasks of ``exercises/01_sequences.ipynb``: one RNN step, a whole sequence, the RNN types."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import call_learner, expect_array, expect_mapping, expect_tuple
from ..registry import Task, Test
from .common import cell_weights, check_callable, multiple_choice, normal, sizes

NOTEBOOK = "01_sequences"
CACHE_KEYS = ("x", "h", "h_next", "W_ih", "W_hh")


# ----------------------------------------------------------------------------- rnn_cell_forward
def _cell_case(rng, zero_h=False):
    batch, n_in, hidden = sizes(rng)
    args = {"x": normal(rng, batch, n_in),
            "h": np.zeros((batch, hidden)) if zero_h else normal(rng, batch, hidden, scale=0.8)}
    args.update(cell_weights(rng, 1, n_in, hidden))
    expected, _ = ref.rnn_cell_forward(**args)
    return args, expected


def _run_cell(fn, args):
    check_callable(fn, "rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)")
    out = call_learner(fn, args["x"], args["h"], args["W_ih"], args["W_hh"], args["b_ih"], args["b_hh"],
                       name="rnn_cell_forward")
    return expect_tuple(out, 2, "rnn_cell_forward", "(h_next, cache)")


def _cell_shape(fn, rng):
    args, expected = _cell_case(rng)
    h_next, _ = _run_cell(fn, args)
    if not isinstance(h_next, np.ndarray) or h_next.shape != expected.shape:
        expect_array(h_next, expected, "h_next")  # raises with the type/shape reason


def _cell_values_h0(fn, rng):
    args, expected = _cell_case(rng, zero_h=True)
    expect_array(_run_cell(fn, args)[0], expected, "h_next (with h = 0)")


def _cell_values(fn, rng):
    args, expected = _cell_case(rng)
    expect_array(_run_cell(fn, args)[0], expected, "h_next")


def _cell_cache(fn, rng):
    args, expected = _cell_case(rng)
    h_next, cache = _run_cell(fn, args)
    expect_mapping(cache, CACHE_KEYS, "cache")
    if not isinstance(h_next, np.ndarray) or h_next.shape != expected.shape:
        expect_array(h_next, expected, "h_next")
    # the cache must hold the step's inputs and its own output (right or wrong: that is graded above)
    wanted = {"x": args["x"], "h": args["h"], "h_next": h_next, "W_ih": args["W_ih"], "W_hh": args["W_hh"]}
    for key in CACHE_KEYS:
        expect_array(cache[key], wanted[key], f"cache[{key!r}]")


RNN_CELL_FORWARD = Task(
    "rnn_cell_forward", NOTEBOOK,
    "One step of an Elman RNN, h_next = tanh(W_ih x + b_ih + W_hh h + b_hh) (book eq. eq-rnn).",
    (
        Test("returns (h_next, cache) with h_next shaped (batch, hidden)", 1, _cell_shape),
        Test("h_next is right when h = 0 (input path and biases)", 1, _cell_values_h0),
        Test("h_next is right for a random h (the recurrence)", 1, _cell_values),
        Test("cache holds x, h, h_next, W_ih, W_hh (for the backward pass)", 1, _cell_cache),
    ),
)


# ----------------------------------------------------------------------------- rnn_forward
def _seq_case(rng, zero_h0=False, time=None):
    batch, n_in, hidden = sizes(rng)
    time = int(rng.integers(3, 8)) if time is None else time
    x = normal(rng, batch, time, n_in)
    h0 = np.zeros((batch, hidden)) if zero_h0 else normal(rng, batch, hidden, scale=0.8)
    w = cell_weights(rng, 1, n_in, hidden)
    model = ref.RNN(n_in, hidden)
    model.load_state_dict({"weight_ih_l0": w["W_ih"], "weight_hh_l0": w["W_hh"],
                           "bias_ih_l0": w["b_ih"], "bias_hh_l0": w["b_hh"]})
    expected, _ = model.forward(x, h0[None])
    return (x, h0, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"]), expected


def _run_seq(fn, args):
    check_callable(fn, "rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)")
    return call_learner(fn, *args, name="rnn_forward")


def _seq_shape(fn, rng):
    args, expected = _seq_case(rng)
    out = _run_seq(fn, args)
    if not isinstance(out, np.ndarray) or out.shape != expected.shape:
        expect_array(out, expected, "out")


def _seq_values_h0(fn, rng):
    args, expected = _seq_case(rng, zero_h0=True)
    expect_array(_run_seq(fn, args), expected, "out (with h0 = 0)")


def _seq_values(fn, rng):
    args, expected = _seq_case(rng)
    expect_array(_run_seq(fn, args), expected, "out (with a random h0)")


RNN_FORWARD = Task(
    "rnn_forward", NOTEBOOK,
    "An RNN over a whole batch of sequences: out[:, t] = h_t for t = 0 .. time-1.",
    (
        Test("returns out shaped (batch, time, hidden)", 1, _seq_shape),
        Test("out is right with h0 = 0", 1, _seq_values_h0),
        Test("out is right with a random h0", 1, _seq_values),
    ),
)

RNN_TYPES = multiple_choice(
    "rnn_types", NOTEBOOK,
    "Which kind of RNN classifies the sentiment of a whole review (one label per sequence)?",
    options="abcd", key="6dbd9a7f8fda5577e8c7d745b5df9cc5c65865d44e415028f8a0269396202057",
)

TASKS = (RNN_CELL_FORWARD, RNN_FORWARD, RNN_TYPES)
