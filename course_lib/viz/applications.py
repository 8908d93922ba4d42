"""Figures and the widget of chapter 08 (applications).

- :func:`plot_bpc`: validation bits/char of a character LM during training, with the count baselines.
- :func:`next_char_distribution`: a trained LM's distribution of the next character after a prompt, at a
  temperature (the top ``k`` characters); :func:`plot_temperatures` draws it for several temperatures.
- :func:`temperature_update`: the widget's callback, pure and testable without a browser:
  temperature -> (next-character distribution, a sample); :func:`temperature_demo`: the ipywidgets demo.
- :func:`plot_forecasts`: the sunspot test years with each model's forecast ``k`` years ahead;
  :func:`plot_rmse`: test RMSE against the step ahead.
- :func:`plot_confusion`: a confusion matrix with its counts.

Every plotting function draws on ``ax`` (a new figure when None) and returns the axes; the notebook
calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..experiments.charlm import sample

__all__ = ["plot_bpc", "next_char_distribution", "plot_temperatures", "temperature_update", "temperature_demo",
           "plot_forecasts", "plot_rmse", "plot_confusion", "TEMPERATURE_RANGE"]

TEMPERATURE_RANGE = (0.0, 2.0)   # the widget's slider limits


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_bpc(run, ax=None):
    """Validation bits/char of a :class:`~course_lib.experiments.charlm.CharLMRun` against the training step,
    the training loss in bits/char (smoothed) and the unigram and bigram baselines as horizontal lines."""
    ax = _axes(ax, (6.4, 3.6))
    h = run.history
    train_bits = np.asarray(h.loss) / np.log(2)
    w = max(1, len(train_bits) // 30)
    smooth = np.convolve(train_bits, np.ones(w) / w, mode="valid")
    ax.plot(np.asarray(h.steps)[w - 1:], smooth, lw=1, color="C0", alpha=0.6, label="training batches")
    ax.plot(h.eval_steps, h.metrics["val_bpc"], "o-", color="C0", label="validation")
    ax.axhline(run.unigram_bpc, color="C3", ls="--", lw=1, label=f"unigram (no context): {run.unigram_bpc:.2f}")
    ax.axhline(run.bigram_bpc, color="C1", ls="--", lw=1, label=f"bigram (1 char of context): {run.bigram_bpc:.2f}")
    ax.set(xlabel="training step", ylabel="bits per character",
           title=f"Character LM ({run.settings.get('kind', '').upper()} {run.settings.get('hidden', '')})")
    ax.set_ylim(min(min(h.metrics["val_bpc"]), float(smooth.min())) - 0.3, run.unigram_bpc + 0.5)
    ax.legend(fontsize=8)
    return ax


@torch.no_grad()
def next_char_distribution(model, vocab, prompt, temperature, k=10):
    """The ``k`` most likely next characters after ``prompt`` and their probabilities under
    ``softmax(logits / temperature)`` (temperature 0: all mass on the argmax). Returns ``(chars, probs)``."""
    lo, hi = TEMPERATURE_RANGE
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not lo <= temperature <= hi:
        raise ValueError(f"temperature must be a number in [{lo}, {hi}]; got {temperature!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, _ = model(vocab.encode(prompt).unsqueeze(0).to(device))
    model.train(was_training)
    z = logits[0, -1].double().cpu()
    if temperature == 0:
        p = torch.zeros_like(z)
        p[int(z.argmax())] = 1.0
    else:
        p = torch.softmax(z / temperature, dim=0)
    top = torch.argsort(p, descending=True)[:k]
    return [vocab.chars[int(i)] for i in top], p[top].numpy()


def _show(c):
    return {"\n": "\\n", " ": "␣"}.get(c, c)


def plot_temperatures(model, vocab, prompt, temperatures=(0.5, 1.0, 1.5), k=10, axes=None):
    """Bar charts of :func:`next_char_distribution` for each temperature, side by side. Returns the axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(temperatures), figsize=(3.2 * len(temperatures), 2.8), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, t in zip(axes, temperatures):
        chars, probs = next_char_distribution(model, vocab, prompt, t, k)
        ax.bar(range(len(chars)), probs, color="C0")
        ax.set_xticks(range(len(chars)), [_show(c) for c in chars])
        ax.set_title(f"temperature {t:g}")
        ax.set_xlabel("next character")
    axes[0].set_ylabel("probability")
    axes[0].figure.suptitle(f"Next character after {prompt[-20:]!r}", fontsize=10)
    axes[0].figure.tight_layout()
    return axes


def temperature_update(model, vocab, prompt, temperature, n=200, k=10, seed=0):
    """The widget's callback: ``{"chars", "probs", "text"}`` for one temperature.

    ``chars``/``probs``: :func:`next_char_distribution` (top ``k``); ``text``: ``n`` characters sampled after
    ``prompt`` (:func:`course_lib.experiments.charlm.sample`, generator ``numpy.random.default_rng(seed)``).
    """
    chars, probs = next_char_distribution(model, vocab, prompt, temperature, k)
    text = sample(model, vocab, prompt, n, float(temperature), np.random.default_rng(seed))
    return {"chars": chars, "probs": probs, "text": text}


def temperature_demo(model, vocab, prompt, temperature=1.0, n=200):
    """The interactive demo: a temperature slider; shows the next-character distribution and a sample.

    Each change calls :func:`temperature_update`. Returns the ipywidgets box. Needs a live kernel.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    slider = w.FloatSlider(value=temperature, min=TEMPERATURE_RANGE[0], max=TEMPERATURE_RANGE[1], step=0.1,
                           description="temperature", continuous_update=False)
    out = w.Output()

    def redraw(change=None):
        r = temperature_update(model, vocab, prompt, slider.value, n=n)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(5, 2.4))
            ax.bar(range(len(r["chars"])), r["probs"])
            ax.set_xticks(range(len(r["chars"])), [_show(c) for c in r["chars"]])
            ax.set(ylabel="probability", title=f"next character, temperature {slider.value:g}")
            plt.show()
            plt.close(fig)
            print(prompt + r["text"])

    slider.observe(redraw, names="value")
    redraw()
    return w.VBox([slider, out])


def plot_forecasts(result, ahead=(1, 6), ax=None):
    """The test years of a :class:`~course_lib.experiments.forecast.ForecastResult`: the observed series and,
    for each step ahead in ``ahead``, every model's forecast of each year made that many years before."""
    ax = _axes(ax, (9, 3.4))
    years, series = result.years, result.series
    first = result.target_years[0]
    sel = years >= first - 10
    ax.plot(years[sel], series[sel], color="black", lw=1.5, label="observed")
    ax.axvline(first, color="gray", ls=":", lw=1)
    styles = ["-", "--", ":"]
    for j, name in enumerate(result.forecasts):
        for i, k in enumerate(ahead):
            f = result.forecasts[name][:, k - 1]
            ax.plot(result.target_years + k - 1, f, styles[i % 3], color=f"C{j}", lw=1,
                    label=f"{name}, {k} yr ahead")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.35 * (hi - lo))                        # room for the legend above the curves
    ax.set(xlabel="year", ylabel="sunspot number", title="Sunspot forecasts on the test years")
    ax.legend(fontsize=7, ncol=len(result.forecasts), loc="upper left")
    return ax


def plot_rmse(result, ax=None):
    """Test RMSE against the step ahead, one line per model (the RNN's individual runs faint)."""
    ax = _axes(ax, (5, 3.2))
    k = np.arange(1, result.targets.shape[1] + 1)
    for j, (name, r) in enumerate(result.rmse.items()):
        ax.plot(k, r, "o-", color=f"C{j}", label=name)
    rnn = len(result.rmse) - 1
    for r in result.run_rmse:
        ax.plot(k, r, "-", color=f"C{rnn}", lw=0.7, alpha=0.35)
    ax.set(xlabel="years ahead", ylabel="test RMSE (sunspot number)", title="Error against horizon")
    ax.legend(fontsize=8)
    return ax


def plot_confusion(cm, labels=None, ax=None, title="Confusion matrix (test set)"):
    """A confusion matrix (rows true, columns predicted) as an image with its counts written in."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (classes, classes) matrix; got shape {cm.shape}")
    ax = _axes(ax, (4.2, 3.8))
    n = cm.shape[0]
    labels = [str(i) for i in range(n)] if labels is None else list(labels)
    ax.imshow(cm, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return ax
