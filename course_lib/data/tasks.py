"""Synthetic sequence tasks, generated from a seed (same seed, same data, on every machine).

Each generator returns CPU torch tensors, batch first (``.numpy()`` gives arrays for ``course_lib.ref``):

- :func:`adding_problem` (Hochreiter & Schmidhuber 1997; the form of Le et al. 2015):
  many-to-one regression needing memory over the whole sequence.
- :func:`copy_memory` (Arjovsky et al. 2016): reproduce 10 digits after ``T`` blanks;
  :func:`copy_memory_baseline` is the cross-entropy of the memoryless strategy.
- :func:`future_tagging`: many-to-many tagging whose label at ``t`` depends on a *later* token
  (a unidirectional RNN cannot do better than chance; a bidirectional one can).
- :func:`frequency_classification`: many-to-one classification of noisy sinusoids by frequency.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["adding_problem", "copy_memory", "copy_memory_baseline", "future_tagging",
           "frequency_classification"]


def _count(v, name, minimum=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {v}")
    return int(v)


def adding_problem(n, T=50, seed=0):
    """The adding problem: ``x`` ``(n, T, 2)`` float32, ``y`` ``(n, 1)`` float32.

    Channel 0 holds values ~ U(0, 1); channel 1 marks exactly two steps with 1, one in the first
    half and one in the second. The target is the sum of the two marked values. Predicting the
    constant 1 gives mean squared error ~ 1/6 (the baseline a model must beat).
    """
    n, T = _count(n, "n"), _count(T, "T", 2)
    rng = np.random.default_rng(seed)
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    marks = np.zeros((n, T))
    rows = np.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=2)
    y = (values[rows, first] + values[rows, second])[:, None]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def copy_memory(n, T=100, n_copy=10, one_hot=False, seed=0):
    """Copy-memory task: ``x``, ``y`` of shape ``(n, T + 2 * n_copy)`` int64 (``x`` float one-hot if asked).

    Symbols: 0 blank, 1..8 digits, 9 the "now recall" delimiter. The input is ``n_copy`` random
    digits, ``T - 1`` blanks, the delimiter, ``n_copy`` blanks; the target is ``T + n_copy`` blanks
    then the same digits. With ``one_hot=True``, ``x`` is ``(n, T + 2 * n_copy, 10)`` float32.
    """
    n, T, n_copy = _count(n, "n"), _count(T, "T"), _count(n_copy, "n_copy")
    rng = np.random.default_rng(seed)
    L = T + 2 * n_copy
    digits = rng.integers(1, 9, size=(n, n_copy))
    x = np.zeros((n, L), dtype=np.int64)
    y = np.zeros((n, L), dtype=np.int64)
    x[:, :n_copy] = digits
    x[:, T + n_copy - 1] = 9
    y[:, T + n_copy:] = digits
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    if one_hot:
        x = torch.nn.functional.one_hot(x, 10).float()
    return x, y


def copy_memory_baseline(T, n_copy=10):
    """Cross-entropy per step of the memoryless strategy: blanks, then uniform over 8 digits.

    ``n_copy * log(8) / (T + 2 * n_copy)``, i.e. ``10 log(8) / (T + 20)`` (Arjovsky et al. 2016).
    """
    T, n_copy = _count(T, "T"), _count(n_copy, "n_copy")
    return n_copy * math.log(8) / (T + 2 * n_copy)


def future_tagging(n, T=20, n_tokens=4, ahead=3, seed=0):
    """Tagging that needs the future: ``x`` ``(n, T)`` int64 tokens, ``y`` ``(n, T)`` int64 labels.

    ``y[:, t] = (x[:, t] + x[:, t + ahead]) % n_tokens``, where a token past the end counts as 0.
    The label depends on a token ``ahead`` steps later, so a forward-only model is at chance
    (accuracy ``1 / n_tokens``) except on the last ``ahead`` steps; a bidirectional model can be exact.
    """
    n, T, n_tokens, ahead = _count(n, "n"), _count(T, "T"), _count(n_tokens, "n_tokens", 2), _count(ahead, "ahead")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, n_tokens, size=(n, T))
    future = np.zeros_like(x)
    if ahead < T:
        future[:, : T - ahead] = x[:, ahead:]
    y = (x + future) % n_tokens
    return torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))


def frequency_classification(n, T=50, n_classes=3, noise=0.3, seed=0):
    """Many-to-one classification: ``x`` ``(n, T, 1)`` float32, ``y`` ``(n,)`` int64 class.

    Class ``c`` is a sinusoid with ``c + 1`` periods per ``T`` steps (random phase and amplitude
    in [0.5, 1.5]) plus Gaussian noise of standard deviation ``noise``.
    """
    n, T, n_classes = _count(n, "n"), _count(T, "T", 2), _count(n_classes, "n_classes", 2)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    amp = rng.uniform(0.5, 1.5, size=(n, 1))
    t = np.arange(T)[None, :]
    x = amp * np.sin(2 * np.pi * (y[:, None] + 1) * t / T + phase) + noise * rng.standard_normal((n, T))
    return torch.from_numpy(x[:, :, None].astype(np.float32)), torch.from_numpy(y.astype(np.int64))
