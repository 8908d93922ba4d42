"""Causal linear attention in PyTorch (Katharopoulos et al. 2020): parallel for training, recurrent for streaming.

The twin of :mod:`course_lib.ref.linear_attention` (same formulas, same names; the tests prove them equal in
float64). Shapes: ``q``, ``k`` ``(..., T, d)``, ``v`` ``(..., T, d_v)``, ``decay`` ``(..., T)`` in ``(0, 1]``.

- :func:`linear_attention_parallel`: ``out = ((phi(Q) phi(K)^T * D) V) / ((phi(Q) phi(K)^T * D) 1)``
  (book eqs. `eq-linattn-parallel`, `eq-linattn-gated`), all positions in a few matrix products;
- :func:`linear_attention_recurrent`: ``S_t = a_t S_{t-1} + phi(k_t) v_t^T``, ``z_t = a_t z_{t-1} + phi(k_t)``,
  ``out_t = phi(q_t)^T S_t / phi(q_t)^T z_t`` (book eq. `eq-linattn-recurrent`), one position at a time,
  carrying a :class:`LinearAttentionState` whose size does not depend on how many positions were seen;
- :class:`LinearSelfAttention`: multi-head self-attention with this kernel (``nn.MultiheadAttention``'s
  parameter names), optionally **gated**: a decay ``a_t = sigmoid(w_h . x_t + b_h)`` per head and step,
  initialised (``w = 0``) to RetNet's fixed per-head decays ``1 - 2^-(5 + h)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .attention import check_projection_input, init_projections

__all__ = ["elu_feature_map", "decay_matrix", "linear_attention_parallel", "linear_attention_recurrent",
           "LinearAttentionState", "LinearSelfAttention"]

MODES = ("parallel", "recurrent")


def elu_feature_map(x):
    """phi(x) = elu(x) + 1, written as ``x + 1`` (x > 0) or ``exp(x)``: positive, and exact for very negative x."""
    return torch.where(x > 0, x + 1.0, torch.exp(torch.clamp(x, max=0.0)))


def _check(q, k, v, decay):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if q.dim() < 2 or k.shape != q.shape:
        raise ValueError(f"q and k must be (..., time, d) of one shape; got q {tuple(q.shape)}, k {tuple(k.shape)}")
    if v.dim() != q.dim() or v.shape[:-1] != q.shape[:-1]:
        raise ValueError(f"v must be (..., time, d_v) with q's leading dims and time {tuple(q.shape[:-1])}; "
                         f"got {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise TypeError(f"q, k, v must share dtype and device; got {q.dtype}/{q.device}, {k.dtype}/{k.device}, "
                        f"{v.dtype}/{v.device}")
    if decay is not None:
        if not isinstance(decay, torch.Tensor):
            raise TypeError(f"decay must be a torch.Tensor; got {type(decay).__name__}")
        if decay.shape != q.shape[:-1]:
            raise ValueError(f"decay must be (..., time) = {tuple(q.shape[:-1])}, one factor per step; "
                             f"got {tuple(decay.shape)}")


def decay_matrix(decay):
    """``D`` ``(..., T, T)``: ``D_ij = a_{j+1} ... a_i`` for ``j <= i``, else 0, as ``exp(c_i - c_j)``, ``c = cumsum(log a)``."""
    c = torch.cumsum(torch.log(decay), dim=-1)
    T = decay.shape[-1]
    lower = torch.ones(T, T, dtype=torch.bool, device=decay.device).tril()
    return torch.exp(torch.where(lower, c.unsqueeze(-1) - c.unsqueeze(-2), torch.tensor(-math.inf, dtype=c.dtype,
                                                                                         device=c.device)))


def linear_attention_parallel(q, k, v, decay=None, causal=True, normalize=True):
    """Parallel (causal) linear attention, ``(..., T, d_v)``; ``causal=False`` lets every query see every key."""
    _check(q, k, v, decay)
    if decay is not None and not causal:
        raise ValueError("decay needs causal=True: a decayed state only looks back")
    A = elu_feature_map(q) @ elu_feature_map(k).transpose(-1, -2)      # (..., T, T)
    if decay is not None:
        A = A * decay_matrix(decay)
    elif causal:
        A = A.tril()
    num = A @ v
    return num / A.sum(dim=-1, keepdim=True) if normalize else num


@dataclass
class LinearAttentionState:
    """The recurrent state: ``S`` ``(..., d, d_v)`` (the matrix memory) and ``z`` ``(..., d)`` (the normaliser).

    Unlike :class:`~course_lib.nn.attention.KVCache` it has the same size after 1 or 1,000,000 positions.
    """
    S: torch.Tensor
    z: torch.Tensor
    seen: int = 0

    def __len__(self):
        return self.seen

    @property
    def nbytes(self):
        """Memory held by the state, in bytes (constant in the number of positions seen)."""
        return (self.S.numel() + self.z.numel()) * self.S.element_size()


def linear_attention_recurrent(q, k, v, decay=None, normalize=True, state=None):
    """The same function as a recurrence over ``t``; returns ``(out (..., T, d_v), LinearAttentionState)``.

    ``state`` continues from an earlier call (``None``: zeros).
    """
    _check(q, k, v, decay)
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    if state is None:
        S = q.new_zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))
        z = q.new_zeros(q.shape[:-2] + (q.shape[-1],))
        seen = 0
    else:
        if not isinstance(state, LinearAttentionState):
            raise TypeError(f"state must be a LinearAttentionState; got {type(state).__name__}")
        if state.S.shape != q.shape[:-2] + (q.shape[-1], v.shape[-1]):
            raise ValueError(f"state.S must be {tuple(q.shape[:-2] + (q.shape[-1], v.shape[-1]))}; "
                             f"got {tuple(state.S.shape)}")
        S, z, seen = state.S, state.z, state.seen
    outs = []
    decays = decay.unbind(-1) if decay is not None else [None] * q.shape[-2]
    for fq_t, fk_t, v_t, a_t in zip(fq.unbind(-2), fk.unbind(-2), v.unbind(-2), decays):
        if a_t is not None:
            S, z = a_t[..., None, None] * S, a_t[..., None] * z
        S = S + fk_t.unsqueeze(-1) * v_t.unsqueeze(-2)                 # + phi(k_t) v_t^T
        z = z + fk_t
        num = (fq_t.unsqueeze(-2) @ S).squeeze(-2)                     # phi(q_t)^T S_t
        outs.append(num / (fq_t * z).sum(-1, keepdim=True) if normalize else num)
    return torch.stack(outs, dim=-2), LinearAttentionState(S, z, seen + q.shape[-2])


class LinearSelfAttention(nn.Module):
    """Causal multi-head linear self-attention, batch first: ``x`` ``(batch, time, embed_dim)`` -> same shape.

    Parameters as ``nn.MultiheadAttention`` (``in_proj_weight`` ``(3E, E)``, ``in_proj_bias``, ``out_proj``);
    with ``gated=True`` also ``gate.weight`` ``(heads, E)`` and ``gate.bias`` ``(heads,)``: the decay of head
    ``h`` at step ``t`` is ``sigmoid(gate(x_t))_h``.
    ``forward(x, mode="parallel" | "recurrent", state=None)`` returns ``(out, state)``; the recurrent mode
    returns the :class:`LinearAttentionState` to continue from (the parallel mode ``None``).
    :meth:`step` runs one new position.
    """

    def __init__(self, embed_dim, num_heads, gated=False, bias=True, normalize=True, device=None, dtype=None):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        factory = {"device": device, "dtype": dtype}
        init_projections(self, embed_dim, num_heads, bias, factory)
        self.gated, self.normalize = bool(gated), bool(normalize)
        if self.gated:
            self.gate = nn.Linear(embed_dim, num_heads, **factory)
            gamma = 1.0 - 2.0 ** (-5.0 - torch.arange(num_heads, dtype=torch.float64))   # RetNet's decays
            with torch.no_grad():
                self.gate.weight.zero_()
                self.gate.bias.copy_(torch.log(gamma / (1 - gamma)))

    def extra_repr(self):
        return f"{self.embed_dim}, num_heads={self.num_heads}, gated={self.gated}"

    def _project(self, x):
        w = check_projection_input(x, self.embed_dim, self.in_proj_weight)
        B, T, _ = x.shape
        heads = lambda t: t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)   # (B, H, T, hd)
        q, k, v = (heads(t) for t in F.linear(x, w, self.in_proj_bias).chunk(3, dim=-1))
        decay = torch.sigmoid(self.gate(x)).transpose(1, 2) if self.gated else None     # (B, H, T)
        return q, k, v, decay

    def forward(self, x, mode="parallel", state=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        if mode == "parallel" and state is not None:
            raise ValueError("the parallel mode starts from an empty state; continue a state with mode='recurrent'")
        q, k, v, decay = self._project(x)
        if mode == "parallel":
            out, state = linear_attention_parallel(q, k, v, decay, normalize=self.normalize), None
        else:
            out, state = linear_attention_recurrent(q, k, v, decay, normalize=self.normalize, state=state)
        B, _, T, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, T, self.embed_dim)), state

    def step(self, x_t, state=None):
        """One new position ``x_t`` ``(batch, embed_dim)``; returns ``(out_t (batch, embed_dim), state)``."""
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2:
            raise ValueError(f"x_t must be a (batch, {self.embed_dim}) tensor; got "
                             f"{tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__}")
        out, state = self.forward(x_t.unsqueeze(1), mode="recurrent", state=state)
        return out[:, 0], state
