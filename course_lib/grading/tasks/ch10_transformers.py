"""Tasks of ``exercises/10_transformers.ipynb``: scaled dot-product attention with a mask."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_array, expect_tuple
from ..registry import Task, Test
from .common import check_callable, normal, sizes

NOTEBOOK = "10_transformers"


def _qkv(rng, lead, t_q, t_k, d, d_v, scale=1.0):
    return (normal(rng, *lead, t_q, d, scale=scale), normal(rng, *lead, t_k, d, scale=scale),
            normal(rng, *lead, t_k, d_v))


def _run(fn, q, k, v, mask):
    check_callable(fn, "attention(q, k, v, mask=None)")
    expected = ref.attention(q, k, v, mask=mask)
    out = call_learner(fn, q, k, v, mask, name="attention")
    return expect_tuple(out, 2, "attention", "(out, weights)"), expected


def _compare(got, expected, note):
    for g, e, n in zip(got, expected, ("out", "weights")):
        if not isinstance(g, np.ndarray) or g.shape != e.shape:
            expect_array(g, e, n)
    expect_array(got[1], expected[1], f"weights ({note})")
    expect_array(got[0], expected[0], f"out ({note})")


def _shapes(fn, rng):
    batch, t_q, t_k = sizes(rng, 3, 2, 7)
    d, d_v = sizes(rng, 2, 3, 9)
    got, expected = _run(fn, *_qkv(rng, (batch,), t_q, t_k, d, d_v), None)
    for g, e, n in zip(got, expected, ("out (batch, time_q, d_v)", "weights (batch, time_q, time_k)")):
        if not isinstance(g, np.ndarray) or g.shape != e.shape:
            expect_array(g, e, n)


def _no_mask(fn, rng):
    batch, t_q, t_k = sizes(rng, 3, 2, 7)
    d, d_v = sizes(rng, 2, 3, 9)
    got, expected = _run(fn, *_qkv(rng, (batch,), t_q, t_k, d, d_v), None)
    _compare(got, expected, "no mask")


def _padding_mask(fn, rng):
    batch, t_q, t_k = sizes(rng, 3, 2, 7)
    d, d_v = sizes(rng, 2, 3, 9)
    lengths = rng.integers(1, t_k + 1, size=batch)
    mask = (np.arange(t_k)[None, :] < lengths[:, None])[:, None, :]  # (batch, 1, time_k): True = may attend
    got, expected = _run(fn, *_qkv(rng, (batch,), t_q, t_k, d, d_v), mask)
    if isinstance(got[1], np.ndarray) and got[1].shape == expected[1].shape:
        blocked = np.broadcast_to(~mask, expected[1].shape)
        if np.any(got[1][blocked] != 0):
            raise Mismatch("weights must be exactly 0 where the mask is False (set those scores to -inf "
                           "before the softmax)")
    _compare(got, expected, "padding mask of shape (batch, 1, time_k)")


def _causal_heads(fn, rng):
    batch, heads, t = sizes(rng, 3, 2, 7)
    d, d_v = sizes(rng, 2, 3, 9)
    got, expected = _run(fn, *_qkv(rng, (batch, heads), t, t, d, d_v), ref.causal_mask(t))
    _compare(got, expected, "causal mask (time, time), inputs (batch, heads, time, d)")


def _large_scores(fn, rng):
    batch, t_q, t_k = sizes(rng, 3, 2, 7)
    d, d_v = sizes(rng, 2, 3, 9)
    got, expected = _run(fn, *_qkv(rng, (batch,), t_q, t_k, d, d_v, scale=30.0), None)
    _compare(got, expected, "scores in the hundreds: subtract the row maximum before exp")


ATTENTION = Task(
    "attention", NOTEBOOK,
    "Scaled dot-product attention softmax(q k^T / sqrt(d)) v with a boolean mask, True = may attend "
    "(book eq. eq-attention).",
    (
        Test("returns out (..., time_q, d_v) and weights (..., time_q, time_k)", 1, _shapes),
        Test("out and weights are right without a mask", 1, _no_mask),
        Test("a padding mask: blocked keys get weight 0", 1, _padding_mask),
        Test("a causal mask with a heads dimension", 1, _causal_heads),
        Test("large scores do not overflow", 1, _large_scores),
    ),
)

TASKS = (ATTENTION,)
