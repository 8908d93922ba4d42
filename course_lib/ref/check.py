"""Numerical gradient checks: the test every hand-written backward in the course must pass (book ch. 03)."""
from __future__ import annotations

import numpy as np

__all__ = ["numeric_gradient", "relative_error", "grad_check"]


def numeric_gradient(f, x, eps: float = 1e-6):
    """Central-difference gradient of a scalar function: df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    f: callable ``f(x) -> scalar``. ``x`` is perturbed **in place**, one entry at a time, and
    restored afterwards, so ``x`` may also be a parameter array inside a model (``f`` then ignores
    its argument and just runs the model: ``lambda _: loss()``). x: a C-contiguous float ndarray
    (use float64: in float32 the differences drown in rounding). Returns an array shaped like ``x``. The error is O(eps^2) plus rounding O(1e-16 / eps).
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float ndarray (it is perturbed in place); got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps!r}")
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous so it can be perturbed in place (a parameter array, not a view)")

    def call():
        value = np.asarray(f(x))
        if value.size != 1:
            raise ValueError(f"f must return a scalar; got shape {value.shape}")
        return float(value.reshape(()))

    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: x is contiguous
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = call()
        flat[i] = old - eps
        f_minus = call()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """max |a - n| / max(max |a|, max |n|): the largest error relative to the gradient's scale.

    Measuring against the scale of the whole array (not entry by entry) keeps entries that are
    (nearly) zero from making the ratio explode. 0.0 when both are exactly zero.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic gradient must have the numeric gradient's shape {n.shape}; got {a.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - n)) / scale)


def grad_check(f, x, analytic, eps: float = 1e-6) -> float:
    """Compare an analytic gradient with :func:`numeric_gradient` of ``f`` at ``x``; return the
    :func:`relative_error` (in float64 a correct backward gives ~1e-9 or less, a wrong one ~1)."""
    return relative_error(analytic, numeric_gradient(f, x, eps))
