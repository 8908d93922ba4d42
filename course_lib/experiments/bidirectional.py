"""Chapter 07 experiments: bidirectional RNNs, variable-length batches, depth, dropout between layers.

Every model is a :class:`course_lib.experiments.models.SequenceModel` over a :class:`course_lib.nn.GRU`
(one-hot symbols in, one prediction per step out), trained with :func:`course_lib.train.fit`.

- **Future context.** :func:`future_tagging_run` trains a forward-only, a forward-with-output-delay, or a
  bidirectional tagger on :func:`course_lib.data.future_tagging` and measures accuracy per position;
  :func:`forward_only_cap` is the best a forward-only tagger can do there.
- **Padding.** :func:`padded_future_tagging` builds a padded batch of sequences of different lengths;
  :func:`padding_gaps` measures how far a padded batch's outputs are from each sequence run alone, with and
  without ``lengths``; :func:`padding_run` trains a bidirectional tagger and evaluates it both ways.
- **Depth.** :func:`two_sided_xor` (label = the XOR of the tokens ``reach`` steps before and after) needs a
  nonlinear combination of past and future, which one bidirectional layer with a linear read-out cannot
  compute; :func:`depth_run` trains stacks of 1, 2, 3 ... bidirectional layers on it.
- **Dropout.** :func:`recurrent_dropout_survival` simulates what per-step dropout masks on the recurrent
  connection do to a stored state (vs one mask for the whole sequence); :func:`dropout_lm_run` trains a
  stacked character LM on a small slice of the corpus with and without dropout between layers.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.corpus import stream_batches
from ..data.tasks import future_tagging
from ..train import History, fit
from .models import SequenceModel
from .tasks import IGNORE, charlm_data, count_parameters, sequence_xent
from ..core.checks import count as _positive_int

__all__ = [
    "IGNORE", "MODES", "forward_only_cap", "padded_future_tagging", "two_sided_xor", "TagRun",
    "future_tagging_run", "padding_gaps", "padding_run", "accuracy_by_distance_from_end", "depth_run",
    "recurrent_dropout_survival", "LMRun", "dropout_lm_run",
]

MODES = ("forward", "delayed", "bidirectional")



def _device_of(model):
    return next(model.parameters()).device


# ----------------------------------------------------------------------------- tasks
def forward_only_cap(T, ahead, n_tokens):
    """The best expected accuracy of a forward-only tagger on ``future_tagging(T=T, ahead=ahead, ...)``.

    At the last ``ahead`` steps the future token is 0 and the label is ``x_t`` (exact); everywhere else the
    label depends on a token not yet read, uniform over ``n_tokens`` values: ``((T - a) / K + a) / T``.
    """
    T, ahead, n_tokens = _positive_int(T, "T"), _positive_int(ahead, "ahead"), _positive_int(n_tokens, "n_tokens", 2)
    known = min(ahead, T)
    return ((T - known) / n_tokens + known) / T


def padded_future_tagging(n, max_len=20, min_len=5, n_tokens=4, ahead=3, seed=0):
    """Sequences of random lengths in ``[min_len, max_len]``, each a :func:`course_lib.data.future_tagging`
    sequence of its own length (so "past the end counts as 0" holds at each sequence's own end), padded.

    Returns ``x`` ``(n, max_len)`` int64 with the pad symbol ``n_tokens`` after each sequence, ``y``
    ``(n, max_len)`` with :data:`IGNORE` at padded steps, and ``lengths`` ``(n,)`` int64.
    """
    n, max_len = _positive_int(n, "n"), _positive_int(max_len, "max_len")
    min_len = _positive_int(min_len, "min_len")
    if min_len > max_len:
        raise ValueError(f"min_len must be <= max_len; got min_len={min_len}, max_len={max_len}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    x = torch.full((n, max_len), n_tokens, dtype=torch.int64)
    y = torch.full((n, max_len), IGNORE, dtype=torch.int64)
    for L in np.unique(lengths):                        # one generator call per distinct length
        rows = np.flatnonzero(lengths == L)
        xs, ys = future_tagging(len(rows), int(L), n_tokens, ahead, seed=int(rng.integers(2**31)))
        x[rows, :L], y[rows, :L] = xs, ys
    return x, y, torch.from_numpy(lengths.astype(np.int64))


def two_sided_xor(n, T=20, reach=2, seed=0):
    """Tagging that needs past *and* future at once: ``y_t = x_{t - reach} XOR x_{t + reach}`` on random
    bits (the tokens of :func:`course_lib.data.future_tagging` with two symbols; a token outside the
    sequence counts as 0). Returns ``x``, ``y``, both ``(n, T)`` int64.
    """
    reach = _positive_int(reach, "reach")
    x, _ = future_tagging(n, T, 2, 1, seed=seed)
    pad = torch.zeros(x.shape[0], reach, dtype=torch.int64)
    xp = torch.cat([pad, x, pad], dim=1)
    return x, xp[:, :T] ^ xp[:, 2 * reach:]


# ----------------------------------------------------------------------------- training a tagger
@dataclass
class TagRun:
    """A trained tagger and how well it tags held-out sequences.

    ``accuracy`` over all (unpadded) steps; ``per_position`` accuracy at each time step; ``params``,
    ``seconds`` (wall time of training), the ``history`` of :func:`course_lib.train.fit` and the ``model``.
    """
    name: str
    accuracy: float
    per_position: np.ndarray = field(repr=False)
    params: int
    seconds: float
    history: History = field(repr=False, default=None)
    model: torch.nn.Module = field(repr=False, default=None)


def _tag_loss(delay=0, use_lengths=True):
    def loss(model, batch):
        x, y, *rest = batch
        lengths = rest[0] if rest and use_lengths else None
        return sequence_xent(model(x, lengths=lengths)[:, delay:], y)
    return loss


def _predict(model, x, lengths=None, delay=0):
    model.eval()
    with torch.no_grad():
        dev = _device_of(model)
        return model(x.to(dev), lengths=lengths).argmax(-1)[:, delay:].cpu()


def _accuracy(pred, y):
    ok = y != IGNORE
    per_position = ((pred == y) & ok).sum(0).double() / ok.sum(0).clamp(min=1)
    return float((pred[ok] == y[ok]).double().mean()), per_position.numpy()


def _fit(model, loss, batches, steps, lr, device, progress, desc):
    t0 = time.perf_counter()
    hist = fit(model, loss, batches, lr=lr, steps=steps, clip=1.0, device=device, progress=progress, desc=desc)
    return hist, time.perf_counter() - t0


def _delay_inputs(x, delay, pad):
    """Append ``delay`` pad symbols so that a forward tagger can emit label ``t`` at step ``t + delay``."""
    return x if delay == 0 else torch.cat([x, torch.full((x.shape[0], delay), pad, dtype=x.dtype)], dim=1)


def future_tagging_run(mode, T=20, n_tokens=4, ahead=3, hidden=32, delay=None, steps=300, batch=64, lr=1e-2,
                       seed=0, device=None, progress=False):
    """Train a GRU tagger on :func:`course_lib.data.future_tagging` and test it on 1,000 fresh sequences.

    ``mode``: ``"forward"`` (one direction), ``"delayed"`` (one direction, label ``t`` read at step ``t + delay``
    from inputs padded with ``delay`` pad symbols, ``delay`` defaults to ``ahead``), ``"bidirectional"``
    (Schuster & Paliwal 1997). Returns a :class:`TagRun`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    delay = (ahead if delay is None else _positive_int(delay, "delay", 0)) if mode == "delayed" else 0
    torch.manual_seed(seed)
    model = SequenceModel("gru", n_tokens + 1, hidden, n_tokens, one_hot=True, bidirectional=mode == "bidirectional")
    data = []
    for i in range(_positive_int(steps, "steps")):
        x, y = future_tagging(batch, T, n_tokens, ahead, seed=seed * 100_003 + i)
        data.append((_delay_inputs(x, delay, n_tokens), y))
    hist, seconds = _fit(model, _tag_loss(delay), data, steps, lr, device, progress, f"tagging {mode}")
    x, y = future_tagging(1000, T, n_tokens, ahead, seed=10**6 + seed)
    acc, per_pos = _accuracy(_predict(model, _delay_inputs(x, delay, n_tokens), delay=delay), y)
    name = {"forward": "forward only", "delayed": f"forward, delay {delay}", "bidirectional": "bidirectional"}[mode]
    return TagRun(name, acc, per_pos, count_parameters(model), seconds, hist, model)


# ----------------------------------------------------------------------------- padding
def padding_gaps(rnn, x, lengths):
    """How far a padded batch's outputs are from each sequence run alone, per direction.

    ``rnn``: a bidirectional one-layer :class:`course_lib.nn.GRU` (or any ``course_lib.nn`` layer, or torch's
    with ``lengths`` unsupported: then only the no-``lengths`` numbers are meaningful), ``batch_first=True``;
    ``x`` ``(batch, time, features)``, ``lengths`` ``(batch,)``. Returns ``{"padded": (fwd, bwd),
    "lengths": (fwd, bwd)}``: the largest absolute difference over the real steps of every sequence between
    its outputs in the batch (run without / with ``lengths``) and its outputs when run alone, for the forward
    half and the backward half of the features; plus ``"h_n"``: the same for the final states.
    """
    if not getattr(rnn, "bidirectional", False) or not rnn.batch_first:
        raise ValueError("rnn must be bidirectional with batch_first=True; got "
                         f"bidirectional={getattr(rnn, 'bidirectional', None)}, "
                         f"batch_first={getattr(rnn, 'batch_first', None)}")
    lengths = torch.as_tensor(lengths)
    if x.dim() != 3 or lengths.shape != (x.shape[0],):
        raise ValueError(f"x must be (batch, time, features) and lengths (batch,); got {tuple(x.shape)} and "
                         f"{tuple(lengths.shape)}")
    H = rnn.hidden_size
    gaps = {"padded": [0.0, 0.0], "lengths": [0.0, 0.0], "h_n": {"padded": 0.0, "lengths": 0.0}}
    with torch.no_grad():
        batched = {"padded": rnn(x), "lengths": rnn(x, lengths=lengths)}
        for b, L in enumerate(lengths.tolist()):
            alone, h_alone = rnn(x[b:b + 1, :L])
            for how, (out, h_n) in batched.items():
                diff = (out[b:b + 1, :L] - alone).abs()
                gaps[how][0] = max(gaps[how][0], float(diff[..., :H].max()))
                gaps[how][1] = max(gaps[how][1], float(diff[..., H:].max()))
                gaps["h_n"][how] = max(gaps["h_n"][how], float((h_n[:, b] - h_alone[:, 0]).abs().max()))
    return {"padded": tuple(gaps["padded"]), "lengths": tuple(gaps["lengths"]), "h_n": gaps["h_n"]}


def accuracy_by_distance_from_end(pred, y, lengths, max_distance=None):
    """Accuracy at the steps ``d = 0, 1, ...`` before each sequence's own end (``d = 0``: its last step)."""
    lengths = torch.as_tensor(lengths)
    D = int(lengths.max()) if max_distance is None else _positive_int(max_distance, "max_distance")
    acc = np.full(D, np.nan)
    for d in range(D):
        rows = torch.nonzero(lengths > d).flatten()
        if len(rows):
            t = lengths[rows] - 1 - d
            acc[d] = float((pred[rows, t] == y[rows, t]).double().mean())
    return acc


def padding_run(train_with_lengths=True, max_len=20, min_len=5, n_tokens=4, ahead=3, hidden=32, steps=300,
                batch=64, lr=1e-2, seed=0, device=None, progress=False):
    """Train a bidirectional GRU tagger on padded variable-length batches, with or without ``lengths``.

    Returns ``(run, evaluation)``: a :class:`TagRun` (accuracy with ``lengths`` at test time) and a dict
    ``{"lengths": (accuracy, by distance from end), "padded": (...)}`` for 1,000 fresh padded sequences
    tagged with and without ``lengths``.
    """
    torch.manual_seed(seed)
    model = SequenceModel("gru", n_tokens + 1, hidden, n_tokens, one_hot=True, bidirectional=True)
    data = [padded_future_tagging(batch, max_len, min_len, n_tokens, ahead, seed=seed * 100_003 + i)
            for i in range(_positive_int(steps, "steps"))]
    desc = "padded, " + ("with lengths" if train_with_lengths else "no lengths")
    hist, seconds = _fit(model, _tag_loss(use_lengths=train_with_lengths), data, steps, lr, device, progress, desc)
    x, y, lengths = padded_future_tagging(1000, max_len, min_len, n_tokens, ahead, seed=10**6 + seed)
    evaluation = {}
    for how, lens in (("lengths", lengths), ("padded", None)):
        pred = _predict(model, x, lengths=lens)
        evaluation[how] = (_accuracy(pred, y)[0], accuracy_by_distance_from_end(pred, y, lengths))
    acc, per_pos = _accuracy(_predict(model, x, lengths=lengths), y)
    run = TagRun(f"bidirectional, trained {'with' if train_with_lengths else 'without'} lengths", acc, per_pos,
                 count_parameters(model), seconds, hist, model)
    return run, evaluation


# ----------------------------------------------------------------------------- depth
def depth_run(num_layers, T=20, reach=2, hidden=24, steps=300, batch=64, lr=1e-2, dropout=0.0, seed=0,
              device=None, progress=False):
    """Train a stack of ``num_layers`` bidirectional GRU layers on :func:`two_sided_xor`; test on 1,000
    fresh sequences. Returns a :class:`TagRun` (``seconds``: wall time of training)."""
    num_layers = _positive_int(num_layers, "num_layers")
    torch.manual_seed(seed)
    model = SequenceModel("gru", 2, hidden, 2, one_hot=True, bidirectional=True, num_layers=num_layers,
                          dropout=dropout)
    data = [two_sided_xor(batch, T, reach, seed=seed * 100_003 + i) for i in range(_positive_int(steps, "steps"))]
    hist, seconds = _fit(model, _tag_loss(), data, steps, lr, device, progress, f"{num_layers} layer(s)")
    x, y = two_sided_xor(1000, T, reach, seed=10**6 + seed)
    acc, per_pos = _accuracy(_predict(model, x), y)
    return TagRun(f"{num_layers} layer{'s' if num_layers > 1 else ''}", acc, per_pos, count_parameters(model),
                  seconds, hist, model)


# ----------------------------------------------------------------------------- dropout
def recurrent_dropout_survival(p, steps=50, n_units=10_000, variational=False, seed=0):
    """What dropout on the recurrent connection does to a stored state, simulated.

    Every unit holds the value 1 and the recurrence only copies it, ``h_t = m_t * h_{t-1} / (1 - p)``, with a
    dropout mask ``m_t`` (each entry 0 with probability ``p``): a fresh mask every step (naive), or one mask
    drawn once for the whole sequence (``variational=True``, Gal & Ghahramani 2016). Returns the fraction of
    units still holding their value after ``k = 0 .. steps`` steps (naive: ``(1 - p)^k``; variational:
    ``1 - p`` for every ``k >= 1``).
    """
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1); got {p!r}")
    steps, n_units = _positive_int(steps, "steps"), _positive_int(n_units, "n_units")
    rng = np.random.default_rng(seed)
    h = np.ones(n_units)
    alive = [1.0]
    mask = rng.random(n_units) >= p
    for _ in range(steps):
        if not variational:
            mask = rng.random(n_units) >= p
        h = h * mask / (1 - p)
        alive.append(float(np.mean(h != 0)))
    return np.array(alive)


@dataclass
class LMRun:
    """A stacked character LM's learning curves: bits per character on a slice of its own training text
    (``train``) and on held-out text (``val``), both in eval mode (no dropout), every ``eval_every`` steps."""
    dropout: float
    num_layers: int
    hidden: int
    params: int
    steps: list
    train: list
    val: list
    seconds: float

    @property
    def gap(self):
        """Held-out minus training bits per character at the end: how much the model overfits."""
        return self.val[-1] - self.train[-1]


def dropout_lm_run(dropout, n_chars=12_000, val_fraction=0.2, num_layers=2, hidden=128, seq_len=32, batch=32,
                   steps=300, lr=5e-3, eval_every=50, seed=0, device=None, progress=False):
    """Train a ``num_layers`` GRU character LM with ``dropout`` between layers on the first ``n_chars``
    characters of the corpus (small on purpose, so that it overfits). Returns an :class:`LMRun`."""
    vocab, train, val = charlm_data(n_chars, val_fraction)
    V = len(vocab)
    torch.manual_seed(seed)
    model = SequenceModel("gru", V, hidden, V, one_hot=True, num_layers=num_layers, dropout=dropout)
    chunks = lambda ids: next(iter(stream_batches(ids, len(ids) // (seq_len + 1), seq_len)))
    sets = {"val": chunks(val), "train": chunks(train[: len(val)])}

    def bits(m, xy):
        x, y = (t.to(_device_of(m)) for t in xy)
        return float(sequence_xent(m(x), y)) / math.log(2)

    epoch = itertools.count()
    t0 = time.perf_counter()
    hist = fit(model, lambda m, b: sequence_xent(m(b[0]), b[1]),
               lambda: stream_batches(train, batch, seq_len, seed=seed * 1000 + next(epoch)), lr=lr, steps=steps,
               clip=1.0, eval_fn=lambda m: {k: bits(m, v) for k, v in sets.items()}, eval_every=eval_every,
               device=device, progress=progress, desc=f"LM, dropout {dropout}")
    seconds = time.perf_counter() - t0
    return LMRun(dropout, num_layers, hidden, count_parameters(model), list(hist.eval_steps),
                 hist.metrics["train"], hist.metrics["val"], seconds)
