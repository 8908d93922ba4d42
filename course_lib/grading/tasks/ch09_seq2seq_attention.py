"""Tasks of ``exercises/09_seq2seq_attention.ipynb``: embedding forward/backward, the masked temporal softmax
loss with its gradient, additive attention, beam search with length normalisation."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_array, expect_number, expect_tuple
from ..models import NextTokenTable
from ..registry import Task, Test
from .common import check_callable, normal, sizes

NOTEBOOK = "09_seq2seq_attention"


# ----------------------------------------------------------------------------- embedding
def _ids(rng, vocab, shape, repeats=False):
    if repeats:
        return rng.integers(0, max(2, vocab // 3), size=shape)
    return rng.integers(0, vocab, size=shape)


def _emb_forward(fn, rng, repeats):
    check_callable(fn, "embedding_forward(ids, W)")
    vocab, dim, batch, time = sizes(rng, 4, 2, 9)
    W, ids = normal(rng, vocab, dim), _ids(rng, vocab, (batch, time), repeats)
    expected, _ = ref.embedding_forward(ids, W)
    expect_array(call_learner(fn, ids, W, name="embedding_forward"), expected, "out (batch, time, dim)")


def _emb_backward(fn, rng, repeats):
    check_callable(fn, "embedding_backward(d_out, ids, vocab_size)")
    vocab, dim, batch, time = sizes(rng, 4, 2, 9)
    if repeats:
        ids = _ids(rng, vocab, (batch, time), repeats=True)
    else:                                               # every id at most once
        vocab = batch * time + vocab
        ids = rng.permutation(vocab)[: batch * time].reshape(batch, time)
    W, d_out = normal(rng, vocab, dim), normal(rng, batch, time, dim)
    _, cache = ref.embedding_forward(ids, W)
    expected = ref.embedding_backward(d_out, cache)
    got = call_learner(fn, d_out, ids, vocab, name="embedding_backward")
    expect_array(got, expected, "dW (vocab_size, dim)" + (" with repeated ids" if repeats else ""), kind="gradient")


EMBEDDING_FORWARD = Task(
    "embedding_forward", NOTEBOOK,
    "Embedding lookup out = W[ids] (book eq. eq-embedding): ids (batch, time) ints, W (vocab, dim).",
    (
        Test("out = W[ids], shape (batch, time, dim)", 1, lambda fn, rng: _emb_forward(fn, rng, False)),
        Test("repeated ids give repeated rows", 1, lambda fn, rng: _emb_forward(fn, rng, True)),
    ),
)

EMBEDDING_BACKWARD = Task(
    "embedding_backward", NOTEBOOK,
    "Gradient of the embedding w.r.t. W: each row of dW sums d_out over the positions holding that id.",
    (
        Test("dW with distinct ids (vocab_size, dim)", 1, lambda fn, rng: _emb_backward(fn, rng, False)),
        Test("dW accumulates over repeated ids", 2, lambda fn, rng: _emb_backward(fn, rng, True)),
    ),
)


# ----------------------------------------------------------------------------- masked temporal softmax loss
def _loss_inputs(rng, padded, scale=1.0):
    batch, time, vocab = sizes(rng, 3, 2, 9)
    logits = normal(rng, batch, time, vocab, scale=scale)
    targets = rng.integers(0, vocab, size=(batch, time))
    if padded:
        lengths = rng.integers(1, time + 1, size=batch)
        lengths[0] = max(1, time - 1)
        lengths[-1] = 1
        mask = np.arange(time)[None, :] < lengths[:, None]
    else:
        mask = np.ones((batch, time), dtype=bool)
    return logits, targets, mask


def _loss(fn, rng, padded=False, scale=1.0, gradient=False):
    check_callable(fn, "temporal_softmax_loss(logits, targets, mask)")
    logits, targets, mask = _loss_inputs(rng, padded, scale)
    loss, d_logits = ref.temporal_softmax_loss(logits, targets, mask)
    got = expect_tuple(call_learner(fn, logits, targets, mask, name="temporal_softmax_loss"), 2,
                       "temporal_softmax_loss", "(loss, d_logits)")
    note = " (with padding: average over the real tokens only)" if padded else ""
    if scale > 10:
        note = " (logits in the hundreds: subtract each row's maximum before exp)"
    if gradient:
        expect_array(got[1], d_logits, "d_logits (batch, time, vocab)" + note, kind="gradient")
    else:
        expect_number(got[0], loss, "loss" + note, rel=1e-6, abs_=1e-9)


TEMPORAL_LOSS = Task(
    "temporal_softmax_loss", NOTEBOOK,
    "Masked cross-entropy over time and its gradient (book eq. eq-masked-ce). Returns (loss, d_logits).",
    (
        Test("loss without padding", 1, lambda fn, rng: _loss(fn, rng)),
        Test("loss with padding: the mask is respected", 1, lambda fn, rng: _loss(fn, rng, padded=True)),
        Test("d_logits with padding", 2, lambda fn, rng: _loss(fn, rng, padded=True, gradient=True)),
        Test("large logits do not overflow", 1, lambda fn, rng: _loss(fn, rng, padded=True, scale=1000.0)),
    ),
)


# ----------------------------------------------------------------------------- additive attention
def _att(fn, rng, masked):
    check_callable(fn, "additive_attention(query, keys, W_q, W_k, v, mask)")
    batch, time_k, d_q, d_k, d_a = sizes(rng, 5, 2, 9)
    q, k = normal(rng, batch, d_q), normal(rng, batch, time_k, d_k)
    W_q, W_k, v = normal(rng, d_a, d_q, scale=0.5), normal(rng, d_a, d_k, scale=0.5), normal(rng, d_a)
    mask = None
    if masked:
        lengths = rng.integers(1, time_k + 1, size=batch)
        lengths[0] = time_k
        lengths[-1] = 1
        mask = np.arange(time_k)[None, :] < lengths[:, None]
    context, weights, _ = ref.additive_attention_forward(q, k, W_q, W_k, v, mask)
    got = expect_tuple(call_learner(fn, q, k, W_q, W_k, v, mask, name="additive_attention"), 2,
                       "additive_attention", "(context, weights)")
    note = "with a mask" if masked else "no mask"
    if masked and isinstance(got[1], np.ndarray) and got[1].shape == weights.shape and np.any(got[1][~mask] != 0):
        raise Mismatch("weights must be exactly 0 where the mask is False (set those scores to -inf "
                       "before the softmax)")
    expect_array(got[1], weights, f"weights (batch, time_k), {note}")
    expect_array(got[0], context, f"context (batch, d_k), {note}")


ADDITIVE = Task(
    "additive_attention", NOTEBOOK,
    "One step of additive (Bahdanau) attention, e_j = v . tanh(W_q q + W_k k_j) (book eq. eq-additive-attention).",
    (
        Test("weights and context without a mask", 2, lambda fn, rng: _att(fn, rng, False)),
        Test("a padding mask: padded keys get weight 0", 1, lambda fn, rng: _att(fn, rng, True)),
    ),
)


# ----------------------------------------------------------------------------- beam search
BOS, EOS = 0, 1


def table_model(rng, vocab, eos_bias=0.0):
    """A next-token model whose log-probabilities depend on the last two tokens (a random table); it
    crosses to the batch grader's sandbox as data (:class:`~course_lib.grading.models.NextTokenTable`)."""
    logits = rng.normal(size=(vocab, vocab, vocab)) * 2
    logits[..., EOS] += eos_bias
    return NextTokenTable(logits - np.log(np.exp(logits).sum(-1, keepdims=True)), bos=BOS)


def _beam(fn, rng, width, alpha, eos_bias, need=None):
    check_callable(fn, "beam_search(step, bos, eos, beam_width, max_len, alpha)")
    for _ in range(50):                                 # draw a model on which the property matters
        vocab, max_len = int(rng.integers(4, 7)), int(rng.integers(5, 8))
        step = table_model(rng, vocab, eos_bias)
        want = ref.beam_search(step, BOS, EOS, beam_width=width, max_len=max_len, alpha=alpha)
        if need is None or need(step, want, max_len):
            break
    got = expect_tuple(call_learner(fn, step, BOS, EOS, width, max_len, alpha, name="beam_search"), 2,
                       "beam_search", "(tokens, score)")
    try:
        tokens = tuple(int(t) for t in got[0])
    except (TypeError, ValueError):
        raise Mismatch(f"tokens must be a sequence of token ids; got {type(got[0]).__name__}") from None
    if tokens and tokens[0] == BOS and want[0][:1] != (BOS,):
        raise Mismatch("tokens must not include <bos> (return the tokens after it)")
    if tokens != want[0]:
        raise Mismatch(f"beam_width={width}, alpha={alpha}: a different sequence than the best hypothesis "
                       f"({len(tokens)} tokens, expected {len(want[0])})")
    expect_number(got[1], want[1], "score (the log-probability of the returned tokens)", rel=1e-9, abs_=1e-9)


def _differs_without_normalisation(step, want, max_len):
    return ref.beam_search(step, BOS, EOS, beam_width=3, max_len=max_len, alpha=0.0)[0] != want[0]


def _eos_matters(step, want, max_len):
    """The search keeps running after some hypothesis finished (an <eos> that did not stop it would matter)."""
    return len(want[0]) > 2 and want[0][-1] == EOS


BEAM = Task(
    "beam_search", NOTEBOOK,
    "Beam search with length normalisation score / length**alpha (book eq. eq-length-norm).",
    (
        Test("beam_width = 1 is greedy decoding", 1, lambda fn, rng: _beam(fn, rng, 1, 0.75, 0.0)),
        Test("beam_width = 3, alpha = 0: the raw log-probability", 1, lambda fn, rng: _beam(fn, rng, 3, 0.0, 0.5)),
        Test("beam_width = 3, alpha = 1: length normalisation changes the winner", 2,
             lambda fn, rng: _beam(fn, rng, 3, 1.0, 0.5, need=_differs_without_normalisation)),
        Test("a hypothesis that ends in <eos> is finished", 1,
             lambda fn, rng: _beam(fn, rng, 4, 0.75, 1.0, need=_eos_matters)),
    ),
)

TASKS = (EMBEDDING_FORWARD, EMBEDDING_BACKWARD, TEMPORAL_LOSS, ADDITIVE, BEAM)
