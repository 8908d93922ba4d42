"""Attention from scratch (book ch. 09): scaled dot-product attention forward **and** backward,
multi-head self-attention, sinusoidal positional encoding, and a pre-norm Transformer encoder block.

Masks follow ``torch.nn.functional.scaled_dot_product_attention``'s boolean convention:
``True`` means *may attend*. (``torch.nn.MultiheadAttention`` and ``TransformerEncoderLayer`` use
the opposite convention, ``True`` = blocked; pass ``~mask`` to them.)
"""
from __future__ import annotations

import numpy as np

from .functional import softmax
from .validate import as_float_array, check_dtype, check_finite, check_same_dtype, check_shape

__all__ = [
    "causal_mask",
    "attention_forward",
    "attention_backward",
    "attention",
    "multi_head_self_attention",
    "positional_encoding",
    "layer_norm",
    "TransformerEncoderBlock",
]


def causal_mask(t_q: int, t_k: int | None = None) -> np.ndarray:
    """Boolean (t_q, t_k) mask, True where key j <= query i: each position sees only itself and the past."""
    t_k = t_q if t_k is None else t_k
    return np.tril(np.ones((t_q, t_k), dtype=bool))


def _check_qkv(q, k, v):
    q, k, v = as_float_array(q, "q"), as_float_array(k, "k"), as_float_array(v, "v")
    if q.ndim < 2:
        raise ValueError(f"q must be (..., time_q, d); got shape {q.shape}")
    lead, d = q.shape[:-2], q.shape[-1]
    check_shape(k, lead + ("time_k", d), "k", "(..., time_k, d) with q's leading dims and d")
    check_shape(v, lead + (k.shape[-2], "d_v"), "v", "(..., time_k, d_v) with k's time_k")
    check_same_dtype({"q": q, "k": k, "v": v})
    for name, a in (("q", q), ("k", k), ("v", v)):
        check_finite(a, name)
    return q, k, v


def _allowed(mask, causal, score_shape):
    """The boolean 'may attend' array broadcast to the scores' shape, or None when nothing is masked."""
    allowed = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be boolean (True = may attend); got dtype {mask.dtype}")
        try:
            allowed = np.broadcast_to(mask, score_shape)
        except ValueError:
            raise ValueError(f"mask must broadcast to the scores' shape (..., time_q, time_k) = {score_shape}; "
                             f"got {mask.shape}") from None
    if causal:
        c = causal_mask(score_shape[-2], score_shape[-1])
        allowed = c if allowed is None else allowed & c
        allowed = np.broadcast_to(allowed, score_shape)
    if allowed is not None and not np.all(allowed.any(axis=-1)):
        raise ValueError("mask leaves a query with no key to attend to (a row of the mask is all False)")
    return allowed


def attention_forward(q, k, v, mask=None, causal=False):
    """Scaled dot-product attention (book eq. `eq-attention`): softmax(q k^T / sqrt(d)) v.

    q (..., time_q, d), k (..., time_k, d), v (..., time_k, d_v); mask: boolean, broadcastable to
    (..., time_q, time_k), True = may attend; causal=True also blocks keys after the query.
    Returns ``(out, cache)``: out (..., time_q, d_v); ``cache`` feeds :func:`attention_backward`
    and holds the attention weights as ``cache["weights"]`` (..., time_q, time_k).
    """
    q, k, v = _check_qkv(q, k, v)
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    allowed = _allowed(mask, causal, scores.shape)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)  # exp(-inf) = 0: blocked keys get weight 0
    weights = softmax(scores, axis=-1)
    return weights @ v, {"q": q, "k": k, "v": v, "weights": weights, "scale": scale}


def attention_backward(d_out, cache):
    """Backward of :func:`attention_forward`. d_out (..., time_q, d_v). Returns ``(dq, dk, dv)``.

    With S = q k^T * scale, W = softmax(S), out = W v:
    dv = W^T d_out;  dW = d_out v^T;  dS = W * (dW - sum_j dW * W)   (softmax's Jacobian);
    dq = dS k * scale;  dk = dS^T q * scale.  Blocked entries have W = 0, so they get no gradient.
    """
    q, k, v, weights, scale = (cache[n] for n in ("q", "k", "v", "weights", "scale"))
    d_out = as_float_array(d_out, "d_out")
    check_shape(d_out, weights.shape[:-1] + (v.shape[-1],), "d_out", "(..., time_q, d_v) of the forward")
    dv = np.swapaxes(weights, -1, -2) @ d_out
    d_weights = d_out @ np.swapaxes(v, -1, -2)
    d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
    dq = (d_scores @ k) * scale
    dk = (np.swapaxes(d_scores, -1, -2) @ q) * scale
    return dq, dk, dv


def attention(q, k, v, mask=None, causal=False):
    """Scaled dot-product attention (book eq. `eq-attention`). Returns ``(out, weights)``.

    See :func:`attention_forward` for shapes and the mask convention (True = may attend).
    """
    out, cache = attention_forward(q, k, v, mask=mask, causal=causal)
    return out, cache["weights"]


def multi_head_self_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                              num_heads, mask=None, causal=False):
    """Multi-head self-attention with ``torch.nn.MultiheadAttention``'s parameters (batch_first).

    x (batch, time, d_model); in_proj_weight (3*d_model, d_model) stacks W_q, W_k, W_v;
    in_proj_bias (3*d_model,); out_proj_weight (d_model, d_model); out_proj_bias (d_model,).
    Each head h attends with its own slice of d_model // num_heads features:
    head_h = attention(x W_q^h, x W_k^h, x W_v^h); out = concat(heads) W_o^T + b_o.
    mask: boolean (time, time) or broadcastable to (batch, heads, time, time), True = may attend.
    Returns ``(out, weights)``: out (batch, time, d_model), weights (batch, heads, time, time)
    (torch's ``need_weights`` output is ``weights.mean(axis=1)``).
    """
    x = as_float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, time, d_model); got shape {x.shape}")
    batch, time, d_model = x.shape
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) or num_heads < 1 \
            or d_model % num_heads:
        raise ValueError(f"num_heads must be a positive divisor of d_model = {d_model}; got {num_heads!r}")
    named = {"in_proj_weight": (in_proj_weight, (3 * d_model, d_model)), "in_proj_bias": (in_proj_bias, (3 * d_model,)),
             "out_proj_weight": (out_proj_weight, (d_model, d_model)), "out_proj_bias": (out_proj_bias, (d_model,))}
    arrays = {"x": x}
    for name, (a, shape) in named.items():
        arrays[name] = as_float_array(a, name)
        check_shape(arrays[name], shape, name)
    check_same_dtype(arrays)
    d_head = d_model // num_heads

    def heads(a):  # (batch, time, d_model) -> (batch, heads, time, d_head)
        return a.reshape(batch, time, num_heads, d_head).transpose(0, 2, 1, 3)

    qkv = x @ arrays["in_proj_weight"].T + arrays["in_proj_bias"]
    q, k, v = (heads(part) for part in np.split(qkv, 3, axis=-1))
    out, weights = attention(q, k, v, mask=mask, causal=causal)
    out = out.transpose(0, 2, 1, 3).reshape(batch, time, d_model)
    return out @ arrays["out_proj_weight"].T + arrays["out_proj_bias"], weights


def positional_encoding(length: int, d_model: int, base: float = 10000.0, dtype=np.float64) -> np.ndarray:
    """Sinusoidal positional encoding of Vaswani et al. (2017), (length, d_model):

    PE[p, 2i] = sin(p / base^(2i / d_model)),  PE[p, 2i + 1] = cos(p / base^(2i / d_model)).
    """
    for name, value in (("length", length), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = base ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)  # one per sin/cos pair
    pe = np.zeros((length, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[: d_model // 2])
    return pe.astype(check_dtype(dtype))


def layer_norm(x, weight, bias, eps: float = 1e-5):
    """Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (biased var)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class TransformerEncoderBlock:
    """A pre-norm Transformer encoder block (forward only), the twin of
    ``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0, norm_first=True,
    batch_first=True)`` (ReLU feed-forward) with the same state_dict keys:

        x = x + SelfAttention(LayerNorm_1(x))
        x = x + W_2 relu(W_1 LayerNorm_2(x) + b_1) + b_2

    ``forward(x, mask=None, causal=False)``: x (batch, time, d_model); mask with the True = may
    attend convention (:func:`attention`).
    """

    def __init__(self, d_model, num_heads, dim_feedforward=None, seed=0, layer_norm_eps=1e-5, dtype=np.float64):
        for name, value in (("d_model", d_model), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if d_model % num_heads:
            raise ValueError(f"num_heads must divide d_model = {d_model}; got {num_heads}")
        self.d_model, self.num_heads = int(d_model), int(num_heads)
        self.dim_feedforward = int(dim_feedforward or 4 * d_model)
        self.layer_norm_eps = float(layer_norm_eps)
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(seed)
        d, f = self.d_model, self.dim_feedforward

        def uniform(shape, fan_in):
            bound = 1.0 / np.sqrt(fan_in)
            return rng.uniform(-bound, bound, size=shape).astype(self.dtype)

        self.params = {
            "self_attn.in_proj_weight": uniform((3 * d, d), d),
            "self_attn.in_proj_bias": np.zeros(3 * d, dtype=self.dtype),
            "self_attn.out_proj.weight": uniform((d, d), d),
            "self_attn.out_proj.bias": np.zeros(d, dtype=self.dtype),
            "linear1.weight": uniform((f, d), d),
            "linear1.bias": uniform((f,), d),
            "linear2.weight": uniform((d, f), f),
            "linear2.bias": uniform((d,), f),
            "norm1.weight": np.ones(d, dtype=self.dtype),
            "norm1.bias": np.zeros(d, dtype=self.dtype),
            "norm2.weight": np.ones(d, dtype=self.dtype),
            "norm2.bias": np.zeros(d, dtype=self.dtype),
        }

    def state_dict(self):
        """A copy of the parameters with torch's ``TransformerEncoderLayer`` keys."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict):
        """Load ``{torch key: ndarray or tensor}``; names and shapes must match exactly."""
        unknown = sorted(set(state_dict) - set(self.params))
        missing = [name for name in self.params if name not in state_dict]
        if unknown:
            raise ValueError(f"unknown parameter name(s) {unknown}; expected the names {list(self.params)}")
        if missing:
            raise ValueError(f"missing parameter(s) {missing}; expected the names {list(self.params)}")
        new = {}
        for name, old in self.params.items():
            value = state_dict[name]
            if type(value).__module__.startswith("torch"):
                value = value.detach().cpu().numpy()
            value = np.array(value, dtype=self.dtype)
            check_shape(value, old.shape, name)
            new[name] = value
        self.params = new
        return self

    @classmethod
    def from_torch(cls, layer, dtype=np.float64):
        """Copy a ``torch.nn.TransformerEncoderLayer`` (must be ``norm_first=True``, ReLU; dropout is ignored)."""
        if type(layer).__name__ != "TransformerEncoderLayer":
            raise TypeError(f"expected a torch.nn.TransformerEncoderLayer; got {type(layer).__name__}")
        if not layer.norm_first:
            raise ValueError("the ref block is pre-norm; got a TransformerEncoderLayer with norm_first=False")
        if getattr(layer, "activation_relu_or_gelu", 1) != 1:
            raise ValueError("the ref block uses ReLU; got a TransformerEncoderLayer with another activation")
        block = cls(layer.self_attn.embed_dim, layer.self_attn.num_heads, layer.linear1.out_features,
                    layer_norm_eps=layer.norm1.eps, dtype=dtype)
        return block.load_state_dict(layer.state_dict())

    def forward(self, x, mask=None, causal=False):
        """x (batch, time, d_model) -> (batch, time, d_model)."""
        p = self.params
        x = as_float_array(x, "x", self.dtype)
        check_shape(x, ("batch", "time", self.d_model), "x")
        check_finite(x, "x")
        a, _ = multi_head_self_attention(
            layer_norm(x, p["norm1.weight"], p["norm1.bias"], self.layer_norm_eps),
            p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"],
            p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"],
            self.num_heads, mask=mask, causal=causal)
        x = x + a
        hidden = np.maximum(layer_norm(x, p["norm2.weight"], p["norm2.bias"], self.layer_norm_eps)
                            @ p["linear1.weight"].T + p["linear1.bias"], 0.0)
        return x + hidden @ p["linear2.weight"].T + p["linear2.bias"]

    __call__ = forward
