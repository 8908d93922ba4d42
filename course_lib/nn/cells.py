"""One time step of the Elman RNN, the LSTM and the GRU, written as plainly as possible.

These are the cells the readable ``impl="loop"`` of :class:`course_lib.nn.RNN` /
:class:`~course_lib.nn.LSTM` / :class:`~course_lib.nn.GRU` calls once per time step
(:func:`run_loop` is that loop); autograd differentiates them. The fused kernels
(:mod:`course_lib.nn.fused`) call :func:`run_loop` too, to make their backward pass
differentiable (double backward). Each takes ``xw_t``, the input projection of this step
``W_ih x_t + b_ih`` (computed for all steps at once, one matrix product), so that a step
does one more matrix product for all its gates.

Shapes: ``xw_t`` is ``(batch, G * hidden)`` with ``G`` = 1 (RNN), 4 (LSTM), 3 (GRU);
``h``/``c`` are ``(batch, hidden)``; ``w_hh`` is ``(G * hidden, hidden)`` and ``b_hh`` is
``(G * hidden,)`` or ``None``. Gate order is torch's: LSTM ``i, f, g, o``; GRU ``r, z, n``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def rnn_step(xw_t, h, w_hh, b_hh, nonlinearity="tanh"):
    """Elman step, book eq. `eq-rnn`: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``."""
    a = xw_t + F.linear(h, w_hh, b_hh)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def lstm_step(xw_t, h, c, w_hh, b_hh, w_hr=None):
    """LSTM step, book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`. Returns ``(h', c')``.

    With a projection (``proj_size > 0``, Sak et al. 2014) ``w_hr`` is ``(proj, hidden)``, ``h`` is
    ``(batch, proj)`` and ``h' = (o * tanh(c')) W_hr^T``, as in :class:`torch.nn.LSTM`.
    """
    gates = xw_t + F.linear(h, w_hh, b_hh)          # all four gates: one matrix product
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g                           # eq-lstm-c
    h_next = o * torch.tanh(c_next)                  # eq-lstm-h
    if w_hr is not None:
        h_next = F.linear(h_next, w_hr)              # the projection of an LSTMP
    return h_next, c_next


def gru_step(xw_t, h, w_hh, b_hh):
    """GRU step in torch's formulation, book eqs. `eq-gru-r`, `eq-gru-z`, `eq-gru-n`, `eq-gru-h`.

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` (the reset gate multiplies the
    *projected* state, unlike Cho et al. 2014), ``h' = (1 - z) * n + z * h``.
    """
    gh = F.linear(h, w_hh, b_hh)                     # the three hidden projections: one product
    xr, xz, xn = xw_t.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)                       # eq-gru-r
    z = torch.sigmoid(xz + hz)                       # eq-gru-z
    n = torch.tanh(xn + r * hn)                      # eq-gru-n
    return (h - n) * z + n                           # eq-gru-h, (1 - z) n + z h in torch's order of operations


def run_loop(kind, xw, w_hh, b_hh, h, c=None, mask=None, reverse=False, w_hr=None):
    """The time loop over one direction of one layer, under autograd (book eq. `eq-rnn` unrolled).

    ``kind`` is torch's mode name: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
    ``xw`` ``(time, batch, G * hidden)``: the input projections of all steps (time-major);
    ``h`` ``(batch, hidden)`` (``(batch, proj)`` for an LSTM with ``w_hr``) and, for the LSTM,
    ``c`` ``(batch, hidden)``: the initial state; ``mask`` ``None`` or ``(time, batch, 1)``, 1 where
    ``t < lengths[b]``: a masked step keeps the state and outputs zero (torch's packed-sequence
    semantics, so the reverse direction starts at each sequence's own last step).
    Returns ``(out, h_n)`` or, for the LSTM, ``(out, h_n, c_n)``; ``out`` is ``(time, batch, hidden)``
    in time order.
    """
    T = xw.shape[0]
    out = [None] * T
    xws = xw.unbind(0)      # one view per step (indexing xw[t] would cost a full-size gradient per step)
    masks = None if mask is None else mask.unbind(0)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if kind == "LSTM":
            h_new, c_new = lstm_step(xws[t], h, c, w_hh, b_hh, w_hr)
        elif kind == "GRU":
            h_new = gru_step(xws[t], h, w_hh, b_hh)
        else:
            h_new = rnn_step(xws[t], h, w_hh, b_hh, "relu" if kind == "RNN_RELU" else "tanh")
        if mask is None:
            h, c = h_new, (c_new if kind == "LSTM" else None)
            out[t] = h
        else:                                       # past its length a sequence keeps its state
            m = masks[t]
            h = m * h_new + (1 - m) * h
            if kind == "LSTM":
                c = m * c_new + (1 - m) * c
            out[t] = m * h_new                      # ... and outputs zero
    out = torch.stack(out) if T else xw.new_zeros(0, h.shape[0], h.shape[1])
    return (out, h, c) if kind == "LSTM" else (out, h)
