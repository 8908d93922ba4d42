"""Recurrent cells as forward/backward pairs: the units of the BPTT derivation (book ch. 03, 05, 06).

Every cell comes in two halves that the text derives separately:

* the **input projection** ``xp = x @ W_ih.T + b_ih``, which does not depend on the past, and
* the **step** ``*_step_forward(xp, h, ..., W_hh, b_hh)``, the recurrent part.

``*_cell_forward`` is simply projection + step, and ``*_cell_backward`` is step backward +
projection backward. The layers in :mod:`course_lib.ref.layers` call the very same step functions,
but project the inputs of *all* time steps with one matrix product and sum the weight gradients of
all steps with one matrix product (book eq. `eq-bptt-dW`), which is what makes them fast.

Shapes (batch first, like torch): x (batch, input_size), h and c (batch, hidden),
W_ih (G*hidden, input_size), W_hh (G*hidden, hidden), b_ih and b_hh (G*hidden,), with G = 1 for
the RNN, 4 for the LSTM (gate order i, f, g, o) and 3 for the GRU (gate order r, z, n) -- torch's
names, shapes and gate order, so torch's weights can be used unchanged.

Step backward functions return ``(d_xp, d_hp, dh_prev[, dc_prev])``: the gradients with respect
to the input projection and to the hidden projection ``hp = h @ W_hh.T + b_hh`` (the same array
for the RNN and LSTM; they differ only in the GRU's n gate), and with respect to the previous state.
"""
from __future__ import annotations

import numpy as np

from .functional import sigmoid
from .validate import as_float_array, check_finite, check_same_dtype, check_shape

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_cell_forward", "rnn_cell_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_cell_forward", "lstm_cell_backward",
    "gru_step_forward", "gru_step_backward", "gru_cell_forward", "gru_cell_backward",
    "NONLINEARITIES",
]

NONLINEARITIES = ("tanh", "relu")


# ----------------------------------------------------------------------------- Elman RNN
def rnn_step_forward(xp, h, W_hh, b_hh, nonlinearity="tanh"):
    """One RNN step from the projected input: h_next = phi(a), a = xp + W_hh h + b_hh.

    With xp = W_ih x_t + b_ih this is book eq. `eq-rnn` / `eq-bptt-forward`; phi is tanh or relu.
    xp (batch, hidden), h (batch, hidden). Returns ``(h_next, cache)``.
    """
    a = xp + h @ W_hh.T + b_hh
    h_next = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
    return h_next, (h, h_next, W_hh, nonlinearity)


def rnn_step_backward(dh_next, cache):
    """Backward of :func:`rnn_step_forward`.

    da = dh_next * phi'(a)      book eq. `eq-bptt-da`  (tanh' = 1 - h_next^2, relu' = [h_next > 0])
    dh = da @ W_hh               book eq. `eq-bptt-dh` (one factor of the Jacobian, eq. `eq-bptt-jacobian`)
    Returns ``(d_xp, d_hp, dh)``; for the RNN d_xp and d_hp are both da.
    """
    h, h_next, W_hh, nonlinearity = cache
    if nonlinearity == "tanh":
        da = dh_next * (1.0 - h_next * h_next)
    else:
        da = dh_next * (h_next > 0)
    return da, da, da @ W_hh


# ----------------------------------------------------------------------------- LSTM
def lstm_step_forward(xp, h, c, W_hh, b_hh):
    """One LSTM step from the projected input xp = W_ih x_t + b_ih (gate order i, f, g, o).

    a = xp + W_hh h + b_hh;  i, f, o = sigmoid(a_i, a_f, a_o), g = tanh(a_g)   book eq. `eq-lstm-gates`
    c_next = f * c + i * g                                                    book eq. `eq-lstm-c`
    h_next = o * tanh(c_next)                                                 book eq. `eq-lstm-h`
    xp (batch, 4*hidden), h and c (batch, hidden). Returns ``((h_next, c_next), cache)``.
    """
    H = h.shape[1]
    a = xp + h @ W_hh.T + b_hh
    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    c_next = f * c + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    return (h_next, c_next), (h, c, i, f, g, o, tanh_c, W_hh)


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward of :func:`lstm_step_forward`: the chain rule through eqs. `eq-lstm-h`, `eq-lstm-c`, `eq-lstm-gates`.

    do = dh_next * tanh(c_next);  dc = dc_next + dh_next * o * (1 - tanh(c_next)^2)
    di = dc * g;  df = dc * c;  dg = dc * i;  dc_prev = dc * f
    da = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)];  dh_prev = da @ W_hh
    Returns ``(d_xp, d_hp, dh_prev, dc_prev)`` with d_xp = d_hp = da (batch, 4*hidden).
    """
    h, c, i, f, g, o, tanh_c, W_hh = cache
    H = h.shape[1]
    do = dh_next * tanh_c
    dc = dc_next + dh_next * o * (1.0 - tanh_c * tanh_c)
    da = np.empty((h.shape[0], 4 * H), dtype=h.dtype)
    da[:, 0 * H:1 * H] = dc * g * i * (1.0 - i)       # d a_i
    da[:, 1 * H:2 * H] = dc * c * f * (1.0 - f)       # d a_f
    da[:, 2 * H:3 * H] = dc * i * (1.0 - g * g)       # d a_g
    da[:, 3 * H:4 * H] = do * o * (1.0 - o)           # d a_o
    return da, da, da @ W_hh, dc * f


# ----------------------------------------------------------------------------- GRU
def gru_step_forward(xp, h, W_hh, b_hh):
    """One GRU step from the projected input xp = W_ih x_t + b_ih, torch's formulation (gates r, z, n).

    hp = W_hh h + b_hh (split into hp_r, hp_z, hp_n)
    r = sigmoid(xp_r + hp_r)                  book eq. `eq-gru-r`
    z = sigmoid(xp_z + hp_z)                  book eq. `eq-gru-z`
    n = tanh(xp_n + r * hp_n)                 book eq. `eq-gru-n` (r multiplies W_hn h + b_hn)
    h_next = (1 - z) * n + z * h              book eq. `eq-gru-h`
    xp (batch, 3*hidden), h (batch, hidden). Returns ``(h_next, cache)``.
    """
    H = h.shape[1]
    hp = h @ W_hh.T + b_hh
    r = sigmoid(xp[:, 0 * H:1 * H] + hp[:, 0 * H:1 * H])
    z = sigmoid(xp[:, 1 * H:2 * H] + hp[:, 1 * H:2 * H])
    hp_n = hp[:, 2 * H:3 * H]
    n = np.tanh(xp[:, 2 * H:3 * H] + r * hp_n)
    h_next = (1.0 - z) * n + z * h
    return h_next, (h, r, z, n, hp_n, W_hh)


def gru_step_backward(dh_next, cache):
    """Backward of :func:`gru_step_forward` (chain rule through eqs. `eq-gru-h`, `eq-gru-n`, `eq-gru-z`, `eq-gru-r`).

    dn = dh_next * (1 - z);  dz = dh_next * (h - n);  direct path dh += dh_next * z
    da_n = dn * (1 - n^2);  dr = da_n * hp_n;  da_r = dr * r(1-r);  da_z = dz * z(1-z)
    d_xp = [da_r, da_z, da_n];  d_hp = [da_r, da_z, r * da_n];  dh_prev = dh_next * z + d_hp @ W_hh
    Returns ``(d_xp, d_hp, dh_prev)``, each projection gradient (batch, 3*hidden).
    """
    h, r, z, n, hp_n, W_hh = cache
    H = h.shape[1]
    da_n = dh_next * (1.0 - z) * (1.0 - n * n)
    d_xp = np.empty((h.shape[0], 3 * H), dtype=h.dtype)
    d_xp[:, 0 * H:1 * H] = da_n * hp_n * r * (1.0 - r)          # d a_r
    d_xp[:, 1 * H:2 * H] = dh_next * (h - n) * z * (1.0 - z)    # d a_z
    d_xp[:, 2 * H:3 * H] = da_n                                 # d a_n (input side)
    d_hp = d_xp.copy()
    d_hp[:, 2 * H:3 * H] = da_n * r                             # r scales W_hn h + b_hn
    return d_xp, d_hp, dh_next * z + d_hp @ W_hh


# ----------------------------------------------------------------------------- full cells
def _check_cell(n_gates, x, states, W_ih, W_hh, b_ih, b_hh):
    """Validate a cell's arguments; return them as arrays (x, states list, W_ih, W_hh, b_ih, b_hh)."""
    x = as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be (batch, input_size); got shape {x.shape}")
    batch, input_size = x.shape
    arrays = {"x": x}
    states = dict(states)
    for name in states:
        states[name] = as_float_array(states[name], name)
        if states[name].ndim != 2:
            raise ValueError(f"{name} must be (batch, hidden) = ({batch}, hidden); got shape {states[name].shape}")
    first = next(iter(states))
    hidden = states[first].shape[1]
    gh = f"({n_gates}*hidden" if n_gates > 1 else "(hidden"
    for name in states:
        check_shape(states[name], (batch, hidden), name, "(batch, hidden)")
    W_ih, W_hh = as_float_array(W_ih, "W_ih"), as_float_array(W_hh, "W_hh")
    b_ih, b_hh = as_float_array(b_ih, "b_ih"), as_float_array(b_hh, "b_hh")
    check_shape(W_ih, (n_gates * hidden, input_size), "W_ih", gh + ", input_size)")
    check_shape(W_hh, (n_gates * hidden, hidden), "W_hh", gh + ", hidden)")
    check_shape(b_ih, (n_gates * hidden,), "b_ih", gh + ",)")
    check_shape(b_hh, (n_gates * hidden,), "b_hh", gh + ",)")
    arrays.update(states)
    arrays.update(W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh)
    check_same_dtype(arrays)
    for name, a in arrays.items():
        check_finite(a, name)
    return x, list(states.values()), W_ih, W_hh, b_ih, b_hh


def _check_upstream(d, like, name):
    d = as_float_array(d, name)
    check_shape(d, like.shape, name, "(batch, hidden) of the forward pass")
    return d


def _projection_backward(d_xp, d_hp, x, h, W_ih):
    """Gradients of xp = x W_ih^T + b_ih and hp = h W_hh^T + b_hh for one step (book eq. `eq-bptt-dW`)."""
    return d_xp @ W_ih, d_xp.T @ x, d_hp.T @ h, d_xp.sum(axis=0), d_hp.sum(axis=0)


def rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    """Elman RNN cell: h_next = phi(W_ih x + b_ih + W_hh h + b_hh), phi = tanh or relu (book eq. `eq-rnn`).

    x (batch, input_size), h (batch, hidden), W_ih (hidden, input_size), W_hh (hidden, hidden),
    b_ih, b_hh (hidden,). Same maths as ``torch.nn.RNNCell``. Returns ``(h_next, cache)``.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    x, (h,), W_ih, W_hh, b_ih, b_hh = _check_cell(1, x, {"h": h}, W_ih, W_hh, b_ih, b_hh)
    xp = x @ W_ih.T + b_ih
    h_next, step_cache = rnn_step_forward(xp, h, W_hh, b_hh, nonlinearity)
    return h_next, (x, W_ih, h_next, step_cache)


def rnn_cell_backward(dh_next, cache):
    """Backward of :func:`rnn_cell_forward` (book eqs. `eq-bptt-da`, `eq-bptt-dh`, `eq-bptt-dW`).

    dh_next (batch, hidden): gradient of the loss w.r.t. h_next.
    Returns ``(dx, dh, dW_ih, dW_hh, db_ih, db_hh)`` shaped like the forward's arguments.
    """
    x, W_ih, h_next, step_cache = cache
    dh_next = _check_upstream(dh_next, h_next, "dh_next")
    d_xp, d_hp, dh = rnn_step_backward(dh_next, step_cache)
    dx, dW_ih, dW_hh, db_ih, db_hh = _projection_backward(d_xp, d_hp, x, step_cache[0], W_ih)
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh


def lstm_cell_forward(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """LSTM cell (book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`), same maths as ``torch.nn.LSTMCell``.

    x (batch, input_size), h and c (batch, hidden), W_ih (4*hidden, input_size),
    W_hh (4*hidden, hidden), b_ih and b_hh (4*hidden,), gate order i, f, g, o.
    Returns ``((h_next, c_next), cache)``.
    """
    x, (h, c), W_ih, W_hh, b_ih, b_hh = _check_cell(4, x, {"h": h, "c": c}, W_ih, W_hh, b_ih, b_hh)
    xp = x @ W_ih.T + b_ih
    (h_next, c_next), step_cache = lstm_step_forward(xp, h, c, W_hh, b_hh)
    return (h_next, c_next), (x, W_ih, h_next, step_cache)


def lstm_cell_backward(d_next, cache):
    """Backward of :func:`lstm_cell_forward`.

    d_next = (dh_next, dc_next), each (batch, hidden) (pass zeros for dc_next if c_next is unused).
    Returns ``(dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh)``.
    """
    x, W_ih, h_next, step_cache = cache
    if not isinstance(d_next, (tuple, list)) or len(d_next) != 2:
        raise TypeError(f"lstm_cell_backward expects (dh_next, dc_next); got {type(d_next).__name__}")
    dh_next = _check_upstream(d_next[0], h_next, "dh_next")
    dc_next = _check_upstream(d_next[1], h_next, "dc_next")
    d_xp, d_hp, dh, dc = lstm_step_backward(dh_next, dc_next, step_cache)
    dx, dW_ih, dW_hh, db_ih, db_hh = _projection_backward(d_xp, d_hp, x, step_cache[0], W_ih)
    return dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh


def gru_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):
    """GRU cell in torch's formulation (book eqs. `eq-gru-r`, `eq-gru-z`, `eq-gru-n`, `eq-gru-h`).

    Same maths as ``torch.nn.GRUCell``: x (batch, input_size), h (batch, hidden),
    W_ih (3*hidden, input_size), W_hh (3*hidden, hidden), b_ih and b_hh (3*hidden,), gates r, z, n.
    Returns ``(h_next, cache)``.
    """
    x, (h,), W_ih, W_hh, b_ih, b_hh = _check_cell(3, x, {"h": h}, W_ih, W_hh, b_ih, b_hh)
    xp = x @ W_ih.T + b_ih
    h_next, step_cache = gru_step_forward(xp, h, W_hh, b_hh)
    return h_next, (x, W_ih, h_next, step_cache)


def gru_cell_backward(dh_next, cache):
    """Backward of :func:`gru_cell_forward`. Returns ``(dx, dh, dW_ih, dW_hh, db_ih, db_hh)``."""
    x, W_ih, h_next, step_cache = cache
    dh_next = _check_upstream(dh_next, h_next, "dh_next")
    d_xp, d_hp, dh = gru_step_backward(dh_next, step_cache)
    dx, dW_ih, dW_hh, db_ih, db_hh = _projection_backward(d_xp, d_hp, x, step_cache[0], W_ih)
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh
