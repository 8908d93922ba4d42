"""course_lib.ref.seq2seq: embedding, masked temporal loss, additive and dot attention -- values against torch and
direct formulas, every backward against finite differences, and the error messages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import ref

RNG = np.random.default_rng(0)


def _mask(batch, time, rng, min_len=1):
    lengths = rng.integers(min_len, time + 1, size=batch)
    lengths[0] = time
    return np.arange(time)[None, :] < lengths[:, None]


# ----------------------------------------------------------------------------- embedding
def test_embedding_is_a_one_hot_product_and_equals_torch():
    W = RNG.normal(size=(7, 4))
    ids = np.array([[0, 3, 3], [6, 1, 3]])
    out, _ = ref.embedding_forward(ids, W)
    np.testing.assert_allclose(out, np.eye(7)[ids] @ W, atol=1e-15)
    emb = torch.nn.Embedding(7, 4, dtype=torch.float64)
    emb.weight.data = torch.from_numpy(W.copy())
    np.testing.assert_array_equal(out, emb(torch.from_numpy(ids)).detach().numpy())


def test_embedding_backward_accumulates_repeated_ids_and_matches_torch_and_finite_differences():
    W = RNG.normal(size=(6, 3))
    ids = np.array([[1, 1, 4], [1, 0, 4]])                    # id 1 three times, id 4 twice
    d_out = RNG.normal(size=(2, 3, 3))
    _, cache = ref.embedding_forward(ids, W)
    dW = ref.embedding_backward(d_out, cache)
    np.testing.assert_allclose(dW[1], d_out[0, 0] + d_out[0, 1] + d_out[1, 0], atol=1e-14)
    assert np.all(dW[[2, 3, 5]] == 0)
    Wt = torch.from_numpy(W.copy()).requires_grad_()
    (F.embedding(torch.from_numpy(ids), Wt) * torch.from_numpy(d_out)).sum().backward()
    np.testing.assert_allclose(dW, Wt.grad.numpy(), atol=1e-14)
    err = ref.grad_check(lambda _: np.sum(ref.embedding_forward(ids, W)[0] * d_out), W, dW)
    assert err < 1e-8


def test_embedding_errors():
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\] \(the rows of W\); got values in \[0, 9\]"):
        ref.embedding_forward(np.array([0, 9]), np.zeros((6, 2)))
    with pytest.raises(TypeError, match="ids must be an integer array; got dtype float64"):
        ref.embedding_forward(np.array([0.0, 1.0]), np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"W must be \(vocab, dim\); got \(6,\)"):
        ref.embedding_forward(np.array([0]), np.zeros(6))
    _, cache = ref.embedding_forward(np.array([[0, 1]]), np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"d_out must be \(1, 2, 2\)"):
        ref.embedding_backward(np.zeros((2, 2)), cache)


# ----------------------------------------------------------------------------- masked temporal softmax loss
def test_temporal_softmax_loss_equals_torch_cross_entropy_with_ignore_index():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 6, 5)) * 3
    mask = _mask(4, 6, rng)
    targets = rng.integers(1, 5, size=(4, 6))
    targets[~mask] = 0                                        # <pad> = 0 on the padding
    loss, d_logits = ref.temporal_softmax_loss(logits, targets, mask)
    lt = torch.from_numpy(logits.copy()).requires_grad_()
    want = F.cross_entropy(lt.reshape(-1, 5), torch.from_numpy(targets).reshape(-1), ignore_index=0)
    want.backward()
    assert abs(loss - want.item()) < 1e-12
    np.testing.assert_allclose(d_logits, lt.grad.numpy(), atol=1e-14)
    assert np.all(d_logits[~mask] == 0)                       # padding gets no gradient
    err = ref.grad_check(lambda _: ref.temporal_softmax_loss(logits, targets, mask)[0], logits, d_logits)
    assert err < 1e-7


def test_temporal_softmax_loss_ignores_whatever_the_padding_holds():
    rng = np.random.default_rng(2)
    logits, mask = rng.normal(size=(3, 5, 4)), _mask(3, 5, rng)
    t1 = rng.integers(0, 4, size=(3, 5))
    t2 = np.where(mask, t1, (t1 + 1) % 4)
    logits2 = np.where(mask[..., None], logits, 50.0)
    assert ref.temporal_softmax_loss(logits, t1, mask)[0] == pytest.approx(
        ref.temporal_softmax_loss(logits2, t2, mask)[0], abs=1e-14)
    # without the mask (all True) the padding would count
    assert abs(ref.temporal_softmax_loss(logits, t1, np.ones_like(mask))[0]
               - ref.temporal_softmax_loss(logits, t1, mask)[0]) > 1e-3


def test_temporal_softmax_loss_errors():
    logits, t = np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="mask must be boolean"):
        ref.temporal_softmax_loss(logits, t, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mask must be \(batch, time\) = \(2, 3\); got \(3, 2\)"):
        ref.temporal_softmax_loss(logits, t, np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="mask is all False"):
        ref.temporal_softmax_loss(logits, t, np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"targets must be \(batch, time\) = \(2, 3\); got \(2,\)"):
        ref.temporal_softmax_loss(logits, t[:, 0], np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"logits must be \(batch, time, vocab\)"):
        ref.temporal_softmax_loss(logits[0], t, np.ones((2, 3), dtype=bool))


# ----------------------------------------------------------------------------- additive attention
def _additive(rng, batch=3, time_k=5, d_q=4, d_k=6, d_a=7):
    return (rng.normal(size=(batch, d_q)), rng.normal(size=(batch, time_k, d_k)),
            rng.normal(size=(d_a, d_q)) * 0.5, rng.normal(size=(d_a, d_k)) * 0.5, rng.normal(size=d_a),
            _mask(batch, time_k, rng))


def test_additive_attention_equals_the_formula_entry_by_entry():
    rng = np.random.default_rng(3)
    q, k, W_q, W_k, v, mask = _additive(rng)
    context, weights, _ = ref.additive_attention_forward(q, k, W_q, W_k, v, mask)
    for b in range(q.shape[0]):
        e = np.array([v @ np.tanh(W_q @ q[b] + W_k @ k[b, j]) if mask[b, j] else -np.inf for j in range(k.shape[1])])
        a = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
        np.testing.assert_allclose(weights[b], a, atol=1e-14)
        np.testing.assert_allclose(context[b], a @ k[b], atol=1e-14)
    assert np.all(weights[~mask] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-14)


@pytest.mark.parametrize("with_mask", [False, True])
def test_additive_attention_backward_passes_the_gradient_check(with_mask):
    rng = np.random.default_rng(4)
    q, k, W_q, W_k, v, mask = _additive(rng)
    mask = mask if with_mask else None
    d_c, d_w = rng.normal(size=(3, 6)), rng.normal(size=(3, 5))
    _, _, cache = ref.additive_attention_forward(q, k, W_q, W_k, v, mask)
    grads = ref.additive_attention_backward(d_c, cache, d_weights=d_w)

    def loss(_):
        c, w, _ = ref.additive_attention_forward(q, k, W_q, W_k, v, mask)
        return np.sum(c * d_c) + np.sum(w * d_w)

    for name, arr in (("query", q), ("keys", k), ("W_q", W_q), ("W_k", W_k), ("v", v)):
        assert ref.grad_check(loss, arr, grads[name]) < 1e-7, name


def test_additive_attention_errors():
    rng = np.random.default_rng(5)
    q, k, W_q, W_k, v, mask = _additive(rng)
    with pytest.raises(ValueError, match=r"keys must be \(3, time_k, d_k\)"):
        ref.additive_attention_forward(q, k[:2], W_q, W_k, v)
    with pytest.raises(ValueError, match=r"W_k must be \(7, 6\) = \(d_a, d_k\); got \(7, 4\)"):
        ref.additive_attention_forward(q, k, W_q, W_k[:, :4], v)
    with pytest.raises(ValueError, match="a row of the mask is all False"):
        ref.additive_attention_forward(q, k, W_q, W_k, v, np.zeros((3, 5), dtype=bool))
    with pytest.raises(TypeError, match="has dtype float32"):
        ref.additive_attention_forward(q.astype(np.float32), k, W_q, W_k, v)


# ----------------------------------------------------------------------------- dot attention
def test_scaled_dot_attention_is_ref_attention_and_torch_sdpa():
    rng = np.random.default_rng(6)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    mask = _mask(2, 5, rng)
    c, w, _ = ref.dot_attention_forward(q, k, v, mask, scaled=True)
    c2, w2 = ref.attention(q, k, v, mask=mask[:, None, :])
    np.testing.assert_allclose(c, c2, atol=1e-14)
    np.testing.assert_allclose(w, w2, atol=1e-14)
    want = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)),
                                          attn_mask=torch.from_numpy(mask[:, None, :]))
    np.testing.assert_allclose(c, want.numpy(), atol=1e-12)
    c1, _, _ = ref.dot_attention_forward(q, k, v, mask)        # Luong's dot: scale 1
    want1 = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)),
                                           attn_mask=torch.from_numpy(mask[:, None, :]), scale=1.0)
    np.testing.assert_allclose(c1, want1.numpy(), atol=1e-12)


@pytest.mark.parametrize("shared", [False, True])
def test_dot_attention_backward_passes_the_gradient_check(shared):
    rng = np.random.default_rng(7)
    q, k, mask = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), _mask(2, 5, rng)
    v = None if shared else rng.normal(size=(2, 5, 3))
    d_c = rng.normal(size=(2, 3, 4 if shared else 3))
    _, _, cache = ref.dot_attention_forward(q, k, v, mask)
    g = ref.dot_attention_backward(d_c, cache)
    loss = lambda _: np.sum(ref.dot_attention_forward(q, k, v, mask)[0] * d_c)
    assert ref.grad_check(loss, q, g["query"]) < 1e-7
    assert ref.grad_check(loss, k, g["keys"]) < 1e-7
    if not shared:
        assert ref.grad_check(loss, v, g["values"]) < 1e-7


def test_dot_attention_errors():
    with pytest.raises(ValueError, match=r"keys must be \(2, time_k, 4\)"):
        ref.dot_attention_forward(np.zeros((2, 3, 4)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"mask must be \(batch, time_k\) = \(2, 5\)"):
        ref.dot_attention_forward(np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), mask=np.ones((2, 3, 5), dtype=bool))
