"""Chapter 06 experiments: the GRU's two formulations, parameter budgets, RNN vs GRU vs LSTM side by side.

**Two GRUs.** :func:`cho_gru_step` is the step of Cho et al. (2014), where the reset gate multiplies the
state *before* the matrix product, ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``; torch (and
:func:`course_lib.nn.gru_step`, book eq. `eq-gru-n`) apply it *after*, ``r * (W_hn h + b_hn)``.
:class:`ChoGRU` runs the paper's step over a sequence with torch's parameter names, so one state_dict
drives both and the difference is only where ``r`` sits.

**Budgets** come from :mod:`course_lib.experiments.tasks` (:func:`~.tasks.recurrent_parameters`,
:func:`~.tasks.model_parameters`, :func:`~.tasks.hidden_for_budget`: "equal parameter budgets").

**Side by side.** :func:`sequence_model` (a :class:`~course_lib.experiments.models.SequenceModel` whose core
may also be :class:`ChoGRU`) trained with :func:`course_lib.train.fit` on three tasks, each configured by a
:class:`TaskConfig` and returning a :class:`Run`: :func:`adding_run` (MSE vs the 1/6 of predicting 1),
:func:`copy_run` (cross-entropy vs :func:`course_lib.data.copy_memory_baseline`) and :func:`charlm_run`
(validation bits per character vs the unigram entropy).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn as cnn
from .. import ref
from ..data.corpus import stream_batches
from ..data.tasks import copy_memory, copy_memory_baseline
from ..train import History, fit
from .models import SequenceModel
from .tasks import (ADDING_BASELINE, AddingConfig, charlm_data, count_parameters, hidden_for_budget, sequence_xent,
                    train_adding, unigram_bits_per_char)

__all__ = [
    "KINDS", "cho_gru_step", "ChoGRU", "sequence_model", "Run", "TaskConfig", "TASKS", "adding_run", "copy_run",
    "charlm_run", "RUNNERS", "side_by_side", "results_table", "gru_gates",
]

KINDS = ("rnn", "gru", "lstm", "cho-gru")


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


# ----------------------------------------------------------------------------- the models
def sequence_model(kind, input_size, hidden, output_size, **kwargs):
    """A :class:`~course_lib.experiments.models.SequenceModel` whose core is ``kind``: ``"rnn"``, ``"gru"``,
    ``"lstm"`` (:mod:`course_lib.nn`) or ``"cho-gru"`` (:class:`ChoGRU`, one layer, one direction)."""
    core = ChoGRU if _kind(kind) == "cho-gru" else kind
    return SequenceModel(core, input_size, hidden, output_size, **kwargs)


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


@dataclass(frozen=True)
class TaskConfig:
    """One task of the comparison: sequence length ``T`` (adding: steps; copy: blanks; char LM: window), the
    parameter ``budget``, ``steps`` Adam updates of ``batch`` sequences at ``lr``, clipping at ``clip``, the
    held-out metric every ``eval_every`` steps, and ``n_chars`` of corpus for the character LM."""
    T: int
    budget: int
    steps: int = 500
    batch: int = 64
    lr: float = 1e-2
    clip: float = 1.0
    eval_every: int = 25
    n_chars: int = 200_000

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


TASKS = {"adding": TaskConfig(T=30, budget=6000), "copy": TaskConfig(T=10, budget=6000),
         "char LM": TaskConfig(T=64, budget=30_000, steps=250, batch=32, lr=5e-3)}


def _device_of(model):
    return next(model.parameters()).device


def _run(task, kind, model, baseline, metric, hist, seconds, key=None):
    curve = hist.metrics[key or metric]
    return Run(task, kind, model.rnn.hidden_size, count_parameters(model), metric, min(curve), baseline, seconds,
               list(hist.eval_steps), list(curve), hist, model.eval())


def _fit(task, kind, model, loss_fn, batches, evaluate, metric, cfg, device, progress):
    """Train with :func:`course_lib.train.fit`, evaluating ``evaluate(model)`` on held-out data as it goes."""
    t0 = time.perf_counter()
    hist = fit(model, loss_fn, batches, lr=cfg.lr, steps=cfg.steps, clip=cfg.clip,
               eval_fn=lambda m: {metric: evaluate(m)}, eval_every=cfg.eval_every, device=device,
               progress=progress, desc=f"{task} {kind}")
    return hist, time.perf_counter() - t0


def adding_run(kind, cfg=TASKS["adding"], seed=0, device=None, progress=False):
    """Train a many-to-one ``kind`` model within ``cfg.budget`` parameters on the adding problem of length
    ``cfg.T`` (:func:`course_lib.experiments.tasks.train_adding`). Returns a :class:`Run` whose ``value`` is the
    best validation MSE (1,000 fresh sequences) and ``baseline`` 1/6."""
    hidden = hidden_for_budget(kind, 2, 1, cfg.budget)
    torch.manual_seed(seed)
    model = sequence_model(kind, 2, hidden, 1, per_step=False)
    run = train_adding(model, AddingConfig(T=cfg.T, steps=cfg.steps, batch_size=cfg.batch, lr=cfg.lr, clip=cfg.clip,
                                           eval_every=cfg.eval_every, seed=seed),
                       device=device, progress=progress, desc=f"adding {kind}")
    return _run("adding", kind, model, ADDING_BASELINE, "MSE", run.history, run.seconds, key="val_mse")


def copy_run(kind, cfg=TASKS["copy"], seed=0, device=None, progress=False):
    """Train a many-to-many ``kind`` model within ``cfg.budget`` parameters on copy memory with ``cfg.T`` blanks.

    Returns a :class:`Run` whose ``value`` is the best validation cross-entropy per step in nats (500 fresh
    sequences) and ``baseline`` ``10 log 8 / (T + 20)`` (:func:`course_lib.data.copy_memory_baseline`).
    """
    hidden = hidden_for_budget(kind, 10, 9, cfg.budget)
    torch.manual_seed(seed)
    model = sequence_model(kind, 10, hidden, 9, per_step=True, one_hot=True)
    data = [copy_memory(cfg.batch, cfg.T, seed=seed * 100_003 + i) for i in range(cfg.steps)]
    x_val, y_val = copy_memory(500, cfg.T, seed=10**6 + seed)

    def evaluate(m):
        return float(sequence_xent(m(x_val.to(_device_of(m))), y_val.to(_device_of(m))))

    hist, seconds = _fit("copy", kind, model, lambda m, b: sequence_xent(m(b[0]), b[1]), data, evaluate,
                         "cross-entropy", cfg, device, progress)
    return _run("copy", kind, model, copy_memory_baseline(cfg.T), "cross-entropy", hist, seconds)


def charlm_run(kind, cfg=TASKS["char LM"], seed=0, device=None, progress=False):
    """Train a one-hot character LM of ``kind`` within ``cfg.budget`` parameters on the first ``cfg.n_chars``
    characters of the corpus, windows of ``cfg.T`` characters started from a zero state. Returns a
    :class:`Run` whose ``value`` is the best validation bits per character and ``baseline`` the unigram's."""
    vocab, train, val = charlm_data(cfg.n_chars)
    V = len(vocab)
    hidden = hidden_for_budget(kind, V, V, cfg.budget)
    torch.manual_seed(seed)
    model = sequence_model(kind, V, hidden, V, per_step=True, one_hot=True)
    epoch = itertools.count()                                               # new cuts every epoch
    data = lambda: stream_batches(train, cfg.batch, cfg.T, seed=seed * 1000 + next(epoch))
    val_x, val_y = next(iter(stream_batches(val, len(val) // (cfg.T + 1), cfg.T)))

    def evaluate(m):
        return float(sequence_xent(m(val_x.to(_device_of(m))), val_y.to(_device_of(m)))) / math.log(2)

    hist, seconds = _fit("char LM", kind, model, lambda m, b: sequence_xent(m(b[0]), b[1]), data, evaluate,
                         "bits/char", cfg, device, progress)
    return _run("char LM", kind, model, unigram_bits_per_char(train, val, V), "bits/char", hist, seconds)


# ----------------------------------------------------------------------------- all of it
RUNNERS = {"adding": adding_run, "copy": copy_run, "char LM": charlm_run}


def side_by_side(tasks=("adding", "copy", "char LM"), kinds=("rnn", "gru", "lstm"), configs=None, only=None,
                 seed=0, device=None, progress=True):
    """Run every ``kind`` on every task (keys of :data:`RUNNERS`) at the task's parameter budget.

    ``configs``: optional ``{task: TaskConfig}`` replacing :data:`TASKS`' entries; ``only``: optional
    ``{task: kinds}`` for a task that runs other kinds. Returns ``{task: [Run, ...]}``, one tqdm bar over all runs.
    """
    from course_lib.progress import tqdm

    configs, only = {**TASKS, **(configs or {})}, dict(only or {})
    unknown = sorted(set(tasks) - RUNNERS.keys()) + sorted((set(configs) - TASKS.keys()) | (set(only) - set(tasks)))
    if unknown:
        raise ValueError(f"tasks, configs and only must name tasks among {sorted(RUNNERS)} (only for the tasks "
                         f"run); got {unknown}")
    plan = [(task, _kind(kind)) for task in tasks for kind in only.get(task, kinds)]
    out = {task: [] for task in tasks}
    with tqdm(plan, desc="runs", disable=not progress) as bar:
        for task, kind in bar:
            bar.set_postfix_str(f"{task}: {kind}")
            out[task].append(RUNNERS[task](kind, configs[task], seed=seed, device=device))
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
