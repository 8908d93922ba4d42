"""Figures and the widget of chapter 04 (vanishing and exploding gradients).

- :func:`update`: the widget's callback, pure and testable without a browser: (spectral radius,
  sequence length, input scale) -> the measured :class:`~course_lib.experiments.gradients.GradientCurve`.
- :func:`plot_curves`: gradient norm against distance on a log scale, with the linear prediction
  ``rho^d`` dashed. The book's static figure is ``plot_curves([update(r, T) for r in radii])``.
- :func:`demo`: the ipywidgets demo (sliders -> :func:`update` -> :func:`plot_curves`).
- :func:`plot_activation_derivatives`: tanh' and sigmoid' with their bounds 1 and 1/4.
- :func:`plot_losses`, :func:`plot_grad_norms`: training curves of
  :class:`~course_lib.experiments.tasks.AddingRun` results (a diverged run is marked).

Every plotting function draws on ``ax`` (a new figure when None) and returns the axes; the
notebook calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

from ..experiments.gradients import gradient_norm_curve

__all__ = ["RADIUS_RANGE", "T_RANGE", "SCALE_RANGE", "update", "plot_curves", "demo",
           "plot_activation_derivatives", "plot_losses", "plot_grad_norms"]

RADIUS_RANGE = (0.5, 2.0)   # the widget's slider limits
T_RANGE = (10, 300)
SCALE_RANGE = (0.01, 3.0)


def update(spectral_radius=1.0, T=100, input_scale=0.1, hidden_size=64, seed=0):
    """The widget's callback: measure ``||dL/dh_{T-d}||`` for d = 0..T and return the curve.

    A tanh RNN with a random ``W_hh`` of the given spectral radius (book ch. 04, measured with
    ``course_lib.ref.RNN``'s BPTT), inputs of standard deviation ``input_scale``.
    Arguments outside the sliders' ranges (:data:`RADIUS_RANGE`, :data:`T_RANGE`, :data:`SCALE_RANGE`)
    raise ``ValueError``. Returns a :class:`~course_lib.experiments.gradients.GradientCurve`.
    """
    lo, hi = RADIUS_RANGE
    if isinstance(spectral_radius, bool) or not isinstance(spectral_radius, (int, float, np.floating)) \
            or not lo <= spectral_radius <= hi:
        raise ValueError(f"spectral_radius must be a number in [{lo}, {hi}]; got {spectral_radius!r}")
    lo, hi = T_RANGE
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or not lo <= T <= hi:
        raise ValueError(f"T must be an int in [{lo}, {hi}]; got {T!r}")
    lo, hi = SCALE_RANGE
    if isinstance(input_scale, bool) or not isinstance(input_scale, (int, float, np.floating)) \
            or not lo <= input_scale <= hi:
        raise ValueError(f"input_scale must be a number in [{lo}, {hi}]; got {input_scale!r}")
    return gradient_norm_curve(float(spectral_radius), int(T), hidden_size=hidden_size,
                               input_scale=float(input_scale), seed=seed)


def plot_curves(curves, ax=None, linear=True, title="Gradient norm vs distance (tanh RNN)"):
    """Plot ``norm`` against ``distance`` for each curve (log y), labelled by spectral radius.

    ``linear``: also draw ``rho^d`` dashed, what a *linear* RNN with an orthogonal ``W_hh`` of
    spectral radius ``rho`` would give: the gap to the solid curve is what tanh' < 1 takes away.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    for curve in curves:
        label = (f"ρ = {curve.spectral_radius:.2f}  (σ_max = {curve.singular_value:.2f}, "
                 f"input scale {curve.input_scale:g})")
        line, = ax.semilogy(curve.distance, curve.norm, lw=2, label=label)
        if linear:
            ax.semilogy(curve.distance, curve.spectral_radius ** curve.distance.astype(float), "--",
                        lw=1, color=line.get_color(), alpha=0.7)
    ax.axhline(1.0, color="gray", lw=0.8)
    measured = np.concatenate([np.asarray(c.norm, dtype=float) for c in curves])
    measured = measured[np.isfinite(measured) & (measured > 0)]
    if measured.size:  # the measured curves set the range; the dashed guides may leave it
        ax.set_ylim(min(measured.min(), 1.0) / 10, max(measured.max(), 1.0) * 10)
    ax.set_xlabel("distance T − k (steps back from the loss)")
    ax.set_ylabel("‖∂L/∂h_k‖  (‖∂L/∂h_T‖ = 1)")
    ax.set_title(title)
    if linear:
        ax.plot([], [], "--", color="gray", lw=1, label="ρ^d (linear RNN, orthogonal W)")
    ax.legend(fontsize=8, loc="best")
    return ax


def demo(spectral_radius=1.0, T=100, input_scale=0.1):
    """The interactive demo: sliders for spectral radius, sequence length T and input scale.

    Each change calls :func:`update` and redraws :func:`plot_curves`. Returns the ipywidgets box
    (display it as a cell's last expression). Needs a live kernel, e.g. on Colab.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    radius = w.FloatSlider(value=spectral_radius, min=RADIUS_RANGE[0], max=RADIUS_RANGE[1], step=0.05,
                           description="radius ρ", continuous_update=False)
    length = w.IntSlider(value=T, min=T_RANGE[0], max=T_RANGE[1], step=10, description="length T",
                         continuous_update=False)
    scale = w.FloatLogSlider(value=input_scale, base=10, min=np.log10(SCALE_RANGE[0]),
                             max=np.log10(SCALE_RANGE[1]), step=0.1, description="input scale",
                             continuous_update=False)
    out = w.Output()

    def redraw(change=None):
        curve = update(radius.value, length.value, scale.value)
        with out:
            out.clear_output(wait=True)
            ax = plot_curves([curve], title=f"ρ = {curve.spectral_radius:.2f}, T = {curve.T}: "
                                            f"×{curve.factor_per_step:.3f} per step")
            plt.show()
            plt.close(ax.figure)

    for slider in (radius, length, scale):
        slider.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([radius, length, scale]), out])


def plot_activation_derivatives(ax=None):
    """tanh'(a) = 1 - tanh(a)^2 (at most 1) and sigmoid'(a) = s(1 - s) (at most 1/4), a in [-6, 6]."""
    import matplotlib.pyplot as plt

    from ..ref import sigmoid

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.0))
    a = np.linspace(-6, 6, 601)
    s = sigmoid(a)
    ax.plot(a, 1 - np.tanh(a) ** 2, lw=2, label="tanh′(a) = 1 − tanh²(a)")
    ax.plot(a, s * (1 - s), lw=2, label="σ′(a) = σ(a)(1 − σ(a))")
    ax.axhline(1.0, color="C0", ls=":", lw=1)
    ax.axhline(0.25, color="C1", ls=":", lw=1)
    ax.set_xlabel("pre-activation a")
    ax.set_ylabel("derivative")
    ax.set_title("The factor each step multiplies the gradient by")
    ax.legend(fontsize=8)
    return ax


def _smooth(values, window):
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_losses(runs, labels, ax=None, window=20, baseline=None, ylim=None, title="Training loss (adding problem)"):
    """Training loss of each :class:`~course_lib.experiments.tasks.AddingRun` (running mean over
    ``window`` steps, log y). A run that diverged is drawn raw and ends with an ``x`` at its last
    finite loss (on the upper edge if that is above ``ylim``). ``baseline``: a horizontal line
    (e.g. the MSE of always predicting 1); ``ylim``: (bottom, top) of the y axis, or None (automatic)."""
    import matplotlib.pyplot as plt

    if len(runs) != len(labels):
        raise ValueError(f"need one label per run; got {len(runs)} runs and {len(labels)} labels")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for run, label in zip(runs, labels):
        if run.diverged:
            finite = [v for v in run.loss if np.isfinite(v)]
            line, = ax.semilogy(np.arange(1, len(finite) + 1), finite, lw=1.5,
                                label=f"{label}: diverged at step {len(run.loss)}")
            top = finite[-1] if ylim is None else min(finite[-1], ylim[1])
            ax.semilogy([len(finite)], [top], "x", ms=10, mew=2, color=line.get_color(), clip_on=False)
        else:
            y = _smooth(run.loss, window)
            ax.semilogy(np.arange(len(run.loss) - len(y) + 1, len(run.loss) + 1), y, lw=1.5,
                        label=f"{label}: held-out MSE {run.val_mse:.3f}")
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", lw=1, label=f"predict 1 always ({baseline:.3f})")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_grad_norms(run, clip=None, ax=None, title="Global gradient norm before clipping"):
    """The gradient norm of every step of a (finished) run, log y, with the clipping threshold."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.semilogy(np.arange(1, len(run.grad_norm) + 1), run.grad_norm, lw=1)
    if clip is not None:
        ax.axhline(clip, color="C3", ls="--", lw=1, label=f"threshold {clip:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("‖g‖")
    ax.set_title(title)
    return ax
