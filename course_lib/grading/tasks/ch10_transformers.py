"""Tasks of ``exercises/10_transformers.ipynb``: scaled dot-product attention with a mask, multi-head self-attention,
the sinusoidal positional encoding and layer normalisation."""
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



# ----------------------------------------------------------------------------- multi-head self-attention
def multi_head_reference(x, in_w, in_b, out_w, out_b, n_heads, causal=False):
    """Multi-head self-attention with torch's ``nn.MultiheadAttention`` parameters:
    x ``(batch, time, d)``, ``in_w (3d, d)`` (rows: W_q, W_k, W_v), ``in_b (3d,)``, ``out_w (d, d)``,
    ``out_b (d,)`` -> ``(out (batch, time, d), weights (batch, n_heads, time, time))``."""
    batch, time, d = x.shape
    q, k, v = np.split(x @ in_w.T + in_b, 3, axis=-1)

    def heads(a):                                   # (batch, time, d) -> (batch, heads, time, d / heads)
        return a.reshape(batch, time, n_heads, d // n_heads).transpose(0, 2, 1, 3)

    mask = np.tril(np.ones((time, time), dtype=bool)) if causal else None
    out, weights = ref.attention(heads(q), heads(k), heads(v), mask=mask)
    return out.transpose(0, 2, 1, 3).reshape(batch, time, d) @ out_w.T + out_b, weights


def _mha(fn, rng, n_heads=None, causal=False, what="values"):
    check_callable(fn, "multi_head_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, "
                       "n_heads, causal)")
    heads = int(rng.integers(2, 5)) if n_heads is None else n_heads
    batch, time = sizes(rng, 2, 2, 7)
    d = heads * int(rng.integers(2, 5))
    s = 1.0 / np.sqrt(d)
    args = (normal(rng, batch, time, d), normal(rng, 3 * d, d, scale=s), normal(rng, 3 * d, scale=0.3),
            normal(rng, d, d, scale=s), normal(rng, d, scale=0.3))
    expected = multi_head_reference(*args, heads, causal)
    got = expect_tuple(call_learner(fn, *args, heads, causal, name="multi_head_attention"), 2,
                       "multi_head_attention", "(out, weights)")
    note = f"{heads} head{'s' if heads > 1 else ''}" + (", causal" if causal else "")
    if what == "shapes":
        for g, e, n in zip(got, expected, ("out (batch, time, d)", "weights (batch, n_heads, time, time)")):
            if not isinstance(g, np.ndarray) or g.shape != e.shape:
                expect_array(g, e, n)
        return
    expect_array(got[1], expected[1], f"weights ({note})")
    expect_array(got[0], expected[0], f"out ({note})")


MULTI_HEAD = Task(
    "multi_head_attention", NOTEBOOK,
    "Multi-head self-attention with torch's nn.MultiheadAttention parameters; returns (out, per-head weights).",
    (
        Test("returns out (batch, time, d) and weights (batch, n_heads, time, time)", 1,
             lambda fn, rng: _mha(fn, rng, what="shapes")),
        Test("one head", 1, lambda fn, rng: _mha(fn, rng, n_heads=1)),
        Test("several heads", 2, lambda fn, rng: _mha(fn, rng)),
        Test("several heads with a causal mask", 2, lambda fn, rng: _mha(fn, rng, causal=True)),
    ),
)



# ----------------------------------------------------------------------------- positional encoding, layer norm
def _pe(fn, rng, odd=False, long=False):
    check_callable(fn, "positional_encoding(length, d_model)")
    length = int(rng.integers(500, 2000)) if long else int(rng.integers(3, 12))
    d_model = 2 * int(rng.integers(2, 9)) + (1 if odd else 0)
    got = call_learner(fn, length, d_model, name="positional_encoding")
    note = "an odd d_model" if odd else f"length {length}" if long else "even d_model"
    expect_array(got, ref.positional_encoding(length, d_model), f"PE (length, d_model), {note}")


POSITIONAL = Task(
    "positional_encoding", NOTEBOOK,
    "The sinusoidal positional encoding of Vaswani et al. (2017), (length, d_model) (book eq. eq-positional-encoding).",
    (
        Test("even d_model", 1, lambda fn, rng: _pe(fn, rng)),
        Test("an odd d_model", 1, lambda fn, rng: _pe(fn, rng, odd=True)),
        Test("long sequences", 1, lambda fn, rng: _pe(fn, rng, long=True)),
    ),
)


def _ln(fn, rng, eps):
    check_callable(fn, "layer_norm(x, weight, bias, eps)")
    batch, time, d = sizes(rng, 3, 2, 9)
    x = normal(rng, batch, time, d, scale=0.01 if eps > 1e-3 else 2.0) + 3.0
    weight, bias = normal(rng, d), normal(rng, d)
    got = call_learner(fn, x, weight, bias, eps, name="layer_norm")
    expect_array(got, ref.layer_norm(x, weight, bias, eps), f"out (batch, time, d), eps = {eps:g}")


LAYER_NORM = Task(
    "layer_norm", NOTEBOOK,
    "Layer normalisation over the features of every position, with a learned scale and shift.",
    (
        Test("values (eps = 1e-5)", 1, lambda fn, rng: _ln(fn, rng, 1e-5)),
        Test("eps inside the square root (small variance, eps = 0.01)", 1, lambda fn, rng: _ln(fn, rng, 1e-2)),
    ),
)

TASKS = (ATTENTION, MULTI_HEAD, POSITIONAL, LAYER_NORM)
