"""The delayed echo: the simplest task that needs memory of a known length (book ch. 01 and 03).

The input is a random bit stream; the target at step ``t`` is the bit from ``delay`` steps earlier,
``y_t = x_{t - delay}``. Steps ``t < delay`` have no target (``mask`` is False there). A model that
sees only the last ``w`` inputs can solve it exactly when ``delay < w`` and is at chance (0.5) otherwise.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["delayed_echo"]


def delayed_echo(n, T=24, delay=3, seed=0):
    """``x`` ``(n, T, 1)`` float32 bits, ``y`` ``(n, T)`` float32 targets, ``mask`` ``(n, T)`` bool (CPU tensors)."""
    for name, v, lo in (("n", n, 1), ("T", T, 2), ("delay", delay, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int; got {type(v).__name__}")
        if v < lo:
            raise ValueError(f"{name} must be >= {lo}; got {v}")
    if delay >= T:
        raise ValueError(f"delay must be < T so that some steps have a target; got delay={delay}, T={T}")
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, T)).astype(np.float32)
    y = np.zeros_like(bits)
    y[:, delay:] = bits[:, :T - delay]
    mask = np.zeros((n, T), dtype=bool)
    mask[:, delay:] = True
    return torch.from_numpy(bits[:, :, None]), torch.from_numpy(y), torch.from_numpy(mask)
