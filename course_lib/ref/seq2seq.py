"""The pieces of an encoder-decoder with attention, forward **and** backward, in NumPy (book ch. 09).

- :func:`embedding_forward` / :func:`embedding_backward`: a lookup ``W[ids]`` (eq. `eq-embedding`: the same as a
  one-hot row times ``W``); its gradient adds ``d_out`` into the looked-up rows, *accumulating* repeated ids.
- :func:`temporal_softmax_loss`: cross-entropy over every step of padded target sequences, averaged over the
  real (unmasked) tokens only (eq. `eq-masked-ce`), with its gradient.
- :func:`additive_attention_forward` / ``_backward``: Bahdanau et al. (2015): ``e_j = v^T tanh(W_q q + W_k k_j)``
  (eq. `eq-additive-attention`).
- :func:`dot_attention_forward` / ``_backward``: Luong et al. (2015)'s "dot" score ``e_j = q . k_j``, optionally
  scaled by ``1 / sqrt(d)`` (then it is :func:`course_lib.ref.attention`), eq. `eq-dot-attention`.

Masks are boolean, ``True`` = a real source token that may be attended to (``(batch, time_k)``), the convention
of :func:`course_lib.ref.attention`.
"""
from __future__ import annotations

import numpy as np

from .functional import log_softmax, softmax
from .validate import as_float_array, check_finite, check_same_dtype, check_shape, shape_str

__all__ = [
    "embedding_forward", "embedding_backward", "temporal_softmax_loss",
    "additive_attention_forward", "additive_attention_backward",
    "dot_attention_forward", "dot_attention_backward",
]


def _ids(ids, n_rows, name="ids"):
    ids = np.asarray(ids)
    if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array; got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_rows):
        raise ValueError(f"{name} must lie in [0, {n_rows - 1}] (the rows of W); got values in "
                         f"[{ids.min()}, {ids.max()}]")
    return ids


def embedding_forward(ids, W):
    """Embedding lookup (eq. `eq-embedding`): ids (...) ints in [0, vocab), W (vocab, dim) -> (out (..., dim), cache).

    ``out[...] = W[ids[...]]``, which equals ``onehot(ids) @ W`` without building the one-hot matrix.
    """
    W = as_float_array(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W must be (vocab, dim); got {shape_str(W.shape)}")
    ids = _ids(ids, W.shape[0])
    return W[ids], {"ids": ids, "shape": W.shape, "dtype": W.dtype}


def embedding_backward(d_out, cache):
    """Gradient of :func:`embedding_forward` w.r.t. ``W``: ``dW[v] = sum of d_out over the positions with id v``.

    d_out (..., dim). A repeated id receives the *sum* of its gradients (``np.add.at``; ``dW[ids] += d_out``
    would keep only one of them).
    """
    ids, (vocab, dim), dtype = cache["ids"], cache["shape"], cache["dtype"]
    d_out = as_float_array(d_out, "d_out")
    check_shape(d_out, ids.shape + (dim,), "d_out", "ids.shape + (dim,)")
    dW = np.zeros((vocab, dim), dtype=dtype)
    np.add.at(dW, ids.reshape(-1), d_out.reshape(-1, dim))
    return dW


def temporal_softmax_loss(logits, targets, mask):
    """Masked cross-entropy over time (eq. `eq-masked-ce`) and its gradient. Returns ``(loss, d_logits)``.

    logits (batch, time, vocab); targets (batch, time) ints; mask (batch, time) bool, True on real target tokens
    (False on padding). ``loss = sum_{b,t} mask * (-log softmax(logits)[target]) / sum(mask)``: the mean over
    the real tokens, what ``torch.nn.functional.cross_entropy(..., ignore_index=pad)`` computes.
    ``d_logits = mask * (softmax(logits) - onehot(targets)) / sum(mask)``: padded steps get no gradient.
    """
    logits = as_float_array(logits, "logits")
    if logits.ndim != 3:
        raise ValueError(f"logits must be (batch, time, vocab); got {shape_str(logits.shape)}")
    check_finite(logits, "logits")
    n, t, v = logits.shape
    targets = _ids(targets, v, "targets")
    if targets.shape != (n, t):
        raise ValueError(f"targets must be (batch, time) = {shape_str((n, t))}; got {shape_str(targets.shape)}")
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be boolean (True = a real token); got dtype {mask.dtype}")
    if mask.shape != (n, t):
        raise ValueError(f"mask must be (batch, time) = {shape_str((n, t))}; got {shape_str(mask.shape)}")
    count = int(mask.sum())
    if count == 0:
        raise ValueError("mask is all False: there is no real token to average the loss over")
    logp = log_softmax(logits, axis=-1)
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    loss = float(np.sum(nll * mask) / count)
    d_logits = softmax(logits, axis=-1)
    np.put_along_axis(d_logits, targets[..., None], np.take_along_axis(d_logits, targets[..., None], axis=-1) - 1.0,
                      axis=-1)
    d_logits *= mask[..., None] / count
    return loss, d_logits


def _key_mask(mask, batch, time_k):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be boolean (True = may attend); got dtype {mask.dtype}")
    if mask.shape != (batch, time_k):
        raise ValueError(f"mask must be (batch, time_k) = {shape_str((batch, time_k))}; got {shape_str(mask.shape)}")
    if not np.all(mask.any(axis=-1)):
        raise ValueError("mask leaves a sequence with no key to attend to (a row of the mask is all False)")
    return mask


def additive_attention_forward(query, keys, W_q, W_k, v, mask=None):
    """Additive (Bahdanau) attention for one decoder step (eq. `eq-additive-attention`).

    query (batch, d_q): the decoder state; keys (batch, time_k, d_k): the encoder states (also the values);
    W_q (d_a, d_q), W_k (d_a, d_k), v (d_a,); mask (batch, time_k) bool or None.
    ``e_j = v . tanh(W_q q + W_k k_j)``, ``alpha = softmax_j(e)`` over the keys (padding: weight 0),
    ``context = sum_j alpha_j k_j``. Returns ``(context (batch, d_k), weights (batch, time_k), cache)``.
    """
    arrays = {name: as_float_array(a, name) for name, a in
              (("query", query), ("keys", keys), ("W_q", W_q), ("W_k", W_k), ("v", v))}
    query, keys, W_q, W_k, v = arrays.values()
    check_shape(query, ("batch", "d_q"), "query")
    batch, d_q = query.shape
    check_shape(keys, (batch, "time_k", "d_k"), "keys", "(batch, time_k, d_k) with query's batch")
    d_k = keys.shape[2]
    check_shape(W_q, ("d_a", d_q), "W_q", "(d_a, d_q)")
    d_a = W_q.shape[0]
    check_shape(W_k, (d_a, d_k), "W_k", "(d_a, d_k)")
    check_shape(v, (d_a,), "v", "(d_a,)")
    check_same_dtype(arrays)
    for name, a in arrays.items():
        check_finite(a, name)
    mask = _key_mask(mask, batch, keys.shape[1])
    hidden = np.tanh((query @ W_q.T)[:, None, :] + keys @ W_k.T)        # (batch, time_k, d_a)
    scores = hidden @ v                                                 # (batch, time_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-1)
    context = np.einsum("bs,bsd->bd", weights, keys)
    cache = {"query": query, "keys": keys, "W_q": W_q, "W_k": W_k, "v": v, "hidden": hidden, "weights": weights}
    return context, weights, cache


def additive_attention_backward(d_context, cache, d_weights=None):
    """Backward of :func:`additive_attention_forward`. d_context (batch, d_k); optional d_weights (batch, time_k)
    (a loss on the weights themselves). Returns a dict with ``query``, ``keys``, ``W_q``, ``W_k``, ``v``.

    Through the context: ``d_keys = alpha d_context`` (the values) and ``d_alpha_j = d_context . k_j``; the
    softmax: ``d_e = alpha * (d_alpha - sum_j alpha_j d_alpha_j)``; the score: with ``u = tanh(...)``,
    ``d_pre = d_e v (1 - u^2)``, so ``dv = sum d_e u``, ``dW_k = sum d_pre^T k``, ``dW_q = sum_j d_pre^T q``,
    ``d_query = (sum_j d_pre) W_q``, ``d_keys += d_pre W_k``. Masked keys have alpha = 0: no gradient.
    """
    q, k, W_q, W_k, v, u, alpha = (cache[n] for n in ("query", "keys", "W_q", "W_k", "v", "hidden", "weights"))
    d_context = as_float_array(d_context, "d_context")
    check_shape(d_context, (q.shape[0], k.shape[2]), "d_context", "(batch, d_k)")
    d_alpha = np.einsum("bd,bsd->bs", d_context, k)
    if d_weights is not None:
        d_weights = as_float_array(d_weights, "d_weights")
        check_shape(d_weights, alpha.shape, "d_weights", "(batch, time_k)")
        d_alpha = d_alpha + d_weights
    d_keys = alpha[:, :, None] * d_context[:, None, :]
    d_e = alpha * (d_alpha - np.sum(d_alpha * alpha, axis=-1, keepdims=True))
    d_pre = d_e[:, :, None] * v * (1.0 - u ** 2)                        # (batch, time_k, d_a)
    d_pre_q = d_pre.sum(axis=1)                                         # (batch, d_a)
    return {
        "query": d_pre_q @ W_q,
        "keys": d_keys + d_pre @ W_k,
        "W_q": d_pre_q.T @ q,
        "W_k": np.einsum("bsa,bsd->ad", d_pre, k),
        "v": np.einsum("bs,bsa->a", d_e, u),
    }


def dot_attention_forward(query, keys, values=None, mask=None, scaled=False):
    """Dot-product (Luong "dot") attention for every decoder step at once (eq. `eq-dot-attention`).

    query (batch, time_q, d): decoder states; keys (batch, time_k, d): encoder states; values (batch, time_k, d_v)
    (default: the keys); mask (batch, time_k) bool or None. ``e = q k^T`` (times ``1 / sqrt(d)`` when
    ``scaled``: :func:`course_lib.ref.attention`), ``alpha = softmax(e)`` over the keys, ``context = alpha v``.
    Returns ``(context (batch, time_q, d_v), weights (batch, time_q, time_k), cache)``.
    """
    values = keys if values is None else values
    arrays = {name: as_float_array(a, name) for name, a in (("query", query), ("keys", keys), ("values", values))}
    query, keys, values = arrays.values()
    check_shape(query, ("batch", "time_q", "d"), "query")
    batch, _, d = query.shape
    check_shape(keys, (batch, "time_k", d), "keys", "(batch, time_k, d) with query's batch and d")
    check_shape(values, (batch, keys.shape[1], "d_v"), "values", "(batch, time_k, d_v) with keys' time_k")
    check_same_dtype(arrays)
    for name, a in arrays.items():
        check_finite(a, name)
    mask = _key_mask(mask, batch, keys.shape[1])
    scale = 1.0 / np.sqrt(d) if scaled else 1.0
    scores = (query @ np.swapaxes(keys, 1, 2)) * scale
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = softmax(scores, axis=-1)
    cache = {"query": query, "keys": keys, "values": values, "weights": weights, "scale": scale,
             "shared": values is keys}
    return weights @ values, weights, cache


def dot_attention_backward(d_context, cache):
    """Backward of :func:`dot_attention_forward`. d_context (batch, time_q, d_v).

    Returns a dict with ``query``, ``keys`` and ``values`` (when the values were the keys, ``keys`` holds the sum
    of both paths and ``values`` is that same array): ``dv = alpha^T d_c``, ``d_alpha = d_c v^T``,
    ``d_e = alpha * (d_alpha - sum alpha d_alpha)``, ``dq = d_e k * scale``, ``dk = d_e^T q * scale``.
    """
    q, k, vals, alpha, scale = (cache[n] for n in ("query", "keys", "values", "weights", "scale"))
    d_context = as_float_array(d_context, "d_context")
    check_shape(d_context, alpha.shape[:2] + (vals.shape[2],), "d_context", "(batch, time_q, d_v)")
    d_values = np.swapaxes(alpha, 1, 2) @ d_context
    d_alpha = d_context @ np.swapaxes(vals, 1, 2)
    d_e = alpha * (d_alpha - np.sum(d_alpha * alpha, axis=-1, keepdims=True))
    d_query = (d_e @ k) * scale
    d_keys = (np.swapaxes(d_e, 1, 2) @ q) * scale
    if cache["shared"]:
        d_keys = d_keys + d_values
        return {"query": d_query, "keys": d_keys, "values": d_keys}
    return {"query": d_query, "keys": d_keys, "values": d_values}
