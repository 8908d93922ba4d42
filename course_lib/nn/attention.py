"""Scaled dot-product attention and multi-head self-attention, written out (book eq. `eq-attention`).

``softmax(Q K^T / sqrt(d_k) + mask) V``. Shapes: ``q`` ``(..., L, d_k)``, ``k`` ``(..., S, d_k)``,
``v`` ``(..., S, d_v)``; the result is ``(..., L, d_v)`` and the weights ``(..., L, S)``.

Masks follow :func:`torch.nn.functional.scaled_dot_product_attention`: a boolean mask is
``True`` where a query **may** attend (note: the opposite of ``nn.MultiheadAttention``'s
``attn_mask``), a float mask is added to the scores; ``causal=True`` lets query ``i`` see keys
``j <= i``. :class:`MultiheadSelfAttention` has ``nn.MultiheadAttention``'s parameter names
(``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``) so a torch
state_dict loads unchanged; it also decodes incrementally with a :class:`KVCache`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(L, S=None, offset=0, device=None):
    """Boolean ``(L, S)`` mask, True where query ``i`` (at absolute position ``offset + i``) may see key ``j``."""
    S = L if S is None else S
    i = torch.arange(L, device=device).unsqueeze(1) + offset
    return torch.arange(S, device=device).unsqueeze(0) <= i


def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    """Attention, book eq. `eq-attention`. Returns ``(out, weights)``; see the module docstring."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{name} must be (..., length, features); got {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the feature size d_k; got q {tuple(q.shape)}, k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length S; got k {tuple(k.shape)}, v {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise TypeError(f"q, k, v must share dtype and device; got {q.dtype}/{q.device}, "
                        f"{k.dtype}/{k.device}, {v.dtype}/{v.device}")
    L, S = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])       # (..., L, S)
    if causal:
        scores = scores.masked_fill(~causal_mask(L, S, device=q.device), float("-inf"))
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError as err:
            raise ValueError(f"mask must broadcast to the scores' shape {tuple(scores.shape)} "
                             f"(..., L, S); got {tuple(mask.shape)}") from err
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask.to(q.device), float("-inf"))
        else:
            scores = scores + mask.to(device=q.device, dtype=q.dtype)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@dataclass
class KVCache:
    """Keys and values of the positions seen so far, ``(batch, heads, length, head_dim)`` each."""
    k: torch.Tensor | None = None
    v: torch.Tensor | None = None

    def __len__(self):
        return 0 if self.k is None else self.k.shape[-2]

    @property
    def nbytes(self):
        """Memory held by the cache, in bytes (it grows linearly with the decoded length)."""
        return 0 if self.k is None else self.k.numel() * self.k.element_size() * 2

    def append(self, k, v):
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class MultiheadSelfAttention(nn.Module):
    """Multi-head self-attention, batch first: ``x`` ``(batch, time, embed_dim)`` -> same shape.

    ``forward(x, mask=None, causal=False, lengths=None, cache=None, need_weights=False)`` returns
    ``(out, weights)`` with ``weights`` ``(batch, heads, time, keys)`` when asked for, else ``None``.
    ``lengths`` hides keys past each sequence's length; with a :class:`KVCache`, ``x`` holds only the
    new positions, their keys/values are appended and the queries see every earlier position.
    """

    def __init__(self, embed_dim, num_heads, bias=True, device=None, dtype=None):
        super().__init__()
        init_projections(self, embed_dim, num_heads, bias, {"device": device, "dtype": dtype})

    def _heads(self, t):                                      # (B, T, E) -> (B, heads, T, head_dim)
        B, T, _ = t.shape
        return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask=None, causal=False, lengths=None, cache=None, need_weights=False):
        w = check_projection_input(x, self.embed_dim, self.in_proj_weight)
        B, T, E = x.shape
        q, k, v = (self._heads(t) for t in F.linear(x, w, self.in_proj_bias).chunk(3, dim=-1))
        past = 0
        if cache is not None:
            past = len(cache)
            k, v = cache.append(k, v)
        S = k.shape[-2]
        allowed = None
        if causal or (cache is not None and T > 1):
            allowed = causal_mask(T, S, offset=past, device=x.device)
        if lengths is not None:
            lens = torch.as_tensor(lengths, device=x.device)
            if tuple(lens.shape) != (B,):
                raise ValueError(f"lengths must be ({B},), one per sequence; got {tuple(lens.shape)}")
            keep = (torch.arange(S, device=x.device) < lens.unsqueeze(1))[:, None, None, :]  # (B,1,1,S)
            allowed = keep if allowed is None else allowed & keep
        if mask is not None and mask.dtype == torch.bool:
            allowed = mask if allowed is None else allowed & mask
            mask = None
        if allowed is not None and mask is not None:            # float mask plus boolean constraints
            mask = torch.where(allowed, mask.to(x.dtype), torch.tensor(float("-inf"), dtype=x.dtype, device=x.device))
        elif allowed is not None:
            mask = allowed
        out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        out = self.out_proj(out.transpose(1, 2).reshape(B, T, E))
        return out, (weights if need_weights else None)


def check_projection_input(x, embed_dim, weight):
    """Check that ``x`` is a ``(batch, time, embed_dim)`` tensor of ``weight``'s dtype and device; return ``weight``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != embed_dim:
        raise ValueError(f"x must be (batch, time, {embed_dim}); got {tuple(x.shape)}")
    if x.dtype != weight.dtype or x.device != weight.device:
        raise TypeError(f"x must be {weight.dtype} on {weight.device}; got {x.dtype} on {x.device}")
    return weight


def init_projections(module, embed_dim, num_heads, bias, factory):
    """Give an attention ``module`` torch's ``in_proj_weight`` ``(3 E, E)`` (Xavier), ``in_proj_bias`` (zeros)
    and ``out_proj`` (its bias zeroed), and ``embed_dim``, ``num_heads``, ``head_dim``."""
    if embed_dim % num_heads:
        raise ValueError(f"embed_dim must be divisible by num_heads; got {embed_dim} and {num_heads}")
    module.embed_dim, module.num_heads, module.head_dim = embed_dim, num_heads, embed_dim // num_heads
    module.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
    module.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim, **factory)) if bias else None
    module.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
    nn.init.xavier_uniform_(module.in_proj_weight)
    if bias:
        nn.init.zeros_(module.out_proj.bias)
