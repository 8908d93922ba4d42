"""The tasks the chapters train on, their baselines, and what a model costs in parameters.

**The adding problem** (Hochreiter & Schmidhuber 1997; :func:`course_lib.data.adding_problem`): an
:class:`AddingConfig` fixes the task and the optimisation; :func:`adding_batches` / :func:`adding_validation`
are its data (batch ``n`` of seed ``s`` is the same whatever the other settings); :func:`adding_baseline_mse`
(about 1/6, :data:`ADDING_BASELINE`) is what a model without memory gets; :func:`train_adding` trains any
many-to-one model on it with :func:`course_lib.train.fit` and returns an :class:`AddingRun` (a diverging run
is recorded, not raised).

**Classification per step** (copy memory, tagging, language modelling): :func:`sequence_xent`, the mean
cross-entropy of per-step logits; :func:`course_lib.data.copy_memory_baseline` is copy memory's baseline.

**Characters**: :func:`charlm_data` (a slice of the shipped corpus as ids) and
:func:`unigram_bits_per_char`, the context-free baseline of a character language model.

**Parameters**: :func:`count_parameters` (of a module), :func:`recurrent_parameters` and
:func:`model_parameters` (from torch's shapes), :func:`hidden_for_budget`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from ..core.checks import count as _positive_int
from ..data.corpus import Vocab, load_corpus, train_val_split
from ..data.tasks import adding_problem
from ..train import History, NonFiniteLossError, OPTIMIZERS, fit

__all__ = [
    "ADDING_BASELINE", "AddingConfig", "adding_batches", "adding_validation", "adding_baseline_mse", "AddingRun",
    "train_adding", "IGNORE", "sequence_xent", "charlm_data", "unigram_bits_per_char",
    "GATES", "count_parameters", "recurrent_parameters", "model_parameters", "hidden_for_budget",
]

ADDING_BASELINE = 1.0 / 6.0          # MSE of always predicting 1 (the mean of the target): Var(U + U) = 1/6
IGNORE = -100                        # label of padded steps (F.cross_entropy's ignore_index)


# ----------------------------------------------------------------------------- the adding problem
@dataclass(frozen=True)
class AddingConfig:
    """One adding-problem experiment: sequences of length ``T``; ``steps`` Adam (or ``optimizer``) updates on
    fresh batches of ``batch_size``; global-norm clipping at ``clip`` (None: none); the MSE on ``n_eval``
    held-out sequences every ``eval_every`` steps (None: at the end only); stop at the first evaluation below
    ``solved_below`` (None: never); ``seed`` fixes the data."""
    T: int = 50
    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-2
    optimizer: str = "adam"
    clip: float | None = 1.0
    eval_every: int | None = 25
    n_eval: int = 1000
    solved_below: float | None = None
    seed: int = 0

    def __post_init__(self):
        _positive_int(self.T, "T", 2)
        for name in ("steps", "batch_size", "n_eval"):
            _positive_int(getattr(self, name), name)
        if self.eval_every is not None:
            _positive_int(self.eval_every, "eval_every")
        for name in ("lr", "clip", "solved_below"):
            v = getattr(self, name)
            if (v is not None or name == "lr") and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number{'' if name == 'lr' else ' or None'}; got {v!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}; got {self.optimizer!r}")

    def replace(self, **changes):
        """A copy with ``changes`` (e.g. ``cfg.replace(T=100)``)."""
        return AddingConfig(**{**asdict(self), **changes})


def adding_batches(cfg):
    """The training batches of ``cfg``: ``cfg.steps`` fresh pairs ``x (batch, T, 2)``, ``y (batch, 1)``;
    batch ``n`` comes from seed ``[seed, T, n]``, so it is the same whatever ``steps`` or the model."""
    for step in range(cfg.steps):
        yield adding_problem(cfg.batch_size, cfg.T, seed=[cfg.seed, cfg.T, step])


def adding_validation(cfg):
    """``cfg.n_eval`` held-out sequences ``(x, y)`` (seed ``[10**6, seed, T]``: never a training batch)."""
    return adding_problem(cfg.n_eval, cfg.T, seed=[10**6, cfg.seed, cfg.T])


def adding_baseline_mse(y) -> float:
    """MSE of always predicting 1, the mean target: what a model without memory gets (about 1/6)."""
    return float(((torch.as_tensor(y, dtype=torch.float64) - 1.0) ** 2).mean())


@dataclass
class AddingRun:
    """What :func:`train_adding` returns.

    ``val_mse``: held-out MSE at the end (``nan`` if the run diverged); ``baseline_mse``: the same sequences'
    MSE when always predicting 1; ``solved_at``: the first evaluation step below ``config.solved_below``
    (training stopped there), or None; ``history``: fit's :class:`~course_lib.train.History` (per-step
    ``loss``, including a final non-finite one, ``grad_norm``, ``metrics["val_mse"]``); ``error``: the
    :class:`~course_lib.train.NonFiniteLossError` that stopped a diverging run, else None; ``seconds``: wall time.
    """
    kind: str
    config: AddingConfig
    val_mse: float
    baseline_mse: float
    solved_at: int | None
    history: History = field(repr=False)
    model: torch.nn.Module = field(repr=False)
    seconds: float
    error: Exception | None = None

    T = property(lambda self: self.config.T)
    seed = property(lambda self: self.config.seed)
    loss = property(lambda self: self.history.loss)
    grad_norm = property(lambda self: self.history.grad_norm)

    @property
    def steps(self) -> int:
        """Optimizer steps taken."""
        return len(self.history.grad_norm)

    @property
    def solved(self) -> bool:
        return self.solved_at is not None

    @property
    def diverged(self) -> bool:
        return self.error is not None

    @property
    def relative_mse(self) -> float:
        """``val_mse / baseline_mse``: 1 means no better than predicting the mean, 0 means perfect."""
        return self.val_mse / self.baseline_mse


def _last_step(y):
    return y[:, -1] if y.dim() == 3 else y            # a per-step model is read at its last step


def train_adding(model, cfg=AddingConfig(), device=None, progress=False, desc=None):
    """Train ``model`` (``(batch, T, 2)`` -> ``(batch, 1)``, or per step ``(batch, T, 1)``, read at the last
    step) on the adding problem of ``cfg`` with :func:`course_lib.train.fit`; return an :class:`AddingRun`.

    Seed torch before building ``model`` to fix its initial weights.
    """
    import course_lib

    if not isinstance(cfg, AddingConfig):
        raise TypeError(f"cfg must be an AddingConfig; got {type(cfg).__name__}")
    device = course_lib.device() if device is None else torch.device(device)
    x_val, y_val = (t.to(device) for t in adding_validation(cfg))
    below = None if cfg.solved_below is None else (lambda metrics: metrics["val_mse"] < cfg.solved_below)
    kind = getattr(model, "kind", type(model).__name__)
    start = time.perf_counter()
    try:
        hist = fit(model, lambda m, b: F.mse_loss(_last_step(m(b[0])), b[1]), adding_batches(cfg),
                   optimizer=cfg.optimizer, lr=cfg.lr, steps=cfg.steps, clip=cfg.clip,
                   eval_fn=lambda m: {"val_mse": F.mse_loss(_last_step(m(x_val)), y_val).item()},
                   eval_every=cfg.eval_every or cfg.steps, until=below, device=device, progress=progress,
                   desc=desc or f"{kind} T={cfg.T}")
    except NonFiniteLossError as err:
        return AddingRun(kind, cfg, math.nan, adding_baseline_mse(y_val.cpu()), None, err.history, model,
                         time.perf_counter() - start, err)
    solved = hist.eval_steps[-1] if hist.stop_reason.startswith("target reached") else None
    return AddingRun(kind, cfg, hist.metrics["val_mse"][-1], adding_baseline_mse(y_val.cpu()), solved, hist,
                     model, time.perf_counter() - start)


# ----------------------------------------------------------------------------- per-step classification
def sequence_xent(logits, y):
    """Mean cross-entropy (nats) of per-step logits ``(batch, time, classes)`` against labels ``(batch, time)``;
    steps labelled :data:`IGNORE` (padding) do not count."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)


# ----------------------------------------------------------------------------- characters
def charlm_data(n_chars=200_000, val_fraction=0.1):
    """The first ``n_chars`` characters of the shipped corpus as ``(vocab, train_ids, val_ids)``
    (vocabulary from the whole corpus, so every chapter's ids agree)."""
    text = load_corpus()
    vocab = Vocab(text)
    ids = vocab.encode(text[:_positive_int(n_chars, "n_chars")])
    train, val = train_val_split(ids, val_fraction)
    return vocab, train, val


def unigram_bits_per_char(train_ids, val_ids, vocab_size):
    """Bits per character on ``val_ids`` of the character frequencies counted on ``train_ids`` (add-one
    smoothing keeps unseen characters finite): the best a model that ignores all context achieves."""
    counts = torch.bincount(torch.as_tensor(train_ids).reshape(-1).cpu(), minlength=vocab_size).double() + 1
    logp = torch.log2(counts / counts.sum())
    return float(-logp[torch.as_tensor(val_ids).cpu()].mean())


# ----------------------------------------------------------------------------- parameters
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "cho-gru": 3}


def count_parameters(module):
    """The number of trainable scalars in a ``torch.nn.Module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def recurrent_parameters(kind, input_size, hidden, num_layers=1, bidirectional=False, bias=True):
    """Parameters of a recurrent layer, from torch's shapes: ``G * hidden * (input + hidden) + 2 * G * hidden``
    per layer and direction (``G`` = 1 RNN, 3 GRU, 4 LSTM; later layers read ``D * hidden`` inputs)."""
    if kind not in GATES:
        raise ValueError(f"kind must be one of {tuple(GATES)}; got {kind!r}")
    G = GATES[kind]
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
