"""Figures of chapter 06 (GRU).

- :func:`plot_comparison`: RNN vs GRU vs LSTM learning curves, one panel per task, each metric divided by
  the task's memoryless baseline (1 = no better than ignoring the past), against training step.
- :func:`plot_gates`: a trained GRU's update gate ``z`` and reset gate ``r`` along one input sequence
  (from :func:`course_lib.experiments.gru.gru_gates`), under a strip of the input.

Every function draws on new axes and returns the figure; the notebook calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["COLORS", "plot_comparison", "plot_gates"]

COLORS = {"rnn": "C0", "gru": "C1", "lstm": "C2", "cho-gru": "C3"}
_STYLE = {"cho-gru": ":"}


def plot_comparison(runs_by_task, figsize=None, ymax=1.3):
    """One panel per task: ``run.curve / run.baseline`` against ``run.curve_steps`` for every run.

    ``runs_by_task``: ``{task name: [Run, ...]}`` (:class:`course_lib.experiments.gru.Run`). The dashed
    line at 1 is the memoryless baseline. The adding problem's panel is logarithmic; the others end at
    ``ymax`` times the baseline, so that one diverging evaluation does not flatten the other curves.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not runs_by_task:
        raise ValueError("runs_by_task must name at least one task; got an empty mapping")
    n = len(runs_by_task)
    fig, axes = plt.subplots(1, n, figsize=figsize or (4.2 * n, 3.4), squeeze=False)
    for ax, (task, runs) in zip(axes[0], runs_by_task.items()):
        lowest = 1.0
        for run in runs:
            ratio = np.asarray(run.curve) / run.baseline
            lowest = min(lowest, float(ratio.min()))
            ax.plot(run.curve_steps, ratio, _STYLE.get(run.kind, "-"), color=COLORS.get(run.kind), lw=1.6,
                    label=f"{run.kind} (H={run.hidden}, {run.params:,} params)")
        ax.axhline(1.0, color="gray", ls="--", lw=1, label="memoryless baseline")
        metric = runs[0].metric if runs else ""
        ax.set(title=task, xlabel="training step", ylabel=f"{metric} / baseline")
        if task.lower().startswith("adding"):
            ax.set_yscale("log")
        else:
            ax.set_ylim(lowest - 0.03 * (ymax - lowest), ymax)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_gates(x, gates, channels=("value", "marker"), title="GRU gates along one sequence", units=6):
    """The input (top) and the update gate ``z`` and reset gate ``r`` along it (below): their mean over
    units (black) and the ``units`` units whose ``z`` varies most over time (thin lines).

    ``x``: ``(time, features)`` one input sequence (a last channel that is 0/1 is drawn as markers, dotted);
    ``gates``: a dict with ``"z"`` and ``"r"`` arrays ``(time, hidden)`` for that sequence. Returns the figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be (time, features); got shape {x.shape}")
    for key in ("z", "r"):
        if key not in gates or np.asarray(gates[key]).shape[0] != x.shape[0]:
            raise ValueError(f"gates[{key!r}] must be (time, hidden) with time = {x.shape[0]}; got "
                             f"{None if key not in gates else np.asarray(gates[key]).shape}")
    T = x.shape[0]
    t = np.arange(T)
    fig, axes = plt.subplots(3, 1, figsize=(9, 5.2), sharex=True, gridspec_kw={"height_ratios": [1, 1.3, 1.3]})
    for k in range(x.shape[1]):
        axes[0].step(t, x[:, k], where="mid", lw=1, label=channels[k] if k < len(channels) else f"x[{k}]")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set(title=title, ylabel="input")
    busiest = np.argsort(-np.asarray(gates["z"]).std(axis=0))[:units]
    for ax, key, name in ((axes[1], "z", "update gate z"), (axes[2], "r", "reset gate r")):
        g = np.asarray(gates[key])
        ax.plot(t, g[:, busiest], lw=0.8, alpha=0.6)
        ax.plot(t, g.mean(axis=1), "k", lw=2, label="mean over units")
        ax.set(ylabel=name, ylim=(-0.02, 1.02))
        ax.legend(fontsize=7, loc="lower right")
    axes[2].set_xlabel("t")
    last = x[:, -1]
    marks = np.flatnonzero(last > 0.5) if x.shape[1] > 1 and np.isin(last, (0, 1)).all() else []
    for ax in axes:
        for m in marks:
            ax.axvline(m, color="C3", lw=0.8, ls=":")
    fig.tight_layout()
    return fig
