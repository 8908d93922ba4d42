"""A small pre-norm Transformer encoder, written out, with KV-cache incremental decoding.

:class:`TransformerEncoderLayer` has the parameter names of
``torch.nn.TransformerEncoderLayer(norm_first=True, batch_first=True)`` (``self_attn.*``,
``linear1``, ``linear2``, ``norm1``, ``norm2``), so the same state_dict gives the same output.
Pre-norm (Xiong et al. 2020)::

    x = x + dropout(self_attn(norm1(x)))             # book eq. `eq-attention`
    x = x + dropout(linear2(dropout(act(linear1(norm2(x))))))

:class:`TransformerEncoder` stacks layers after a sinusoidal positional encoding and ends with a
LayerNorm. With ``causal=True`` it can decode one position at a time (:meth:`TransformerEncoder.step`)
reusing cached keys and values: a step costs O(t) work and the cache O(t) memory, where an
RNN's step is O(1) in both — the streaming comparison of chapter 09.
All tensors are batch first: ``(batch, time, d_model)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiheadSelfAttention


def sinusoidal_positional_encoding(length, d_model, offset=0, device=None, dtype=torch.float32):
    """``(length, d_model)``: ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(...)``, p from ``offset``."""
    if not isinstance(length, int) or length < 0 or not isinstance(d_model, int) or d_model < 1:
        raise ValueError(f"length must be an int >= 0 and d_model an int >= 1; got {length!r}, {d_model!r}")
    pos = torch.arange(offset, offset + length, device=device, dtype=torch.float64).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : d_model // 2]
    return pe.to(dtype)


class TransformerEncoderLayer(nn.Module):
    """One encoder block; ``forward(x, mask=None, causal=False, lengths=None, cache=None)`` -> same shape as x."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, norm_first=True, bias=True, device=None, dtype=None):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu'; got {activation!r}")
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadSelfAttention(d_model, nhead, bias=bias, **factory)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu
        self.norm_first = norm_first

    def _sa(self, x, mask, causal, lengths, cache):
        return self.dropout1(self.self_attn(x, mask=mask, causal=causal, lengths=lengths, cache=cache)[0])

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, x, mask=None, causal=False, lengths=None, cache=None):
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask, causal, lengths, cache)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, mask, causal, lengths, cache))
        return self.norm2(x + self._ff(x))


class TransformerEncoder(nn.Module):
    """Positional encoding + ``num_layers`` pre-norm layers + final LayerNorm.

    ``forward(x, lengths=None, mask=None)`` with ``x`` ``(batch, time, d_model)``; attention is
    causal when built with ``causal=True``. :meth:`step` decodes one new position with a cache
    from :meth:`init_cache` and equals the last row of the causal full forward.
    """

    def __init__(self, d_model, nhead, num_layers, dim_feedforward=None, dropout=0.0, activation="relu",
                 causal=False, positional=True, device=None, dtype=None):
        super().__init__()
        self.d_model, self.causal, self.positional = d_model, causal, positional
        ff = 4 * d_model if dim_feedforward is None else dim_feedforward
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, nhead, ff, dropout, activation, device=device, dtype=dtype)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model, device=device, dtype=dtype)

    def _check(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (batch, time, {self.d_model}); got {tuple(x.shape)}")
        w = self.norm.weight
        if x.dtype != w.dtype or x.device != w.device:
            raise TypeError(f"x must be {w.dtype} on {w.device}; got {x.dtype} on {x.device}")

    def _pe(self, x, offset):
        if not self.positional:
            return x
        return x + sinusoidal_positional_encoding(x.shape[1], self.d_model, offset, x.device, x.dtype)

    def forward(self, x, lengths=None, mask=None):
        self._check(x)
        x = self._pe(x, 0)
        for layer in self.layers:
            x = layer(x, mask=mask, causal=self.causal, lengths=lengths)
        return self.norm(x)

    def init_cache(self):
        """One empty :class:`KVCache` per layer."""
        return [KVCache() for _ in self.layers]

    def step(self, x_t, cache):
        """Decode the next position(s): ``x_t`` ``(batch, d_model)`` or ``(batch, new, d_model)``.

        Needs ``causal=True``; returns the outputs for the new positions (same shape as ``x_t``).
        """
        if not self.causal:
            raise ValueError("step() needs a causal encoder (built with causal=True); got causal=False")
        if not isinstance(cache, list) or len(cache) != len(self.layers):
            raise ValueError(f"cache must be the list from init_cache() with {len(self.layers)} entries; "
                             f"got {type(cache).__name__}")
        squeeze = isinstance(x_t, torch.Tensor) and x_t.dim() == 2
        x = x_t.unsqueeze(1) if squeeze else x_t
        self._check(x)
        x = self._pe(x, len(cache[0]))
        for layer, c in zip(self.layers, cache):
            x = layer(x, cache=c)
        x = self.norm(x)
        return x.squeeze(1) if squeeze else x
