"""``MinGRU`` and ``MinLSTM`` (Feng et al. 2024, "Were RNNs All We Needed?").

Their gates look only at the input, never at the previous state, so the recurrence is
*linear* in ``h`` (book eqs. `eq-linear-recurrence`, `eq-mingru`)::

    z_t = sigmoid(W_z x_t + b_z),   h~_t = g(W_h x_t + b_h),   h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

with ``g(v) = v + 0.5`` for ``v >= 0`` and ``sigmoid(v)`` otherwise, which keeps ``h~ > 0`` so the
recurrence can be run in log space. A linear recurrence ``h_t = a_t h_{t-1} + b_t`` unrolls to
``h_t = A_t (h_0 + sum_{s<=t} b_s / A_s)`` with ``A_t = prod_{s<=t} a_s``; in logs that is a
cumulative sum and a ``logcumsumexp`` (Heinsen 2023), i.e. a *parallel scan*: O(log T) depth
instead of T sequential steps.

``mode="sequential"`` runs the loop step by step; ``mode="scan"`` the log-space scan. Both
compute the same function (tests check values and gradients). Batch first: ``x`` is
``(batch, time, input_size)``; ``forward(x, h0=None) -> (out (batch, time, hidden), h_n (batch, hidden))``;
``h0`` defaults to zeros and must be positive in scan mode (as every ``g`` output is).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("scan", "sequential")


def g(v):
    """Positive activation of minGRU's candidate state: ``v + 0.5`` for ``v >= 0``, else ``sigmoid(v)``."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v):
    """``log(g(v))``, computed without ever taking the log of a tiny number."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def linear_recurrence_sequential(a, b, h0=None):
    """``h_t = a_t * h_{t-1} + b_t`` step by step. ``a``, ``b``: (batch, time, hidden); ``h0``: (batch, hidden)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    # unbind once: indexing a[:, t] inside the loop would make autograd build a full-size
    # zero gradient per step (quadratic in T)
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out, dim=1)


def linear_recurrence_scan(log_a, log_b, log_h0=None):
    """The same recurrence in log space as a parallel scan (Heinsen 2023); returns ``h`` (not its log).

    ``log h_t = A*_t + logcumsumexp_{s<=t}(log b_s - A*_s)`` with ``A*_t = sum_{s<=t} log a_s``;
    ``h0`` enters as an extra first term with ``A* = 0``.
    """
    a_star = torch.cumsum(log_a, dim=1)
    if log_h0 is not None:
        a_star = F.pad(a_star, (0, 0, 1, 0))                   # A*_0 = 0 for the h0 term
        log_b = torch.cat([log_h0.unsqueeze(1), log_b], dim=1)
    log_h = a_star + torch.logcumsumexp(log_b - a_star, dim=1)
    h = torch.exp(log_h)
    return h[:, 1:] if log_h0 is not None else h


class _MinBase(nn.Module):
    n_gates = 1

    def __init__(self, input_size, hidden_size, bias=True, mode="scan", device=None, dtype=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        self.input_size, self.hidden_size, self.mode = input_size, hidden_size, mode
        # one matrix product gives every gate and the candidate for all time steps at once
        self.linear = nn.Linear(input_size, (self.n_gates + 1) * hidden_size, bias=bias, device=device, dtype=dtype)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, mode={self.mode!r}"

    def _check(self, x, h0):
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.input_size or 0 in x.shape:
            raise ValueError(f"{name}: x must be (batch, time, {self.input_size}); got {tuple(x.shape)}")
        w = self.linear.weight
        if x.dtype != w.dtype:
            raise TypeError(f"{name}: x must have the parameters' dtype {w.dtype}; got {x.dtype}")
        if x.device != w.device:
            raise ValueError(f"{name}: x must be on the parameters' device {w.device}; got {x.device}")
        if h0 is not None:
            want = (x.shape[0], self.hidden_size)
            if not isinstance(h0, torch.Tensor) or tuple(h0.shape) != want:
                got = tuple(h0.shape) if isinstance(h0, torch.Tensor) else type(h0).__name__
                raise ValueError(f"{name}: h0 must be (batch, hidden) = {want}; got {got}")
            if h0.dtype != w.dtype or h0.device != w.device:
                raise TypeError(f"{name}: h0 must be {w.dtype} on {w.device}; got {h0.dtype} on {h0.device}")
            if self.mode == "scan" and bool((h0 <= 0).any()):
                raise ValueError(f"{name}: in mode='scan' h0 must be positive (it is used in log space); "
                                 f"got min {h0.min().item():.3g}")

    def forward(self, x, h0=None):
        self._check(x, h0)
        if self.mode == "scan":
            log_a, log_b = self._log_coeffs(x)
            out = linear_recurrence_scan(log_a, log_b, None if h0 is None else torch.log(h0))
        else:
            a, b = self._coeffs(x)
            out = linear_recurrence_sequential(a, b, h0)
        return out, out[:, -1]


class MinGRU(_MinBase):
    """minGRU, book eq. `eq-mingru`: ``h_t = (1 - z_t) h_{t-1} + z_t g(W_h x_t + b_h)``.

    Parameters: ``linear`` (one ``nn.Linear`` to ``2 * hidden``: the gate ``z`` then the candidate).
    """
    n_gates = 1

    def _coeffs(self, x):
        k, v = self.linear(x).chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return 1 - z, z * g(v)

    def _log_coeffs(self, x):
        k, v = self.linear(x).chunk(2, dim=-1)
        # log(1 - sigmoid(k)) = -softplus(k),  log(sigmoid(k)) = -softplus(-k)
        return -F.softplus(k), -F.softplus(-k) + log_g(v)


class MinLSTM(_MinBase):
    """minLSTM: ``h_t = f'_t h_{t-1} + i'_t g(W_h x_t + b_h)`` with ``f' = f / (f + i)``, ``i' = i / (f + i)``.

    Parameters: ``linear`` (one ``nn.Linear`` to ``3 * hidden``: ``f``, ``i``, then the candidate).
    """
    n_gates = 2

    def _coeffs(self, x):
        kf, ki, v = self.linear(x).chunk(3, dim=-1)
        f, i = torch.sigmoid(kf), torch.sigmoid(ki)
        return f / (f + i), i / (f + i) * g(v)

    def _log_coeffs(self, x):
        kf, ki, v = self.linear(x).chunk(3, dim=-1)
        log_f, log_i = -F.softplus(-kf), -F.softplus(-ki)
        norm = torch.logaddexp(log_f, log_i)
        return log_f - norm, log_i - norm + log_g(v)
