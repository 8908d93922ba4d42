"""Chapter 11 experiments: linear recurrences by a parallel scan, and minGRU trained with the scan and the loop.

The linear recurrence ``h_t = a_t * h_{t-1} + b_t`` (book eq. `eq-linear-recurrence`) applies one affine map per
step; composing two such maps gives another one (:func:`combine`, book eq. `eq-affine-compose`), and composition
is associative, so all prefixes can be computed by a **scan** in O(log T) rounds.

- :func:`combine`: ``(a1, b1)`` then ``(a2, b2)`` -> ``(a1 a2, a2 b1 + b2)``.
- :func:`blelloch_scan`: the recurrence by Blelloch's work-efficient scan (up-sweep, down-sweep), written
  out for reading, with the number of rounds and of combinations it performed and, if asked, its trace.
  ``course_lib.nn.linear_recurrence_scan`` is the fast version (log space, two built-in scans).
- :func:`hillis_steele_counts`: rounds and combinations of the simpler Hillis–Steele scan (the exercise's).
- :func:`min_rnn_regressor`, :func:`train_both_modes`: minGRU/minLSTM trained once with the scan and once
  with the loop, from the same weights on the same batches.
- :func:`layer_times`: forward + backward time of an LSTM, minGRU (loop), minGRU (scan) and causal
  self-attention against the sequence length, measured in one run.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import nn as cnn
from ..core.timing import time_interleaved
from .models import SequenceModel
from .tasks import AddingConfig, train_adding

__all__ = ["combine", "blelloch_scan", "hillis_steele_counts", "min_rnn_regressor", "train_both_modes",
           "layer_times", "LAYERS"]


def combine(first, second):
    """Compose two affine steps: ``first = (a1, b1)`` is applied first, then ``second = (a2, b2)``.

    ``h -> a2 * (a1 * h + b1) + b2 = (a1 * a2) * h + (a2 * b1 + b2)`` (book eq. `eq-affine-compose`).
    Element-wise, so it works on tensors of any (equal, or broadcastable) shape.
    """
    (a1, b1), (a2, b2) = first, second
    return a1 * a2, a2 * b1 + b2


def _check_ab(a, b, h0):
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if b.dim() != 3 or 0 in b.shape:
        raise ValueError(f"b must be (batch, time, hidden); got {tuple(b.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"a must have b's shape {tuple(b.shape)} (batch, time, hidden); got {tuple(a.shape)}")
    if h0 is not None and (not isinstance(h0, torch.Tensor) or h0.shape != (b.shape[0], b.shape[2])):
        got = tuple(h0.shape) if isinstance(h0, torch.Tensor) else type(h0).__name__
        raise ValueError(f"h0 must be (batch, hidden) = {(b.shape[0], b.shape[2])}; got {got}")


def blelloch_scan(a, b, h0=None, trace=None):
    """``h_t = a_t * h_{t-1} + b_t`` for every ``t`` by Blelloch's (1990) scan; returns ``(h, counts)``.

    ``a``, ``b``: ``(batch, time, hidden)``; ``h0``: ``(batch, hidden)`` or ``None`` (zeros). ``h`` is
    ``(batch, time, hidden)``, equal to the loop ``course_lib.nn.linear_recurrence_sequential``.
    ``counts``: ``{"rounds": ..., "combines": ...}``: rounds of whole-array operations (each could run in
    parallel over all positions) and combinations done per (batch, hidden) lane.

    The time axis is padded to a power of two ``n`` with identity steps ``(1, 0)``. The *up-sweep* combines
    neighbours pairwise up a binary tree (``log2 n`` rounds, ``n - 1`` combinations); the *down-sweep* sends
    each node the composition of everything to its left (``log2 n`` rounds, ``n - 1`` combinations); one last
    round applies each position's own step. Work O(T), depth O(log T). No division: products of many ``a_t``
    may underflow to 0 harmlessly. Pass a list as ``trace`` to receive one ``(phase, [(src, dst), ...])``
    entry per round (the combinations of that round; "final" rounds are position-wise).
    """
    _check_ab(a, b, h0)
    T = b.shape[1]
    n = 1 << (T - 1).bit_length()                            # next power of two >= T
    levels = n.bit_length() - 1
    a_pad = F.pad(a, (0, 0, 0, n - T), value=1.0)             # identity steps at the end
    b_pad = F.pad(b, (0, 0, 0, n - T), value=0.0)
    A, B = a_pad, b_pad
    rounds, combines = 0, 0

    def record(phase, left, right):
        if trace is not None:
            trace.append((phase, list(zip(left.tolist(), right.tolist()))))

    for d in range(levels):                                   # up-sweep: partial compositions up a tree
        s = 1 << d
        right = torch.arange(2 * s - 1, n, 2 * s, device=b.device)
        left = right - s
        new_a, new_b = combine((A[:, left], B[:, left]), (A[:, right], B[:, right]))
        A, B = A.index_copy(1, right, new_a), B.index_copy(1, right, new_b)
        rounds, combines = rounds + 1, combines + len(right)
        record("up", left, right)
    last = torch.tensor([n - 1], device=b.device)             # the root's prefix: nothing before it
    A = A.index_copy(1, last, torch.ones_like(A[:, last]))
    B = B.index_copy(1, last, torch.zeros_like(B[:, last]))
    for d in reversed(range(levels)):                         # down-sweep: prefix of everything to the left
        s = 1 << d
        right = torch.arange(2 * s - 1, n, 2 * s, device=b.device)
        left = right - s
        parent = (A[:, right], B[:, right])                   # the composition of all steps before this subtree
        left_total = (A[:, left], B[:, left])                 # the left subtree's composition (from the up-sweep)
        new_a, new_b = combine(parent, left_total)
        A, B = A.index_copy(1, left, parent[0]), B.index_copy(1, left, parent[1])
        A, B = A.index_copy(1, right, new_a), B.index_copy(1, right, new_b)
        rounds, combines = rounds + 1, combines + len(right)
        record("down", left, right)
    A, B = combine((A, B), (a_pad, b_pad))                    # exclusive -> inclusive prefix
    rounds, combines = rounds + 1, combines + n
    if trace is not None:
        trace.append(("final", [(t, t) for t in range(n)]))
    h = B if h0 is None else A * h0.unsqueeze(1) + B          # h_t = A_t h0 + B_t
    return h[:, :T], {"rounds": rounds, "combines": combines}


def hillis_steele_counts(T):
    """Rounds and combinations (per lane) of the Hillis–Steele scan over ``T`` steps.

    In the round with offset ``s = 1, 2, 4, ... < T`` every position ``t >= s`` combines with ``t - s``:
    ``ceil(log2 T)`` rounds and ``sum_s (T - s)`` = O(T log T) combinations.
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int; got {T!r}")
    offsets = [1 << k for k in range(math.ceil(math.log2(T)))] if T > 1 else []
    return {"rounds": len(offsets), "combines": sum(T - s for s in offsets)}


def min_rnn_regressor(input_size, hidden_size, cell="gru", mode="scan"):
    """``course_lib.nn.MinGRU`` or ``MinLSTM`` + ``Linear(hidden, 1)`` on the last state (a many-to-one
    :class:`~course_lib.experiments.models.SequenceModel`): ``(batch, time, input_size)`` -> ``(batch, 1)``.
    ``mode``: ``"scan"`` or ``"sequential"``."""
    if cell not in ("gru", "lstm"):
        raise ValueError(f"cell must be 'gru' or 'lstm'; got {cell!r}")
    return SequenceModel("min" + cell, input_size, hidden_size, 1, per_step=False, mode=mode)


def train_both_modes(cell="gru", cfg=AddingConfig(T=100, steps=300, batch_size=32, eval_every=None), hidden=16,
                     device=None, progress=True):
    """Train the same :func:`min_rnn_regressor` on the adding problem of ``cfg`` twice, with the scan and with
    the loop (:func:`course_lib.experiments.tasks.train_adding`): same initial weights (seed ``cfg.seed``),
    same batches, same optimizer. Returns ``{mode: AddingRun}`` for ``"scan"`` and ``"sequential"``; the
    ``val_mse`` is on 1,000 fresh sequences (answering 1 gives about 1/6)."""
    torch.manual_seed(cfg.seed)
    init = min_rnn_regressor(2, hidden, cell).state_dict()
    results = {}
    for mode in ("scan", "sequential"):
        model = min_rnn_regressor(2, hidden, cell, mode)
        model.load_state_dict(init)
        results[mode] = train_adding(model, cfg, device=device, progress=progress, desc=f"min{cell.upper()} {mode}")
    return results


LAYERS = ("LSTM (loop)", "minGRU (loop)", "minGRU (scan)", "attention")


def _layer(name, hidden, device):
    if name == "LSTM (loop)":
        return cnn.LSTM(hidden, hidden, batch_first=True).to(device)
    if name == "minGRU (loop)":
        return cnn.MinGRU(hidden, hidden, mode="sequential").to(device)
    if name == "minGRU (scan)":
        return cnn.MinGRU(hidden, hidden, mode="scan").to(device)
    if name == "attention":
        return cnn.MultiheadSelfAttention(hidden, 4).to(device)
    raise ValueError(f"layer must be one of {LAYERS}; got {name!r}")


def _fwd_bwd(name, layer, x):
    def run():
        layer.zero_grad(set_to_none=True)
        out = layer(x, causal=True)[0] if name == "attention" else layer(x)[0]
        out.pow(2).mean().backward()
    return run


def layer_times(lengths, batch=8, hidden=64, device="cpu", repeats=3, attention_max_T=1024, layers=LAYERS):
    """Median seconds of forward + backward of one layer of each kind, for each T in ``lengths``.

    Returns ``{layer name: [seconds or nan, ...]}``; attention is skipped (nan) above ``attention_max_T``,
    where its ``(batch, 4, T, T)`` weights would need too much memory. Layers are timed interleaved.
    """
    device = torch.device(device)
    torch.manual_seed(0)
    mods = {name: _layer(name, hidden, device) for name in layers}
    out = {name: [] for name in layers}
    for T in lengths:
        x = torch.randn(batch, T, hidden, device=device)
        fns = {n: _fwd_bwd(n, m, x) for n, m in mods.items() if not (n == "attention" and T > attention_max_T)}
        t = time_interleaved(fns, device, repeats=repeats, warmup=1)
        for name in layers:
            out[name].append(t.get(name, math.nan))
    return out
