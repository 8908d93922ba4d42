"""Figures of book chapter 05, the LSTM.

- :func:`cell_diagram`: the LSTM cell drawn with matplotlib: the cell state running along the top
  (the "conveyor belt"), the four gates below it, the point-wise operations on it.
- :func:`plot_word_trace`: gates, cell and hidden state of a one-unit LSTM over a sentence, one word per step.
- :func:`plot_recall`: a stored bit's read-out against the number of words since it was stored.
- :func:`plot_gradient_norms`: ``||dL/ds_k||`` against the distance ``T - k``, log scale.
- :func:`plot_adding`: held-out MSE against sequence length for each kind of network, with the 1/6 baseline.
- :func:`plot_learning_curves`: held-out MSE against training step, one line per run.
- :func:`plot_gate_heatmaps`: a trained LSTM's gates over an adding-problem sequence.

Every function draws on ``ax``/``axes`` (new ones when None) and returns them; the notebook calls ``plt.show()``.
The data come from :mod:`course_lib.experiments.lstm`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch

__all__ = ["cell_diagram", "plot_word_trace", "plot_recall", "plot_gradient_norms", "plot_adding",
           "plot_learning_curves", "plot_gate_heatmaps"]

_GATE = "#f6d58e"       # gate layers (sigmoid / tanh with weights)
_POINT = "#f4b6c2"      # point-wise operations
_BELT = "#2b6cb0"       # the cell-state path
_HID = "#333333"


# ----------------------------------------------------------------------------- the cell diagram
def _line(ax, points, color=_HID, lw=1.6, arrow=True, zorder=1):
    """A poly-line through ``points``; an arrow head on the last segment."""
    body = points[:-1] if arrow else points                 # the last segment is the arrow itself
    if len(body) > 1:
        xs, ys = zip(*body)
        ax.plot(xs, ys, color=color, lw=lw, zorder=zorder, solid_capstyle="round")
    if arrow:
        ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=13, lw=lw,
                                     color=color, shrinkA=0, shrinkB=0, zorder=zorder))


def _gate(ax, x, y, label, name):
    ax.add_patch(FancyBboxPatch((x - 0.36, y - 0.28), 0.72, 0.56, boxstyle="round,pad=0.03", fc=_GATE,
                                ec="black", lw=1, zorder=3))
    ax.text(x, y, label, ha="center", va="center", fontsize=11, zorder=4)
    ax.text(x, 0.88, name, ha="center", va="top", fontsize=8.5, color="#444444", zorder=4, linespacing=1.1)


def _op(ax, x, y, symbol, r=0.22):
    ax.add_patch(Circle((x, y), r, fc=_POINT, ec="black", lw=1, zorder=3))
    ax.text(x, y - 0.02, symbol, ha="center", va="center", fontsize=12, zorder=4)


def cell_diagram(ax=None):
    """Draw one LSTM cell (book eqs. `eq-lstm-gates`, `eq-lstm-c`, `eq-lstm-h`). Returns the axes.

    Blue: the cell state ``c``, which only meets a multiplication by ``f_t`` and an addition on its way
    through the step; black: the hidden state and the gates, which read ``[h_{t-1}, x_t]``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.2))
    ax.add_patch(FancyBboxPatch((1.0, 0.45), 8.2, 5.0, boxstyle="round,pad=0.1", fc="#f3f3f3", ec="#999999",
                                lw=1, zorder=0))
    belt, bus = 4.7, 1.0                                     # heights of the cell path and the input bus
    fx, ix, gx, ox, tx = 2.6, 3.9, 5.0, 6.3, 7.6             # columns: f, i, g, o, tanh(c) / read-out
    # the conveyor belt: c_{t-1} -> x f_t -> + i_t g_t -> c_t
    _line(ax, [(0.0, belt), (fx - 0.22, belt)], _BELT, lw=3)
    _line(ax, [(fx + 0.22, belt), (gx - 0.22, belt)], _BELT, lw=3)
    _line(ax, [(gx + 0.22, belt), (10.2, belt)], _BELT, lw=3)
    _op(ax, fx, belt, "×")
    _op(ax, gx, belt, "+")
    ax.text(0.0, belt + 0.25, "$c_{t-1}$", fontsize=12, color=_BELT)
    ax.text(9.75, belt + 0.25, "$c_t$", fontsize=12, color=_BELT)
    # the input bus [h_{t-1}, x_t] feeding the four gates
    _line(ax, [(0.0, bus), (ox, bus)], arrow=False)
    _line(ax, [(1.6, -0.3), (1.6, bus)], arrow=False)
    ax.text(0.0, bus + 0.15, "$h_{t-1}$", fontsize=12)
    ax.text(1.7, -0.35, "$x_t$", fontsize=12)
    for x in (fx, ix, gx, ox):
        _line(ax, [(x, bus), (x, 1.92)])
    _gate(ax, fx, 2.2, "σ", "forget\n$f_t$")
    _gate(ax, ix, 2.2, "σ", "input\n$i_t$")
    _gate(ax, gx, 2.2, "tanh", "candidate\n$g_t$")
    _gate(ax, ox, 2.2, "σ", "output\n$o_t$")
    # f_t multiplies the belt
    _line(ax, [(fx, 2.48), (fx, belt - 0.22)])
    # i_t * g_t is added to it
    _op(ax, gx, 3.5, "×")
    _line(ax, [(gx, 2.48), (gx, 3.28)])
    _line(ax, [(ix, 2.48), (ix, 3.5), (gx - 0.22, 3.5)])
    _line(ax, [(gx, 3.72), (gx, belt - 0.22)])
    # read-out: h_t = o_t * tanh(c_t)
    _line(ax, [(tx, belt), (tx, 4.05)], _BELT, lw=1.6)
    ax.add_patch(Ellipse((tx, 3.8), 0.75, 0.45, fc=_POINT, ec="black", lw=1, zorder=3))
    ax.text(tx, 3.8, "tanh", ha="center", va="center", fontsize=9, zorder=4)
    _op(ax, tx, 2.9, "×")
    _line(ax, [(tx, 3.57), (tx, 3.12)])
    _line(ax, [(ox, 2.48), (ox, 2.9), (tx - 0.22, 2.9)])
    _line(ax, [(tx, 2.68), (tx, bus), (10.2, bus)])
    _line(ax, [(8.7, bus), (8.7, 6.0)])
    ax.text(9.75, bus + 0.15, "$h_t$", fontsize=12)
    ax.text(8.8, 5.85, "$h_t$ (output)", fontsize=11)
    ax.text(4.6, 5.75, "the cell state meets only a × $f_t$ and a + $i_t g_t$ per step", fontsize=9,
            color=_BELT, ha="center")
    ax.set_xlim(-0.2, 10.6)
    ax.set_ylim(-0.6, 6.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("One LSTM step: the cell state $c$ runs along the top like a conveyor belt", fontsize=11)
    return ax


# ----------------------------------------------------------------------------- the hand-set memory
def plot_word_trace(tokens, trace, axes=None, title="A one-unit LSTM reads a sentence"):
    """Gates ``i, f, o`` (top) and cell ``c`` and output ``h`` (bottom) of a one-unit LSTM, one word per step.

    ``tokens``: the words (length T); ``trace``: :func:`course_lib.experiments.lstm.gate_trace` of one sequence.
    Returns the two axes.
    """
    T = len(tokens)
    series = {k: np.asarray(trace[k])[0, :, 0] for k in ("i", "f", "o", "c", "h")}
    if any(len(v) != T for v in series.values()):
        raise ValueError(f"trace must have one step per token ({T}); got {len(series['c'])}")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    t = np.arange(T)
    for k, color, label, offset in (("f", "C2", "forget gate $f_t$", 0.04), ("i", "C1", "input gate $i_t$", 0.0),
                                    ("o", "C4", "output gate $o_t$", -0.04)):
        axes[0].step(t, series[k] + offset, where="mid", color=color, lw=1.8, label=label)
    axes[0].set_ylim(-0.15, 1.2)
    axes[0].set_ylabel("gate")
    axes[0].set_title(title)
    axes[0].legend(fontsize=8, ncol=3, loc="center right")
    axes[1].plot(t, series["c"], "o-", color=_BELT, lw=2, ms=3, label="cell $c_t$")
    axes[1].plot(t, series["h"], "o-", color="C3", lw=2, ms=3, label="output $h_t$")
    axes[1].axhline(0, color="gray", lw=0.6)
    axes[1].set_ylim(-1.1, 1.15)
    axes[1].set_ylabel("state")
    axes[1].legend(fontsize=8, ncol=2, loc="lower right")
    axes[1].set_xticks(t)
    axes[1].set_xticklabels(tokens, rotation=60, ha="right", fontsize=8)
    return axes


def plot_recall(n_fillers, p_by_forget, ax=None):
    """The read-out ``p(fish)`` after a cat sentence against the number of filler words, one line per
    forget-gate value. ``p_by_forget``: dict forget value -> list of probabilities (one per ``n_fillers``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for forget, p in p_by_forget.items():
        if len(p) != len(n_fillers):
            raise ValueError(f"each curve needs one value per filler length ({len(n_fillers)}); got {len(p)}")
        ax.plot(n_fillers, p, "o-", ms=3, label=f"$f$ = {forget:g}  (horizon $1/(1-f)$ = {1 / (1 - forget):,.0f})")
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.text(n_fillers[-1], 0.52, "chance", ha="right", fontsize=8, color="gray")
    ax.set_xlabel("filler words between 'cat' and 'eats'")
    ax.set_ylabel("p(next word = fish)")
    ax.set_ylim(0.2, 1.02)
    ax.set_title("Memory decays as $f^n$: the forget gate sets the horizon")
    ax.legend(fontsize=8, loc="lower right")
    return ax


# ----------------------------------------------------------------------------- gradients
def plot_gradient_norms(curves, ax=None, title="How much of a unit gradient at step T reaches step k"):
    """Semilog plot of gradient norms against distance ``d = T - k``.

    ``curves``: dict label -> ndarray (T + 1,) indexed by distance
    (:func:`course_lib.experiments.lstm.geometric_mean_by_distance`); labels containing "RNN" are dashed.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, norm in curves.items():
        norm = np.asarray(norm, dtype=float)
        d = np.arange(len(norm))
        ok = norm > 0
        ax.semilogy(d[ok], norm[ok], "--" if "RNN" in label else "-", lw=2, label=label)
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xlabel("distance T − k (steps back from the last step)")
    ax.set_ylabel("‖∂L/∂s_k‖   (‖∂L/∂s_T‖ = 1)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="lower left")
    return ax


# ----------------------------------------------------------------------------- the adding problem
_KIND_STYLE = {"rnn": ("C0", "s", "tanh RNN"), "lstm": ("C3", "o", "LSTM")}


def _by_kind(results):
    """results: dict (kind, T, seed) -> AddingRun. Returns kind -> sorted T -> list of results."""
    out = {}
    for (kind, T, _), r in results.items():
        out.setdefault(kind, {}).setdefault(T, []).append(r)
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def plot_adding(results, ax=None, title="Adding problem: held-out MSE after training"):
    """Held-out MSE against sequence length T, each run a marker, the mean over seeds a line;
    the dashed line is the baseline of always predicting 1 (about 1/6).

    ``results``: dict ``(kind, T, seed) -> AddingRun`` from :func:`course_lib.experiments.lstm.adding_sweep`.
    """
    if not results:
        raise ValueError("results is empty: nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for kind, by_T in _by_kind(results).items():
        color, marker, label = _KIND_STYLE.get(kind, ("C7", "x", kind))
        Ts = list(by_T)
        for T, runs in by_T.items():
            ax.semilogy([T] * len(runs), [r.val_mse for r in runs], marker, color=color, alpha=0.6, ms=6)
        ax.semilogy(Ts, [np.mean([r.val_mse for r in by_T[T]]) for T in Ts], "-", color=color, lw=2, label=label)
    baseline = np.mean([r.baseline_mse for r in results.values()])
    ax.axhline(baseline, color="gray", ls="--", lw=1, label=f"predict 1 always ({baseline:.3f})")
    solved = next(iter(results.values())).config.solved_below
    if solved:
        ax.axhline(solved, color="gray", ls=":", lw=1, label=f"solved (MSE < {solved:g})")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("held-out MSE")
    ax.set_xticks(sorted({T for _, T, _ in results}))
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8)
    return ax


def plot_learning_curves(results, ax=None, title="Held-out MSE during training"):
    """Held-out MSE against step for every run in ``results`` (dict ``(kind, T, seed) -> AddingRun``);
    colour by kind, line style by T."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    Ts = sorted({T for _, T, _ in results})
    styles = ["-", "--", ":", "-."]
    for (kind, T, seed), r in sorted(results.items()):
        color, _, label = _KIND_STYLE.get(kind, ("C7", "x", kind))
        ax.semilogy(r.history.eval_steps, r.history.metrics["val_mse"], styles[Ts.index(T) % 4], color=color,
                    lw=1.5, label=f"{label}, T = {T}" if seed == min(s for k, t, s in results if (k, t) == (kind, T))
                    else None)
    base = np.mean([r.baseline_mse for r in results.values()])
    ax.axhline(base, color="gray", ls="--", lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out MSE")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_gate_heatmaps(x, trace, units=None, axes=None, title="Inside the trained LSTM"):
    """A trained LSTM's gates over one adding-problem sequence.

    ``x``: (T, 2) the sequence (values, markers); ``trace``: :func:`course_lib.experiments.lstm.gate_trace`
    of that one sequence; ``units``: which hidden units to show, top row first (default: all). Rows: the
    input with the two marked steps, then heat maps (units x time, 0 to 1) of the input, forget and output
    gates, then the cell state of the first unit in ``units``. ``axes``: 5 axes for the rows and 1 for the colour bar.
    Returns the axes.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must be one sequence (T, 2); got shape {x.shape}")
    T = x.shape[0]
    gates = {k: np.asarray(trace[k])[0] for k in ("i", "f", "o", "c")}
    if gates["c"].shape[0] != T:
        raise ValueError(f"trace must cover the T = {T} steps of x; got {gates['c'].shape[0]}")
    units = np.arange(gates["c"].shape[1]) if units is None else np.asarray(units)
    if axes is None:
        fig = plt.figure(figsize=(9, 7.5))
        grid = fig.add_gridspec(5, 2, width_ratios=[60, 1], height_ratios=[1, 1.1, 1.1, 1.1, 1.4], wspace=0.03)
        axes = [fig.add_subplot(grid[0, 0])]
        axes += [fig.add_subplot(grid[r, 0], sharex=axes[0]) for r in range(1, 5)]
        axes.append(fig.add_subplot(grid[1:4, 1]))
    marks = np.flatnonzero(x[:, 1] > 0.5)
    t = np.arange(T)
    axes[0].bar(t, x[:, 0], color="lightgray", width=0.8)
    axes[0].bar(marks, x[marks, 0], color="C3", width=0.8, label="marked values (their sum is the target)")
    axes[0].set_ylabel("input")
    axes[0].legend(fontsize=8, loc="upper right", framealpha=0.9)
    axes[0].set_title(title, fontsize=11)
    for ax, (k, name) in zip(axes[1:4], (("i", "input gate $i$"), ("f", "forget gate $f$"),
                                        ("o", "output gate $o$"))):
        im = ax.imshow(gates[k][:, units].T, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       interpolation="nearest", extent=(-0.5, T - 0.5, len(units) - 0.5, -0.5))
        ax.set_ylabel(f"{name}\nunit")
        ax.set_yticks(range(len(units)))
        ax.set_yticklabels([str(u) for u in units], fontsize=7)
        for m in marks:
            ax.axvline(m, color="C3", lw=0.8, ls=":")
    plt.colorbar(im, cax=axes[5], label="gate value")
    u = units[0]
    axes[4].plot(t, gates["c"][:, u], "o-", ms=2.5, lw=1.8, color=_BELT, label=f"cell state of unit {u}")
    for m in marks:
        axes[4].axvline(m, color="C3", lw=0.8, ls=":")
    axes[4].set_ylabel("cell state $c$")
    axes[4].set_xlabel("time step t")
    axes[4].set_xlim(-0.5, T - 0.5)
    axes[4].legend(fontsize=8, loc="best")
    for ax in axes[:4]:
        ax.tick_params(labelbottom=False)
    return axes
