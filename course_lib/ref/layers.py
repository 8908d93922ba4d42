"""Recurrent layers ``RNN``, ``LSTM`` and ``GRU`` with forward and full backward (BPTT), in NumPy.

They mirror ``torch.nn.RNN/LSTM/GRU`` (with ``batch_first=True``): same parameter names, shapes and
gate order, ``num_layers``, ``bidirectional``, dropout between layers, variable-length batches with
packed-sequence semantics. ``from_torch``/``to_torch``/``state_dict``/``load_state_dict`` move
weights both ways unchanged.

How a layer runs (book ch. 03, eqs. `eq-bptt-forward` ... `eq-bptt-dW`):

1. the input projection ``xp_t = W_ih x_t + b_ih`` for *all* time steps is one matrix product;
2. a loop over time calls the cell's step function (:mod:`course_lib.ref.cells`) -- the only
   sequential part;
3. backward runs the loop the other way, calling the step's backward, and collects the gradients
   of the projections at every step;
4. the shared weights' gradients are sums over time (eq. `eq-bptt-dW`), each computed as one matrix
   product over all steps at once, and so is the gradient of the input.

Internally arrays are time-major ``(time, batch, ...)`` so that each step reads a contiguous slice;
inputs and outputs are batch-first ``(batch, time, features)`` like the rest of the course.

Variable lengths (``lengths``): at step t a sequence with ``length <= t`` is *inactive*; its state
is carried through unchanged and its output is zero. So ``h_n`` holds each sequence's state at its
own last step, and the reverse direction, which runs t = T-1 ... 0, stays at its initial state until
t = length-1: it starts at each sequence's own last step, exactly like torch's packed sequences.
"""
from __future__ import annotations

import numpy as np

from .cells import (
    NONLINEARITIES,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from .validate import as_float_array, check_dtype, check_finite, check_lengths, check_shape
from ..core.checks import count as _positive_int

__all__ = ["RNN", "LSTM", "GRU"]

_WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")



class _Recurrent:
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (one subclass per cell).

    A subclass sets ``n_gates``, ``state_names`` (``("h0",)`` or ``("h0", "c0")``) and implements
    ``_step_forward(xp_t, state, W_hh, b_hh)`` / ``_step_backward(d_state, cache)`` on top of the
    step functions of :mod:`course_lib.ref.cells`.
    """

    n_gates = 1
    state_names = ("h0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, seed=0,
                 dropout=0.0, dtype=np.float64):
        self.input_size = _positive_int(input_size, "input_size")
        self.hidden_size = _positive_int(hidden_size, "hidden_size")
        self.num_layers = _positive_int(num_layers, "num_layers")
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise TypeError(f"bidirectional must be True or False; got {bidirectional!r}")
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1); got {dropout!r}")
        self.dropout = float(dropout)
        self.dtype = check_dtype(dtype)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int; got {seed!r}")
        self.training = True
        self.params = self._init_params(np.random.default_rng(seed))
        self.reseed(seed)
        self._cache = None

    # ------------------------------------------------------------------ parameters
    def _suffix(self, layer, direction):
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _param_shapes(self):
        """name -> shape in torch's order (per layer, per direction: W_ih, W_hh, b_ih, b_hh)."""
        G, H, D = self.n_gates, self.hidden_size, self.num_directions
        shapes = {}
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else H * D
            for d in range(D):
                sfx = self._suffix(layer, d)
                shapes["weight_ih" + sfx] = (G * H, layer_in)
                shapes["weight_hh" + sfx] = (G * H, H)
                shapes["bias_ih" + sfx] = (G * H,)
                shapes["bias_hh" + sfx] = (G * H,)
        return shapes

    def _init_params(self, rng):
        """torch's initialisation: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-bound, bound, size=shape).astype(self.dtype)
                for name, shape in self._param_shapes().items()}

    def _weights(self, layer, direction):
        sfx = self._suffix(layer, direction)
        return tuple(self.params[kind + sfx] for kind in _WEIGHT_KINDS)

    def state_dict(self):
        """A copy of the parameters as ``{torch name: ndarray}`` (e.g. ``weight_ih_l0_reverse``)."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict):
        """Load parameters from ``{torch name: ndarray or torch tensor}``; names and shapes must match exactly.

        Values are cast to the model's dtype. Unknown or missing names raise ``ValueError``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict must be a mapping name -> array; got {type(state_dict).__name__}")
        shapes = self._param_shapes()
        unknown = sorted(set(state_dict) - set(shapes))
        missing = [name for name in shapes if name not in state_dict]
        if unknown:
            raise ValueError(f"unknown parameter name(s) {unknown}; expected the names {list(shapes)}")
        if missing:
            raise ValueError(f"missing parameter(s) {missing}; expected the names {list(shapes)}")
        new = {}
        for name, shape in shapes.items():
            value = state_dict[name]
            if type(value).__module__.startswith("torch"):
                value = value.detach().cpu().numpy()
            value = np.array(value, dtype=self.dtype)  # a copy
            check_shape(value, shape, name)
            check_finite(value, name)
            new[name] = value
        self.params = new
        self._cache = None
        return self

    # ------------------------------------------------------------------ torch interop
    def _torch_kwargs(self):
        return {}

    @classmethod
    def _kwargs_from_torch(cls, module):
        return {}

    @classmethod
    def from_torch(cls, module, dtype=np.float64):
        """Build a ref layer with the weights of a ``torch.nn.{RNN,LSTM,GRU}`` (or ``course_lib.nn`` twin).

        The weights are copied (cast to ``dtype``, float64 by default); training mode and dropout
        are taken over too. torch's ``batch_first`` does not matter for the weights (ref is always
        batch first).
        """
        if type(module).__name__ != cls.__name__:
            raise TypeError(f"{cls.__name__}.from_torch expects a torch.nn.{cls.__name__}; "
                            f"got {type(module).__name__}")
        if not getattr(module, "bias", True):
            raise ValueError("ref layers always have biases; got a module with bias=False")
        if getattr(module, "proj_size", 0):
            raise ValueError(f"ref.LSTM has no projection; got a module with proj_size={module.proj_size}")
        layer = cls(module.input_size, module.hidden_size, num_layers=module.num_layers,
                    bidirectional=module.bidirectional, dropout=float(getattr(module, "dropout", 0.0)),
                    dtype=dtype, **cls._kwargs_from_torch(module))
        layer.load_state_dict(module.state_dict())
        layer.training = bool(getattr(module, "training", True))
        return layer

    def to_torch(self):
        """A new ``torch.nn.{RNN,LSTM,GRU}(batch_first=True)`` with a copy of these weights (same dtype)."""
        import torch

        torch_dtype = torch.float64 if self.dtype == np.float64 else torch.float32
        module = getattr(torch.nn, type(self).__name__)(
            self.input_size, self.hidden_size, num_layers=self.num_layers, bias=True, batch_first=True,
            dropout=self.dropout, bidirectional=self.bidirectional, dtype=torch_dtype, **self._torch_kwargs())
        module.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in self.params.items()})
        module.train(self.training)
        return module

    # ------------------------------------------------------------------ modes
    def train(self, mode=True):
        """Training mode: dropout between layers is active (as in torch). Returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode: no dropout, the forward pass is deterministic. Returns self."""
        return self.train(False)

    def reseed(self, seed):
        """Restart the random stream of the dropout masks (so a training-mode forward can be repeated)."""
        self.rng = np.random.default_rng([int(seed), 1])
        return self

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._torch_kwargs().items())
        return (f"ref.{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, dropout={self.dropout}{extra}, dtype=np.{self.dtype})")

    # ------------------------------------------------------------------ input checks
    def _state_shape(self, batch):
        return (self.num_layers * self.num_directions, batch, self.hidden_size)

    def _check_x(self, x):
        x = as_float_array(x, "x", self.dtype)
        check_shape(x, ("batch", "time", self.input_size), "x")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x must have at least one sequence and one time step; got shape {x.shape}")
        check_finite(x, "x")
        return x

    def _check_states(self, state, batch, what="state"):
        """None -> zeros; otherwise arrays (num_layers*num_directions, batch, hidden), one per state name.

        ``what`` is "state" (checked as h0[, c0]) or "d_state" (checked as dh_n[, dc_n]).
        """
        shape = self._state_shape(batch)
        if state is None:
            return tuple(np.zeros(shape, dtype=self.dtype) for _ in self.state_names)
        if len(self.state_names) == 2:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError(f"{what} of an LSTM must be a pair (h, c); got {type(state).__name__}")
            parts = list(state)
        else:
            parts = [state]
        names = self.state_names if what == "state" else ("dh_n", "dc_n")
        out = []
        for name, value in zip(names, parts):
            if value is None:
                out.append(np.zeros(shape, dtype=self.dtype))
                continue
            value = as_float_array(value, name, self.dtype)
            check_shape(value, shape, name, "(num_layers*num_directions, batch, hidden)")
            check_finite(value, name)
            out.append(value)
        return tuple(out)

    # ------------------------------------------------------------------ forward
    def forward(self, x, state=None, lengths=None):
        """Run the layer over a batch of sequences.

        x: (batch, time, input_size); state: initial state, shaped
        (num_layers*num_directions, batch, hidden) (a pair (h0, c0) for the LSTM), zeros if None;
        lengths: optional 1-D ints, one per sequence, each in [1, time].
        Returns ``(out, h_n)`` (``(out, (h_n, c_n))`` for the LSTM), out (batch, time, D*hidden)
        with D = 2 if bidirectional else 1; the two directions are concatenated like torch's.
        """
        x = self._check_x(x)
        batch, time, _ = x.shape
        lengths = check_lengths(lengths, batch, time)
        states0 = self._check_states(state, batch)
        # active[t, b] is True while sequence b has not ended (time-major, with a trailing axis).
        active = None if lengths is None else (np.arange(time)[:, None] < lengths[None, :])[:, :, None]

        layer_in = np.ascontiguousarray(x.transpose(1, 0, 2))  # (time, batch, features)
        finals = tuple(np.empty_like(s) for s in states0)
        layer_caches, drop_masks = [], []
        for layer in range(self.num_layers):
            outs, dir_caches = [], []
            for d in range(self.num_directions):
                idx = layer * self.num_directions + d
                out_d, final_d, cache = self._direction_forward(
                    layer_in, tuple(s[idx] for s in states0), layer, d, active)
                for f, s in zip(finals, final_d):
                    f[idx] = s
                outs.append(out_d)
                dir_caches.append(cache)
            out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)
            mask = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                keep = 1.0 - self.dropout  # inverted dropout, as in torch
                mask = (self.rng.random(out.shape) < keep).astype(self.dtype) / keep
                out = out * mask
            layer_caches.append(dir_caches)
            drop_masks.append(mask)
            layer_in = out
        self._cache = dict(layer_caches=layer_caches, drop_masks=drop_masks, active=active,
                           batch=batch, time=time)
        out = np.ascontiguousarray(layer_in.transpose(1, 0, 2))
        return out, (finals if len(finals) == 2 else finals[0])

    __call__ = forward

    def _direction_forward(self, layer_in, state, layer, direction, active):
        """One direction of one layer over all steps. layer_in (time, batch, features)."""
        W_ih, W_hh, b_ih, b_hh = self._weights(layer, direction)
        time, batch, features = layer_in.shape
        H = self.hidden_size
        # 1. the input projection of every step at once: xp_t = W_ih x_t + b_ih
        xp = (layer_in.reshape(time * batch, features) @ W_ih.T + b_ih).reshape(time, batch, -1)
        out = np.empty((time, batch, H), dtype=self.dtype)
        h_prev = np.empty((time, batch, H), dtype=self.dtype)  # h_{t-1} of every step, for dW_hh
        caches = [None] * time
        # 2. the recurrence, forwards or backwards in time
        for t in (range(time - 1, -1, -1) if direction else range(time)):
            h_prev[t] = state[0]
            new_state, caches[t] = self._step_forward(xp[t], state, W_hh, b_hh)
            if active is not None:  # ended sequences keep their state
                new_state = tuple(np.where(active[t], n, s) for n, s in zip(new_state, state))
                out[t] = np.where(active[t], new_state[0], 0.0)
            else:
                out[t] = new_state[0]
            state = new_state
        return out, state, (layer_in, h_prev, caches)

    # ------------------------------------------------------------------ backward
    def backward(self, d_out, d_state=None):
        """BPTT through every layer and direction of the last :meth:`forward`.

        d_out: (batch, time, D*hidden), the gradient of the loss w.r.t. ``out`` (entries past a
        sequence's length are ignored, since those outputs are constant zeros); d_state: gradient
        w.r.t. the returned final state (``h_n``, or ``(dh_n, dc_n)`` for the LSTM; None = zeros).
        Returns a dict: every parameter name -> gradient (same shape), plus "x", "h0" (and "c0").
        Dropout masks are those of the forward pass.
        """
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first (and after load_state_dict)")
        cache = self._cache
        batch, time, D, H = cache["batch"], cache["time"], self.num_directions, self.hidden_size
        d_out = as_float_array(d_out, "d_out", self.dtype)
        check_shape(d_out, (batch, time, D * H), "d_out", "(batch, time, num_directions*hidden) of the forward")
        check_finite(d_out, "d_out")
        d_finals = self._check_states(d_state, batch, what="d_state")
        active = cache["active"]

        grads = {}
        d_states0 = tuple(np.empty(self._state_shape(batch), dtype=self.dtype) for _ in self.state_names)
        d_layer_out = np.ascontiguousarray(d_out.transpose(1, 0, 2))
        if active is not None:
            d_layer_out = d_layer_out * active  # outputs past the end are constants
        for layer in reversed(range(self.num_layers)):
            if cache["drop_masks"][layer] is not None:
                d_layer_out = d_layer_out * cache["drop_masks"][layer]
            d_layer_in = None
            for d in range(D):
                idx = layer * D + d
                d_in, d_s0, g = self._direction_backward(
                    d_layer_out[:, :, d * H:(d + 1) * H], tuple(s[idx] for s in d_finals),
                    cache["layer_caches"][layer][d], layer, d, active)
                grads.update(g)
                for acc, s in zip(d_states0, d_s0):
                    acc[idx] = s
                d_layer_in = d_in if d_layer_in is None else d_layer_in + d_in
            d_layer_out = d_layer_in
        ordered = {name: grads[name] for name in self.params}
        ordered["x"] = np.ascontiguousarray(d_layer_out.transpose(1, 0, 2))
        ordered.update(zip(self.state_names, d_states0))
        return ordered

    def _direction_backward(self, d_out, d_state, cache, layer, direction, active):
        """BPTT for one direction of one layer. d_out (time, batch, hidden). Returns (d_in, d_state0, grads)."""
        layer_in, h_prev, caches = cache
        W_ih, W_hh, _, _ = self._weights(layer, direction)
        time, batch, features = layer_in.shape
        GH = self.n_gates * self.hidden_size
        d_xp = np.empty((time, batch, GH), dtype=self.dtype)
        d_hp = np.empty_like(d_xp) if self._hp_differs else d_xp
        # 3. the recurrence backwards: reverse the order the forward ran in
        for t in (range(time) if direction else range(time - 1, -1, -1)):
            d = (d_state[0] + d_out[t],) + tuple(d_state[1:])  # eq-bptt-dh: from above and from t+1
            if active is not None:  # ended sequences pass their gradient straight through
                passed = tuple(np.where(active[t], 0.0, g) for g in d)
                d = tuple(np.where(active[t], g, 0.0) for g in d)
            dxp_t, dhp_t, *d_state = self._step_backward(d, caches[t])
            d_xp[t] = dxp_t
            if self._hp_differs:
                d_hp[t] = dhp_t
            if active is not None:
                d_state = [g + p for g, p in zip(d_state, passed)]
        # 4. the shared weights' gradients are sums over time (eq-bptt-dW), one product each
        sfx = self._suffix(layer, direction)
        flat_xp, flat_hp = d_xp.reshape(time * batch, GH), d_hp.reshape(time * batch, GH)
        grads = {
            "weight_ih" + sfx: flat_xp.T @ layer_in.reshape(time * batch, features),
            "weight_hh" + sfx: flat_hp.T @ h_prev.reshape(time * batch, self.hidden_size),
            "bias_ih" + sfx: flat_xp.sum(axis=0),
            "bias_hh" + sfx: flat_hp.sum(axis=0),
        }
        d_in = (flat_xp @ W_ih).reshape(time, batch, features)
        return d_in, tuple(d_state), grads


class RNN(_Recurrent):
    """Elman RNN layer, h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (book eq. `eq-rnn`), phi = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, bidirectional=False, seed=0, dropout=0.0,
    dtype=np.float64, nonlinearity="tanh")``; ``forward`` returns ``(out, h_n)``.
    """

    n_gates = 1
    _hp_differs = False

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, seed=0,
                 dropout=0.0, dtype=np.float64, nonlinearity="tanh"):
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bidirectional, seed, dropout, dtype)

    def _torch_kwargs(self):
        return {"nonlinearity": self.nonlinearity}

    @classmethod
    def _kwargs_from_torch(cls, module):
        return {"nonlinearity": getattr(module, "nonlinearity", "tanh")}

    def _step_forward(self, xp, state, W_hh, b_hh):
        h_next, cache = rnn_step_forward(xp, state[0], W_hh, b_hh, self.nonlinearity)
        return (h_next,), cache

    def _step_backward(self, d_state, cache):
        return rnn_step_backward(d_state[0], cache)


class LSTM(_Recurrent):
    """LSTM layer (book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`), gate order i, f, g, o.

    ``forward(x, state=None, lengths=None)`` returns ``(out, (h_n, c_n))``; ``state`` is a pair
    ``(h0, c0)``; ``backward`` returns gradients for every parameter and "x", "h0", "c0".
    """

    n_gates = 4
    state_names = ("h0", "c0")
    _hp_differs = False

    def _step_forward(self, xp, state, W_hh, b_hh):
        return lstm_step_forward(xp, state[0], state[1], W_hh, b_hh)

    def _step_backward(self, d_state, cache):
        return lstm_step_backward(d_state[0], d_state[1], cache)


class GRU(_Recurrent):
    """GRU layer in torch's formulation (book eqs. `eq-gru-r`, `eq-gru-z`, `eq-gru-n`, `eq-gru-h`), gates r, z, n.

    ``forward`` returns ``(out, h_n)``.
    """

    n_gates = 3
    _hp_differs = True

    def _step_forward(self, xp, state, W_hh, b_hh):
        h_next, cache = gru_step_forward(xp, state[0], W_hh, b_hh)
        return (h_next,), cache

    def _step_backward(self, d_state, cache):
        return gru_step_backward(d_state[0], cache)
