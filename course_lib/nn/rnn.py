"""``RNN``, ``LSTM``, ``GRU``: the course's own twins of the ``torch.nn`` recurrent layers.

Same constructor arguments (``input_size, hidden_size, num_layers=1, nonlinearity="tanh"``
(RNN only), ``bias=True, batch_first=False, dropout=0.0, bidirectional=False``, ``proj_size=0``
(LSTM only), ``device, dtype``), validated like torch's; same parameter names, shapes and gate
order (``weight_ih_l{k}[_reverse]`` ... ``weight_hr_l{k}`` for a projection; LSTM ``i, f, g, o``;
GRU ``r, z, n``), so ``load_state_dict`` moves weights between these and ``torch.nn`` both ways.
Like torch, ``batch_first`` defaults to ``False`` (every chapter passes ``batch_first=True``),
and ``module.mode`` is torch's layer name (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``).

Shapes (``D`` = 2 if bidirectional else 1, ``L`` = num_layers, ``P`` = proj_size or hidden)::

    x      (batch, time, input_size)   with batch_first=True, else (time, batch, input_size);
           (time, input_size) unbatched; or a torch.nn.utils.rnn.PackedSequence
    h0/c0  (L * D, batch, P) / (L * D, batch, hidden)   optional, zeros when omitted;
           (L * D, P) without a batch dimension for unbatched x
    out    (batch, time, D * P)        (time-major when batch_first=False; packed if x was)
    h_n    (L * D, batch, P)           LSTM returns (out, (h_n, c_n)), RNN/GRU (out, h_n)

Extra keyword ``lengths``: one length per sequence (1-D ints, ``1 <= lengths[b] <= time``).
The semantics are those of torch's packed sequences: outputs past a length are zero, ``h_n`` is
each sequence's own last state, the reverse direction starts at each sequence's own last step.
A ``PackedSequence`` input is run through the same path (unpacked, run with its lengths,
packed again with the input's own ``batch_sizes`` and ``sorted_indices``).

The time loop is visible: the input projection for all steps is one matrix product
(:func:`torch.nn.functional.linear` over the whole sequence) and each step's gates are one
more (:mod:`course_lib.nn.cells`). Two implementations of the same recurrence, chosen with
``impl=`` (torch's own ``mode`` keeps its meaning):

- ``impl="loop"`` runs that loop under autograd (:func:`course_lib.nn.cells.run_loop`; readable);
- ``impl="fused"`` (default) runs it in :mod:`course_lib.nn.fused` with a hand-written backward
  pass, several times faster on a CPU. Its backward is itself differentiable: when a backward pass
  is recorded (``create_graph=True``) it recomputes through the loop, so double backward is exact.

Both give torch's numbers (float64: 1e-10, float32: 1e-5), forward, backward and double backward;
``tests/test_nn_torch_suite.py`` runs torch's own module samples and error inputs against them.

What is supported, and how (every row is tested; "loop" means ``impl="fused"`` runs the loop path
for that call, with the same results, because the fused kernels do not cover it):

==========================================  ==========================================================
feature                                     status
==========================================  ==========================================================
batched / unbatched input, ``lengths=``     exact, both impls
``PackedSequence`` in and out               exact, both impls
zero-size batch                             exact (loop)
``proj_size`` (LSTM)                        exact (loop)
double backward, ``gradgradcheck``          exact, both impls (fused recomputes through the loop)
``torch.func.grad`` / ``vmap``              exact (loop: functorch transforms need no custom Function)
``torch.autocast`` (CPU)                    RNN, GRU: bit-equal to torch (the loop runs torch's own
                                            decomposition: ``linear`` in bfloat16, the gates' elementwise
                                            ops in the dtypes that follow; GRU returns float32, RNN
                                            bfloat16). LSTM: torch's dtypes (bfloat16 throughout), values
                                            to bfloat16 rounding only (torch runs oneDNN's fused LSTM
                                            kernel there): **not bit-equal**
``torch.autocast`` (CUDA)                   all three in the autocast dtype (as cuDNN); values to that
                                            dtype's rounding, not bit for bit
``dropout`` between layers                  exact for p = 0 and p = 1; for 0 < p < 1 the masks are drawn
                                            from the same distribution but, for a PackedSequence input,
                                            not from the same random numbers as torch's (torch draws them
                                            over the packed data): **not bit-equal, by design**
sequence length 0                           ``ShapeError`` (torch: RuntimeError), as torch
cuDNN weight buffer, ``flatten_parameters``  no-op (there is none)
TorchScript (``torch.jit.script``)          not supported: raises torch's scripting error
==========================================  ==========================================================

Errors say what was expected and what was given. Shape mistakes raise
:class:`course_lib.core.ShapeError` (a ``ValueError`` and a ``RuntimeError``, which torch raises),
dtype/device mistakes :class:`course_lib.core.DTypeError` (a ``TypeError`` and a ``ValueError``, as torch);
constructor arguments raise torch's ``TypeError``/``ValueError`` with torch's wording plus what was given.
"""
from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..core.checks import positive_int, strict_bool
from ..core.errors import DTypeError, ShapeError
from . import cells, fused

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
IMPLS = ("fused", "loop")


def _shape(t):
    return tuple(t.shape)


def _functorch_active():
    """Is a ``torch.func`` transform (grad, vmap, jacrev, ...) running? (torch >= 2.0 has the probe)."""
    probe = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(probe()) if probe is not None else False


def _autocast_dtype(kind, device_type):
    """The dtype torch's own layer computes in under ``torch.autocast`` (``None``: autocast is off).

    torch's autocast policy (``aten/src/ATen/autocast_mode.cpp``): on a CPU only ``lstm`` is in the
    lower-precision list; RNN and GRU are not listed and decompose into ``linear`` (which autocast runs
    in the low dtype) and elementwise ops (see ``RNNBase._run``); on CUDA the cuDNN RNNs all run in
    the autocast dtype.
    """
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except TypeError:                                   # torch < 2.4: no device argument
        enabled = torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()
    if not enabled:
        return None
    try:
        return torch.get_autocast_dtype(device_type)
    except AttributeError:                              # torch < 2.4
        return torch.get_autocast_cpu_dtype() if device_type == "cpu" else torch.get_autocast_gpu_dtype()


class RNNBase(nn.Module):
    """Shared machinery: parameters, input checks, layers and directions, ``lengths``, packing.

    ``mode`` is torch's first argument (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``);
    ``impl`` picks the implementation (``"fused"`` or ``"loop"``, see the module docstring).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, impl="fused"):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r}; expected one of {tuple(_GATES)}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed; got {dropout!r}")
        strict_bool(bias, "bias")
        strict_bool(batch_first, "batch_first")
        strict_bool(bidirectional, "bidirectional")
        positive_int(input_size, "input_size")
        positive_int(hidden_size, "hidden_size")
        positive_int(num_layers, "num_layers")
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
            raise TypeError(f"proj_size should be of type int, got: {type(proj_size).__name__} ({proj_size!r})")
        if proj_size < 0:
            raise ValueError(f"proj_size should be a positive integer or zero to disable projections; "
                             f"got {proj_size}")
        if proj_size and proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size; got proj_size={proj_size}, "
                             f"hidden_size={hidden_size}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"proj_size is only supported by LSTM (as in torch); got proj_size={proj_size} "
                             f"for {mode}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        self.mode, self.impl = mode, impl
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, int(proj_size)
        D = 2 if bidirectional else 1
        G = _GATES[mode] * hidden_size
        P = self.proj_size or self.hidden_size
        factory = {"device": device, "dtype": dtype}
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else P * D
            for suffix in ("", "_reverse")[:D]:
                shapes = [(f"weight_ih_l{layer}{suffix}", (G, layer_in)),
                          (f"weight_hh_l{layer}{suffix}", (G, P))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (G,)), (f"bias_hh_l{layer}{suffix}", (G,))]
                if self.proj_size:
                    shapes += [(f"weight_hr_l{layer}{suffix}", (self.proj_size, hidden_size))]
                for name, shape in shapes:
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                self._flat_weights_names += [n for n, _ in shapes]
                self._all_weights.append([n for n, _ in shapes])
        self.reset_parameters()

    def reset_parameters(self):
        """torch's initialisation: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """No-op, for drop-in compatibility with ``torch.nn`` (there is no cuDNN weight buffer)."""

    @property
    def all_weights(self):
        """The parameters grouped per layer and direction, as :attr:`torch.nn.RNNBase.all_weights`."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
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
        return s + f", impl={self.impl!r}"

    # ----------------------------------------------------------------- checks
    def _check_input(self, x, autocast=False):
        name = type(self).__name__
        layout = "(batch, time, {})" if self.batch_first else "(time, batch, {})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: input must be a torch.Tensor or a PackedSequence; got {type(x).__name__}")
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input must be {layout.format(self.input_size)}"
                             f"{' (batch_first=True)' if self.batch_first else ' (batch_first=False)'} "
                             f"or unbatched (time, {self.input_size}); got {_shape(x)}")
        w = self.weight_ih_l0
        if x.dtype != w.dtype and not autocast:
            raise DTypeError(f"{name}: RNN input dtype ({x.dtype}) does not match weight dtype ({w.dtype}). "
                             f"Convert input: input.to({w.dtype}), or convert model: model.to({x.dtype})")
        if x.device != w.device:
            raise DTypeError(f"{name}: input must be on the parameters' device {w.device}; got {x.device} "
                             f"(move the input with .to(device), or the module with .to(device))")

    def _check_state(self, s, what, B, width=None, batched=True):
        name = type(self).__name__
        width = self.hidden_size if width is None else width
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, B, width) if batched else (self.num_layers * D, width)
        w = self.weight_ih_l0
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"{name}: {what} must be a torch.Tensor; got {type(s).__name__}")
        if _shape(s) != want:
            layout = "(num_layers * num_directions, batch, {})" if batched else "(num_layers * num_directions, {})"
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ShapeError(f"{name}: for {kind} input, {what} must be {layout.format(_state_width(what, self))}"
                             f" = {want}; got {_shape(s)}")
        if s.device != w.device:
            raise DTypeError(f"{name}: {what} must be on {w.device}; got {s.device}")

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
            raise ShapeError(f"{name}: lengths must be 1-D with one entry per sequence, shape ({B},); "
                             f"got {_shape(lens)}")
        if B and (bool((lens < 1).any()) or bool((lens > T).any())):
            raise ValueError(f"{name}: lengths must lie in [1, {T}] (the time dimension); "
                             f"got min {int(lens.min())}, max {int(lens.max())}")
        steps = torch.arange(T).unsqueeze(1)
        return (steps < lens.unsqueeze(0)).unsqueeze(2).to(device=x.device, dtype=x.dtype)

    # ----------------------------------------------------------------- forward
    def _params(self, layer, suffix):
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer and direction (biases ``None`` without bias)."""
        return tuple(getattr(self, f"{n}_l{layer}{suffix}", None)
                     for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, input, hx=None, lengths=None):
        """``forward(input, hx=None, lengths=None)``; see the module docstring for shapes."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        return self._run(input, hx, lengths)

    def _forward_packed(self, packed, hx, lengths):
        """A PackedSequence: unpack (batch order of the user), run with its lengths, pack again."""
        if lengths is not None:
            raise TypeError(f"{type(self).__name__}: lengths= cannot be combined with a PackedSequence "
                            "(it carries its own lengths)")
        padded, lens = pad_packed_sequence(packed, batch_first=False)     # (T, B, F), user's batch order
        out, state = self._run(padded, hx, lens, batch_first=False)
        sorted_idx = packed.sorted_indices
        if sorted_idx is not None:
            out = out.index_select(1, sorted_idx)
            lens = lens.index_select(0, sorted_idx.cpu())
        data = pack_padded_sequence(out, lens, batch_first=False, enforce_sorted=True).data
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), state

    def _run(self, x, hx, lengths, batch_first=None):
        """x: a tensor; hx: None, a tensor, or (h0, c0). Returns (out, h_n) or (out, (h_n, c_n))."""
        is_lstm = self.mode == "LSTM"
        name = type(self).__name__
        batch_first = self.batch_first if batch_first is None else batch_first
        dev = x.device.type if isinstance(x, torch.Tensor) else "cpu"
        cast = _autocast_dtype(self.mode, dev)
        self._check_input(x, cast is not None)
        batched = x.dim() == 3
        if not batched:
            if lengths is not None:
                raise TypeError(f"{name}: lengths= needs batched input; got unbatched input {_shape(x)}")
            x = x.unsqueeze(0 if batch_first else 1)
        if batch_first:
            x = x.transpose(0, 1)                          # time-major inside: (T, B, features)
        T, B = x.shape[:2]
        if T == 0:
            raise ShapeError(f"{name}: Expected sequence length to be larger than 0 in RNN; got input "
                             f"{_shape(x.transpose(0, 1) if batch_first else x)}")
        D = 2 if self.bidirectional else 1
        P = self.proj_size or self.hidden_size
        if is_lstm:
            if hx is None:
                h0 = x.new_zeros(self.num_layers * D, B, P)
                c0 = x.new_zeros(self.num_layers * D, B, self.hidden_size)
            else:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"LSTM: the state must be a tuple (h0, c0); got {type(hx).__name__}")
                h0, c0 = hx
                self._check_state(h0, "h0", B, P, batched)
                self._check_state(c0, "c0", B, self.hidden_size, batched)
                if not batched:
                    h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"{name}: the state must be a single tensor h0; got a tuple")
            if hx is None:
                h0 = x.new_zeros(self.num_layers * D, B, P)
            else:
                self._check_state(hx, "h0", B, P, batched)
                h0 = hx if batched else hx.unsqueeze(1)
            c0 = None
        params = {n: getattr(self, n) for n in self._flat_weights_names}
        if cast is not None and dev == "cpu" and not is_lstm:
            # torch's CPU RNN and GRU are not on autocast's list: they decompose into linear (autocast to the
            # low dtype) and elementwise ops. The loop runs those same ops in the same order under autocast.
            out, h_n, c_n = self._layers(x, h0, c0, lengths, params, impl="loop")
        elif cast is not None:        # torch.autocast: inputs cast as torch casts them, autocast off inside
            x, h0 = x.to(cast), h0.to(cast)
            c0 = None if c0 is None else c0.to(cast)
            params = {n: p.to(cast) for n, p in params.items()}
            with torch.autocast(dev, enabled=False):
                out, h_n, c_n = self._layers(x, h0, c0, lengths, params)
        else:
            if h0.dtype != x.dtype or (c0 is not None and c0.dtype != x.dtype):
                bad = h0.dtype if h0.dtype != x.dtype else c0.dtype
                raise DTypeError(f"{name}: the state must have the input's dtype {x.dtype}; got {bad}")
            out, h_n, c_n = self._layers(x, h0, c0, lengths, params)
        if batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if batch_first else 1)
            h_n = h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def _layers(self, x, h0, c0, lengths, params, impl=None):
        """All layers and directions over time-major x (T, B, F); returns (out, h_n, c_n or None)."""
        T, B = x.shape[:2]
        D = 2 if self.bidirectional else 1
        mask = self._mask(lengths, T, B, x)
        # the fused kernels cover the common case; the loop (same numbers) covers the rest
        impl = impl or self.impl
        if impl == "fused" and (B == 0 or self.proj_size or _functorch_active()):
            impl = "loop"
        layer_in, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:D]):
                idx = layer * D + d
                names = [f"{n}_l{layer}{suffix}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                                            "weight_hr")]
                w = [params.get(n) for n in names]
                res = self._direction(impl, layer_in, w, h0[idx], None if c0 is None else c0[idx], mask, d == 1)
                outs.append(res[0])
                h_n.append(res[1])
                if c0 is not None:
                    c_n.append(res[2])
            layer_in = outs[0] if D == 1 else torch.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        return layer_in, torch.stack(h_n), (torch.stack(c_n) if c0 is not None else None)

    def _direction(self, impl, x, params, h0, c0, mask, reverse):
        """One direction of one layer over time-major x (T, B, in)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = params
        kind = self.mode
        if impl == "fused":
            if kind == "GRU":
                return fused.fused_gru(fused.linear(x, w_ih, b_ih), w_hh, b_hh, h0, mask, reverse)
            b = None if b_ih is None else b_ih + b_hh          # both biases enter the gates alike
            xw = fused.linear(x, w_ih, b)                       # all steps: one matrix product
            if kind == "LSTM":
                return fused.fused_lstm(xw, w_hh, h0, c0, mask, reverse)
            return fused.fused_rnn(xw, w_hh, h0, mask, reverse, "relu" if kind == "RNN_RELU" else "tanh")
        return cells.run_loop(kind, F.linear(x, w_ih, b_ih), w_hh, b_hh, h0, c0, mask, reverse, w_hr)


def _state_width(what, module):
    """The name of a state's last dimension in error messages."""
    if what == "h0" and module.proj_size:
        return "proj_size"
    return "hidden_size"


def _reject_mode(kwargs, cls):
    if "mode" in kwargs:
        raise TypeError(f"{cls}: the keyword mode= is torch's layer type (module.mode == 'LSTM', ...); "
                        f"choose the implementation with impl='fused' or impl='loop'; got mode={kwargs['mode']!r}")
    if kwargs:
        raise TypeError(f"{cls}.__init__() got unexpected keyword arguments {sorted(kwargs)}")


class RNN(RNNBase):
    """Elman RNN, book eq. `eq-rnn`; a twin of :class:`torch.nn.RNN` (see module docstring).

    ``forward(input, hx=None, lengths=None) -> (out, h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, impl="fused",
                 **kwargs):
        _reject_mode(kwargs, "RNN")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype, impl)

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s.replace(", impl=", ", nonlinearity='relu', impl=", 1)


class LSTM(RNNBase):
    """LSTM, book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`; a twin of :class:`torch.nn.LSTM`.

    ``forward(input, hx=None, lengths=None) -> (out, (h_n, c_n))`` with ``hx = (h0, c0)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, impl="fused", **kwargs):
        _reject_mode(kwargs, "LSTM")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, impl)


class GRU(RNNBase):
    """GRU in torch's formulation, book eqs. `eq-gru-r`..`eq-gru-h`; a twin of :class:`torch.nn.GRU`.

    ``forward(input, hx=None, lengths=None) -> (out, h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, impl="fused", **kwargs):
        _reject_mode(kwargs, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, impl)
