"""Tasks of ``exercises/03_bptt.ipynb``: one cell backward, BPTT over a sequence, truncated BPTT."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import call_learner, expect_array, expect_mapping, expect_number, expect_tuple
from ..registry import Task, Test
from .common import cell_weights, check_callable, multiple_choice, normal, sizes

NOTEBOOK = "03_bptt"
GRAD_NAMES = ("dx", "dh", "dW_ih", "dW_hh", "db_ih", "db_hh")


def _expect_grads(got, expected, names, which=None):
    """Compare the gradients named in ``which`` (default: all; ``()``: only check every shape)."""
    if which == ():
        for g, e, n in zip(got, expected, names):
            if not isinstance(g, np.ndarray) or g.shape != np.shape(e):
                expect_array(g, e, n)
        return
    for g, e, n in zip(got, expected, names):
        if which is None or n in which:
            expect_array(g, e, n, kind="gradient")


# ----------------------------------------------------------------------------- rnn_cell_backward
def _cell_case(rng):
    batch, n_in, hidden = sizes(rng)
    x, h = normal(rng, batch, n_in), normal(rng, batch, hidden, scale=0.8)
    w = cell_weights(rng, 1, n_in, hidden)
    h_next, ref_cache = ref.rnn_cell_forward(x, h, **w)
    dh_next = normal(rng, batch, hidden)
    expected = ref.rnn_cell_backward(dh_next, ref_cache)
    cache = {"x": x, "h": h, "h_next": h_next, "W_ih": w["W_ih"], "W_hh": w["W_hh"]}
    return dh_next, cache, expected


def _run_cell_backward(fn, rng):
    check_callable(fn, "rnn_cell_backward(dh_next, cache)")
    dh_next, cache, expected = _cell_case(rng)
    out = call_learner(fn, dh_next, cache, name="rnn_cell_backward")
    return expect_tuple(out, 6, "rnn_cell_backward", "(dx, dh, dW_ih, dW_hh, db_ih, db_hh)"), expected


def _cell_shapes(fn, rng):
    got, expected = _run_cell_backward(fn, rng)
    _expect_grads(got, expected, GRAD_NAMES, which=())


def _cell_inputs(fn, rng):
    got, expected = _run_cell_backward(fn, rng)
    _expect_grads(got, expected, GRAD_NAMES, which=("dx", "dh"))


def _cell_weights(fn, rng):
    got, expected = _run_cell_backward(fn, rng)
    _expect_grads(got, expected, GRAD_NAMES, which=("dW_ih", "dW_hh"))


def _cell_biases(fn, rng):
    got, expected = _run_cell_backward(fn, rng)
    _expect_grads(got, expected, GRAD_NAMES, which=("db_ih", "db_hh"))


RNN_CELL_BACKWARD = Task(
    "rnn_cell_backward", NOTEBOOK,
    "Backward of one RNN step (book eqs. eq-bptt-da, eq-bptt-dh, eq-bptt-dW).",
    (
        Test("returns six gradients shaped like x, h, W_ih, W_hh, b_ih, b_hh", 1, _cell_shapes),
        Test("dx and dh are right", 1, _cell_inputs),
        Test("dW_ih and dW_hh are right", 1, _cell_weights),
        Test("db_ih and db_hh are right", 1, _cell_biases),
    ),
)


# ----------------------------------------------------------------------------- rnn_backward
SEQ_NAMES = ("dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh")


def _seq_case(rng, time):
    batch, n_in, hidden = sizes(rng)
    x, h0 = normal(rng, batch, time, n_in), normal(rng, batch, hidden, scale=0.8)
    w = cell_weights(rng, 1, n_in, hidden)
    model = ref.RNN(n_in, hidden)
    model.load_state_dict({"weight_ih_l0": w["W_ih"], "weight_hh_l0": w["W_hh"],
                           "bias_ih_l0": w["b_ih"], "bias_hh_l0": w["b_hh"]})
    model.forward(x, h0[None])
    d_out = normal(rng, batch, time, hidden)
    g = model.backward(d_out)
    expected = (g["x"], g["h0"][0], g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"])
    return (d_out, x, h0, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"]), expected


def _run_seq(fn, rng, time):
    check_callable(fn, "rnn_backward(d_out, x, h0, W_ih, W_hh, b_ih, b_hh)")
    args, expected = _seq_case(rng, time)
    out = call_learner(fn, *args, name="rnn_backward")
    return expect_tuple(out, 6, "rnn_backward", "(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)"), expected


def _seq_shapes(fn, rng):
    got, expected = _run_seq(fn, rng, int(rng.integers(3, 7)))
    _expect_grads(got, expected, SEQ_NAMES, which=())


def _seq_one_step(fn, rng):
    got, expected = _run_seq(fn, rng, 1)
    _expect_grads(got, expected, [n + " (time = 1)" for n in SEQ_NAMES])


def _seq_weights(fn, rng):
    time = int(rng.integers(4, 8))
    got, expected = _run_seq(fn, rng, time)
    names = [f"{n} (time = {time})" for n in SEQ_NAMES]
    _expect_grads(got, expected, names, which=names[2:])


def _seq_through_time(fn, rng):
    time = int(rng.integers(4, 8))
    got, expected = _run_seq(fn, rng, time)
    names = [f"{n} (time = {time})" for n in SEQ_NAMES]
    _expect_grads(got, expected, names, which=names[:2])


RNN_BACKWARD = Task(
    "rnn_backward", NOTEBOOK,
    "Backpropagation through time for a whole sequence: gradients of the shared weights summed over "
    "all steps (book eq. eq-bptt-dW), dh carried from step t+1 to t (eq. eq-bptt-dh).",
    (
        Test("returns six gradients shaped like x, h0, W_ih, W_hh, b_ih, b_hh", 1, _seq_shapes),
        Test("a sequence of one step (the cell backward)", 1, _seq_one_step),
        Test("weight and bias gradients summed over all steps", 1, _seq_weights),
        Test("dx and dh0: the gradient carried back through time", 1, _seq_through_time),
    ),
)

TRUNCATED = multiple_choice(
    "truncated_bptt", NOTEBOOK,
    "What does truncating BPTT to the last k steps do to the gradient?",
    options="abcd", key="5d4af6915fec2bc61772c177d250008d5497bb05549a373558ab7122c3e15e7d",
)

# ----------------------------------------------------------------------------- the temporal affine layer
def temporal_affine_reference(x, W, b):
    """``out = x W^T + b`` at every step: x ``(batch, time, in)``, W ``(out, in)``, b ``(out,)`` ->
    ``(batch, time, out)`` (the output layer of an RNN language model)."""
    return x @ W.T + b


def temporal_affine_backward_reference(d_out, x, W):
    """Gradients ``(dx (batch, time, in), dW (out, in), db (out,))`` of :func:`temporal_affine_reference`:
    the weights are shared by every step, so ``dW`` and ``db`` sum over batch *and* time."""
    return d_out @ W, np.einsum("bto,bti->oi", d_out, x), d_out.sum(axis=(0, 1))


def _affine_case(rng):
    batch, time, n_in, n_out = sizes(rng, 4, 2, 9)
    return normal(rng, batch, time, n_in), normal(rng, n_out, n_in), normal(rng, n_out), normal(rng, batch, time, n_out)


def _affine_forward(fn, rng, what):
    check_callable(fn, "temporal_affine_forward(x, W, b)")
    x, W, b, _ = _affine_case(rng)
    got = call_learner(fn, x, W, b, name="temporal_affine_forward")
    expect_array(got, temporal_affine_reference(x, W, b), what)


def _affine_backward(fn, rng, which):
    check_callable(fn, "temporal_affine_backward(d_out, x, W)")
    x, W, _, d_out = _affine_case(rng)
    got = expect_tuple(call_learner(fn, d_out, x, W, name="temporal_affine_backward"), 3,
                       "temporal_affine_backward", "(dx, dW, db)")
    _expect_grads(got, temporal_affine_backward_reference(d_out, x, W), ("dx", "dW", "db"), which)


TEMPORAL_AFFINE_FORWARD = Task(
    "temporal_affine_forward", NOTEBOOK,
    "An affine layer applied at every time step: (batch, time, in) -> (batch, time, out).",
    (
        Test("out (batch, time, out): shape", 1, lambda fn, rng: _affine_forward(fn, rng, "out (batch, time, out)")),
        Test("out = x W^T + b at every step", 1, lambda fn, rng: _affine_forward(fn, rng, "out")),
    ),
)

TEMPORAL_AFFINE_BACKWARD = Task(
    "temporal_affine_backward", NOTEBOOK,
    "Backward of the temporal affine layer: dx, and dW, db summed over every step (shared weights).",
    (
        Test("returns (dx, dW, db) shaped like x, W, b", 1, lambda fn, rng: _affine_backward(fn, rng, ())),
        Test("dx", 1, lambda fn, rng: _affine_backward(fn, rng, ("dx",))),
        Test("dW and db summed over batch and time", 2, lambda fn, rng: _affine_backward(fn, rng, ("dW", "db"))),
    ),
)

# ----------------------------------------------------------------------------- the whole model's loss
LM_PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out")


def rnn_lm_loss_reference(x, h0, targets, mask, params):
    """The loss of an Elman RNN language model and its gradients, by torch autograd in float64.

    ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, ``z_t = W_out h_t + b_out``, and the masked
    cross-entropy ``L = sum_{b,t} m_{b,t} (-log softmax(z_{b,t})_{y_{b,t}}) / sum m``. x ``(batch, time, in)``,
    h0 ``(batch, hidden)``, targets ``(batch, time)`` ints, mask ``(batch, time)`` bool -> ``(loss, grads)``
    with a gradient for every key of ``params`` and for ``"x"`` and ``"h0"``."""
    import torch

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    th = torch.tensor(h0, dtype=torch.float64, requires_grad=True)
    h, logits = th, []
    for step in range(x.shape[1]):
        h = torch.tanh(tx[:, step] @ t["W_ih"].T + t["b_ih"] + h @ t["W_hh"].T + t["b_hh"])
        logits.append(h @ t["W_out"].T + t["b_out"])
    logp = torch.log_softmax(torch.stack(logits, 1), -1)
    nll = -logp.gather(-1, torch.as_tensor(targets)[..., None])[..., 0]
    m = torch.as_tensor(mask, dtype=torch.float64)
    loss = (nll * m).sum() / m.sum()
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}
    grads.update(x=tx.grad.numpy(), h0=th.grad.numpy())
    return loss.item(), grads


def _lm_case(rng, padded):
    batch, time, n_in, hidden, vocab = sizes(rng, 5, 2, 9)
    w = cell_weights(rng, 1, n_in, hidden)
    params = {**w, "W_out": normal(rng, vocab, hidden, scale=1.0 / np.sqrt(hidden)), "b_out": normal(rng, vocab, scale=0.5)}
    x, h0 = normal(rng, batch, time, n_in), normal(rng, batch, hidden, scale=0.8)
    targets = rng.integers(0, vocab, size=(batch, time))
    mask = np.ones((batch, time), dtype=bool)
    if padded:
        lengths = rng.integers(1, time + 1, size=batch)
        lengths[0], lengths[-1] = time, 1
        mask = np.arange(time)[None, :] < lengths[:, None]
    return (x, h0, targets, mask, params), rnn_lm_loss_reference(x, h0, targets, mask, params)


def _lm(fn, rng, padded, which):
    check_callable(fn, "rnn_lm_loss(x, h0, targets, mask, params)")
    args, (loss, grads) = _lm_case(rng, padded)
    got = expect_tuple(call_learner(fn, *args, name="rnn_lm_loss"), 2, "rnn_lm_loss", "(loss, grads)")
    note = " (with padding)" if padded else ""
    if which == "loss":
        expect_number(got[0], loss, "loss" + note + (": average over the real tokens only" if padded else ""),
                      rel=1e-6, abs_=1e-9)
        return
    expect_mapping(got[1], tuple(grads), "grads")
    for key in which:
        expect_array(got[1][key], grads[key], f"grads[{key!r}]{note}", kind="gradient")


RNN_LM_LOSS = Task(
    "rnn_lm_loss", NOTEBOOK,
    "The whole RNN language model: forward through time, temporal affine output, masked cross-entropy, "
    "and every gradient by BPTT.",
    (
        Test("loss without padding", 1, lambda fn, rng: _lm(fn, rng, False, "loss")),
        Test("loss with padding: the mask is respected", 1, lambda fn, rng: _lm(fn, rng, True, "loss")),
        Test("gradients of W_out and b_out (with padding)", 1, lambda fn, rng: _lm(fn, rng, True, ("W_out", "b_out"))),
        Test("gradients of W_ih, W_hh, b_ih, b_hh (with padding)", 2,
             lambda fn, rng: _lm(fn, rng, True, ("W_ih", "W_hh", "b_ih", "b_hh"))),
        Test("gradients of x and h0 (with padding)", 1, lambda fn, rng: _lm(fn, rng, True, ("x", "h0"))),
    ),
)

TASKS = (RNN_CELL_BACKWARD, RNN_BACKWARD, TEMPORAL_AFFINE_FORWARD, TEMPORAL_AFFINE_BACKWARD, RNN_LM_LOSS, TRUNCATED)
