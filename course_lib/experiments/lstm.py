"""Experiments of book chapter 05, the LSTM (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).

Four parts, one idea each:

**Three implementations agree.** :func:`compare_implementations` runs one LSTM with the same weights in
:class:`course_lib.ref.LSTM` (NumPy, hand-written BPTT), :class:`course_lib.nn.LSTM` (both modes) and
:class:`torch.nn.LSTM`, forward and backward, and returns an :class:`Agreement` table of the largest differences.

**A memory set by hand** ("Tom is a cat ... he eats fish"): :func:`memory_lstm` is a one-unit
:class:`course_lib.ref.LSTM` whose weights are chosen so that the input gate opens on *cat*/*dog*, the
forget gate holds the cell at a chosen value, and the output gate opens on *eats*; :func:`tom_sentence`,
:func:`encode` and :func:`p_fish` make a sentence, feed it and read the prediction.

**Looking inside.** :func:`gate_trace` returns every gate, cell and hidden state of a one-layer LSTM over a
sequence (computed with :func:`course_lib.ref.lstm_step_forward`). :func:`state_gradient_norms` measures
``||dL/dc_k||`` (LSTM cell state) or ``||dL/dh_k||`` (vanilla RNN) for ``L = g . state_T``: how much of a
unit gradient at the last step reaches step ``k``, by autograd through :mod:`course_lib.nn.cells`.

**The adding problem** (:mod:`course_lib.experiments.tasks`): :func:`adding_model` (a one-layer
:class:`course_lib.nn.RNN` or :class:`course_lib.nn.LSTM` with a linear read-out of its last step),
:func:`set_forget_bias`, and :func:`adding_sweep`, which trains them with
:func:`course_lib.experiments.tasks.train_adding` (stopped as soon as the held-out MSE falls below a threshold).

Steps are numbered as in chapters 03 and 04: ``c_0, h_0`` are the initial state, ``1 .. T`` the steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import nn as cnn
from .. import ref
from ..core.checks import count as _positive_int
from .models import SequenceModel
from .tasks import AddingConfig, train_adding

__all__ = [
    "Agreement", "compare_implementations",
    "VOCAB", "FILLER", "tom_sentence", "encode", "memory_lstm", "p_fish",
    "gate_trace", "state_gradient_norms", "geometric_mean_by_distance",
    "KINDS", "adding_model", "set_forget_bias", "ADDING", "adding_sweep",
]


# ----------------------------------------------------------------------------- checks

def _number(value, name, low=-math.inf, high=math.inf, open_low=False):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value > high or value < low or (open_low and value == low):
        lo = "(" if open_low else "["
        raise ValueError(f"{name} must be a finite number in {lo}{low}, {high}]; got {value!r}")
    return float(value)


def _one_layer(module, kinds):
    """The module's kind ("RNN" or "LSTM") if it is a one-layer, one-direction torch/course_lib layer."""
    kind = type(module).__name__
    if kind not in kinds or not isinstance(module, torch.nn.Module) or module.num_layers != 1 \
            or module.bidirectional or not getattr(module, "bias", True):
        raise TypeError(f"model must be a one-layer, one-direction {' or '.join(kinds)} with biases "
                        f"(torch.nn or course_lib.nn); got {module!r}")
    if kind == "RNN" and getattr(module, "nonlinearity", "tanh") != "tanh":
        raise ValueError(f"the RNN must use tanh; got nonlinearity={module.nonlinearity!r}")
    return kind


def _weights64(module):
    """(W_ih, W_hh, b_ih, b_hh) of layer 0 as detached float64 CPU tensors."""
    return tuple(getattr(module, f"{n}_l0").detach().to("cpu", torch.float64)
                 for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _as_batch(x, input_size, dtype=np.float64):
    """x as a float ndarray (batch, T, input_size); a single sequence (T, input_size) gets a batch axis."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=dtype)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != input_size or 0 in x.shape:
        raise ValueError(f"x must be (batch, time, {input_size}) or (time, {input_size}); got {x.shape}")
    return x


# ----------------------------------------------------------------------------- three implementations
@dataclass
class Agreement:
    """Largest absolute differences between implementations: ``errors[row][column]``.

    Rows are the quantities compared (outputs, final states, gradients of the input and of every
    parameter); columns are the implementations, each compared with :class:`course_lib.ref.LSTM`.
    """
    errors: dict

    @property
    def columns(self):
        return list(next(iter(self.errors.values())))

    def max(self) -> float:
        """The largest difference anywhere in the table."""
        return max(max(row.values()) for row in self.errors.values())

    def format(self) -> str:
        """The table as fixed-width text, one row per quantity, differences in scientific notation."""
        width = max(len(r) for r in self.errors)
        lines = [f"{'':{width}}  " + "  ".join(f"{c:>20}" for c in self.columns)]
        for name, row in self.errors.items():
            lines.append(f"{name:{width}}  " + "  ".join(f"{row[c]:>20.1e}" for c in self.columns))
        return "\n".join(lines)


def compare_implementations(batch=3, T=7, input_size=4, hidden_size=5, seed=0) -> Agreement:
    """Run one LSTM (the same float64 weights) in ``ref``, ``course_lib.nn`` (fused and loop) and ``torch.nn``.

    The loss is ``L = sum(G * out) + sum(G_h * h_n) + sum(G_c * c_n)`` with random ``G``'s, so every path
    of BPTT is used; ``ref`` gets ``dL/dout = G`` and ``dL/d(h_n, c_n) = (G_h, G_c)`` in its hand-written
    ``backward`` (book eqs. `eq-lstm-dc`, `eq-lstm-dgates`), the torch modules use autograd (the fused
    ``course_lib.nn`` mode runs its own hand-written backward). Random initial states ``(h0, c0)``.
    Returns an :class:`Agreement`: rows ``out``, ``h_n``, ``c_n``, ``dL/dx``, ``dL/dh0``, ``dL/dc0`` and
    ``dL/d<parameter>``; columns ``course_lib.nn (fused)``, ``course_lib.nn (loop)``, ``torch.nn.LSTM``.
    """
    for v, n in ((batch, "batch"), (T, "T"), (input_size, "input_size"), (hidden_size, "hidden_size")):
        _positive_int(v, n)
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(input_size, hidden_size, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, T, input_size))
    h0, c0 = rng.standard_normal((2, 1, batch, hidden_size))
    G, G_h, G_c = rng.standard_normal((batch, T, hidden_size)), rng.standard_normal((1, batch, hidden_size)), \
        rng.standard_normal((1, batch, hidden_size))

    m = ref.LSTM.from_torch(reference)
    out, (h_n, c_n) = m.forward(x, (h0, c0))
    grads = m.backward(G, (G_h, G_c))
    want = {"out": out, "h_n": h_n, "c_n": c_n, "dL/dx": grads["x"], "dL/dh0": grads["h0"], "dL/dc0": grads["c0"]}
    want.update({f"dL/d{name}": grads[name] for name in m.params})

    candidates = {"course_lib.nn (fused)": cnn.LSTM(input_size, hidden_size, batch_first=True, impl="fused",
                                                    dtype=torch.float64),
                  "course_lib.nn (loop)": cnn.LSTM(input_size, hidden_size, batch_first=True, impl="loop",
                                                   dtype=torch.float64),
                  "torch.nn.LSTM": reference}
    errors = {name: {} for name in want}
    for column, module in candidates.items():
        module.load_state_dict(reference.state_dict())
        module.zero_grad()
        xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
        out_t, (h_t, c_t) = module(xt, (h0t, c0t))
        loss = (torch.from_numpy(G) * out_t).sum() + (torch.from_numpy(G_h) * h_t).sum() \
            + (torch.from_numpy(G_c) * c_t).sum()
        loss.backward()
        got = {"out": out_t, "h_n": h_t, "c_n": c_t, "dL/dx": xt.grad, "dL/dh0": h0t.grad, "dL/dc0": c0t.grad}
        got.update({f"dL/d{name}": p.grad for name, p in module.named_parameters()})
        for name, value in want.items():
            errors[name][column] = float(np.abs(got[name].detach().numpy() - value).max())
    return Agreement(errors)


# ----------------------------------------------------------------------------- a memory set by hand
VOCAB = ("Tom", "is", "a", "cat", "dog", ".", "he", "sleeps", "plays", "all", "day", "in", "the", "garden",
         "and", "runs", "after", "ball", "every", "evening", "eats")
FILLER = ("he", "sleeps", "all", "day", "and", "he", "plays", "in", "the", "garden", "and", "he", "runs",
          "after", "the", "ball", ".")
_INDEX = {w: i for i, w in enumerate(VOCAB)}
_GATE_LOGIT = 10.0        # sigmoid(+-10) = 1 - 4.5e-5 or 4.5e-5: a gate fully open or shut
_WRITE = 3.0              # tanh(3) = 0.995: the candidate written for cat (+) or dog (-)
_READ = 6.0               # read-out weight: p(fish) = sigmoid(6 h_T)


def tom_sentence(animal="cat", n_filler=17):
    """``Tom is a <animal> . <n_filler filler words> every evening he eats`` as a list of tokens.

    The filler cycles through :data:`FILLER` ("he sleeps all day and he plays in the garden ..."), which
    says nothing about the animal: the word after *eats* (*fish* for a cat, *bones* for a dog) depends
    on a word ``n_filler + 6`` steps back.
    """
    if animal not in ("cat", "dog"):
        raise ValueError(f"animal must be 'cat' or 'dog'; got {animal!r}")
    if isinstance(n_filler, bool) or not isinstance(n_filler, (int, np.integer)) or n_filler < 0:
        raise ValueError(f"n_filler must be a non-negative int; got {n_filler!r}")
    filler = [FILLER[k % len(FILLER)] for k in range(n_filler)]
    return ["Tom", "is", "a", animal, "."] + filler + ["every", "evening", "he", "eats"]


def encode(tokens):
    """One-hot encode a list of words from :data:`VOCAB`: ndarray (1, len(tokens), len(VOCAB))."""
    unknown = [w for w in tokens if w not in _INDEX]
    if unknown or not tokens:
        raise ValueError(f"tokens must be a non-empty list of words from VOCAB; got unknown words {unknown!r}"
                         if unknown else "tokens must be a non-empty list of words from VOCAB; got []")
    x = np.zeros((1, len(tokens), len(VOCAB)))
    x[0, np.arange(len(tokens)), [_INDEX[w] for w in tokens]] = 1.0
    return x


def memory_lstm(forget=0.9999):
    """A one-unit :class:`course_lib.ref.LSTM` over :data:`VOCAB` with hand-set weights (no ``W_hh``).

    Gate pre-activations depend on the current word only (book eq. `eq-lstm-gates`):

    - input gate ``i``: open (``sigmoid(10)``) on *cat* and *dog*, shut (``sigmoid(-10)``) otherwise;
    - candidate ``g``: ``tanh(3) = +0.995`` on *cat*, ``-0.995`` on *dog*, 0 otherwise;
    - forget gate ``f``: the constant ``forget`` on every word (``0 < forget < 1``);
    - output gate ``o``: open on *eats*, shut otherwise.

    So the cell (eq. `eq-lstm-c`) stores +1 for a cat and -1 for a dog, keeps ``forget**n`` of it after
    ``n`` more words, and the hidden state (eq. `eq-lstm-h`) shows it only at *eats*.
    """
    forget = _number(forget, "forget", 0.0, 1.0, open_low=True)
    if forget >= 1.0:
        raise ValueError(f"forget must be a probability strictly between 0 and 1; got {forget!r}")
    V, m = len(VOCAB), ref.LSTM(len(VOCAB), 1)
    W_ih = np.zeros((4, V))
    b_ih = np.array([-_GATE_LOGIT, math.log(forget / (1.0 - forget)), 0.0, -_GATE_LOGIT])
    for word, sign in (("cat", 1.0), ("dog", -1.0)):
        W_ih[0, _INDEX[word]] = 2 * _GATE_LOGIT        # i: -10 + 20 = +10, open
        W_ih[2, _INDEX[word]] = sign * _WRITE          # g: +-3
    W_ih[3, _INDEX["eats"]] = 2 * _GATE_LOGIT          # o: open on "eats"
    m.load_state_dict({"weight_ih_l0": W_ih, "weight_hh_l0": np.zeros((4, 1)),
                       "bias_ih_l0": b_ih, "bias_hh_l0": np.zeros(4)})
    return m


def p_fish(lstm, tokens):
    """The probability that the next word is *fish* (not *bones*): ``sigmoid(6 h_T)`` of :func:`memory_lstm`."""
    _, (h_n, _) = lstm.forward(encode(tokens))
    return float(ref.sigmoid(_READ * h_n[0, 0, 0]))


# ----------------------------------------------------------------------------- looking inside
def gate_trace(lstm, x, state=None):
    """Every gate and state of a one-layer LSTM over one or more sequences.

    ``lstm``: a :class:`course_lib.ref.LSTM`, ``torch.nn.LSTM`` or :class:`course_lib.nn.LSTM` (one
    layer, one direction); x (batch, T, input_size) or (T, input_size), array or tensor; ``state``: an
    optional ``(h0, c0)``, each (batch, hidden). Runs :func:`course_lib.ref.lstm_step_forward` step by
    step in float64 and returns a dict of ndarrays (batch, T, hidden): ``"i"``, ``"f"``, ``"g"``, ``"o"``
    (book eq. `eq-lstm-gates`), ``"c"`` (eq. `eq-lstm-c`) and ``"h"`` (eq. `eq-lstm-h`) at steps 1..T.
    """
    if not isinstance(lstm, ref.LSTM):
        _one_layer(lstm, ("LSTM",))
        lstm = ref.LSTM.from_torch(lstm)
    elif lstm.num_layers != 1 or lstm.bidirectional:
        raise TypeError(f"lstm must have one layer and one direction; got {lstm!r}")
    p = {k: v.astype(np.float64) for k, v in lstm.params.items()}
    x = _as_batch(x, lstm.input_size)
    B, T, _ = x.shape
    H = lstm.hidden_size
    if state is None:
        h, c = np.zeros((B, H)), np.zeros((B, H))
    else:
        h, c = (np.asarray(s, dtype=np.float64).reshape(B, H) for s in state)
    xp = x @ p["weight_ih_l0"].T + p["bias_ih_l0"]          # the input projection of every step
    trace = {k: np.empty((B, T, H)) for k in ("i", "f", "g", "o", "c", "h")}
    for t in range(T):
        (h, c), cache = ref.lstm_step_forward(xp[:, t], h, c, p["weight_hh_l0"], p["bias_hh_l0"])
        _, _, i, f, g, o, _, _ = cache
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            trace[k][:, t] = v
    return trace


def state_gradient_norms(model, x, seed=0):
    """``||dL/ds_k||`` for k = 0 .. T with ``L = g . s_T``: ``s`` = the cell state ``c`` of an LSTM, or the
    hidden state ``h`` of a tanh RNN. One row per sequence: ndarray (batch, T + 1), column k is step k.

    ``model``: a one-layer, one-direction ``LSTM`` or tanh ``RNN`` (``torch.nn`` or ``course_lib.nn``);
    x (batch, T, input_size). ``g`` is a random unit vector per sequence, so column T is exactly 1 and
    column k says how much of a unit gradient at the last step reaches step k: for the RNN the product
    of Jacobians of book eq. `eq-bptt-jacobian`; for the LSTM ``dc_T/dc_k`` with *every* path (through
    the cell, eq. `eq-lstm-c`, and through ``h_k`` and the gates). Computed in float64 by autograd
    through the cells of :mod:`course_lib.nn.cells`, keeping the gradient of every state.
    """
    kind = _one_layer(model, ("LSTM", "RNN"))
    W_ih, W_hh, b_ih, b_hh = _weights64(model)
    x = torch.from_numpy(_as_batch(x, model.input_size))
    B, T, _ = x.shape
    xw = (x @ W_ih.T + b_ih).unbind(1)                      # input projections, one per step
    states = [torch.zeros(B, model.hidden_size, dtype=torch.float64, requires_grad=True)]
    h, c = states[0], states[0]
    if kind == "LSTM":
        h = torch.zeros_like(c)
    for t in range(T):
        if kind == "LSTM":
            h, c = cnn.lstm_step(xw[t], h, c, W_hh, b_hh)
            state = c
        else:
            h = state = cnn.rnn_step(xw[t], h, W_hh, b_hh)
        state.retain_grad()
        states.append(state)
    g = torch.from_numpy(np.random.default_rng(seed).standard_normal((B, model.hidden_size)))
    g = g / g.norm(dim=1, keepdim=True)
    (g * states[-1]).sum().backward()
    return np.stack([s.grad.norm(dim=1).numpy() for s in states], axis=1)


def geometric_mean_by_distance(norms):
    """Collapse (batch, T + 1) norms indexed by step k into (T + 1,) indexed by distance d = T - k,
    by the geometric mean over the batch (the scale on which vanishing is exponential)."""
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 2:
        raise ValueError(f"norms must be (batch, T + 1); got shape {norms.shape}")
    with np.errstate(divide="ignore"):
        return np.exp(np.log(norms).mean(axis=0))[::-1].copy()


# ----------------------------------------------------------------------------- the adding problem
KINDS = ("rnn", "lstm")


def adding_model(kind="lstm", hidden_size=32, forget_bias=1.0, seed=0):
    """A one-layer ``course_lib.nn.RNN`` (tanh) or ``course_lib.nn.LSTM`` and a linear read-out of its last
    output (a many-to-one :class:`~course_lib.experiments.models.SequenceModel`), seeded with ``seed``.

    For the LSTM, ``forget_bias`` sets the forget gate's bias (:func:`set_forget_bias`); None keeps torch's
    initialisation (every bias uniform in +-1/sqrt(hidden), so the forget gates start near 0.5).
    """
    import course_lib

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    course_lib.seed(seed)
    model = SequenceModel(kind, 2, _positive_int(hidden_size, "hidden_size"), 1, per_step=False)
    if kind == "lstm" and forget_bias is not None:
        set_forget_bias(model.rnn, forget_bias)
    return model


@torch.no_grad()
def set_forget_bias(lstm, value):
    """Set the forget gate's total bias ``b_ih + b_hh`` (the second quarter, gate order i, f, g, o) to
    ``value`` in every layer and direction of a ``torch.nn.LSTM``/``course_lib.nn.LSTM``; returns it.

    ``value = 1`` starts every forget gate at ``sigmoid(1) = 0.73`` instead of about 0.5."""
    if type(lstm).__name__ != "LSTM" or not isinstance(lstm, torch.nn.Module) or not getattr(lstm, "bias", True):
        raise TypeError(f"lstm must be a torch.nn.LSTM or course_lib.nn.LSTM with biases; got {lstm!r}")
    value = _number(value, "value")
    H = lstm.hidden_size
    for name, p in lstm.named_parameters():
        if name.startswith("bias_ih"):
            p[H:2 * H] = value
        elif name.startswith("bias_hh"):
            p[H:2 * H] = 0.0
    return lstm


ADDING = AddingConfig(T=50, steps=600, batch_size=64, lr=0.02, clip=1.0, eval_every=25, solved_below=0.01)


def adding_sweep(Ts, cfg=ADDING, kinds=KINDS, seeds=(0,), hidden_size=32, forget_bias=1.0, device=None,
                 progress=True):
    """:func:`~course_lib.experiments.tasks.train_adding` of :func:`adding_model` for every ``kind`` x ``T`` x
    ``seed`` under ``cfg`` (its ``T`` and ``seed`` replaced), one tqdm bar over all runs.

    The default :data:`ADDING`: Adam at 0.02, clipping at 1, at most 600 batches of 64, the held-out MSE every
    25 steps, stopped as solved below 0.01 (6 % of the baseline 1/6).
    Returns a dict ``(kind, T, seed) -> AddingRun``.
    """
    from course_lib.progress import tqdm

    runs = [(k, T, s) for T in Ts for k in kinds for s in seeds]
    results = {}
    for kind, T, seed in tqdm(runs, desc="adding problem", disable=not progress):
        run_cfg = cfg.replace(T=T, seed=seed)
        results[kind, T, seed] = train_adding(adding_model(kind, hidden_size, forget_bias, seed), run_cfg,
                                              device=device, desc=f"{kind} T={T}")
    return results
