"""Numerically stable building blocks: ``sigmoid``, ``softmax``, ``log_softmax``,
cross-entropy with its gradient, and gradient clipping by global norm.

None of them overflows: ``sigmoid(-1000)``, ``softmax([1000, -1000])`` and
``log_softmax([1000, 0])`` give exact, warning-free answers.
"""
from __future__ import annotations

import numpy as np

from .validate import as_float_array, check_finite

__all__ = [
    "sigmoid",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "cross_entropy_backward",
    "global_norm",
    "clip_grad_norm",
]


def sigmoid(x):
    """Logistic function sigma(x) = 1 / (1 + exp(-x)), evaluated without overflow.

    ``exp`` is only ever taken of ``-|x|`` (which is <= 0), using
    sigma(x) = 1 / (1 + e^{-|x|}) for x >= 0 and e^{-|x|} / (1 + e^{-|x|}) for x < 0.
    Shape in = shape out.
    """
    x = np.asarray(x)
    with np.errstate(under="ignore"):  # exp(-1000) = 0 is the right answer, not a problem
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def softmax(x, axis: int = -1):
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max_j x_j (book eq. `eq-attention`).

    Subtracting the maximum changes nothing mathematically and keeps every ``exp`` <= 1.
    """
    x = np.asarray(x)
    z = x - np.max(x, axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1):
    """log softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m): exact even when softmax underflows to 0."""
    x = np.asarray(x)
    z = x - np.max(x, axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _check_ce(logits, targets, reduction):
    logits = as_float_array(logits, "logits")
    if logits.ndim < 1:
        raise ValueError(f"logits must be (..., classes); got a scalar of shape {logits.shape}")
    check_finite(logits, "logits")
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integer class indices; got dtype {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape logits.shape[:-1] = {logits.shape[:-1]}; got {targets.shape}")
    n_classes = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        raise ValueError(f"targets must lie in [0, {n_classes - 1}]; got values in "
                         f"[{targets.min()}, {targets.max()}]")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    return logits, targets


def cross_entropy(logits, targets, reduction: str = "mean"):
    """Cross-entropy loss  L = -log softmax(logits)[target]  (book eq. `eq-bptt-loss`).

    logits: (..., classes) floats; targets: (...) ints in [0, classes).
    ``reduction``: "mean" (default, like ``torch.nn.functional.cross_entropy``), "sum" or "none".
    """
    logits, targets = _check_ce(logits, targets, reduction)
    logp = log_softmax(logits, axis=-1)
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    if reduction == "none":
        return nll
    return nll.sum() if reduction == "sum" else nll.mean()


def cross_entropy_backward(logits, targets, reduction: str = "mean"):
    """Gradient of :func:`cross_entropy` w.r.t. the logits: softmax(logits) - onehot(target)
    (book eq. `eq-bptt-dy`), divided by the number of terms when ``reduction="mean"``.

    Returns an array shaped like ``logits``. For ``reduction="none"`` it is the gradient of the
    *sum* of the per-position losses.
    """
    logits, targets = _check_ce(logits, targets, reduction)
    grad = softmax(logits, axis=-1)
    np.put_along_axis(grad, targets[..., None],
                      np.take_along_axis(grad, targets[..., None], axis=-1) - 1.0, axis=-1)
    if reduction == "mean":
        grad /= max(targets.size, 1)
    return grad


def global_norm(grads) -> float:
    """sqrt(sum over all arrays of sum of squares): the norm of all gradients as one vector."""
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays)))


def clip_grad_norm(grads, max_norm: float):
    """Rescale gradients so their *global* norm is at most ``max_norm`` (Pascanu et al. 2013).

    grads: a dict name -> ndarray, or a list of ndarrays. Returns ``(clipped, total_norm)``:
    the same kind of container with new arrays (the input is not modified) and the norm before
    clipping. Like ``torch.nn.utils.clip_grad_norm_``, the scale is
    ``min(1, max_norm / (total_norm + 1e-6))``, so every gradient keeps its direction.
    A NaN/inf norm raises ``ValueError`` (clipping cannot repair it).
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.floating, np.integer)) or max_norm <= 0:
        raise ValueError(f"max_norm must be a positive number; got {max_norm!r}")
    is_dict = isinstance(grads, dict)
    names = list(grads.keys()) if is_dict else None
    arrays = [np.asarray(g) for g in (grads.values() if is_dict else grads)]
    total = global_norm(arrays)
    if not np.isfinite(total):
        raise ValueError(f"gradient norm is {total}; a gradient holds NaN/inf, so clipping cannot help "
                         "(lower the learning rate or check the loss)")
    scale = min(1.0, float(max_norm) / (total + 1e-6))
    clipped = [g * scale for g in arrays]
    return (dict(zip(names, clipped)) if is_dict else clipped), total
