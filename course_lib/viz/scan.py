"""Chapter 11 figure: the data flow of a loop and of Blelloch's scan over the time axis.

:func:`plot_loop` and :func:`plot_scan_trace` draw one row per round (rounds run one after another; everything in
a row could run at once) and one arrow per combination, read from the trace that
:func:`course_lib.experiments.scan.blelloch_scan` records. :func:`scan_vs_loop` puts the two side by side.
"""
from __future__ import annotations

__all__ = ["plot_loop", "plot_scan_trace", "scan_vs_loop"]

_COLOURS = {"loop": "C3", "up": "C0", "down": "C1", "final": "C2"}


def _frame(ax, n, rows, labels, title):
    for r in range(rows + 1):
        ax.plot(range(n), [r] * n, "o", color="0.6", ms=3, zorder=3)
    ax.set(xlim=(-0.7, n - 0.3), ylim=(rows + 0.6, -0.6), xlabel="position t", title=title)
    ax.set_yticks(range(rows + 1), ["input"] + labels, fontsize=7)
    ax.set_xticks(range(n))
    ax.tick_params(axis="x", labelsize=7)


def _arrow(ax, x0, y0, x1, y1, colour):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle="->", color=colour, lw=1.1, shrinkA=3, shrinkB=3))


def plot_loop(n, ax):
    """The loop: round ``t`` combines the state after step ``t - 1`` with step ``t`` (``n`` rounds)."""
    _frame(ax, n, n, [f"step {t}" for t in range(n)], f"Loop: {n} rounds, one combination each")
    for t in range(1, n):
        _arrow(ax, t - 1, t, t, t + 1, _COLOURS["loop"])
    _arrow(ax, 0, 0, 0, 1, _COLOURS["loop"])
    return ax


def plot_scan_trace(trace, n, ax):
    """Draw a ``blelloch_scan`` trace: ``[(phase, [(left, right), ...]), ...]`` for ``n`` (a power of two) positions.

    Up-sweep rounds: an arrow ``left -> right`` (right becomes left then right). Down-sweep rounds: the parent's
    prefix moves ``right -> left`` and ``right`` becomes prefix then left subtree (arrow ``left -> right``).
    Final round: each position applies its own step (a vertical arrow).
    """
    labels, counts = [], {}
    for phase, _ in trace:
        counts[phase] = counts.get(phase, 0) + 1
        labels.append(phase if phase == "final" else f"{phase} {counts[phase]}")
    _frame(ax, n, len(trace), labels, f"Blelloch scan: {len(trace)} rounds")
    for r, (phase, pairs) in enumerate(trace):
        colour = _COLOURS.get(phase, "k")
        for left, right in pairs:
            if phase == "final":
                _arrow(ax, left, r, left, r + 1, colour)
                continue
            _arrow(ax, left, r, right, r + 1, colour)
            if phase == "down":
                _arrow(ax, right, r, left, r + 1, colour)
    return ax


def scan_vs_loop(trace, n, figsize=(11, 4)):
    """One figure: :func:`plot_loop` and :func:`plot_scan_trace` for the same ``n``; returns the figure."""
    import matplotlib.pyplot as plt

    fig, (a0, a1) = plt.subplots(1, 2, figsize=figsize)
    plot_loop(n, a0)
    plot_scan_trace(trace, n, a1)
    a1.set_ylim(a0.get_ylim())                     # the same height per round: depth compares at a glance
    fig.tight_layout()
    return fig
