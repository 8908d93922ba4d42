"""Schematic drawings of recurrent networks, made with matplotlib (no image files).

- :func:`unrolled`: the folded RNN with its self-loop, and the same network unrolled over time (book eq. `eq-rnn`).
- :func:`rnn_types`: one-to-one, one-to-many, many-to-one, many-to-many (synced and encoder-decoder).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLORS = {"x": "#f4a6a6", "h": "#a8d5a2", "y": "#9ec5f0"}
_BOX = 0.6


def _box(ax, x, y, kind, label):
    ax.add_patch(FancyBboxPatch((x - _BOX / 2, y - _BOX / 2), _BOX, _BOX, boxstyle="round,pad=0.04",
                                fc=COLORS[kind], ec="black", lw=1))
    ax.text(x, y, label, ha="center", va="center", fontsize=11)


def _arrow(ax, p, q, label=None, **kw):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="black",
                                 shrinkA=0, shrinkB=0, **kw))
    if label:
        vertical = abs(p[0] - q[0]) < 1e-9
        dx, dy = (0.12, -0.02) if vertical else (-0.2, 0.12)
        ax.text((p[0] + q[0]) / 2 + dx, (p[1] + q[1]) / 2 + dy, label, fontsize=9, color="#444444",
                va="center")


def _finish(ax, xmax, title=None):
    ax.set_xlim(-0.7, xmax + 0.7)
    ax.set_ylim(-0.7, 2.75)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)


def unrolled(steps: int = 4, ax=None):
    """Draw the folded RNN (left) and its unrolling over ``steps`` time steps (right). Returns the figure."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 + 1.5 * steps, 3.2))
    gap = 1.5
    # folded network with its self-loop
    _box(ax, 0, 0, "x", "$x_t$")
    _box(ax, 0, 1, "h", "$h_t$")
    _box(ax, 0, 2, "y", "$y_t$")
    _arrow(ax, (0, 0.32), (0, 0.68))
    _arrow(ax, (0, 1.32), (0, 1.68))
    ax.add_patch(FancyArrowPatch((0.31, 1.18), (0.31, 0.82), connectionstyle="arc3,rad=-1.9", arrowstyle="-|>",
                                 mutation_scale=12, lw=1.2, shrinkA=0, shrinkB=0))
    ax.text(0.72, 1.22, "$W_{hh}$", fontsize=9, va="center")
    ax.text(1.55, 1.0, "=", fontsize=18, ha="center", va="center")
    x0 = 2.6
    for t in range(steps):
        x = x0 + gap * t
        name = "t" if t == steps - 1 else (f"t-{steps - 1 - t}")
        _box(ax, x, 0, "x", f"$x_{{{name}}}$")
        _box(ax, x, 1, "h", f"$h_{{{name}}}$")
        _box(ax, x, 2, "y", f"$y_{{{name}}}$")
        _arrow(ax, (x, 0.32), (x, 0.68), "$W_{ih}$" if t == 0 else None)
        _arrow(ax, (x, 1.32), (x, 1.68), "$W_{hy}$" if t == 0 else None)
        if t > 0:
            _arrow(ax, (x - gap + 0.32, 1), (x - 0.32, 1), "$W_{hh}$")
    _arrow(ax, (x0 - 0.75, 1), (x0 - 0.32, 1))
    ax.figure.set_label(f"diagram of an RNN: the folded network, input x_t into hidden state h_t with a self-loop "
                        f"W_hh and output y_t, equals the same network unrolled over {steps} time steps, each "
                        f"hidden state passing to the next through W_hh")
    ax.text(x0 - 0.8, 1.18, "$h_0$", fontsize=9)
    _finish(ax, x0 + gap * (steps - 1))
    return ax.figure


_TYPES = [
    # title, number of steps, steps with an input, steps with an output
    ("one-to-one", 1, {0}, {0}),
    ("one-to-many", 4, {0}, {0, 1, 2, 3}),
    ("many-to-one", 4, {0, 1, 2, 3}, {3}),
    ("many-to-many\n(synced)", 4, {0, 1, 2, 3}, {0, 1, 2, 3}),
    ("many-to-many\n(encoder-decoder)", 6, {0, 1, 2}, {3, 4, 5}),
]


def rnn_types(axes=None):
    """Draw the five input/output patterns of recurrent networks side by side. Returns the figure."""
    widths = [n for _, n, _, _ in _TYPES]
    if axes is None:
        fig, axes = plt.subplots(1, len(_TYPES), figsize=(15, 2.9), gridspec_kw={"width_ratios": widths})
    for ax, (title, n, ins, outs) in zip(axes, _TYPES):
        for t in range(n):
            _box(ax, t, 1, "h", "")
            if t in ins:
                _box(ax, t, 0, "x", "")
                _arrow(ax, (t, 0.32), (t, 0.68))
            if t in outs:
                _box(ax, t, 2, "y", "")
                _arrow(ax, (t, 1.32), (t, 1.68))
            if t > 0:
                _arrow(ax, (t - 1 + 0.32, 1), (t - 0.32, 1))
        _finish(ax, n - 1, title)
    fig = axes[0].figure
    fig.set_label("diagram of the five input/output patterns of recurrent networks: one-to-one, one-to-many, "
                  "many-to-one, many-to-many synced, and many-to-many encoder-decoder")
    fig.text(0.5, 0.08, "red: inputs   green: hidden state   blue: outputs   (time runs left to right)",
             ha="center", fontsize=10)
    return fig
