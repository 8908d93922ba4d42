"""One small training loop for every chapter: :func:`fit` and the :class:`History` it returns.

``fit(model, loss_fn, data, ...)`` runs ``loss = loss_fn(model, batch)`` and an optimizer step
for each batch, with optional gradient clipping by global norm (Pascanu et al. 2013), periodic
evaluation, early stopping, a guard that stops on a NaN/inf loss or gradient naming the step,
a tqdm progress bar (notebook or terminal; silent with ``progress=False``) and seeded determinism.

``data`` may be a list/DataLoader/any re-iterable (one pass = one epoch), a zero-argument
callable returning a fresh iterable each epoch (e.g. ``lambda: stream_batches(...)``), or a
one-shot iterator/generator (then give ``steps``). Tensors inside a batch (tuple, list or dict)
are moved to the device. Example::

    hist = fit(model, lambda m, b: F.mse_loss(m(b[0]), b[1]), batches, lr=1e-2, steps=500, clip=1.0)
    hist.plot()
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch

__all__ = ["fit", "History", "NonFiniteLossError", "OPTIMIZERS"]

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


class NonFiniteLossError(FloatingPointError):
    """The loss or the gradient norm became NaN or infinite during :func:`fit`."""


@dataclass
class History:
    """What :func:`fit` records, ready for plotting.

    ``steps``, ``loss``, ``grad_norm`` (before clipping), ``time`` (seconds since the start):
    one entry per optimizer step. ``eval_steps`` and ``metrics`` (name -> list): one entry per
    evaluation. ``stop_reason`` says why training ended; ``best_step``/``best_value`` refer to the
    monitored metric when early stopping was on.
    """
    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    time: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    stop_reason: str = ""
    best_step: int | None = None
    best_value: float | None = None

    @property
    def stopped_early(self):
        return self.stop_reason.startswith("early stopping")

    def __repr__(self):
        last = f", last loss {self.loss[-1]:.4g}" if self.loss else ""
        return (f"History({len(self.steps)} steps{last}, {len(self.eval_steps)} evaluations, "
                f"{self.time[-1] if self.time else 0.0:.1f} s, stopped: {self.stop_reason or 'n/a'})")

    def plot(self, ax=None, log=True):
        """Training loss per step and every evaluated metric, on one matplotlib axis."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.steps, self.loss, lw=1, label="train loss")
        for name, values in self.metrics.items():
            ax.plot(self.eval_steps, values, "o-", ms=3, label=name)
        if log and self.loss and min(self.loss) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend()
        return ax


def _to(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


def _epochs(data):
    """Yield one iterator per epoch (a one-shot iterator gives a single, possibly endless, epoch)."""
    if callable(data) and not hasattr(data, "__iter__"):
        while True:
            yield iter(data())
    elif iter(data) is data:                      # a generator or iterator: cannot restart it
        yield data
    else:
        while True:
            yield iter(data)


def _optimizer(optimizer, params, lr, weight_decay):
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer; "
                         f"got {optimizer!r}")
    return OPTIMIZERS[optimizer](params, lr=lr, weight_decay=weight_decay)


def _as_metrics(result):
    if isinstance(result, dict):
        return {k: float(v) for k, v in result.items()}
    return {"val_loss": float(result)}


class _Evaluator:
    """Calls ``eval_fn`` in eval mode under ``torch.no_grad()``, records its metrics in ``hist``, and decides
    early stopping (``patience``) and target stopping (``until``); keeps the best weights when asked."""

    def __init__(self, model, eval_fn, hist, patience, monitor, mode, restore_best, until):
        self.model, self.eval_fn, self.hist = model, eval_fn, hist
        self.patience, self.monitor, self.mode, self.restore_best, self.until = patience, monitor, mode, restore_best, until
        self.best_state, self.since_best = None, 0

    def __call__(self, step):
        """Evaluate after ``step`` optimizer steps; return a stop reason, or "" to go on."""
        if self.eval_fn is None:
            return ""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            metrics = _as_metrics(self.eval_fn(self.model))
        self.model.train(was_training)
        self.hist.eval_steps.append(step)
        for k, v in metrics.items():
            self.hist.metrics.setdefault(k, []).append(v)
        if self.until is not None and self.until(metrics):
            return f"target reached at step {step}"
        if self.patience is None:
            return ""
        key = self.monitor or next(iter(metrics))
        if key not in metrics:
            raise ValueError(f"monitor={key!r} is not among the metrics eval_fn returns: {sorted(metrics)}")
        value, best = metrics[key], self.hist.best_value
        if best is None or (value < best if self.mode == "min" else value > best):
            self.hist.best_step, self.hist.best_value, self.since_best = step, value, 0
            if self.restore_best:
                self.best_state = copy.deepcopy(self.model.state_dict())
        else:
            self.since_best += 1
        if self.since_best >= self.patience:
            return f"early stopping at step {step}: no improvement in {self.patience} evaluations"
        return ""

    def restore(self):
        if self.best_state is not None and self.restore_best:
            self.model.load_state_dict(self.best_state)


def _check_finite(value, what, step, lr, hist):
    if not math.isfinite(value):
        err = NonFiniteLossError(f"{what} became {value} at step {step}: try gradient clipping (clip=1.0) "
                                 f"or a smaller learning rate (lr={lr:g} now)")
        err.step, err.history = step, hist
        raise err


def _check_fit_arguments(model, loss_fn, steps, epochs, eval_every, patience, clip, mode, eval_fn, until):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch); got {type(loss_fn).__name__}")
    for name, v in (("steps", steps), ("epochs", epochs), ("eval_every", eval_every), ("patience", patience)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive int or None; got {v!r}")
    if clip is not None and not (isinstance(clip, (int, float)) and clip > 0):
        raise ValueError(f"clip must be a positive number or None; got {clip!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max'; got {mode!r}")
    if (patience is not None or until is not None) and eval_fn is None:
        raise ValueError("early stopping (patience=... or until=...) needs an eval_fn to monitor; got eval_fn=None")
    if until is not None and not callable(until):
        raise TypeError(f"until must be callable as until(metrics) -> bool; got {type(until).__name__}")


def _batches(data, epochs):
    """``(epoch, batch)`` pairs: ``epochs`` passes over re-iterable data (None: without end), or one pass
    over a one-shot iterator."""
    for epoch, batches in enumerate(_epochs(data)):
        if epochs is not None and epoch >= epochs:
            return
        empty = True
        for batch in batches:
            empty = False
            yield epoch, batch
        if empty:
            return
        yield epoch, None                          # the end of an epoch


def fit(model, loss_fn, data, *, optimizer="adam", lr=1e-3, weight_decay=0.0, steps=None, epochs=None,
        clip=None, eval_fn=None, eval_every=None, patience=None, monitor=None, mode="min", until=None,
        restore_best=True, device=None, seed=None, progress=True, desc="train"):
    """Train ``model`` and return a :class:`History`.

    - ``loss_fn(model, batch) -> scalar tensor``; ``batch`` already on ``device``.
    - ``optimizer``: ``"adam"``, ``"sgd"``, ``"rmsprop"`` (with ``lr``, ``weight_decay``) or an optimizer.
    - ``steps`` and/or ``epochs`` bound the run (whichever comes first); neither means one epoch.
    - ``clip``: clip the gradients' global L2 norm to this value (``None``: no clipping).
    - ``eval_fn(model) -> float or dict of floats``, called under ``torch.no_grad()`` in eval mode
      every ``eval_every`` steps (default: once per epoch, or every ``steps // 10``) and at the end.
    - ``patience``: stop after this many evaluations without improving ``monitor`` (default: the
      first metric ``eval_fn`` returns) in direction ``mode`` (``"min"``/``"max"``); with
      ``restore_best`` the best weights are loaded back at the end.
    - ``until(metrics) -> bool``: stop at the first evaluation where it is true (a target reached).
    - ``device``: defaults to :func:`course_lib.device`; the model and every batch are moved there.
    - ``seed``: if given, :func:`course_lib.seed` is called first.
    - Raises :class:`NonFiniteLossError` naming the step when the loss or gradient is NaN/inf; the
      error carries ``.step`` and ``.history`` (which ends with the non-finite loss).
    """
    import course_lib
    from course_lib.progress import tqdm

    _check_fit_arguments(model, loss_fn, steps, epochs, eval_every, patience, clip, mode, eval_fn, until)
    if seed is not None:
        course_lib.seed(seed)
    device = course_lib.device() if device is None else torch.device(device)
    params = [p for p in model.to(device).parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    opt = _optimizer(optimizer, params, lr, weight_decay)
    if epochs is None and steps is None:
        epochs = 1
    if eval_every is None and steps is not None and epochs is None:
        eval_every = max(1, steps // 10)
    total = steps if steps is not None or not hasattr(data, "__len__") else epochs * len(data)
    hist = History()
    evaluate = _Evaluator(model, eval_fn, hist, patience, monitor, mode, restore_best, until)
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    start, step, stop = time.perf_counter(), 0, ""
    model.train()
    opt.zero_grad(set_to_none=True)
    try:
        for epoch, batch in _batches(data, epochs):
            if batch is None:                                   # an epoch ended
                stop = evaluate(step) if eval_every is None else ""
                if stop:
                    break
                continue
            step += 1
            loss = loss_fn(model, _to(batch, device))           # forward pass and loss
            _check_scalar(loss)
            hist.steps.append(step)
            hist.loss.append(loss.item())
            _check_finite(hist.loss[-1], "loss", step, lr, hist)
            loss.backward()                                     # backpropagation (through time)
            norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else math.inf).item()
            _check_finite(norm, "gradient norm", step, lr, hist)
            opt.step()                                          # the update
            opt.zero_grad(set_to_none=True)
            hist.grad_norm.append(norm)
            hist.time.append(time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{hist.loss[-1]:.4g}", refresh=False)
            if eval_every is not None and step % eval_every == 0:
                stop = evaluate(step)
            if not stop and steps is not None and step >= steps:
                stop = f"reached {steps} steps"
            if stop:
                break
        if not step:
            raise ValueError("data yielded no batches")
        if not stop:
            stop = f"finished {epochs} epoch(s)" if epochs is not None and epoch + 1 >= epochs else "data ran out"
        if eval_fn is not None and (not hist.eval_steps or hist.eval_steps[-1] != step):
            evaluate(step)
        hist.stop_reason = stop
        evaluate.restore()
    finally:
        bar.close()
    return hist


def _check_scalar(loss):
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise TypeError(f"loss_fn must return a scalar tensor; got "
                        f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
