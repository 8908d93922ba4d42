"""Chapter 08 (c): many-to-one sequence classification of variable-length noisy sinusoids.

The sequences come from :func:`course_lib.data.frequency_classification` (class ``c``: a sinusoid with
``c + 1`` periods per ``T`` steps, random phase and amplitude, Gaussian noise) and are then cut to a
random length in ``[min_len, T]`` and zero-padded, so a batch mixes lengths like real data
(sentences, recordings). The network reads each sequence up to its own length
(``course_lib.nn.GRU(..., lengths=)``) and classifies from its last state.

- :func:`variable_length`: cut a batch to random lengths (padding zeroed); returns ``(x, lengths)``.
- :class:`SequenceClassifier`: GRU/LSTM -> ``Linear(hidden, n_classes)`` on the last valid state.
- :func:`confusion_matrix`; :func:`classification_experiment` trains and scores; returns a :class:`ClassificationResult`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn as cnn
from ..data.tasks import frequency_classification
from ..train import fit

__all__ = ["variable_length", "SequenceClassifier", "confusion_matrix", "ClassificationResult",
           "classification_experiment"]

KINDS = {"gru": cnn.GRU, "lstm": cnn.LSTM}


def variable_length(x, min_len, seed=0):
    """Cut each sequence of ``x`` ``(n, T, d)`` to a random length in ``[min_len, T]``.

    Returns ``(x_cut, lengths)``: ``x_cut`` has ``x``'s shape with every step at or past a sequence's
    length set to zero (padding), ``lengths`` is ``(n,)`` int64. Deterministic per ``seed``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a tensor (n, T, features); got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    n, T, _ = x.shape
    if isinstance(min_len, bool) or not isinstance(min_len, int) or not 1 <= min_len <= T:
        raise ValueError(f"min_len must be an int in [1, T = {T}]; got {min_len!r}")
    lengths = torch.from_numpy(np.random.default_rng(seed).integers(min_len, T + 1, size=n))
    keep = torch.arange(T)[None, :] < lengths[:, None]                   # (n, T)
    return x * keep[:, :, None].to(x.dtype), lengths


class SequenceClassifier(torch.nn.Module):
    """``course_lib.nn.GRU``/``LSTM`` (batch first) -> ``Linear(hidden, n_classes)`` on the last valid state.

    ``forward(x, lengths=None)``: x ``(batch, T, input_size)``, lengths ``(batch,)`` -> logits ``(batch, n_classes)``.
    With ``lengths`` the recurrent layer stops at each sequence's own end, so ``h_n`` is the state after
    its last real step, not after the padding (many-to-one).
    """

    def __init__(self, n_classes, input_size=1, hidden=32, kind="gru"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}")
        self.rnn = KINDS[kind](input_size, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, n_classes)

    def forward(self, x, lengths=None):
        _, state = self.rnn(x, None, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        return self.out(h_n[-1])


def confusion_matrix(true, pred, n_classes):
    """``(n_classes, n_classes)`` int64 counts: row = true class, column = predicted class."""
    true, pred = torch.as_tensor(true).reshape(-1).cpu(), torch.as_tensor(pred).reshape(-1).cpu()
    if true.shape != pred.shape:
        raise ValueError(f"true and pred must have the same length; got {len(true)} and {len(pred)}")
    if len(true) and (min(true.min(), pred.min()) < 0 or max(true.max(), pred.max()) >= n_classes):
        raise ValueError(f"classes must lie in [0, {n_classes}); got values from "
                         f"{int(min(true.min(), pred.min()))} to {int(max(true.max(), pred.max()))}")
    cm = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    cm.index_put_((true.long(), pred.long()), torch.ones(len(true), dtype=torch.int64), accumulate=True)
    return cm.numpy()


@dataclass
class ClassificationResult:
    """What :func:`classification_experiment` returns: test ``accuracy``, ``chance`` (1 / n_classes),
    the ``confusion`` matrix (rows true, columns predicted), the test set (``x``, ``lengths``, ``y``,
    ``pred``), the trained ``model`` and fit's ``history``."""
    accuracy: float
    chance: float
    confusion: np.ndarray
    x: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor
    pred: torch.Tensor
    model: SequenceClassifier
    history: object = None
    settings: dict = field(default_factory=dict)

    def accuracy_by_length(self, edges):
        """Test accuracy in length bins ``[edges[i], edges[i+1])``: a list of ``(lo, hi, accuracy, count)``."""
        out = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (self.lengths >= lo) & (self.lengths < hi)
            n = int(sel.sum())
            out.append((lo, hi, float((self.pred[sel] == self.y[sel]).float().mean()) if n else float("nan"), n))
        return out


def classification_experiment(n_classes=5, T=50, min_len=25, noise=1.0, n_train=4000, n_test=1000, hidden=32,
                              kind="gru", batch_size=100, steps=800, lr=5e-3, seed=0, device=None,
                              progress=False):
    """Train a :class:`SequenceClassifier` on variable-length frequency classification; score it on fresh data.

    Training and test sets are drawn with different seeds (``seed`` and ``seed + 1``). Returns a
    :class:`ClassificationResult`.
    """
    x, y = frequency_classification(n_train, T, n_classes, noise, seed=seed)
    x, lengths = variable_length(x, min_len, seed=seed)
    x_te, y_te = frequency_classification(n_test, T, n_classes, noise, seed=seed + 1)
    x_te, len_te = variable_length(x_te, min_len, seed=seed + 1)
    batches = [(x[i:i + batch_size], lengths[i:i + batch_size], y[i:i + batch_size])
               for i in range(0, n_train, batch_size)]
    torch.manual_seed(seed)
    model = SequenceClassifier(n_classes, hidden=hidden, kind=kind)

    def loss_fn(model, batch):
        xb, lb, yb = batch
        return F.cross_entropy(model(xb, lb), yb)

    history = fit(model, loss_fn, batches, lr=lr, steps=steps, epochs=-(-steps // len(batches)), clip=1.0,
                  device=device, progress=progress, desc=f"classifier {kind}")
    model.eval()
    with torch.no_grad():
        dev = next(model.parameters()).device
        pred = model(x_te.to(dev), len_te.to(dev)).argmax(1).cpu()
    acc = float((pred == y_te).float().mean())
    settings = dict(n_classes=n_classes, T=T, min_len=min_len, noise=noise, n_train=n_train, n_test=n_test,
                    hidden=hidden, kind=kind, batch_size=batch_size, steps=steps, lr=lr, seed=seed)
    return ClassificationResult(acc, 1.0 / n_classes, confusion_matrix(y_te, pred, n_classes), x_te, len_te,
                                y_te, pred, model, history, settings)
