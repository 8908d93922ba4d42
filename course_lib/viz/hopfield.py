"""Plotting helpers for chapter 02 (Hopfield 1982, Elman 1990) and its small demo images.

Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns
the axes (or the figure for multi-panel plots); the notebook calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "GLYPHS",
    "glyph_patterns",
    "show_patterns",
    "plot_energy",
    "plot_capacity",
    "plot_position_error",
    "HISTORY",
    "plot_timeline",
]

# 10 x 10 letters with thick strokes, so that each is roughly half on / half off.
GLYPHS = {
    "H": ["##......##"] * 4 + ["##########"] * 2 + ["##......##"] * 4,
    "O": ["..######..", ".########."] + ["##......##"] * 6 + [".########.", "..######.."],
    "T": ["##########"] * 2 + ["....##...."] * 8,
    "X": ["##......##", "###....###", ".###..###.", "..######..", "...####...",
          "...####...", "..######..", ".###..###.", "###....###", "##......##"],
    "L": ["##........"] * 8 + ["##########"] * 2,
    "Z": ["##########"] * 2 + ["......###.", ".....###..", "....###...", "...###....",
                              "..###.....", ".###......"] + ["##########"] * 2,
}
GLYPH_SHAPE = (10, 10)


def glyph_patterns(names: str = "HOTX") -> np.ndarray:
    """The letters ``names`` (from :data:`GLYPHS`) as -1/+1 patterns, shape ``(len(names), 100)``.

    ``#`` is +1 (ink), ``.`` is -1. Reshape a row to :data:`GLYPH_SHAPE` to see it.
    """
    bad = sorted(set(names) - set(GLYPHS))
    if bad:
        raise ValueError(f"names must be letters among {''.join(GLYPHS)}; got {bad}")
    return np.stack([
        np.array([[1.0 if c == "#" else -1.0 for c in row] for row in GLYPHS[n]]).ravel() for n in names
    ])


def show_patterns(patterns, shape=GLYPH_SHAPE, titles=None, axes=None, suptitle=None):
    """Draw each row of ``patterns`` (``(P, N)``, -1/+1) as a ``shape`` image, side by side."""
    import matplotlib.pyplot as plt

    patterns = np.atleast_2d(np.asarray(patterns))
    if axes is None:
        fig, axes = plt.subplots(1, len(patterns), figsize=(1.6 * len(patterns), 1.9), squeeze=False)
        axes = axes[0]
    for k, (ax, p) in enumerate(zip(axes, patterns)):
        ax.imshow(p.reshape(shape), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    if suptitle:
        axes[0].figure.suptitle(suptitle)
    return axes[0].figure


def plot_energy(traces, n_units: int, labels=None, ax=None, title="Energy under asynchronous updates"):
    """Energy against the number of single-unit updates (x axis in sweeps = updates / N).

    ``traces``: a list of 1-D energy traces (e.g. ``RecallInfo.energy``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for k, e in enumerate(traces):
        ax.plot(np.arange(len(e)) / n_units, e, lw=1.5, label=None if labels is None else labels[k])
    ax.set_xlabel("sweeps (one sweep = N single-unit updates)")
    ax.set_ylabel("energy E(s)")
    ax.set_title(title)
    if labels is not None:
        ax.legend(fontsize=8)
    return ax


def plot_capacity(curves, alpha_c: float = 0.138, metric: str = "recall", ax=None, title=None):
    """``metric`` (``"recall"``, ``"overlap"`` or ``"exact"``) of each :class:`CapacityCurve` against
    alpha = P/N, with the N -> infinity capacity ``alpha_c`` of Amit et al. (1985) marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    names = {"recall": "fraction recalled (final overlap >= {:.2f})",
             "overlap": "mean final overlap m", "exact": "fraction recalled with no wrong bit"}
    for c in curves:
        label = f"N = {c.n_units}" + (f", {c.flip_fraction:.0%} flipped" if c.flip_fraction else "")
        ax.plot(c.alphas, getattr(c, metric), "o-", ms=3, label=label)
    ax.axvline(alpha_c, color="k", ls="--", lw=1)
    ax.text(alpha_c + 0.003, 0.03, f"Amit et al. 1985: {alpha_c}", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set_xlabel("load alpha = P / N")
    ax.set_ylabel(names[metric].format(curves[0].success_overlap))
    ax.set_title(title or "Hopfield capacity: recall of random patterns")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def plot_position_error(errors, labels=None, ax=None, title="Prediction error along the stream",
                        ylabel="RMS error", highlight=None, series=None):
    """Error per time step, as in Elman's (1990) Figs. 3-5: one point per step of a short stretch.

    ``errors``: ``(steps,)`` or ``(steps, curves)``; ``series``: a name per curve (legend);
    ``labels``: tick labels (e.g. the letter or bit being predicted); ``highlight``: indices of
    steps to circle (e.g. the predictable XOR bits).
    """
    import matplotlib.pyplot as plt

    errors = np.asarray(errors, dtype=float)
    errors2d = errors[:, None] if errors.ndim == 1 else errors
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    steps = np.arange(len(errors2d))
    for k in range(errors2d.shape[1]):
        ax.plot(steps, errors2d[:, k], "o-", ms=4, label=None if series is None else series[k])
    if highlight is not None:
        ax.plot(steps[highlight], errors2d[highlight, 0], "o", ms=10, mfc="none", mec="C3",
                label="predictable step")
    if highlight is not None or series is not None:
        ax.set_ylim(0, 1.4 * np.nanmax(errors2d))  # room for the legend above the curves
        ax.legend(fontsize=8, loc="upper center", ncol=3)
    if labels is not None:
        ax.set_xticks(steps)
        ax.set_xticklabels(labels)
    ax.set_xlabel("time step (tick label: the element being predicted)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    return ax


#: (year, short label, bibtex key) of the milestones on the road from Hopfield to Transformers.
HISTORY = [
    (1982, "Hopfield network", "hopfield1982"),
    (1985, "capacity 0.138 N (Amit et al.)", "amit1985"),
    (1986, "backpropagation (Rumelhart et al.)", "rumelhart1986"),
    (1986, "Jordan network", "jordan1986"),
    (1990, "Elman SRN", "elman1990"),
    (1990, "BPTT (Werbos)", "werbos1990"),
    (1994, "vanishing gradients (Bengio et al.)", "bengio1994"),
    (1997, "LSTM", "hochreiter1997"),
    (1997, "bidirectional RNN", "schuster1997"),
    (2000, "forget gate (Gers et al.)", "gers2000"),
    (2010, "RNN language model (Mikolov et al.)", "mikolov2010"),
    (2014, "GRU; seq2seq", "cho2014"),
    (2015, "attention (Bahdanau et al.)", "bahdanau2015"),
    (2017, "Transformer", "vaswani2017"),
    (2021, "modern Hopfield = attention", "ramsauer2021"),
    (2023, "Mamba (selective SSM)", "gu2023"),
    (2024, "minGRU", "feng2024"),
]


def plot_timeline(events=HISTORY, ax=None, title="From Hopfield to Transformers"):
    """A horizontal timeline of ``events`` ((year, label, key) tuples), labels alternating up/down."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.6))
    years = [e[0] for e in events]
    ax.axhline(0, color="k", lw=1)
    for k, (year, label, _) in enumerate(events):
        level = (1 + (k // 2) % 3) * (1 if k % 2 == 0 else -1)
        ax.plot([year, year], [0, level * 0.8], color="C0", lw=0.8)
        ax.plot(year, 0, "o", color="C0", ms=4)
        ax.text(year, level * 0.85, f"{year} {label}", ha="center", va="bottom" if level > 0 else "top", fontsize=7.5)
    ax.set_xlim(min(years) - 3, max(years) + 3)
    ax.set_ylim(-3.3, 3.3)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("year")
    ax.set_title(title)
    return ax
