"""Time series for forecasting: two generated ones and one real one, and windowing.

- :func:`noisy_sine` and :func:`mackey_glass` (Mackey & Glass 1977, the chaotic benchmark with
  ``tau = 17``) are generated from a seed; :func:`sunspots` reads the yearly sunspot numbers
  1700-2008 shipped with the package (public-domain NOAA data, see ``series/SOURCE``).
- :func:`make_windows` cuts a series into ``(inputs, targets)`` pairs for multi-step forecasting.

Series are 1-D float64 NumPy arrays (for plotting); windows are float32 torch tensors (for training).
"""
from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import torch

__all__ = ["noisy_sine", "mackey_glass", "sunspots", "make_windows"]


def _steps(n, name="n_steps", minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {n}")
    return int(n)


def noisy_sine(n_steps=1000, period=50.0, noise=0.1, seed=0):
    """``sin(2 pi t / period) + noise * N(0, 1)`` for ``t = 0 .. n_steps - 1``; shape ``(n_steps,)``."""
    n_steps = _steps(n_steps)
    if not period > 0 or not noise >= 0:
        raise ValueError(f"period must be > 0 and noise >= 0; got period={period!r}, noise={noise!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    return np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n_steps)


def mackey_glass(n_steps=1000, tau=17, beta=0.2, gamma=0.1, power=10, dt=1.0, substeps=10,
                 discard=250, seed=0):
    """Mackey–Glass series ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)``, shape ``(n_steps,)``.

    Integrated with Euler steps of ``dt / substeps`` and sampled every ``dt``; the history before
    ``t = 0`` is ``1.2`` plus small noise drawn from ``seed``; the first ``discard`` samples
    (the transient) are dropped. ``tau = 17`` gives the classic mildly chaotic series.
    """
    n_steps, substeps = _steps(n_steps), _steps(substeps, "substeps")
    discard = _steps(discard, "discard", 0)
    if not tau > 0 or not dt > 0:
        raise ValueError(f"tau and dt must be > 0; got tau={tau!r}, dt={dt!r}")
    rng = np.random.default_rng(seed)
    h = dt / substeps
    lag = int(round(tau / h))
    total = (n_steps + discard) * substeps
    x = np.empty(lag + total + 1)
    x[: lag + 1] = 1.2 + 0.01 * rng.standard_normal(lag + 1)
    for i in range(lag, lag + total):
        delayed = x[i - lag]
        x[i + 1] = x[i] + h * (beta * delayed / (1.0 + delayed ** power) - gamma * x[i])
    samples = x[lag::substeps][1: n_steps + discard + 1]
    return samples[discard:].copy()


def sunspots():
    """Yearly sunspot numbers: ``(years, values)``, two float64 arrays of shape ``(309,)`` (1700–2008)."""
    text = resources.files("course_lib.data").joinpath("series/sunspots.csv").read_text(encoding="ascii")
    rows = list(csv.reader(text.splitlines()))[1:]
    data = np.array([[float(a), float(b)] for a, b in rows])
    return data[:, 0], data[:, 1]


def make_windows(series, input_len, horizon=1, stride=1):
    """Sliding windows for forecasting ``horizon`` steps from the ``input_len`` before them.

    ``series``: 1-D array/tensor of length ``N``. Returns ``inputs`` ``(n, input_len, 1)`` and
    ``targets`` ``(n, horizon)`` (float32 tensors), with window ``i`` starting at ``i * stride``:
    ``inputs[i, :, 0] = series[s : s + input_len]``, ``targets[i] = series[s + input_len : s + input_len + horizon]``.
    """
    s = torch.as_tensor(np.asarray(series), dtype=torch.float32)
    if s.dim() != 1:
        raise ValueError(f"series must be 1-D (time,); got {tuple(s.shape)}")
    input_len, horizon, stride = _steps(input_len, "input_len"), _steps(horizon, "horizon"), _steps(stride, "stride")
    span = input_len + horizon
    if s.shape[0] < span:
        raise ValueError(f"series must have at least input_len + horizon = {span} values; got {s.shape[0]}")
    w = s.unfold(0, span, stride)                     # (n, span)
    return w[:, :input_len].unsqueeze(2).contiguous(), w[:, input_len:].contiguous()
