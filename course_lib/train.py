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


def fit(model, loss_fn, data, *, optimizer="adam", lr=1e-3, weight_decay=0.0, steps=None, epochs=None,
        clip=None, eval_fn=None, eval_every=None, patience=None, monitor=None, mode="min",
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
    - ``device``: defaults to :func:`course_lib.device`; the model and every batch are moved there.
    - ``seed``: if given, :func:`course_lib.seed` is called first.
    - Raises :class:`NonFiniteLossError` naming the step when the loss or gradient is NaN/inf.
    """
    import course_lib
    from course_lib.progress import tqdm

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
    if patience is not None and eval_fn is None:
        raise ValueError("early stopping (patience=...) needs an eval_fn to monitor; got eval_fn=None")
    if seed is not None:
        course_lib.seed(seed)
    device = course_lib.device() if device is None else torch.device(device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    opt = _optimizer(optimizer, params, lr, weight_decay)
    if epochs is None and steps is None:
        epochs = 1
    if eval_every is None and steps is not None and epochs is None:
        eval_every = max(1, steps // 10)
    total = steps
    if total is None and hasattr(data, "__len__"):
        total = epochs * len(data)
    hist = History()
    best_state, since_best = None, 0
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    step, epoch = 0, 0

    def evaluate():
        nonlocal best_state, since_best
        was_training = model.training
        model.eval()
        with torch.no_grad():
            metrics = _as_metrics(eval_fn(model))
        model.train(was_training)
        hist.eval_steps.append(step)
        for k, v in metrics.items():
            hist.metrics.setdefault(k, []).append(v)
        if patience is None:
            return False
        key = monitor or next(iter(metrics))
        if key not in metrics:
            raise ValueError(f"monitor={key!r} is not among the metrics eval_fn returns: {sorted(metrics)}")
        value = metrics[key]
        better = hist.best_value is None or (value < hist.best_value if mode == "min" else value > hist.best_value)
        if better:
            hist.best_step, hist.best_value, since_best = step, value, 0
            if restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
        return since_best >= patience

    try:
        model.train()
        stop = None
        for batches in _epochs(data):
            if epochs is not None and epoch >= epochs:
                stop = f"finished {epochs} epoch(s)"
                break
            n_in_epoch = 0
            for batch in batches:
                n_in_epoch += 1
                step += 1
                batch = _to(batch, device)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model, batch)
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    raise TypeError(f"loss_fn must return a scalar tensor; got "
                                    f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
                value = loss.item()
                if not math.isfinite(value):
                    raise NonFiniteLossError(
                        f"loss became {value} at step {step}: try gradient clipping (clip=1.0) "
                        f"or a smaller learning rate (lr={lr:g} now)")
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else math.inf).item()
                if not math.isfinite(norm):
                    raise NonFiniteLossError(
                        f"gradient norm became {norm} at step {step}: try gradient clipping (clip=1.0) "
                        f"or a smaller learning rate (lr={lr:g} now)")
                opt.step()
                hist.steps.append(step)
                hist.loss.append(value)
                hist.grad_norm.append(norm)
                hist.time.append(time.perf_counter() - start)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                if eval_fn is not None and eval_every is not None and step % eval_every == 0:
                    if evaluate():
                        stop = f"early stopping at step {step}: no improvement in {patience} evaluations"
                        break
                if steps is not None and step >= steps:
                    stop = f"reached {steps} steps"
                    break
            if stop:
                break
            epoch += 1
            if n_in_epoch == 0:
                if not step:
                    raise ValueError("data yielded no batches")
                stop = "data ran out"
                break
            if eval_fn is not None and eval_every is None and evaluate():
                stop = f"early stopping after epoch {epoch}: no improvement in {patience} evaluations"
                break
        else:  # a one-shot iterator was exhausted
            stop = "data ran out"
        if eval_fn is not None and (not hist.eval_steps or hist.eval_steps[-1] != step):
            evaluate()
        hist.stop_reason = stop
        if best_state is not None and restore_best:
            model.load_state_dict(best_state)
    finally:
        bar.close()
    return hist
