"""Chapter 10 experiments: linear attention, trained in parallel and streamed as an RNN.

:class:`LinearAttentionModel` is chapter 09's :class:`~course_lib.experiments.transformers.TransformerModel`
with softmax attention replaced by causal linear attention (:class:`course_lib.nn.LinearSelfAttention`,
optionally gated): a linear embedding, pre-norm blocks (attention + feed-forward), a final LayerNorm and a
linear read-out at every step. It has the interface the chapter 09 measurements use (``input_size``,
``out``, ``init_state``, ``step``), so :func:`~course_lib.experiments.transformers.streaming`,
:func:`~course_lib.experiments.transformers.train_adding` and
:func:`~course_lib.experiments.transformers.sequential_depth` measure it unchanged.

- ``forward(x, mode="parallel")``: every position at once (training: one pass over the sequence);
  ``mode="recurrent"``: the same function as a loop over time.
- ``step(x_t, state)``: one new position; the state is one
  :class:`~course_lib.nn.LinearAttentionState` per layer, of constant size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import nn as cnn

__all__ = ["LinearAttentionBlock", "LinearAttentionModel", "state_bytes_formula"]


class LinearAttentionBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + linear2(relu(linear1(norm2(x))))``."""

    def __init__(self, d_model, nhead, dim_feedforward, gated=False):
        super().__init__()
        self.self_attn = cnn.LinearSelfAttention(d_model, nhead, gated=gated)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x, mode="parallel", state=None):
        a, state = self.self_attn(self.norm1(x), mode=mode, state=state)
        x = x + a
        return x + self.linear2(F.relu(self.linear1(self.norm2(x)))), state


class LinearAttentionModel(nn.Module):
    """``Linear(input_size, d_model)`` + ``num_layers`` :class:`LinearAttentionBlock` + LayerNorm + ``Linear(d_model, output_size)``.

    ``forward(x, mode="parallel")``: ``(batch, time, input_size)`` -> ``(batch, time, output_size)``, causal.
    ``step(x_t, state)``: ``x_t`` ``(batch, input_size)``, ``state`` from :meth:`init_state` or an earlier
    step; returns ``(y_t (batch, output_size), state)``, equal to the last row of ``forward`` on the prefix.
    No positional encoding: a causal linear-attention layer is not permutation-invariant (its state is a
    running sum in time order), and the gated variant weighs recent steps more.
    """

    def __init__(self, input_size, d_model, nhead, num_layers, dim_feedforward, output_size=1, gated=False):
        super().__init__()
        self.input_size, self.gated = input_size, gated
        self.embed = nn.Linear(input_size, d_model)
        self.layers = nn.ModuleList(LinearAttentionBlock(d_model, nhead, dim_feedforward, gated)
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, output_size)

    def _check(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be (batch, time, {self.input_size}); got {tuple(x.shape)}")

    def forward(self, x, mode="parallel"):
        self._check(x)
        h = self.embed(x)
        for layer in self.layers:
            h, _ = layer(h, mode=mode)
        return self.out(self.norm(h))

    def init_state(self):
        """One state per layer, created by the first :meth:`step` (``None`` until then)."""
        return [None] * len(self.layers)

    def step(self, x_t, state):
        if not isinstance(state, list) or len(state) != len(self.layers):
            raise ValueError(f"state must be the list from init_state() with {len(self.layers)} entries; "
                             f"got {type(state).__name__}")
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2 or x_t.shape[-1] != self.input_size:
            got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ValueError(f"x_t must be (batch, {self.input_size}); got {got}")
        h = self.embed(x_t).unsqueeze(1)
        new = []
        for layer, s in zip(self.layers, state):
            h, s = layer(h, mode="recurrent", state=s)
            new.append(s)
        state[:] = new                                         # in place, like the KV cache of chapter 09
        return self.out(self.norm(h[:, 0])), state


def state_bytes_formula(batch, d_model, nhead, num_layers, element_size=4):
    """Bytes of the streaming state, from the shapes alone: per layer and head ``S`` (d_h x d_h) and ``z`` (d_h)."""
    d_h = d_model // nhead
    return num_layers * batch * nhead * (d_h * d_h + d_h) * element_size
