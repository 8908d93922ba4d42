"""Figures of chapter 07 (bidirectional and deep RNNs).

- :func:`birnn_diagram`: an unrolled bidirectional RNN: a forward chain, a backward chain, outputs reading both.
- :func:`plot_per_position`: tagging accuracy at each time step for several runs, with chance and the
  forward-only ceiling.
- :func:`plot_padding`: accuracy against the distance from each sequence's end, tagged with and without
  ``lengths``.
- :func:`plot_depth`: accuracy and training time against the number of stacked layers.
- :func:`plot_dropout`: the recurrent-dropout survival curves (left) and a stacked LM's training and held-out
  bits per character with and without dropout between layers (right).

Every function returns the figure; the notebook calls ``plt.show()``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

__all__ = ["birnn_diagram", "plot_per_position", "plot_padding", "plot_depth", "plot_dropout"]

_FILL = {"x": "#f4a6a6", "f": "#a8d5a2", "b": "#f3d28b", "y": "#9ec5f0"}


def _box(ax, x, y, kind, label, w=0.55):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.25), w, 0.5, boxstyle="round,pad=0.04", fc=_FILL[kind],
                                ec="black", lw=1))
    ax.text(x, y, label, ha="center", va="center", fontsize=10)


def _arrow(ax, p, q, color="black"):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=11, lw=1.1, color=color,
                                 shrinkA=0, shrinkB=0))


def _curve(ax, p, q, rad, color):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=11, lw=1.1, color=color, shrinkA=0,
                                 shrinkB=0, connectionstyle=f"arc3,rad={rad}"))


def birnn_diagram(steps=4):
    """Draw a bidirectional RNN unrolled over ``steps`` steps: inputs (bottom), the forward states (green,
    left to right), the backward states (yellow, right to left), outputs reading both (top)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2; got {steps!r}")
    fig, ax = plt.subplots(figsize=(1.6 * steps + 2.2, 3.4))
    gap = 1.8
    for t in range(steps):
        x = gap * t
        _box(ax, x, 0, "x", f"$x_{t + 1}$")
        _box(ax, x, 1, "f", rf"$\overrightarrow{{h}}_{t + 1}$")
        _box(ax, x, 2, "b", rf"$\overleftarrow{{h}}_{t + 1}$")
        _box(ax, x, 3.1, "y", f"$y_{t + 1}$")
        _arrow(ax, (x, 0.25), (x, 0.75))                                        # x -> forward
        _curve(ax, (x + 0.3, 0.05), (x + 0.3, 1.95), 0.45, "#888888")            # x -> backward (right)
        _curve(ax, (x - 0.3, 1.05), (x - 0.3, 3.05), -0.45, "#2a7a2a")             # forward -> y (left)
        _arrow(ax, (x, 2.25), (x, 2.85), "#b07a00")                               # backward -> y
        if t > 0:
            _arrow(ax, (x - gap + 0.3, 1), (x - 0.3, 1), "#2a7a2a")
            _arrow(ax, (x - 0.3, 2), (x - gap + 0.3, 2), "#b07a00")
    ax.text(-0.75, 1, r"$\overrightarrow{h}_0 = 0$", ha="right", va="center", fontsize=9)
    ax.text(gap * (steps - 1) + 0.75, 2, rf"$\overleftarrow{{h}}_{{{steps + 1}}} = 0$", ha="left", va="center",
            fontsize=9)
    ax.set_xlim(-1.9, gap * (steps - 1) + 1.9)
    ax.set_ylim(-0.45, 3.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A bidirectional RNN: $y_t$ reads the forward state (the past) and the backward state "
                 "(the future)", fontsize=10)
    fig.set_label(f"diagram of a bidirectional RNN unrolled over {steps} time steps: each input x_t feeds a forward "
                  f"hidden state, chained from left to right, and a backward hidden state, chained from right to "
                  f"left; each output y_t reads both states of its step")
    return fig


def plot_per_position(runs, chance=None, cap=None, title="Accuracy at each position"):
    """Accuracy per time step (``run.per_position``) of each run, with dashed lines at ``chance`` and at the
    forward-only ceiling ``cap`` when given."""
    if not runs:
        raise ValueError("runs must hold at least one TagRun; got none")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for k, run in enumerate(runs):
        ax.plot(np.arange(1, len(run.per_position) + 1), run.per_position, "o-", ms=3,
                lw=1.5 + (len(runs) - k) * 0.6, label=f"{run.name} (overall {run.accuracy:.2f})")
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", lw=1, label=f"chance ({chance:.2f})")
    if cap is not None:
        ax.axhline(cap, color="C3", ls="--", lw=1, label=f"forward-only ceiling, overall ({cap:.3f})")
    ax.set(xlabel="position t", ylabel="accuracy", ylim=(0, 1.05), title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()
    return fig


def plot_padding(evaluation, title="A model trained with lengths, run with and without them"):
    """Accuracy against the distance from each sequence's own end, for each way of running the model.

    ``evaluation``: ``{label: (accuracy, accuracy by distance from the end)}`` as returned by
    :func:`course_lib.experiments.bidirectional.padding_run`.
    """
    if not evaluation:
        raise ValueError("evaluation must hold at least one entry; got none")
    fig, ax = plt.subplots(figsize=(7, 3))
    for label, (acc, by_end) in evaluation.items():
        ax.plot(np.arange(len(by_end)), by_end, "o-", ms=3, label=f"{label} (overall {acc:.3f})")
    ax.set(xlabel="steps before the sequence's own last step (0 = last)", ylabel="accuracy", ylim=(0, 1.05),
           title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_depth(runs, title="Stacked bidirectional GRUs on the two-sided XOR"):
    """Accuracy (left) and training wall time (right) against the number of layers of each run."""
    if not runs:
        raise ValueError("runs must hold at least one TagRun; got none")
    depth = [int(r.model.rnn.num_layers) for r in runs]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3))
    a.bar(depth, [r.accuracy for r in runs], color="C0")
    for d, r in zip(depth, runs):
        a.text(d, r.accuracy + 0.02, f"{r.accuracy:.2f}\n{r.params:,} p.", ha="center", fontsize=8)
    a.set(xlabel="layers", ylabel="test accuracy", ylim=(0, 1.25), xticks=depth, title=title)
    a.title.set_fontsize(9)
    b.bar(depth, [r.seconds for r in runs], color="C1")
    b.set(xlabel="layers", ylabel="training time (s)", xticks=depth, title="Cost grows with depth")
    fig.tight_layout()
    return fig


def plot_dropout(p, naive, variational, lm_runs):
    """Left: the fraction of a stored state surviving ``k`` steps of recurrent dropout with rate ``p``, a
    fresh mask per step (``naive``, with ``(1-p)^k`` dashed) or one mask per sequence (``variational``).
    Right: training (dashed) and held-out (solid) bits per character of each :class:`LMRun` in ``lm_runs``."""
    naive, variational = np.asarray(naive), np.asarray(variational)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.3))
    k = np.arange(len(naive))
    a.plot(k, naive, "C3", lw=2, label="new mask every step")
    a.plot(k, (1 - p) ** k, "k--", lw=1, label=f"$(1-p)^k$, p = {p}")
    a.plot(np.arange(len(variational)), variational, "C0", lw=2, label="one mask per sequence")
    a.set(xlabel="steps k", ylabel="fraction of units still holding it", ylim=(0, 1.05),
          title="Dropout on the recurrent connection")
    a.legend(fontsize=8)
    for i, run in enumerate(lm_runs):
        color = f"C{i}"
        b.plot(run.steps, run.val, "-", color=color, lw=2, label=f"dropout {run.dropout}: held-out")
        b.plot(run.steps, run.train, "--", color=color, lw=1.2, label=f"dropout {run.dropout}: training text")
    b.set(xlabel="training step", ylabel="bits per character",
          title=f"{lm_runs[0].num_layers}-layer GRU LM on a small text" if lm_runs else "")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig
