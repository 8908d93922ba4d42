"""Tasks of ``exercises/07_bidirectional_deep.ipynb``: a bidirectional RNN over a padded batch with lengths."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_array, expect_tuple
from ..registry import Task, Test
from .common import check_callable, normal, sizes

NOTEBOOK = "07_bidirectional_deep"


def _case(rng, variable):
    batch, n_in, hidden = sizes(rng, low=3, high=8)
    time = int(rng.integers(5, 9))
    x = normal(rng, batch, time, n_in)
    if variable:  # one full-length sequence, one of length 1, the rest anywhere in between
        lengths = rng.integers(1, time + 1, size=batch)
        lengths[rng.permutation(batch)[:2]] = [time, 1]
    else:
        lengths = np.full(batch, time)
    model = ref.RNN(n_in, hidden, bidirectional=True, seed=int(rng.integers(2**31)))
    params = model.state_dict()
    x_padded = np.where(np.arange(time)[None, :, None] < lengths[:, None, None], x, 0.0)
    out, h_n = model.forward(x_padded, lengths=lengths)
    return (x_padded, lengths, params), (out, h_n), hidden


def _run(fn, rng, variable):
    check_callable(fn, "birnn_forward(x, lengths, params)")
    args, expected, hidden = _case(rng, variable)
    got = call_learner(fn, *args, name="birnn_forward")
    return expect_tuple(got, 2, "birnn_forward", "(out, h_n)"), expected, args[1], hidden


def _compare_out(out, expected, lengths, hidden, note):
    if not isinstance(out, np.ndarray) or out.shape != expected.shape:
        expect_array(out, expected, "out")
    time = expected.shape[1]
    past = np.arange(time)[None, :] >= np.asarray(lengths)[:, None]
    if np.any(out[past] != 0):
        raise Mismatch(f"out must be 0 past each sequence's length; {int(np.sum(np.any(out[past] != 0, axis=-1)))} "
                       "padded step(s) are not")
    expect_array(out[..., :hidden], expected[..., :hidden], f"out[..., :hidden] (forward direction{note})")
    expect_array(out[..., hidden:], expected[..., hidden:], f"out[..., hidden:] (reverse direction{note})")


def _shapes(fn, rng):
    (out, h_n), (e_out, e_h_n), _, _ = _run(fn, rng, variable=True)
    for g, e, n in ((out, e_out, "out"), (h_n, e_h_n, "h_n")):
        if not isinstance(g, np.ndarray) or g.shape != e.shape:
            expect_array(g, e, n)


def _full_lengths(fn, rng):
    (out, h_n), (e_out, e_h_n), lengths, hidden = _run(fn, rng, variable=False)
    _compare_out(out, e_out, lengths, hidden, ", all sequences full length")
    expect_array(h_n, e_h_n, "h_n (all sequences full length)")


def _variable_out(fn, rng):
    (out, _), (e_out, _), lengths, hidden = _run(fn, rng, variable=True)
    _compare_out(out, e_out, lengths, hidden, ", lengths " + str(np.asarray(lengths).tolist()))


def _variable_h_n(fn, rng):
    (_, h_n), (_, e_h_n), lengths, _ = _run(fn, rng, variable=True)
    if not isinstance(h_n, np.ndarray) or h_n.shape != e_h_n.shape:
        expect_array(h_n, e_h_n, "h_n")
    expect_array(h_n[0], e_h_n[0], "h_n[0] (forward direction: the state at each sequence's last step)")
    expect_array(h_n[1], e_h_n[1], "h_n[1] (reverse direction: the state after reading back to t = 0)")


BIRNN = Task(
    "birnn_forward", NOTEBOOK,
    "A bidirectional tanh RNN over a padded batch: the reverse direction starts at each sequence's own "
    "last step, outputs past a sequence's length are 0 (torch's packed-sequence semantics).",
    (
        Test("returns out (batch, time, 2*hidden) and h_n (2, batch, hidden)", 1, _shapes),
        Test("out and h_n are right when every sequence has full length", 1, _full_lengths),
        Test("out is right with variable lengths (zeros past the end)", 1, _variable_out),
        Test("h_n is right with variable lengths", 1, _variable_h_n),
    ),
)

TASKS = (BIRNN,)
