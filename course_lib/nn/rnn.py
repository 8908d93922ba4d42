"""``RNN``, ``LSTM``, ``GRU``: the course's own twins of the ``torch.nn`` recurrent layers.

Same constructor arguments (``input_size, hidden_size, num_layers=1, nonlinearity="tanh"``
(RNN only), ``bias=True, batch_first=False, dropout=0.0, bidirectional=False``), same
parameter names, shapes and gate order (``weight_ih_l{k}[_reverse]`` ... ; LSTM ``i, f, g, o``;
GRU ``r, z, n``), so ``load_state_dict`` moves weights between these and ``torch.nn`` both ways.
Like torch, ``batch_first`` defaults to ``False``; every chapter passes ``batch_first=True``.

Shapes (``D`` = 2 if bidirectional else 1, ``L`` = num_layers)::

    x      (batch, time, input_size)   with batch_first=True, else (time, batch, input_size)
    h0/c0  (L * D, batch, hidden)      optional, zeros when omitted (torch's layout)
    out    (batch, time, D * hidden)   (time-major when batch_first=False)
    h_n    (L * D, batch, hidden)      LSTM returns (out, (h_n, c_n)), RNN/GRU (out, h_n)

Extra keyword ``lengths``: one length per sequence (1-D ints, ``1 <= lengths[b] <= time``).
The semantics are those of torch's packed sequences: outputs past a length are zero, ``h_n`` is
each sequence's own last state, the reverse direction starts at each sequence's own last step.

The time loop is visible: the input projection for all steps is one matrix product
(:func:`torch.nn.functional.linear` over the whole sequence) and each step's gates are one
more (:mod:`course_lib.nn.cells`). ``mode="loop"`` runs that loop under autograd (readable);
``mode="fused"`` (default) runs the same recurrence in :mod:`course_lib.nn.fused` with a
hand-written backward pass, which is several times faster on a CPU. Both give the same numbers.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import cells, fused

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
MODES = ("fused", "loop")


def _shape(t):
    return tuple(t.shape)


class RNNBase(nn.Module):
    """Shared machinery: parameters, input checks, layers and directions, ``lengths``."""

    def __init__(self, kind, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, mode="fused"):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1]; got {dropout!r}")
        if proj_size:
            raise NotImplementedError(f"proj_size is not supported by course_lib.nn; got proj_size={proj_size}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        self.mode_kind = kind
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size, self.mode = bidirectional, 0, mode
        D = 2 if bidirectional else 1
        G = _GATES[kind] * hidden_size
        factory = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * D
            for suffix in ("", "_reverse")[:D]:
                shapes = [(f"weight_ih_l{layer}{suffix}", (G, layer_in)),
                          (f"weight_hh_l{layer}{suffix}", (G, hidden_size))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (G,)), (f"bias_hh_l{layer}{suffix}", (G,))]
                for name, shape in shapes:
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's initialisation: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """No-op, for drop-in compatibility with ``torch.nn`` (there is no cuDNN weight buffer)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + f", mode={self.mode!r}"

    # ----------------------------------------------------------------- checks
    def _check_input(self, x):
        name = type(self).__name__
        layout = "(batch, time, {})" if self.batch_first else "(time, batch, {})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: x must be {layout.format(self.input_size)}"
                             f"{' (batch_first=True)' if self.batch_first else ' (batch_first=False)'}; "
                             f"got {_shape(x)}")
        if 0 in x.shape[:2]:
            raise ValueError(f"{name}: x must have at least one sequence and one time step; got {_shape(x)}")
        w = self.weight_ih_l0
        if x.dtype != w.dtype:
            raise TypeError(f"{name}: x must have the parameters' dtype {w.dtype}; got {x.dtype} "
                            f"(convert x, or call .to({x.dtype}) on the module)")
        if x.device != w.device:
            raise ValueError(f"{name}: x must be on the parameters' device {w.device}; got {x.device} "
                             f"(move x with .to(device), or the module with .to(device))")

    def _check_state(self, s, what, B):
        name = type(self).__name__
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, B, self.hidden_size)
        w = self.weight_ih_l0
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"{name}: {what} must be a torch.Tensor; got {type(s).__name__}")
        if _shape(s) != want:
            raise ValueError(f"{name}: {what} must be (num_layers * num_directions, batch, hidden) = {want}; "
                             f"got {_shape(s)}")
        if s.dtype != w.dtype or s.device != w.device:
            raise TypeError(f"{name}: {what} must be {w.dtype} on {w.device}; got {s.dtype} on {s.device}")

    def _mask(self, lengths, T, B, x):
        """(time, batch, 1) mask with 1 where t < lengths[b], or None."""
        if lengths is None:
            return None
        name = type(self).__name__
        if isinstance(lengths, torch.Tensor):
            lens = lengths.detach().to("cpu")
        else:
            try:
                lens = torch.as_tensor(lengths)
            except (TypeError, ValueError, RuntimeError) as err:
                raise TypeError(f"{name}: lengths must be a 1-D sequence of ints; got {lengths!r}") from err
        if lens.dtype.is_floating_point or lens.dtype.is_complex or lens.dtype == torch.bool:
            raise TypeError(f"{name}: lengths must be integers; got dtype {lens.dtype}")
        if _shape(lens) != (B,):
            raise ValueError(f"{name}: lengths must be 1-D with one entry per sequence, shape ({B},); "
                             f"got {_shape(lens)}")
        if bool((lens < 1).any()) or bool((lens > T).any()):
            raise ValueError(f"{name}: lengths must lie in [1, {T}] (the time dimension); "
                             f"got min {int(lens.min())}, max {int(lens.max())}")
        steps = torch.arange(T).unsqueeze(1)
        return (steps < lens.unsqueeze(0)).unsqueeze(2).to(device=x.device, dtype=x.dtype)

    # ----------------------------------------------------------------- forward
    def _params(self, layer, suffix):
        get = lambda n: getattr(self, f"{n}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _run(self, x, hx, lengths):
        """x: validated input; hx: None, a tensor, or (h0, c0). Returns (out, h_n[, c_n])."""
        is_lstm = self.mode_kind == "LSTM"
        self._check_input(x)
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, T = x.shape[:2]
        D = 2 if self.bidirectional else 1
        if is_lstm:
            if hx is None:
                h0 = c0 = x.new_zeros(self.num_layers * D, B, self.hidden_size)
            else:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"LSTM: the state must be a tuple (h0, c0); got {type(hx).__name__}")
                h0, c0 = hx
                self._check_state(h0, "h0", B)
                self._check_state(c0, "c0", B)
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"{type(self).__name__}: the state must be a single tensor h0; got a tuple")
            h0 = x.new_zeros(self.num_layers * D, B, self.hidden_size) if hx is None else hx
            if hx is not None:
                self._check_state(h0, "h0", B)
            c0 = None
        mask = self._mask(lengths, T, B, x)
        layer_in = x.transpose(0, 1)                     # time-major inside: (T, B, features)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:D]):
                idx = layer * D + d
                res = self._direction(layer_in, self._params(layer, suffix), h0[idx],
                                      None if c0 is None else c0[idx], mask, reverse=d == 1)
                outs.append(res[0])
                h_n.append(res[1])
                if is_lstm:
                    c_n.append(res[2])
            layer_in = outs[0] if D == 1 else torch.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        out = layer_in.transpose(0, 1) if self.batch_first else layer_in
        h_n = torch.stack(h_n)
        return (out, (h_n, torch.stack(c_n))) if is_lstm else (out, h_n)

    def _direction(self, x, params, h0, c0, mask, reverse):
        """One direction of one layer over time-major x (T, B, in)."""
        w_ih, w_hh, b_ih, b_hh = params
        kind = self.mode_kind
        if self.mode == "fused":
            if kind == "GRU":
                return fused.fused_gru(fused.linear(x, w_ih, b_ih), w_hh, b_hh, h0, mask, reverse)
            b = None if b_ih is None else b_ih + b_hh          # both biases enter the gates alike
            xw = fused.linear(x, w_ih, b)                       # all steps: one matrix product
            if kind == "LSTM":
                return fused.fused_lstm(xw, w_hh, h0, c0, mask, reverse)
            return fused.fused_rnn(xw, w_hh, h0, mask, reverse, "relu" if kind == "RNN_RELU" else "tanh")
        return self._loop(F.linear(x, w_ih, b_ih), w_hh, b_hh, h0, c0, mask, reverse)

    def _loop(self, xw, w_hh, b_hh, h, c, mask, reverse):
        """The readable time loop (``mode="loop"``); autograd does the backward pass."""
        kind = self.mode_kind
        T = xw.shape[0]
        out = [None] * T
        xws = xw.unbind(0)      # one view per step (indexing xw[t] would cost a full-size gradient per step)
        masks = None if mask is None else mask.unbind(0)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            if kind == "LSTM":
                h_new, c_new = cells.lstm_step(xws[t], h, c, w_hh, b_hh)
            elif kind == "GRU":
                h_new = cells.gru_step(xws[t], h, w_hh, b_hh)
            else:
                h_new = cells.rnn_step(xws[t], h, w_hh, b_hh, "relu" if kind == "RNN_RELU" else "tanh")
            if mask is None:
                h, c = h_new, (c_new if kind == "LSTM" else None)
                out[t] = h
            else:                                       # past its length a sequence keeps its state
                m = masks[t]
                h = m * h_new + (1 - m) * h
                if kind == "LSTM":
                    c = m * c_new + (1 - m) * c
                out[t] = m * h_new                      # ... and outputs zero
        out = torch.stack(out)
        return (out, h, c) if kind == "LSTM" else (out, h)


class RNN(RNNBase):
    """Elman RNN, book eq. `eq-rnn`; a twin of :class:`torch.nn.RNN` (see module docstring).

    ``forward(x, h0=None, lengths=None) -> (out, h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, mode="fused"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype, mode)

    def forward(self, x, h0=None, lengths=None):
        return self._run(x, h0, lengths)


class LSTM(RNNBase):
    """LSTM, book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`; a twin of :class:`torch.nn.LSTM`.

    ``forward(x, hx=None, lengths=None) -> (out, (h_n, c_n))`` with ``hx = (h0, c0)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, mode="fused"):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, mode)

    def forward(self, x, hx=None, lengths=None):
        return self._run(x, hx, lengths)


class GRU(RNNBase):
    """GRU in torch's formulation, book eqs. `eq-gru-r`..`eq-gru-h`; a twin of :class:`torch.nn.GRU`.

    ``forward(x, h0=None, lengths=None) -> (out, h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, mode="fused"):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, mode)

    def forward(self, x, h0=None, lengths=None):
        return self._run(x, h0, lengths)
