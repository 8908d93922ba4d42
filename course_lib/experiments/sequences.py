"""Chapter 01 experiment: the delayed echo learned by an RNN and by a windowed feed-forward network.

:func:`echo_experiment` trains one model on :func:`course_lib.data.delayed_echo` with
:func:`course_lib.train.fit` and returns its bit accuracy on fresh sequences (steps with a target only).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.echo import delayed_echo
from ..train import fit
from .models import SequenceModel

__all__ = ["echo_rnn", "WindowMLP", "masked_bce", "echo_experiment"]


def echo_rnn(hidden=16):
    """course_lib.nn.RNN (tanh, batch first) + a linear read-out per step (a per-step
    :class:`~course_lib.experiments.models.SequenceModel`): (batch, T, 1) -> logits (batch, T, 1)."""
    return SequenceModel("rnn", 1, hidden, 1)


class WindowMLP(torch.nn.Module):
    """A feed-forward network that sees the last ``window`` inputs (zero-padded at the start).

    (batch, T, 1) -> logits (batch, T, 1); the same MLP is applied at every step.
    """

    def __init__(self, window=4, hidden=16):
        super().__init__()
        self.window = window
        self.mlp = torch.nn.Sequential(torch.nn.Linear(window, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        padded = F.pad(x.squeeze(-1), (self.window - 1, 0))            # (batch, T + w - 1)
        windows = padded.unfold(1, self.window, 1)                      # (batch, T, w): x_{t-w+1..t}
        return self.mlp(windows)


def masked_bce(model, batch):
    """Binary cross-entropy of ``model(x)`` on the steps of ``batch = (x, y, mask)`` that have a target."""
    x, y, mask = batch
    return F.binary_cross_entropy_with_logits(model(x).squeeze(-1)[mask], y[mask])


def echo_experiment(model_kind, delay, T=24, hidden=16, window=4, steps=250, batch=64, lr=1e-2, seed=0,
                    device=None):
    """Train ``model_kind`` ("rnn" or "window-mlp") on the delayed echo; return the test bit accuracy."""
    if model_kind not in ("rnn", "window-mlp"):
        raise ValueError(f"model_kind must be 'rnn' or 'window-mlp'; got {model_kind!r}")
    torch.manual_seed(seed)
    model = echo_rnn(hidden) if model_kind == "rnn" else WindowMLP(window, hidden)
    train_set = [delayed_echo(batch, T, delay, seed=seed * 100_003 + i) for i in range(steps)]
    fit(model, masked_bce, train_set, lr=lr, steps=steps, clip=1.0, device=device, progress=False)
    x, y, mask = (t.to(next(model.parameters()).device) for t in delayed_echo(512, T, delay, seed=10**6 + seed))
    with torch.no_grad():
        pred = (model(x).squeeze(-1) > 0).float()
    return float((pred[mask] == y[mask]).float().mean())
