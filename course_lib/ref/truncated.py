"""Truncated backpropagation through time, BPTT(k1, k2) (book ch. 03).

Williams & Peng (1990) call it BPTT(h; h'); Sutskever (2013) writes BPTT(k1, k2). The network runs
forward over the whole sequence as usual, but gradients are computed in pieces:

* every ``k1`` steps (after steps t = k1-1, 2k1-1, ..., and after the last step T-1) a backward pass
  starts at the current step t;
* it injects the loss gradients of the steps taken since the previous pass, t-k1+1 ... t
  (book eq. `eq-bptt-dy`), and
* it runs back only ``k2 >= k1`` steps, to step t-k2+1: the state entering that window is treated
  as a constant, so the chain of Jacobians (eq. `eq-bptt-jacobian`) is cut there.

The error of step s is therefore propagated back over at most k2 - (t - s) steps, between k2 - k1 + 1
and k2. Dependencies longer than that are invisible to the gradient: the bias of truncation. With
``k2 >= T`` nothing is cut and the sum of the pieces is exactly full BPTT; with ``k1 = k2 = T`` it is
literally full BPTT. Williams & Peng's online algorithm updates the weights after every backward pass;
:func:`truncated_bptt` returns the summed gradient, or each pass's gradient with ``per_window=True``.
"""
from __future__ import annotations

import numpy as np

from .validate import as_float_array, check_shape
from ..core.checks import count as _positive_int

__all__ = ["truncation_windows", "truncated_bptt"]



def truncation_windows(time, k1, k2):
    """The backward passes of BPTT(k1, k2) over ``time`` steps, as ``(start, inject, stop)`` triples.

    Each pass covers steps ``start .. stop-1`` (at most k2 steps, ending at the pass's step
    t = stop-1) and injects loss gradients at steps ``inject .. stop-1`` (the last k1 or fewer).

    >>> truncation_windows(7, 2, 3)
    [(0, 0, 2), (1, 2, 4), (3, 4, 6), (4, 6, 7)]
    """
    time, k1, k2 = _positive_int(time, "time"), _positive_int(k1, "k1"), _positive_int(k2, "k2")
    if k1 > k2:
        raise ValueError(f"k1 must be <= k2 (each backward pass must reach the steps it injects); "
                         f"got k1={k1}, k2={k2}")
    ends = list(range(k1, time + 1, k1))
    if not ends or ends[-1] != time:
        ends.append(time)
    windows, previous = [], 0
    for stop in ends:
        windows.append((max(0, stop - k2), previous, stop))
        previous = stop
    return windows


def truncated_bptt(model, x, d_out, k1, k2, state=None, per_window=False):
    """Gradients of BPTT(k1, k2) for a unidirectional ``ref.RNN``/``LSTM``/``GRU`` (any num_layers).

    x (batch, time, input_size); d_out (batch, time, hidden): the loss gradient w.r.t. every
    output (for a loss that sums per-step terms it does not depend on the truncation);
    state: the initial state as in ``model.forward``.
    Returns a dict like ``model.backward`` (parameters, "x", "h0"[, "c0"]) summed over all backward
    passes; "h0" only receives the passes that reach step 0. With ``per_window=True`` returns a list
    of ``((start, inject, stop), grads)``, one per pass, for online updates.

    Each pass re-runs the forward over its window from the exact state at the window's start
    (computed once, carried forward chunk by chunk), then calls ``model.backward`` with the
    gradients of steps ``inject .. stop-1`` only: the window's initial state is a constant.
    """
    if getattr(model, "bidirectional", False):
        raise ValueError("truncated BPTT needs a unidirectional model; a bidirectional layer reads the future")
    if getattr(model, "training", False) and getattr(model, "dropout", 0.0) > 0:
        raise ValueError("truncated BPTT re-runs the forward pass, so dropout masks would change: "
                         "call model.eval() or use dropout=0")
    x = model._check_x(x)
    batch, time, _ = x.shape
    d_out = as_float_array(d_out, "d_out", model.dtype)
    check_shape(d_out, (batch, time, model.hidden_size), "d_out", "(batch, time, hidden)")
    windows = truncation_windows(time, k1, k2)

    # the exact state entering each window (the forward pass is not truncated)
    states = {0: state}
    position, current = 0, state
    for start in sorted({w[0] for w in windows}):
        if start > position:
            _, current = model.forward(x[:, position:start], current)
            position = start
        states[start] = current

    passes = []
    for start, inject, stop in windows:
        model.forward(x[:, start:stop], states[start])
        d_window = np.zeros((batch, stop - start, model.hidden_size), dtype=model.dtype)
        d_window[:, inject - start:] = d_out[:, inject:stop]
        grads = model.backward(d_window)
        full_x = np.zeros_like(x)
        full_x[:, start:stop] = grads["x"]
        grads["x"] = full_x
        if start > 0:  # the state entering the window was a constant: nothing flows to h0
            for name in model.state_names:
                grads[name] = np.zeros_like(grads[name])
        passes.append(((start, inject, stop), grads))
    if per_window:
        return passes
    total = {name: np.zeros_like(g) for name, g in passes[0][1].items()}
    for _, grads in passes:
        for name, g in grads.items():
            total[name] += g
    return total
