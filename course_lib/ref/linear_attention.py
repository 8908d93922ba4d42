"""Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): forward, hand-written backward,
and the recurrence it equals.

Softmax attention weighs key ``j`` for query ``i`` by ``exp(q_i . k_j / sqrt(d))``. Linear attention uses a
kernel that factorises instead, ``phi(q_i) . phi(k_j)``, with the positive feature map
``phi(x) = elu(x) + 1`` (:func:`elu_feature_map`). Shapes: ``q`` ``(..., T, d)``, ``k`` ``(..., T, d)``,
``v`` ``(..., T, d_v)``; the leading dims are batch and heads. Two ways to compute causal attention:

- **parallel** (book eq. `eq-linattn-parallel`), all positions at once, like softmax attention::

      W = (phi(Q) phi(K)^T) * D,      out = (W V) / (W 1)           (row-wise division: the normaliser)

  with ``D`` the causal mask (``D_ij = 1`` for ``j <= i``, else 0);
- **recurrent** (book eq. `eq-linattn-recurrent`), one position at a time, like an RNN with a matrix state::

      S_t = S_{t-1} + phi(k_t) v_t^T   (d, d_v),     z_t = z_{t-1} + phi(k_t)   (d,),
      out_t = phi(q_t)^T S_t / phi(q_t)^T z_t .

They are the same function: ``phi(q_i)^T S_i = sum_{j <= i} (phi(q_i) . phi(k_j)) v_j`` is row ``i`` of ``W V``.

**Gated (decayed) variant** (book eq. `eq-linattn-gated`), the form behind RetNet (a fixed decay per head),
gated linear attention and Mamba-2 (a decay computed from the input): ``S_t = a_t S_{t-1} + phi(k_t) v_t^T``
and ``z_t = a_t z_{t-1} + phi(k_t)`` with ``a_t`` in ``(0, 1]`` (``decay`` ``(..., T)``, one number per step
and head). In parallel form ``D_ij = a_{j+1} a_{j+2} ... a_i`` for ``j <= i`` (:func:`decay_matrix`), computed
as ``exp(c_i - c_j)`` with ``c = cumsum(log a)`` (never above 1, so it cannot overflow).

``normalize=False`` drops the division (RetNet and gated linear attention normalise differently, by a
LayerNorm of the output). :func:`linear_attention_backward` is the hand-written backward of the parallel form,
gradient-checked in the tests.
"""
from __future__ import annotations

import numpy as np

from .validate import as_float_array, check_finite, check_same_dtype, check_shape, shape_str

__all__ = [
    "elu_feature_map",
    "elu_feature_map_grad",
    "decay_matrix",
    "linear_attention_forward",
    "linear_attention_backward",
    "linear_attention",
    "linear_attention_recurrent",
    "linear_attention_step",
]


def elu_feature_map(x):
    """phi(x) = elu(x) + 1: ``x + 1`` for ``x > 0``, ``exp(x)`` otherwise; always > 0 (Katharopoulos et al.)."""
    x = np.asarray(x)
    with np.errstate(under="ignore", over="ignore"):
        return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def elu_feature_map_grad(x):
    """phi'(x): 1 for ``x > 0``, ``exp(x)`` otherwise (continuous at 0, where both are 1)."""
    x = np.asarray(x)
    with np.errstate(under="ignore"):
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))


# --------------------------------------------------------------------------- input checks
def _check_qkv(q, k, v, causal):
    q, k, v = as_float_array(q, "q"), as_float_array(k, "k"), as_float_array(v, "v")
    if q.ndim < 2:
        raise ValueError(f"q must be (..., time, d); got {shape_str(q.shape)}")
    lead, t, d = q.shape[:-2], q.shape[-2], q.shape[-1]
    time_k = t if causal else "time_k"
    check_shape(k, lead + (time_k, d), "k", "(..., time, d) like q" if causal else "(..., time_k, d) with q's d")
    check_shape(v, lead + (k.shape[-2], "d_v"), "v", "(..., time, d_v) with k's time")
    check_same_dtype({"q": q, "k": k, "v": v})
    for name, a in (("q", q), ("k", k), ("v", v)):
        check_finite(a, name)
    return q, k, v


def _check_decay(decay, q):
    if decay is None:
        return None
    a = as_float_array(decay, "decay")
    check_shape(a, q.shape[:-1], "decay", "(..., time): one factor a_t per step (and head)")
    check_finite(a, "decay")
    if np.any(a <= 0) or np.any(a > 1):
        raise ValueError(f"decay must lie in (0, 1]; got values in [{a.min():.3g}, {a.max():.3g}]")
    return a.astype(q.dtype, copy=False)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__}")
    return bool(value)


def decay_matrix(decay):
    """``D`` ``(..., T, T)`` with ``D_ij = a_{j+1} ... a_i`` for ``j <= i`` (1 on the diagonal) and 0 above it.

    ``decay`` ``(..., T)`` in ``(0, 1]``. ``D_ij = exp(c_i - c_j)``, ``c = cumsum(log a)``: the exponent is
    never positive where it is used, so nothing overflows; entries above the diagonal are set to 0 exactly.
    """
    a = as_float_array(decay, "decay")
    if a.ndim < 1 or np.any(a <= 0) or np.any(a > 1):
        raise ValueError(f"decay must be (..., time) with values in (0, 1]; got {shape_str(a.shape)}")
    c = np.cumsum(np.log(a), axis=-1)
    t = a.shape[-1]
    lower = np.tril(np.ones((t, t), dtype=bool))
    diff = np.where(lower, c[..., :, None] - c[..., None, :], -np.inf)
    with np.errstate(under="ignore"):
        return np.exp(diff)


# --------------------------------------------------------------------------- parallel form
def linear_attention_forward(q, k, v, decay=None, causal=True, normalize=True):
    """Parallel linear attention (book eqs. `eq-linattn-parallel`, `eq-linattn-gated`). Returns ``(out, cache)``.

    ``q`` ``(..., T, d)``, ``k`` ``(..., T, d)`` (``(..., S, d)`` when ``causal=False``), ``v`` ``(..., T, d_v)``;
    ``decay`` ``(..., T)`` in ``(0, 1]`` or ``None`` (needs ``causal=True``). ``out`` ``(..., T, d_v)``;
    ``cache`` feeds :func:`linear_attention_backward` and holds the weights ``W`` as ``cache["weights"]``
    ``(..., T, S)`` (rows sum to 1 when ``normalize=True``, after the division).
    """
    causal, normalize = _check_bool(causal, "causal"), _check_bool(normalize, "normalize")
    q, k, v = _check_qkv(q, k, v, causal)
    if decay is not None and not causal:
        raise ValueError("decay needs causal=True: a decayed state only looks back")
    a = _check_decay(decay, q)
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    A = fq @ np.swapaxes(fk, -1, -2)                                   # (..., T, S): phi(q_i) . phi(k_j)
    if a is not None:
        D = decay_matrix(a)
    elif causal:
        D = np.tril(np.ones(A.shape[-2:], dtype=q.dtype))
    else:
        D = None
    W = A if D is None else A * D
    num = W @ v                                                        # (..., T, d_v)
    cache = {"q": q, "k": k, "v": v, "fq": fq, "fk": fk, "A": A, "D": D, "decay": a, "normalize": normalize}
    if not normalize:
        cache["weights"] = W
        return num, cache
    den = W.sum(axis=-1)                                               # (..., T): phi(q_i) . z_i
    if np.any(den <= 0):
        raise ValueError("a normaliser phi(q_i) . z_i is 0: the feature map underflowed (inputs below about -700?)")
    out = num / den[..., None]
    cache.update(den=den, out=out, weights=W / den[..., None])
    return out, cache


def linear_attention_backward(d_out, cache):
    """Backward of :func:`linear_attention_forward`. ``d_out`` ``(..., T, d_v)``.

    Returns ``(dq, dk, dv, d_decay)`` (``d_decay`` is ``None`` without a decay). With ``A = phi(Q) phi(K)^T``,
    ``W = A * D``, ``num = W V``, ``den = W 1``, ``out = num / den``:

    - ``d_num = d_out / den``; ``d_den = -sum_c d_out * out / den`` (per row); ``d_W = d_num V^T + d_den 1^T``;
    - ``dV = W^T d_num``; ``dA = d_W * D``; ``d phi(Q) = dA phi(K)``; ``d phi(K) = dA^T phi(Q)``; then
      ``dQ = d phi(Q) * phi'(Q)`` and ``dK = d phi(K) * phi'(K)``;
    - decay: ``D_ij = exp(c_i - c_j)``, ``c = cumsum(log a)``. With ``G = d_W * A * D``,
      ``dc_i = sum_j G_ij - sum_j G_ji``, ``d log a_s = sum_{i >= s} dc_i`` and ``da = d log a / a``.
    """
    q, k, v, fq, fk, A, D, a = (cache[n] for n in ("q", "k", "v", "fq", "fk", "A", "D", "decay"))
    d_out = as_float_array(d_out, "d_out")
    check_shape(d_out, q.shape[:-1] + (v.shape[-1],), "d_out", "(..., time, d_v) of the forward")
    W = A if D is None else A * D
    if cache["normalize"]:
        den, out = cache["den"], cache["out"]
        d_num = d_out / den[..., None]
        d_den = -np.sum(d_out * out, axis=-1) / den                     # (..., T)
        dW = d_num @ np.swapaxes(v, -1, -2) + d_den[..., None]
    else:
        d_num = d_out
        dW = d_out @ np.swapaxes(v, -1, -2)
    dv = np.swapaxes(W, -1, -2) @ d_num
    dA = dW if D is None else dW * D
    dq = (dA @ fk) * elu_feature_map_grad(q)
    dk = (np.swapaxes(dA, -1, -2) @ fq) * elu_feature_map_grad(k)
    d_decay = None
    if a is not None:
        G = dW * A * D
        dc = G.sum(axis=-1) - G.sum(axis=-2)                             # (..., T)
        d_log_a = np.flip(np.cumsum(np.flip(dc, axis=-1), axis=-1), axis=-1)
        d_decay = d_log_a / a
    return dq, dk, dv, d_decay


def linear_attention(q, k, v, decay=None, causal=True, normalize=True):
    """Parallel linear attention; returns ``out`` ``(..., T, d_v)`` (see :func:`linear_attention_forward`)."""
    return linear_attention_forward(q, k, v, decay=decay, causal=causal, normalize=normalize)[0]


# --------------------------------------------------------------------------- recurrent form
def linear_attention_step(q_t, k_t, v_t, state=None, a_t=None, normalize=True):
    """One step of the recurrence (book eq. `eq-linattn-recurrent`; gated: eq. `eq-linattn-gated`).

    ``q_t``, ``k_t`` ``(..., d)``, ``v_t`` ``(..., d_v)``; ``state`` ``None`` (zeros) or ``(S, z)`` with
    ``S`` ``(..., d, d_v)`` and ``z`` ``(..., d)``; ``a_t`` ``(...)`` or ``None`` (no decay).
    Returns ``(out_t (..., d_v), (S, z))``: the state has the same size at every step.
    """
    fq, fk = elu_feature_map(q_t), elu_feature_map(k_t)
    if state is None:
        S = np.zeros(fk.shape + (v_t.shape[-1],), dtype=fk.dtype)
        z = np.zeros_like(fk)
    else:
        S, z = state
    if a_t is not None:
        S, z = a_t[..., None, None] * S, a_t[..., None] * z
    S = S + fk[..., :, None] * v_t[..., None, :]                        # + phi(k_t) v_t^T
    z = z + fk
    num = np.einsum("...d,...de->...e", fq, S)                         # phi(q_t)^T S_t
    if not normalize:
        return num, (S, z)
    return num / np.sum(fq * z, axis=-1)[..., None], (S, z)


def linear_attention_recurrent(q, k, v, decay=None, normalize=True, state=None):
    """Causal linear attention as an RNN: :func:`linear_attention_step` over ``t = 1 .. T``.

    Same inputs as :func:`linear_attention_forward` (``causal`` is implied); ``state`` ``(S, z)`` continues
    from an earlier call (``None``: zeros). Returns ``(out (..., T, d_v), (S_T, z_T))``.
    """
    normalize = _check_bool(normalize, "normalize")
    q, k, v = _check_qkv(q, k, v, causal=True)
    a = _check_decay(decay, q)
    if state is not None:
        if not isinstance(state, tuple) or len(state) != 2:
            raise TypeError(f"state must be a tuple (S, z) from an earlier call; got {type(state).__name__}")
        S, z = (as_float_array(s, n) for s, n in zip(state, ("S", "z")))
        lead, d, d_v = q.shape[:-2], q.shape[-1], v.shape[-1]
        check_shape(S, lead + (d, d_v), "S", "(..., d, d_v)")
        check_shape(z, lead + (d,), "z", "(..., d)")
        state = (S, z)
    out = np.empty(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
    for t in range(q.shape[-2]):
        a_t = None if a is None else a[..., t]
        out[..., t, :], state = linear_attention_step(q[..., t, :], k[..., t, :], v[..., t, :], state, a_t, normalize)
    return out, state
