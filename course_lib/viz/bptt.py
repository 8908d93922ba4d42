"""Figures of book chapter 03 (backpropagation through time), drawn with matplotlib.

- :func:`unrolled_backward`: the unrolled network with its forward arrows and the gradient paths of BPTT.
- :func:`truncation_windows`: the backward passes of BPTT(k1, k2) (:func:`course_lib.ref.truncation_windows`).
- :func:`lag_profile`: the size of each lag's share of a gradient, and of dh_t/dh_k, against the distance.
- :func:`truncation_runs`: accuracy curves and final accuracy against the truncation k.
- :func:`truncation_costs`: stored activations and time per update against k.

Each function draws on the axes it is given (or makes a figure) and returns the figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from ..ref import truncation_windows as _windows
from .diagrams import COLORS

__all__ = ["unrolled_backward", "truncation_windows", "lag_profile", "truncation_runs", "truncation_costs"]

GRAD = "#c0392b"
_BOX = 0.6


def _box(ax, x, y, color, label):
    ax.add_patch(FancyBboxPatch((x - _BOX / 2, y - _BOX / 2), _BOX, _BOX, boxstyle="round,pad=0.04",
                                fc=color, ec="black", lw=1))
    ax.text(x, y, label, ha="center", va="center", fontsize=10)


def _arrow(ax, p, q, color="black", rad=0.0, ls="-"):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=11, lw=1.2, color=color, ls=ls,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))


def unrolled_backward(steps=4, ax=None):
    """The RNN unrolled over ``steps`` steps: x_t -> h_t -> y_t -> L_t (black, forward) and the
    gradient of BPTT (red, dashed): down from every loss, and backwards from h_{t+1} to h_t."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 1.8 * steps, 4.2))
    gap = 1.8
    for t in range(steps):
        x = gap * (t + 1)
        name = f"{t + 1}" if t < steps - 1 else "T"
        _box(ax, x, 0, COLORS["x"], f"$x_{{{name}}}$")
        _box(ax, x, 1.2, COLORS["h"], f"$h_{{{name}}}$")
        _box(ax, x, 2.4, COLORS["y"], f"$y_{{{name}}}$")
        _box(ax, x, 3.6, "#eeeeee", f"$L_{{{name}}}$")
        for y0 in (0, 1.2, 2.4):
            _arrow(ax, (x - 0.08, y0 + 0.32), (x - 0.08, y0 + 0.88))
        for y0 in (3.6, 2.4):            # gradient flows down from the loss to h_t
            _arrow(ax, (x + 0.12, y0 - 0.32), (x + 0.12, y0 - 0.88), GRAD, ls="--")
    _box(ax, 0, 1.2, COLORS["h"], "$h_0$")
    for t in range(steps):
        x = gap * (t + 1)
        _arrow(ax, (x - gap + 0.32, 1.3), (x - 0.32, 1.3))                       # W_hh forward
        _arrow(ax, (x - 0.32, 1.05), (x - gap + 0.32, 1.05), GRAD, ls="--")      # W_hh^T delta backward
    ax.text(gap * 0.5, 1.45, "$W_{hh}$", ha="center", fontsize=9)
    if steps >= 2:
        ax.text(gap * 1.5, 0.72, r"$(\partial h_2/\partial h_1)^{\top}$", ha="center", fontsize=8, color=GRAD)
    ax.text(gap * steps + 0.45, 3.0, r"$\delta y_t$", fontsize=9, color=GRAD)
    ax.text(gap * steps + 0.45, 1.8, r"$\delta h_t$", fontsize=9, color=GRAD)
    ax.set_xlim(-0.6, gap * steps + 1.0)
    ax.set_ylim(-0.5, 4.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Forward (black) and backward (red) through the unrolled RNN", fontsize=11)
    return ax.figure


def truncation_windows(time, k1, k2, ax=None):
    """One row per backward pass of BPTT(k1, k2) over ``time`` steps: the steps it runs back over
    (light) and the steps whose losses it injects (dark)."""
    windows = _windows(time, k1, k2)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(windows) + 1.2))
    for row, (start, inject, stop) in enumerate(windows):
        y = len(windows) - 1 - row
        ax.add_patch(Rectangle((start, y + 0.15), stop - start, 0.7, fc="#f5c6c0", ec=GRAD, lw=0.8))
        ax.add_patch(Rectangle((inject, y + 0.15), stop - inject, 0.7, fc=GRAD, ec=GRAD, lw=0.8))
    ax.set_xlim(0, time)
    ax.set_ylim(0, len(windows))
    ax.set_xticks(np.arange(0, time + 1, max(1, time // 12)))
    ax.set_yticks([])
    ax.set_xlabel("time step")
    ax.set_ylabel("backward passes")
    ax.set_title(f"BPTT(k1={k1}, k2={k2}) over {time} steps: dark = losses injected, light = steps run back over",
                 fontsize=10)
    return ax.figure


def lag_profile(lag_norms, jacobian_norms, axes=None):
    """Left: ||share of lag l in dL/dW_hh|| against l. Right: ||dh_T/dh_k|| against T - k. Log scale."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    lag_norms, jacobian_norms = np.asarray(lag_norms), np.asarray(jacobian_norms)
    axes[0].semilogy(np.arange(len(lag_norms)), lag_norms, "o-", ms=4)
    axes[0].set_xlabel("lag l (steps between a loss and the step it reaches)")
    axes[0].set_ylabel("norm of the lag-l share")
    axes[0].set_title(r"$\partial L/\partial W_{hh}$ split by lag", fontsize=11)
    axes[1].semilogy(np.arange(len(jacobian_norms)), jacobian_norms, "o-", ms=4, color=GRAD)
    axes[1].set_xlabel("distance T - k")
    axes[1].set_ylabel(r"$\|\partial h_T / \partial h_k\|_2$")
    axes[1].set_title("The product of Jacobians", fontsize=11)
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes[0].figure


def truncation_runs(runs, delay, axes=None):
    """Left: test accuracy while training, one curve per k. Right: final accuracy against k,
    with the echo's delay marked. ``runs``: :class:`course_lib.experiments.bptt.TruncationRun` list."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for run in runs:
        axes[0].plot(run.tokens, run.curve, "o-", ms=3, label=f"k = {run.k}")
    axes[0].axhline(0.5, color="gray", ls=":", lw=1)
    axes[0].set_xlabel("training steps seen (per stream)")
    axes[0].set_ylabel("test bit accuracy")
    axes[0].set_title(f"Delayed echo, delay {delay}: learning with BPTT(k, k)", fontsize=11)
    axes[0].legend(fontsize=8)
    ks = [r.k for r in runs]
    axes[1].plot(ks, [r.accuracy for r in runs], "o-", color=GRAD)
    axes[1].axvline(delay + 0.5, color="gray", ls="--", lw=1)
    axes[1].text(delay + 0.7, 0.55, f"k > {delay}", fontsize=9, color="gray")
    axes[1].axhline(0.5, color="gray", ls=":", lw=1)
    axes[1].set_xlabel("truncation k (steps per update)")
    axes[1].set_ylabel("final test accuracy")
    axes[1].set_ylim(0.4, 1.03)
    axes[1].set_title("Final accuracy against k", fontsize=11)
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes[0].figure


def truncation_costs(ks, saved_bytes, seconds, axes=None):
    """Left: bytes autograd stores for one update against k. Right: time per update and per step against k."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    ks, saved_bytes, seconds = np.asarray(ks), np.asarray(saved_bytes), np.asarray(seconds)
    axes[0].loglog(ks, saved_bytes / 2 ** 20, "o-")
    axes[0].set_xlabel("truncation k")
    axes[0].set_ylabel("stored activations (MiB)")
    axes[0].set_title("Memory of one update", fontsize=11)
    axes[1].loglog(ks, seconds * 1e3, "o-", label="per update")
    axes[1].loglog(ks, seconds * 1e3 / ks, "s--", label="per time step")
    axes[1].set_xlabel("truncation k")
    axes[1].set_ylabel("milliseconds")
    axes[1].set_title("Time", fontsize=11)
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    return axes[0].figure
