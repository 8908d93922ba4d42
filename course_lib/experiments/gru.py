"""Chapter 06 experiments: the GRU's two formulations, parameter budgets, RNN vs GRU vs LSTM side by side.

**Two GRUs.** :func:`cho_gru_step` is the step of Cho et al. (2014), where the reset gate multiplies the
state *before* the matrix product, ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``; torch (and
:func:`course_lib.nn.gru_step`, book eq. `eq-gru-n`) apply it *after*, ``r * (W_hn h + b_hn)``.
:class:`ChoGRU` runs the paper's step over a sequence with torch's parameter names, so one state_dict
drives both and the difference is only where ``r`` sits.

**Budgets.** :func:`recurrent_parameters` counts a recurrent layer's parameters from its shapes,
:func:`model_parameters` adds the linear read-out, :func:`hidden_for_budget` picks the hidden size whose
model comes closest to a parameter budget (what "equal parameter budgets" means in the comparisons).

**Side by side.** :class:`SequenceModel` (a recurrent layer of :mod:`course_lib.nn` + a linear read-out)
trained with :func:`course_lib.train.fit` on three tasks, each run returning a :class:`Run`:
:func:`adding_run` (MSE vs the 1/6 of predicting 1), :func:`copy_run` (cross-entropy vs
:func:`course_lib.data.copy_memory_baseline`) and :func:`charlm_run` (validation bits per character vs
the unigram entropy, :func:`unigram_bits_per_char`).
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn as cnn
from .. import ref
from ..data.corpus import Vocab, load_corpus, stream_batches, train_val_split
from ..data.tasks import adding_problem, copy_memory, copy_memory_baseline
from ..train import History, fit
from ..core.checks import count as _positive_int

__all__ = [
    "KINDS", "GATES", "cho_gru_step", "ChoGRU", "recurrent_parameters", "model_parameters", "count_parameters",
    "hidden_for_budget", "SequenceModel", "Run", "adding_run", "copy_run", "charlm_run", "charlm_data",
    "unigram_bits_per_char", "ADDING_BASELINE", "RUNNERS", "side_by_side", "results_table", "gru_gates",
]

KINDS = ("rnn", "gru", "lstm", "cho-gru")
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "cho-gru": 3}
ADDING_BASELINE = 1.0 / 6.0          # MSE of always predicting 1 (the mean of the target): Var(U + U) = 1/6


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return kind



# ----------------------------------------------------------------------------- the paper's GRU
def cho_gru_step(xw_t, h, w_hh, b_hh):
    """One GRU step in Cho et al. (2014)'s formulation, with torch's parameter layout (gates r, z, n).

    ``xw_t = W_ih x_t + b_ih`` ``(batch, 3 * hidden)``; ``h`` ``(batch, hidden)``; ``w_hh`` ``(3 * hidden,
    hidden)``; ``b_hh`` ``(3 * hidden,)`` or ``None``. ``r`` and ``z`` as in book eqs. `eq-gru-r`, `eq-gru-z`;
    the candidate differs from book eq. `eq-gru-n` in where the reset gate sits::

        n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)       (paper)   vs   ... + r * (W_hn h + b_hn)  (torch)

    so the step needs **two** dependent matrix products (``r`` must be known before ``W_hn (r * h)``).
    ``h' = (1 - z) * n + z * h`` (book eq. `eq-gru-h`). Returns ``h'`` ``(batch, hidden)``.
    """
    H = h.shape[-1]
    if xw_t.shape[-1] != 3 * H or w_hh.shape != (3 * H, H):
        raise ValueError(f"cho_gru_step: xw_t must be (batch, {3 * H}) and w_hh ({3 * H}, {H}) for hidden {H}; "
                         f"got {tuple(xw_t.shape)} and {tuple(w_hh.shape)}")
    b_rz, b_n = (None, None) if b_hh is None else (b_hh[: 2 * H], b_hh[2 * H:])
    x_rz, x_n = xw_t[..., : 2 * H], xw_t[..., 2 * H:]
    r, z = torch.sigmoid(x_rz + F.linear(h, w_hh[: 2 * H], b_rz)).chunk(2, dim=-1)   # eq-gru-r, eq-gru-z
    n = torch.tanh(x_n + F.linear(r * h, w_hh[2 * H:], b_n))    # the paper: reset *before* the 2nd product
    return (1 - z) * n + z * h                               # eq-gru-h


class ChoGRU(cnn.GRU):
    """A one-layer, one-direction GRU in Cho et al. (2014)'s formulation (see :func:`cho_gru_step`).

    It *is* a :class:`course_lib.nn.GRU` (same constructor, parameter names ``weight_ih_l0`` ... and shapes,
    so ``load_state_dict`` moves weights between it, ``course_lib.nn.GRU`` and ``torch.nn.GRU``), whose
    forward runs the paper's step in a readable Python loop under autograd.
    ``forward(x, h0=None) -> (out, h_n)`` with torch's shapes; ``lengths`` is not supported.
    """

    def __init__(self, input_size, hidden_size, bias=True, batch_first=False, device=None, dtype=None):
        super().__init__(input_size, hidden_size, 1, bias, batch_first, 0.0, False, device, dtype, "loop")

    def forward(self, x, h0=None, lengths=None):
        if lengths is not None:
            raise NotImplementedError("ChoGRU does not support lengths=; pad-free batches only")
        self._check_input(x)
        xs = x if self.batch_first else x.transpose(0, 1)           # (batch, time, input)
        B = xs.shape[0]
        if h0 is None:
            h0 = xs.new_zeros(1, B, self.hidden_size)
        self._check_state(h0, "h0", B)
        w_ih, w_hh, b_ih, b_hh = self._params(0, "")                  # biases are None with bias=False
        xw = F.linear(xs, w_ih, b_ih)                                  # all steps: one matrix product
        h, outs = h0[0], []
        for xw_t in xw.unbind(1):
            h = cho_gru_step(xw_t, h, w_hh, b_hh)
            outs.append(h)
        out = torch.stack(outs, dim=1)
        return (out if self.batch_first else out.transpose(0, 1)), h.unsqueeze(0)


# ----------------------------------------------------------------------------- parameter budgets
def recurrent_parameters(kind, input_size, hidden, num_layers=1, bidirectional=False, bias=True):
    """Parameters of a recurrent layer, from torch's shapes: ``G * hidden * (input + hidden) + 2 * G * hidden``
    per layer and direction (``G`` = 1 RNN, 3 GRU, 4 LSTM; later layers read ``D * hidden`` inputs)."""
    G = GATES[_kind(kind)]
    input_size, hidden, num_layers = (_positive_int(v, n) for v, n in
                                      ((input_size, "input_size"), (hidden, "hidden"), (num_layers, "num_layers")))
    D = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        layer_in = input_size if layer == 0 else D * hidden
        total += D * (G * hidden * (layer_in + hidden) + (2 * G * hidden if bias else 0))
    return total


def model_parameters(kind, input_size, hidden, output_size, **layer_kwargs):
    """:func:`recurrent_parameters` plus a linear read-out ``hidden -> output_size`` (weights and bias)."""
    D = 2 if layer_kwargs.get("bidirectional") else 1
    return recurrent_parameters(kind, input_size, hidden, **layer_kwargs) + (D * hidden + 1) * output_size


def count_parameters(module):
    """The number of trainable scalars in a ``torch.nn.Module`` (to check the formulas above)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def hidden_for_budget(kind, input_size, output_size, budget, **layer_kwargs):
    """The hidden size whose :func:`model_parameters` is closest to ``budget`` (ties: the smaller size)."""
    budget = _positive_int(budget, "budget")
    best, best_gap, hidden = 1, math.inf, 1
    while True:
        n = model_parameters(kind, input_size, hidden, output_size, **layer_kwargs)
        gap = abs(n - budget)
        if gap < best_gap:
            best, best_gap = hidden, gap
        if n > budget:
            return best
        hidden += 1


# ----------------------------------------------------------------------------- the model
class SequenceModel(torch.nn.Module):
    """A recurrent layer of kind ``"rnn"`` / ``"gru"`` / ``"lstm"`` (:mod:`course_lib.nn`, batch first) or
    ``"cho-gru"`` (:class:`ChoGRU`) and a linear read-out.

    ``x``: ``(batch, time, input_size)`` floats, or ``(batch, time)`` int ids when ``one_hot=True`` (then
    ``input_size`` is the number of symbols). Returns ``(batch, time, output_size)`` with ``per_step=True``,
    else ``(batch, output_size)`` read from the last step (many-to-one). ``num_layers``, ``dropout``
    (between layers) and ``bidirectional`` go to the recurrent layer (the read-out then sees
    ``2 * hidden`` features); ``forward(x, lengths=None)`` passes ``lengths`` on.
    """

    def __init__(self, kind, input_size, hidden, output_size, per_step=True, one_hot=False, num_layers=1,
                 dropout=0.0, bidirectional=False):
        super().__init__()
        self.kind, self.input_size, self.per_step, self.one_hot = _kind(kind), input_size, per_step, one_hot
        if kind == "cho-gru":
            if num_layers != 1 or dropout or bidirectional:
                raise ValueError("cho-gru is one layer, one direction: num_layers=1, dropout=0, "
                                 f"bidirectional=False; got {num_layers}, {dropout}, {bidirectional}")
            self.rnn = ChoGRU(input_size, hidden, batch_first=True)
        else:
            layer = {"rnn": cnn.RNN, "gru": cnn.GRU, "lstm": cnn.LSTM}[kind]
            self.rnn = layer(input_size, hidden, num_layers=num_layers, dropout=dropout,
                             bidirectional=bidirectional, batch_first=True)
        self.out = torch.nn.Linear(hidden * (2 if bidirectional else 1), output_size)

    def forward(self, x, lengths=None):
        if self.one_hot:
            if x.dtype != torch.int64 or x.dim() != 2:
                raise ValueError(f"x must be int64 ids (batch, time) with one_hot=True; got {x.dtype} "
                                 f"{tuple(x.shape)}")
            x = F.one_hot(x, self.input_size).float()
        h, _ = self.rnn(x) if lengths is None else self.rnn(x, lengths=lengths)
        return self.out(h if self.per_step else h[:, -1])


# ----------------------------------------------------------------------------- runs
@dataclass
class Run:
    """One training run: the model's kind and size, its metric beside the task's baseline, wall time.

    ``curve_steps``/``curve``: the metric on a held-out validation set during training (every ``eval_every``
    steps and at the end); ``value`` is the best entry (what early stopping would keep: one unlucky last
    step does not decide the comparison), ``final`` the last.
    """
    task: str
    kind: str
    hidden: int
    params: int
    metric: str
    value: float
    baseline: float
    seconds: float
    curve_steps: list = field(default_factory=list, repr=False)
    curve: list = field(default_factory=list, repr=False)
    history: History = field(default=None, repr=False)
    model: torch.nn.Module = field(default=None, repr=False)

    @property
    def final(self):
        """The metric after the last training step."""
        return self.curve[-1]

    @property
    def ratio(self):
        """``value / baseline``: below 1 the model learned something a memoryless model cannot."""
        return self.value / self.baseline


def _train(task, kind, model, loss_fn, batches, evaluate, metric, baseline, steps, lr, clip, eval_every, seed,
           device, progress):
    """Train with :func:`course_lib.train.fit`, evaluating ``evaluate(model)`` on held-out data as it goes."""
    steps = _positive_int(steps, "steps")
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    hist = fit(model, loss_fn, batches, lr=lr, steps=steps, clip=clip, eval_fn=lambda m: {metric: evaluate(m)},
               eval_every=eval_every, device=device, progress=progress, desc=f"{task} {kind}")
    seconds = time.perf_counter() - t0
    curve = hist.metrics[metric]
    return Run(task, kind, model.rnn.hidden_size, count_parameters(model), metric, min(curve), baseline, seconds,
               list(hist.eval_steps), list(curve), hist, model.eval())


def _device_of(model):
    return next(model.parameters()).device


def adding_run(kind, T=30, budget=6000, steps=500, batch=64, lr=1e-2, clip=1.0, eval_every=25, seed=0,
               device=None, progress=False):
    """Train a many-to-one ``kind`` model within ``budget`` parameters on the adding problem of length ``T``.

    Returns a :class:`Run` whose ``value`` is the best validation MSE (1,000 fresh sequences) and ``baseline`` 1/6.
    """
    hidden = hidden_for_budget(kind, 2, 1, budget)
    torch.manual_seed(seed)
    model = SequenceModel(kind, 2, hidden, 1, per_step=False)
    data = [adding_problem(batch, T, seed=seed * 100_003 + i) for i in range(steps)]
    x_val, y_val = adding_problem(1000, T, seed=10**6 + seed)

    def evaluate(m):
        return float(F.mse_loss(m(x_val.to(_device_of(m))), y_val.to(_device_of(m))))

    return _train("adding", kind, model, lambda m, b: F.mse_loss(m(b[0]), b[1]), data, evaluate, "MSE",
                  ADDING_BASELINE, steps, lr, clip, eval_every, seed, device, progress)


def copy_run(kind, T=10, budget=6000, steps=500, batch=64, lr=1e-2, clip=1.0, eval_every=25, seed=0,
             device=None, progress=False):
    """Train a many-to-many ``kind`` model within ``budget`` parameters on copy memory with ``T`` blanks.

    Returns a :class:`Run` whose ``value`` is the best validation cross-entropy per step in nats (500 fresh
    sequences) and ``baseline`` ``10 log 8 / (T + 20)`` (:func:`course_lib.data.copy_memory_baseline`).
    """
    hidden = hidden_for_budget(kind, 10, 9, budget)
    torch.manual_seed(seed)
    model = SequenceModel(kind, 10, hidden, 9, per_step=True, one_hot=True)
    data = [copy_memory(batch, T, seed=seed * 100_003 + i) for i in range(steps)]
    x_val, y_val = copy_memory(500, T, seed=10**6 + seed)

    def xent(m, x, y):
        return F.cross_entropy(m(x).flatten(0, 1), y.flatten())

    def evaluate(m):
        return float(xent(m, x_val.to(_device_of(m)), y_val.to(_device_of(m))))

    return _train("copy", kind, model, lambda m, b: xent(m, *b), data, evaluate, "cross-entropy",
                  copy_memory_baseline(T), steps, lr, clip, eval_every, seed, device, progress)


def unigram_bits_per_char(train_ids, val_ids, vocab_size):
    """Bits per character on ``val_ids`` of the unigram model fitted on ``train_ids`` (add-one smoothing):
    what a model that ignores all context achieves, the baseline of a character LM."""
    counts = torch.bincount(torch.as_tensor(train_ids), minlength=vocab_size).double() + 1
    logp = torch.log2(counts / counts.sum())
    return float(-logp[torch.as_tensor(val_ids)].mean())


def charlm_data(n_chars=200_000, val_fraction=0.1):
    """The first ``n_chars`` characters of the shipped corpus as ``(vocab, train_ids, val_ids)``
    (vocabulary from the whole corpus, so every chapter's ids agree)."""
    text = load_corpus()
    vocab = Vocab(text)
    ids = vocab.encode(text[:_positive_int(n_chars, "n_chars")])
    train, val = train_val_split(ids, val_fraction)
    return vocab, train, val


def charlm_run(kind, budget=30_000, n_chars=200_000, seq_len=64, steps=250, batch=32, lr=5e-3, clip=1.0,
               eval_every=25, seed=0, device=None, progress=False):
    """Train a one-hot character LM of ``kind`` within ``budget`` parameters on a slice of the corpus.

    Each batch is ``batch`` windows of ``seq_len`` characters, started from a zero state. Returns a
    :class:`Run` whose ``value`` is the best validation bits per character and ``baseline`` the unigram's.
    """
    vocab, train, val = charlm_data(n_chars)
    V = len(vocab)
    hidden = hidden_for_budget(kind, V, V, budget)
    torch.manual_seed(seed)
    model = SequenceModel(kind, V, hidden, V, per_step=True, one_hot=True)
    epoch = itertools.count()                                               # new cuts every epoch
    data = lambda: stream_batches(train, batch, seq_len, seed=seed * 1000 + next(epoch))
    val_x, val_y = next(iter(stream_batches(val, len(val) // (seq_len + 1), seq_len)))

    def nats(m, x, y):
        return F.cross_entropy(m(x).flatten(0, 1), y.flatten())

    def evaluate(m):
        return float(nats(m, val_x.to(_device_of(m)), val_y.to(_device_of(m)))) / math.log(2)

    return _train("char LM", kind, model, lambda m, b: nats(m, *b), data, evaluate, "bits/char",
                  unigram_bits_per_char(train, val, V), steps, lr, clip, eval_every, seed, device, progress)


# ----------------------------------------------------------------------------- all of it
RUNNERS = {"adding": adding_run, "copy": copy_run, "char LM": charlm_run}


def side_by_side(tasks=("adding", "copy", "char LM"), kinds=("rnn", "gru", "lstm"), settings=None, seed=0,
                 device=None, progress=True):
    """Run every ``kind`` on every task (keys of :data:`RUNNERS`) at the task's parameter budget.

    ``settings``: optional ``{task: {keyword: value}}`` passed to that task's runner (e.g. ``T``, ``steps``);
    a task may also list its own kinds under ``"kinds"``. Returns ``{task: [Run, ...]}``, one tqdm bar over
    all runs.
    """
    from course_lib.progress import tqdm

    settings = dict(settings or {})
    unknown = sorted(set(tasks) - RUNNERS.keys()) + sorted(set(settings) - set(tasks))
    if unknown:
        raise ValueError(f"tasks and settings must name tasks among {sorted(RUNNERS)} (settings only for the "
                         f"tasks run); got {unknown}")
    plan = []
    for task in tasks:
        kw = dict(settings.get(task, {}))
        for kind in kw.pop("kinds", kinds):
            plan.append((task, _kind(kind), kw))
    out = {task: [] for task in tasks}
    with tqdm(plan, desc="runs", disable=not progress) as bar:
        for task, kind, kw in bar:
            bar.set_postfix_str(f"{task}: {kind}")
            out[task].append(RUNNERS[task](kind, seed=seed, device=device, **kw))
    return out


def results_table(runs_by_task):
    """The runs as a fixed-width text table: task, kind, hidden, parameters, metric, baseline, ratio."""
    lines = [f"{'task':<8} {'model':<8} {'hidden':>6} {'params':>7} {'metric':>14} {'value':>7} {'baseline':>8} "
             f"{'ratio':>6}"]
    for task, runs in runs_by_task.items():
        for r in runs:
            lines.append(f"{task:<8} {r.kind:<8} {r.hidden:>6} {r.params:>7,} {r.metric:>14} {r.value:>7.4f} "
                         f"{r.baseline:>8.4f} {r.ratio:>6.3f}")
    return "\n".join(lines)


def gru_gates(gru, x, h0=None):
    """The gates of a one-layer, one-direction GRU (torch's formulation) along ``x``, step by step.

    ``gru``: a :class:`course_lib.nn.GRU` or :class:`torch.nn.GRU` with ``batch_first=True``; ``x``:
    ``(batch, time, input)``. Runs :func:`course_lib.ref.gru_step_forward` (whose cache holds the gates) in
    float64 and returns a dict of ``(batch, time, hidden)`` arrays ``"r"``, ``"z"``, ``"n"``, ``"h"``
    (book eqs. `eq-gru-r`, `eq-gru-z`, `eq-gru-n`, `eq-gru-h`).
    """
    if getattr(gru, "num_layers", 1) != 1 or getattr(gru, "bidirectional", False) or not gru.batch_first:
        raise ValueError("gru must be a one-layer, one-direction GRU with batch_first=True; got "
                         f"num_layers={gru.num_layers}, bidirectional={gru.bidirectional}, "
                         f"batch_first={gru.batch_first}")
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != gru.input_size:
        raise ValueError(f"x must be a tensor (batch, time, {gru.input_size}); got "
                         f"{tuple(x.shape) if hasattr(x, 'shape') else type(x).__name__}")
    p = {k: v.detach().cpu().double().numpy() for k, v in gru.state_dict().items()}
    xs = x.detach().cpu().double().numpy()
    h = np.zeros((xs.shape[0], gru.hidden_size)) if h0 is None else np.asarray(h0, dtype=np.float64)
    xp = xs @ p["weight_ih_l0"].T + p["bias_ih_l0"]                 # all input projections at once
    keep = {k: [] for k in "rznh"}
    for t in range(xs.shape[1]):
        h, (_, r, z, n, _, _) = ref.gru_step_forward(xp[:, t], h, p["weight_hh_l0"], p["bias_hh_l0"])
        for k, v in zip("rznh", (r, z, n, h)):
            keep[k].append(v)
    return {k: np.stack(v, axis=1) for k, v in keep.items()}
