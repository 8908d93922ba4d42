"""One time step of the Elman RNN, the LSTM and the GRU, written as plainly as possible.

These are the cells the readable ``mode="loop"`` of :class:`course_lib.nn.RNN` /
:class:`~course_lib.nn.LSTM` / :class:`~course_lib.nn.GRU` calls once per time step;
autograd differentiates them. Each takes ``xw_t``, the input projection of this step
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


def lstm_step(xw_t, h, c, w_hh, b_hh):
    """LSTM step, book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`. Returns ``(h', c')``."""
    gates = xw_t + F.linear(h, w_hh, b_hh)          # all four gates: one matrix product
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g                           # eq-lstm-c
    h_next = o * torch.tanh(c_next)                  # eq-lstm-h
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
    return (1 - z) * n + z * h                       # eq-gru-h
