"""Figures of chapter 09 (seq2seq): attention heat maps, accuracy against source length, exposure bias."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_attention", "plot_accuracy_by_length", "plot_position_accuracy"]


def plot_attention(weights, src_tokens, out_tokens, ax=None, title="Attention weights"):
    """Heat map of ``weights`` ``(output steps, input steps)``: row i = where output token i looked."""
    weights = np.asarray(weights)
    if weights.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(f"weights must be (len(out_tokens), len(src_tokens)) = ({len(out_tokens)}, "
                         f"{len(src_tokens)}); got {weights.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.3 * len(src_tokens) + 2, 0.3 * len(out_tokens) + 1.5))
    ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(out_tokens)), out_tokens, fontsize=8)
    ax.set(xlabel="input step (source token)", ylabel="output step (token written)", title=title)
    return ax


def plot_accuracy_by_length(tables, ax=None):
    """Exact match against source length. ``tables``: name -> list of ``(lo, hi, accuracy, n)``, the rows of
    :func:`course_lib.experiments.seq2seq.accuracy_by_length`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.6))
    for (name, rows), marker in zip(tables.items(), "osd^v"):
        mid = [(lo + hi - 1) / 2 for lo, hi, _, _ in rows]
        ax.plot(mid, [100 * acc for _, _, acc, _ in rows], marker=marker, label=name)
    ax.set(xlabel="source length (tokens)", ylabel="exact match (%)", ylim=(-3, 103),
           title="Accuracy against source length")
    ax.legend()
    return ax


def plot_position_accuracy(teacher, free, ax=None):
    """Token accuracy by target position, teacher-forced against free-running (exposure bias)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    pos = np.arange(1, len(teacher) + 1)
    ax.plot(pos, 100 * np.asarray(teacher), "o-", ms=3, label="teacher forcing (reads the true tokens)")
    ax.plot(pos, 100 * np.asarray(free), "s-", ms=3, label="free running (reads its own tokens)")
    ax.set(xlabel="target position", ylabel="token accuracy (%)", ylim=(-3, 103),
           title="Teacher forcing against free running")
    ax.legend(fontsize=8)
    return ax
