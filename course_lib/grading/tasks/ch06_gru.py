"""Tasks of ``exercises/06_gru.ipynb``: a GRU cell in torch's formulation, counting parameters."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import call_learner, expect_array
from ..registry import Task, Test
from .common import cell_weights, check_callable, normal, number_question, sizes
from .sequences import backward_task, forward_task

NOTEBOOK = "06_gru"


def _run(fn, rng, zero_h=False):
    check_callable(fn, "gru_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)")
    batch, n_in, hidden = sizes(rng)
    x = normal(rng, batch, n_in)
    h = np.zeros((batch, hidden)) if zero_h else normal(rng, batch, hidden, scale=0.8)
    w = cell_weights(rng, 3, n_in, hidden)
    expected, _ = ref.gru_cell_forward(x, h, **w)
    return call_learner(fn, x, h, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"], name="gru_cell_forward"), expected


def _shape(fn, rng):
    got, expected = _run(fn, rng)
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        expect_array(got, expected, "h_next")


def _values_h0(fn, rng):
    got, expected = _run(fn, rng, zero_h=True)
    expect_array(got, expected, "h_next (with h = 0)")


def _values(fn, rng):
    got, expected = _run(fn, rng)
    expect_array(got, expected, "h_next")


GRU_FORWARD = Task(
    "gru_cell_forward", NOTEBOOK,
    "One GRU step in torch's formulation, gates r, z, n (book eqs. eq-gru-r, eq-gru-z, eq-gru-n, eq-gru-h).",
    (
        Test("returns h_next shaped (batch, hidden)", 1, _shape),
        Test("h_next is right when h = 0 (r multiplies b_hn too)", 1, _values_h0),
        Test("h_next is right for a random h", 1, _values),
    ),
)

PARAMETERS = number_question(
    "gru_parameters", NOTEBOOK,
    "How many parameters does torch.nn.GRU(input_size=10, hidden_size=20) have?",
    expected=lambda: sum(p.size for p in ref.GRU(10, 20).params.values()), rel=0.0,
)

GRU_SEQ_FORWARD = forward_task(
    "gru", "gru_forward", NOTEBOOK, "A GRU over a whole batch of sequences: out[:, t] = h_t, and h_n.")

GRU_SEQ_BACKWARD = backward_task(
    "gru", "gru_backward", NOTEBOOK,
    "BPTT through a GRU (torch's formulation): the step backward through r, z and n, gradients from every "
    "output and from h_n, weight gradients summed over all steps.")

TASKS = (GRU_FORWARD, PARAMETERS, GRU_SEQ_FORWARD, GRU_SEQ_BACKWARD)
