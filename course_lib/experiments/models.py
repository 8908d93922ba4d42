"""The sequence models every chapter trains: a recurrent core of any kind and a linear head.

:class:`SequenceModel` ``(core, input_size, hidden, output_size)`` is

- a **core**, built by :func:`make_core` from a name in :data:`CORES` (``"rnn"``, ``"gru"``, ``"lstm"``
  from :mod:`course_lib.nn`, batch first; ``"mingru"``/``"minlstm"``, Feng et al. 2024; ``"transformer"``:
  a linear embedding + a causal :class:`course_lib.nn.TransformerEncoder`) or from any class called as
  ``cls(input_size, hidden, batch_first=True, **core_kwargs)`` (chapter 06's paper GRU);
- and a **head** ``Linear(hidden * directions, output_size)`` read at every step (``per_step=True``:
  tagging, language modelling) or at the last step only (many-to-one regression or classification).

With ``one_hot=True`` the input is ``(batch, time)`` int64 symbol ids and ``input_size`` the number of
symbols. :meth:`SequenceModel.run` takes and returns the core's state (a stream fed chunk after chunk, the
truncated BPTT of chapter 03); :meth:`SequenceModel.step` feeds one new step (streaming inference, chapter 10).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import nn as cnn

__all__ = ["CORES", "TransformerCore", "make_core", "SequenceModel"]


class TransformerCore(torch.nn.Module):
    """``Linear(input_size, d_model)`` + causal :class:`course_lib.nn.TransformerEncoder` (pre-norm, no dropout,
    sinusoidal positions), with a recurrent layer's interface.

    ``forward(x, state=None)``: ``(batch, time, input_size)`` -> ``(out (batch, time, d_model), None)``; position
    ``t`` attends to positions ``<= t``. :meth:`init_state` gives one :class:`course_lib.nn.KVCache` per layer,
    :meth:`step` feeds one position and grows it (equal to the last row of ``forward`` on the whole prefix).
    """

    def __init__(self, input_size, d_model, nhead=4, num_layers=1, dim_feedforward=None, batch_first=True):
        super().__init__()
        if not batch_first:
            raise ValueError("TransformerCore is batch first; got batch_first=False")
        self.input_size, self.hidden_size = input_size, d_model
        self.embed = torch.nn.Linear(input_size, d_model)
        self.encoder = cnn.TransformerEncoder(d_model, nhead, num_layers, dim_feedforward, dropout=0.0, causal=True)

    def forward(self, x, state=None):
        if state is not None:
            raise ValueError("TransformerCore.forward takes no state; feed a stream with step()")
        return self.encoder(self.embed(x)), None

    def init_state(self):
        return self.encoder.init_cache()

    def step(self, x_t, cache):
        return self.encoder.step(self.embed(x_t), cache), cache


CORES = {"rnn": cnn.RNN, "gru": cnn.GRU, "lstm": cnn.LSTM, "mingru": cnn.MinGRU, "minlstm": cnn.MinLSTM,
         "transformer": TransformerCore}
_BATCH_FIRST_ONLY = (cnn.MinGRU, cnn.MinLSTM)        # always batch first, no batch_first argument


def make_core(core, input_size, hidden, **core_kwargs):
    """The recurrent core ``core`` (a name in :data:`CORES` or a class) reading ``input_size`` features with
    ``hidden`` units (the Transformer's ``d_model``), batch first; ``core_kwargs`` go to its constructor."""
    if isinstance(core, str):
        if core not in CORES:
            raise ValueError(f"core must be one of {sorted(CORES)} or a module class; got {core!r}")
        core = CORES[core]
    if not (isinstance(core, type) and issubclass(core, torch.nn.Module)):
        raise TypeError(f"core must be a name in {sorted(CORES)} or a torch.nn.Module class; got {core!r}")
    if core in _BATCH_FIRST_ONLY:
        return core(input_size, hidden, **core_kwargs)
    return core(input_size, hidden, batch_first=True, **core_kwargs)


class SequenceModel(torch.nn.Module):
    """A recurrent core (:func:`make_core`) and a linear head.

    ``x``: ``(batch, time, input_size)`` floats, or ``(batch, time)`` int64 ids with ``one_hot=True``.
    ``forward(x, lengths=None)`` returns ``(batch, time, output_size)`` with ``per_step=True``, else
    ``(batch, output_size)`` read from the last step. ``core_kwargs`` (``num_layers``, ``dropout``,
    ``bidirectional``, ``nonlinearity``, ``impl``, ``mode``, ``nhead`` ...) go to the core; a bidirectional
    core gives the head ``2 * hidden`` features. The core is ``self.rnn``, the head ``self.out``.
    """

    def __init__(self, core, input_size, hidden, output_size, per_step=True, one_hot=False, **core_kwargs):
        super().__init__()
        self.kind = core if isinstance(core, str) else core.__name__
        self.input_size, self.per_step, self.one_hot = input_size, per_step, one_hot
        self.rnn = make_core(core, input_size, hidden, **core_kwargs)
        directions = 2 if core_kwargs.get("bidirectional") else 1
        self.out = torch.nn.Linear(hidden * directions, output_size)

    def _inputs(self, x):
        if self.one_hot:
            if not isinstance(x, torch.Tensor) or x.dtype != torch.int64 or x.dim() != 2:
                raise ValueError(f"x must be int64 ids (batch, time) with one_hot=True; got "
                                 f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
            return F.one_hot(x, self.input_size).to(self.out.weight.dtype)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be (batch, time, {self.input_size}); got {tuple(x.shape)}")
        return x

    def run(self, x, state=None, lengths=None):
        """``(head output, core state)``: ``state`` is the core's initial state (``h0`` or ``(h0, c0)``; None:
        zeros), the returned one its final state, so a long stream can be fed chunk after chunk."""
        x = self._inputs(x)
        if lengths is not None:
            h, state = self.rnn(x, state, lengths=lengths)
        elif state is not None:
            h, state = self.rnn(x, state)
        else:
            h, state = self.rnn(x)
        return self.out(h if self.per_step else h[:, -1]), state

    def forward(self, x, lengths=None):
        return self.run(x, lengths=lengths)[0]

    def init_state(self):
        """The state before the first :meth:`step`: None (zeros) for a recurrence, empty caches for attention."""
        return self.rnn.init_state() if hasattr(self.rnn, "init_state") else None

    def step(self, x_t, state):
        """One new step ``x_t`` ``(batch, input_size)`` (or ``(batch,)`` ids): ``(y_t (batch, output_size), state)``."""
        if hasattr(self.rnn, "step"):
            x_t = self._inputs(x_t.unsqueeze(1))[:, 0]
            h, state = self.rnn.step(x_t, state)
            return self.out(h), state
        y, state = self.run(x_t.unsqueeze(1), state)
        return (y[:, 0] if self.per_step else y), state
