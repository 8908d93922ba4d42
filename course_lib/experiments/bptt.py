"""Experiments of book chapter 03, backpropagation through time (BPTT).

The model of the derivation is an Elman RNN (:class:`course_lib.ref.RNN`) with a linear read-out
and a softmax/cross-entropy loss at every step: :class:`ElmanClassifier`. Everything recurrent
(forward, BPTT, truncated BPTT, numeric gradients) is ``course_lib.ref``'s; this module only adds
the read-out and the measurements the chapter makes:

- :func:`readout_forward` / :func:`readout_backward`: y_t = W_hy h_t + b_y (book eqs.
  `eq-bptt-output`, `eq-bptt-dout`);
- :class:`ElmanClassifier`: loss (eq. `eq-bptt-loss`), full BPTT gradients, BPTT(k1, k2) gradients;
- :func:`gradient_check`: every gradient against central differences;
  :func:`torch_gradients`: the same gradients from ``torch.autograd``;
- :func:`hidden_jacobian`: the product of Jacobians dh_t/dh_k (eq. `eq-bptt-jacobian`);
- :func:`gradient_by_lag`: dL/dW_hh split by the distance between a loss and the step it reaches
  (eq. `eq-bptt-lags`), which is exactly what truncation cuts off;
- :data:`EQUATION_CODE` / :func:`equation_map` / :func:`code_line`: each equation of the chapter
  and the source line that computes it, found in the live source (so the mapping cannot go stale);
- truncated BPTT in PyTorch on the delayed echo (:func:`course_lib.data.delayed_echo`):
  :func:`fit_truncated` (BPTT(k, k) over contiguous streams with :func:`course_lib.train.fit`),
  :func:`truncation_experiment` (accuracy for each k), and what a truncation costs:
  :func:`saved_activation_bytes`, :func:`time_per_update`, :func:`ref_bptt_seconds`.

Shapes are batch first: x (batch, time, input_size), targets (batch, time) ints, h (batch, time, hidden).
"""
from __future__ import annotations

import contextlib
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import ref
from ..data.echo import delayed_echo
from ..ref import cells, functional, layers
from ..train import fit
from ..core.timing import time_interleaved
from .measure import saved_tensor_bytes
from .models import SequenceModel

__all__ = [
    "readout_forward", "readout_backward", "ElmanClassifier", "gradient_check", "torch_gradients",
    "hidden_jacobian", "gradient_by_lag", "CodeLine", "code_line", "EQUATION_CODE", "equation_map",
    "StreamEchoRNN", "masked_bce", "echo_accuracy", "fit_truncated", "TruncationRun", "truncation_experiment",
    "saved_activation_bytes", "time_per_update", "backward_steps", "ref_bptt_seconds",
]


# ----------------------------------------------------------------------------- read-out
def readout_forward(h, W_hy, b_y):
    """Logits of every step, y_t = W_hy h_t + b_y (book eq. `eq-bptt-output`).

    h (batch, time, hidden), W_hy (classes, hidden), b_y (classes,) -> y (batch, time, classes).
    """
    return h @ W_hy.T + b_y


def readout_backward(dy, h, W_hy):
    """Backward of :func:`readout_forward` (book eq. `eq-bptt-dout`).

    dy (batch, time, classes) = dL/dy_t. Returns ``(dh, dW_hy, db_y)``: dh = W_hy^T dy_t at every
    step (the read-out's share of eq. `eq-bptt-dh`), dW_hy = sum_t dy_t h_t^T, db_y = sum_t dy_t.
    """
    dh = dy @ W_hy
    dW_hy = np.einsum("btc,bth->ch", dy, h)
    db_y = dy.sum(axis=(0, 1))
    return dh, dW_hy, db_y


def _check_targets(targets, x, n_classes):
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integer class indices; got dtype {targets.dtype}")
    if targets.shape != x.shape[:2]:
        raise ValueError(f"targets must be (batch, time) = {x.shape[:2]}; got {targets.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        raise ValueError(f"targets must lie in [0, {n_classes - 1}]; got values in "
                         f"[{targets.min()}, {targets.max()}]")
    return targets


class ElmanClassifier:
    """Elman RNN + linear read-out + softmax cross-entropy at every step: the model of chapter 03.

    ``ElmanClassifier(input_size, hidden_size, n_classes, seed=0)``. The loss is the **sum** over
    the batch and the time steps of -log p_t[c_t] (book eq. `eq-bptt-loss`); a mean would only
    divide every gradient by the number of terms.

    ``params`` is a dict of the live arrays (the RNN's torch-named ones plus ``weight_hy`` and
    ``bias_y``): perturbing one in place changes the model, which is what
    :func:`course_lib.ref.numeric_gradient` needs.
    """

    def __init__(self, input_size, hidden_size, n_classes, seed=0):
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2; got {n_classes!r}")
        self.rnn = ref.RNN(input_size, hidden_size, seed=seed)
        self.n_classes = int(n_classes)
        rng = np.random.default_rng([seed, 3])
        bound = 1.0 / np.sqrt(hidden_size)  # torch.nn.Linear's initialisation
        self.readout = {"weight_hy": rng.uniform(-bound, bound, (self.n_classes, hidden_size)),
                        "bias_y": rng.uniform(-bound, bound, self.n_classes)}
        self._cache = None

    @property
    def params(self):
        """name -> the live parameter array (RNN parameters, then ``weight_hy``, ``bias_y``)."""
        return {**self.rnn.params, **self.readout}

    def forward(self, x, targets, h0=None):
        """Run the network and return the scalar loss; remembers what :meth:`backward` needs.

        x (batch, time, input_size); targets (batch, time) ints in [0, n_classes);
        h0 optional (1, batch, hidden).
        """
        h, _ = self.rnn.forward(x, h0)                                          # eq-bptt-forward
        targets = _check_targets(targets, h, self.n_classes)
        y = readout_forward(h, self.readout["weight_hy"], self.readout["bias_y"])  # eq-bptt-output
        self._cache = (h, y, targets)
        return float(functional.cross_entropy(y, targets, reduction="sum"))    # eq-bptt-loss

    loss = forward

    def _readout_grads(self):
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        h, y, targets = self._cache
        dy = functional.cross_entropy_backward(y, targets, reduction="sum")    # eq-bptt-dy
        dh, dW_hy, db_y = readout_backward(dy, h, self.readout["weight_hy"])    # eq-bptt-dout
        return dh, {"weight_hy": dW_hy, "bias_y": db_y}

    def backward(self):
        """Full BPTT of the last :meth:`forward`: dict name -> gradient, plus ``"x"`` and ``"h0"``."""
        dh, readout_grads = self._readout_grads()
        grads = self.rnn.backward(dh)                                           # eqs. eq-bptt-dh .. eq-bptt-dW
        return {**{k: grads[k] for k in self.rnn.params}, **readout_grads, "x": grads["x"], "h0": grads["h0"]}

    def gradients(self, x, targets, h0=None):
        """``(loss, grads)``: :meth:`forward` then :meth:`backward`."""
        loss = self.forward(x, targets, h0)
        return loss, self.backward()

    def truncated_gradients(self, x, targets, k1, k2, h0=None):
        """BPTT(k1, k2) gradients (Williams & Peng 1990) via :func:`course_lib.ref.truncated_bptt`.

        The read-out's gradients do not involve time, so they equal full BPTT's; only the
        recurrent ones are cut. Same dict as :meth:`backward`.
        """
        self.forward(x, targets, h0)
        dh, readout_grads = self._readout_grads()
        grads = ref.truncated_bptt(self.rnn, x, dh, k1, k2, state=h0)
        return {**{k: grads[k] for k in self.rnn.params}, **readout_grads, "x": grads["x"], "h0": grads["h0"]}


# ----------------------------------------------------------------------------- checks
def gradient_check(model, x, targets, names=None, eps=1e-6):
    """Relative error between BPTT and central differences for every parameter (float64).

    Returns ``{name: relative error}`` (:func:`course_lib.ref.relative_error`): ~1e-9 or less
    when the backward is right, ~1 when it is wrong. ``names`` defaults to all parameters.
    """
    _, grads = model.gradients(x, targets)
    names = list(model.params) if names is None else list(names)
    unknown = [n for n in names if n not in model.params]
    if unknown:
        raise ValueError(f"unknown parameter name(s) {unknown}; expected some of {list(model.params)}")
    return {name: ref.grad_check(lambda _: model.loss(x, targets), model.params[name], grads[name], eps)
            for name in names}


def torch_gradients(model, x, targets):
    """The same loss and gradients computed by ``torch.autograd`` (float64) on a copy of the weights.

    Returns ``(loss, grads)`` with the names of :attr:`ElmanClassifier.params` (NumPy arrays).
    """
    import torch

    rnn = model.rnn.to_torch()
    W_hy = torch.tensor(model.readout["weight_hy"], requires_grad=True)
    b_y = torch.tensor(model.readout["bias_y"], requires_grad=True)
    h, _ = rnn(torch.as_tensor(np.asarray(x, dtype=np.float64)))
    y = h @ W_hy.T + b_y
    loss = torch.nn.functional.cross_entropy(y.reshape(-1, model.n_classes),
                                             torch.as_tensor(np.asarray(targets)).reshape(-1), reduction="sum")
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in rnn.named_parameters()}
    grads.update(weight_hy=W_hy.grad.numpy(), bias_y=b_y.grad.numpy())
    return float(loss.detach()), grads


# ----------------------------------------------------------------------------- Jacobians and lags
def hidden_jacobian(model, x, t, k, h0=None, b=0):
    """dh_t/dh_k for sequence ``b`` as the product of eq. `eq-bptt-jacobian` (1-based steps, h_0 the initial state).

    prod_{j=k+1..t} diag(1 - h_j^2) W_hh  (tanh RNN), a (hidden, hidden) matrix; the identity if k = t.
    x (batch, time, input_size); 0 <= k <= t <= time.
    """
    rnn = model.rnn if isinstance(model, ElmanClassifier) else model
    if rnn.nonlinearity != "tanh" or rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError("hidden_jacobian needs a one-layer, one-direction tanh RNN")
    out, _ = rnn.forward(x, h0)
    T = out.shape[1]
    if not (isinstance(t, (int, np.integer)) and isinstance(k, (int, np.integer)) and 0 <= k <= t <= T):
        raise ValueError(f"need integers 0 <= k <= t <= time = {T}; got k={k!r}, t={t!r}")
    W_hh = rnn.params["weight_hh_l0"]
    J = np.eye(rnn.hidden_size)
    for j in range(k + 1, t + 1):
        h_j = out[b, j - 1]                      # h_j in the book's 1-based numbering
        J = ((1.0 - h_j ** 2)[:, None] * W_hh) @ J
    return J


def gradient_by_lag(model, x, targets, name="weight_hh_l0"):
    """dL/d``name`` split by lag: entry l sums, over every t, the part of dL_t/d``name`` that
    flows back exactly l steps (from step t to step t - l), book eq. `eq-bptt-lags`.

    Computed with BPTT(1, k2) of :func:`course_lib.ref.truncated_bptt`, which keeps lags 0 .. k2-1,
    so lag l = BPTT(1, l+1) - BPTT(1, l). Returns an array (time, *shape of the parameter); its sum
    over axis 0 is the full BPTT gradient.
    """
    if name not in model.rnn.params:
        raise ValueError(f"name must be a recurrent parameter, one of {list(model.rnn.params)}; got {name!r}")
    T = np.asarray(x).shape[1]
    kept = [np.zeros_like(model.rnn.params[name])]
    for k2 in range(1, T + 1):
        kept.append(model.truncated_gradients(x, targets, 1, k2)[name])
    return np.diff(np.stack(kept), axis=0)


# ----------------------------------------------------------------------------- equation -> code
@dataclass(frozen=True)
class CodeLine:
    """One source line: ``path`` relative to the package's parent, 1-based ``lineno``, stripped ``text``."""
    label: str
    function: str
    path: str
    lineno: int
    text: str


def code_line(func, pattern, label=""):
    """The first line of ``func``'s source that contains ``pattern``, as a :class:`CodeLine`.

    Raises ``LookupError`` naming the function and the pattern when no line matches (the code
    changed and the chapter's mapping must be updated).
    """
    lines, start = inspect.getsourcelines(func)
    for offset, line in enumerate(lines):
        if pattern in line:
            path = Path(inspect.getsourcefile(func)).resolve()
            package_root = Path(ref.__file__).resolve().parents[2]
            try:
                path = path.relative_to(package_root)
            except ValueError:
                pass
            return CodeLine(label, func.__qualname__, str(path), start + offset, line.strip())
    raise LookupError(f"no line of {func.__qualname__} contains {pattern!r}")


#: (equation label, function, a snippet of the line that computes it), in the chapter's order.
EQUATION_CODE = [
    ("eq-bptt-forward", layers._Recurrent._direction_forward, "xp = (layer_in.reshape"),
    ("eq-bptt-forward", cells.rnn_step_forward, "a = xp + h @ W_hh.T + b_hh"),
    ("eq-bptt-forward", cells.rnn_step_forward, "h_next = np.tanh(a)"),
    ("eq-bptt-output", readout_forward, "h @ W_hy.T + b_y"),
    ("eq-bptt-loss", functional.cross_entropy, "nll = -np.take_along_axis"),
    ("eq-bptt-dy", functional.cross_entropy_backward, "grad = softmax(logits"),
    ("eq-bptt-dy", functional.cross_entropy_backward, "- 1.0"),
    ("eq-bptt-dout", readout_backward, "dW_hy = np.einsum"),
    ("eq-bptt-dh", layers._Recurrent._direction_backward, "d_state[0] + d_out[t]"),
    ("eq-bptt-dh", cells.rnn_step_backward, "return da, da, da @ W_hh"),
    ("eq-bptt-da", cells.rnn_step_backward, "da = dh_next * (1.0 - h_next * h_next)"),
    ("eq-bptt-dW", layers._Recurrent._direction_backward, '"weight_ih" + sfx:'),
    ("eq-bptt-dW", layers._Recurrent._direction_backward, '"weight_hh" + sfx:'),
    ("eq-bptt-dW", layers._Recurrent._direction_backward, '"bias_ih" + sfx:'),
    ("eq-bptt-dW", layers._Recurrent._direction_backward, "d_in = (flat_xp @ W_ih)"),
    ("eq-bptt-jacobian", cells.rnn_step_backward, "return da, da, da @ W_hh"),
    ("eq-bptt-jacobian", hidden_jacobian, "J = ((1.0 - h_j ** 2)"),
]


def equation_map(entries=None):
    """Resolve :data:`EQUATION_CODE` (or ``entries``) to a list of :class:`CodeLine`; fails loudly if one is stale."""
    return [code_line(func, pattern, label) for label, func, pattern in (entries or EQUATION_CODE)]


# ----------------------------------------------------------------------------- truncated BPTT in PyTorch
@contextlib.contextmanager
def _one_cpu_thread(device):
    """Run torch on one CPU thread, then restore the setting (no-op for CUDA).

    The per-step matrices of these small RNNs are too small to split between threads, and on a busy
    machine extra threads only wait for each other: one thread is both faster and steadier to time.
    """
    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class StreamEchoRNN(SequenceModel):
    """Chapter 01's echo RNN (course_lib.nn.RNN + linear read-out per step) that also takes and returns its state.

    ``forward(x, h0=None)``: x (batch, time, 1) -> ``(logits (batch, time), h_n (1, batch, hidden))``,
    so a stream can be fed chunk after chunk, each chunk starting where the last one ended.
    """

    def __init__(self, hidden=16):
        super().__init__("rnn", 1, hidden, 1)

    def forward(self, x, h0=None):
        logits, h_n = self.run(x, h0)
        return logits.squeeze(-1), h_n


def masked_bce(logits, y, mask):
    """Mean binary cross-entropy over the steps where ``mask`` is True (0 if there are none)."""
    losses = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1)


def echo_accuracy(model, x, y, mask):
    """Bit accuracy of a :class:`StreamEchoRNN` on whole streams (from a zero state), on steps with a target."""
    device = next(model.parameters()).device
    with torch.no_grad():
        logits, _ = model(x.to(device))
    correct = ((logits > 0).float() == y.to(device))[mask.to(device)]
    return correct.float().mean().item()


def _chunk_length(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int (steps per chunk); got {k!r}")
    return int(k)


def fit_truncated(model, x, y, mask, k, **fit_kwargs):
    """Train on contiguous streams with truncated BPTT, BPTT(k, k), using :func:`course_lib.train.fit`.

    x (streams, length, 1), y and mask (streams, length). Each epoch cuts the streams into
    consecutive chunks of ``k`` steps; the state is carried from one chunk to the next and
    **detached** at every boundary, so an update happens every k steps and a loss at a chunk's
    position p sends gradient back p steps: at most k - 1, never to the step k back or beyond
    (book eq. `eq-bptt-truncated`). The state restarts from zero each epoch.
    ``fit_kwargs`` go to :func:`course_lib.train.fit` (lr, epochs, eval_fn, device, progress, ...).
    Returns fit's :class:`course_lib.train.History`.
    """
    k = _chunk_length(k)
    if x.dim() != 3 or y.shape != x.shape[:2] or mask.shape != x.shape[:2]:
        raise ValueError(f"x must be (streams, length, 1) with y and mask (streams, length); got "
                         f"x {tuple(x.shape)}, y {tuple(y.shape)}, mask {tuple(mask.shape)}")
    carry = {"h": None}

    def chunks():                      # a fresh epoch: the state starts from zero again
        carry["h"] = None
        return [(x[:, s:s + k], y[:, s:s + k], mask[:, s:s + k]) for s in range(0, x.shape[1], k)]

    def loss_fn(model, batch):
        xb, yb, mb = batch
        logits, h_n = model(xb, carry["h"])
        carry["h"] = h_n.detach()      # the truncation: no gradient flows into the previous chunk
        return masked_bce(logits, yb, mb)

    fit_kwargs.setdefault("epochs", 1)
    if "steps" not in fit_kwargs:
        fit_kwargs["steps"] = fit_kwargs["epochs"] * -(-x.shape[1] // k)
    return fit(model, loss_fn, chunks, **fit_kwargs)


@dataclass
class TruncationRun:
    """One run of :func:`truncation_experiment`: the truncation ``k``, the final test ``accuracy``,
    the accuracy curve (``tokens`` seen per stream -> ``curve``), wall ``seconds`` and fit's ``history``."""
    k: int
    accuracy: float
    tokens: list = field(default_factory=list)
    curve: list = field(default_factory=list)
    seconds: float = 0.0
    history: object = None


def truncation_experiment(delay, k_values, *, hidden=64, streams=32, length=8000, lr=3e-3, evals=6,
                          seed=0, device=None, progress=True):
    """Learn the delayed echo (lag ``delay``) with BPTT(k, k) for every k in ``k_values``.

    Every run sees the same ``streams`` x ``length`` training bits once (one epoch), starts from
    the same weights (seed ``seed``), and is evaluated ``evals`` times on 64 fresh streams of 400 steps.
    A truncation that cannot reach ``delay`` steps back (k <= delay) leaves the accuracy at chance
    (0.5). Returns a list of :class:`TruncationRun`.
    """
    x, y, mask = delayed_echo(streams, length, delay, seed=seed)
    xv, yv, mv = delayed_echo(64, 400, delay, seed=seed + 1)
    with _one_cpu_thread(device if device is not None else "cpu"):
        return [_truncation_run(k, x, y, mask, (xv, yv, mv), hidden, lr, evals, seed, device, progress)
                for k in k_values]


def _truncation_run(k, x, y, mask, test, hidden, lr, evals, seed, device, progress):
    """One BPTT(k, k) run of :func:`truncation_experiment` from the weights of seed ``seed``."""
    k, length = _chunk_length(k), x.shape[1]
    torch.manual_seed(seed)
    model = StreamEchoRNN(hidden)
    start = time.perf_counter()
    hist = fit_truncated(model, x, y, mask, k, lr=lr, eval_fn=lambda m: {"accuracy": echo_accuracy(m, *test)},
                         eval_every=max(1, -(-length // k) // evals), device=device, progress=progress,
                         desc=f"BPTT(k={k})")
    seconds = time.perf_counter() - start
    acc = hist.metrics["accuracy"]
    return TruncationRun(k, acc[-1], [min(s * k, length) for s in hist.eval_steps], acc, seconds, hist)


def saved_activation_bytes(model, x, h0=None):
    """Bytes that autograd keeps for the backward pass of ``model(x, h0)``, parameters excluded
    (:func:`course_lib.experiments.measure.saved_tensor_bytes`, on one CPU thread). For BPTT over k steps this
    grows linearly in k: the states of every step are kept until the backward pass."""
    with _one_cpu_thread(x.device):
        return saved_tensor_bytes(model, x, h0)


def time_per_update(model, k, streams=32, repeats=5, seed=0):
    """Median wall time (seconds) of one BPTT(k, k) update of a :class:`StreamEchoRNN`: forward
    over k steps, loss, backward, Adam step, on random bits (after one warm-up update)."""
    k = _chunk_length(k)
    device = next(model.parameters()).device
    x, y, mask = (t.to(device) for t in delayed_echo(streams, k + 1, 1, seed=seed))
    x, y, mask = x[:, 1:], y[:, 1:], mask[:, 1:]
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def update():
        logits, _ = model(x)
        masked_bce(logits, y, mask).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    with _one_cpu_thread(device):
        return time_interleaved({"update": update}, device, repeats, warmup=1)["update"]


# ----------------------------------------------------------------------------- the cost of BPTT(k1, k2)
def backward_steps(time_steps, k1, k2):
    """How many step-backwards BPTT(k1, k2) performs over ``time_steps`` steps (full BPTT: ``time_steps``).

    The sum of the lengths of :func:`course_lib.ref.truncation_windows`: about time_steps * k2 / k1.
    """
    return sum(stop - start for start, _, stop in ref.truncation_windows(time_steps, k1, k2))


def ref_bptt_seconds(model, x, d_out, k1, k2, repeats=3):
    """Median wall time of :func:`course_lib.ref.truncated_bptt` (the NumPy reference) for BPTT(k1, k2)."""
    run = {"bptt": lambda: ref.truncated_bptt(model, x, d_out, k1, k2)}
    return time_interleaved(run, "cpu", repeats, warmup=0)["bptt"]
