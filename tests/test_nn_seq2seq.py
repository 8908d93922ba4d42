"""course_lib.nn.seq2seq: the attention modules equal the NumPy reference, the direct formula and torch's
scaled_dot_product_attention; the encoder-decoder's step-by-step decoding equals its teacher-forced forward."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import nn as cnn
from course_lib import ref
from course_lib.core import DTypeError, ShapeError


def _mask(batch, S, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, S + 1, (batch,), generator=g)
    lengths[0] = S
    return torch.arange(S)[None, :] < lengths[:, None]


def test_additive_attention_equals_the_numpy_reference_forward_and_backward():
    torch.manual_seed(0)
    att = cnn.AdditiveAttention(4, 6, 7, dtype=torch.float64)
    q = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    mask = _mask(3, 5)
    c, w = att(q, k, mask=mask)
    arrays = [t.detach().numpy() for t in (q, k, att.W_q.weight, att.W_k.weight, att.v.weight[0])]
    c_ref, w_ref, cache = ref.additive_attention_forward(*arrays, mask=mask.numpy())
    np.testing.assert_allclose(c.detach().numpy(), c_ref, atol=1e-10)
    np.testing.assert_allclose(w.detach().numpy(), w_ref, atol=1e-10)
    d_c = torch.randn(3, 6, dtype=torch.float64)
    (c * d_c).sum().backward()
    g = ref.additive_attention_backward(d_c.numpy(), cache)
    for name, t in (("query", q.grad), ("keys", k.grad), ("W_q", att.W_q.weight.grad),
                    ("W_k", att.W_k.weight.grad), ("v", att.v.weight.grad[0])):
        np.testing.assert_allclose(t.numpy(), g[name], atol=1e-10, err_msg=name)


def test_additive_attention_over_many_queries_equals_one_query_at_a_time():
    torch.manual_seed(1)
    att = cnn.AdditiveAttention(4, 6, 5, dtype=torch.float64)
    q, k, mask = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 5, 6, dtype=torch.float64), _mask(2, 5, 1)
    c, w = att(q, k, mask=mask)
    for t in range(3):
        c_t, w_t = att(q[:, t], k, mask=mask, projected_keys=att.project_keys(k))
        torch.testing.assert_close(c[:, t], c_t, atol=1e-12, rtol=0)
        torch.testing.assert_close(w[:, t], w_t, atol=1e-12, rtol=0)


@pytest.mark.parametrize("scaled", [False, True])
def test_dot_attention_equals_the_formula_and_torch_sdpa(scaled, device):
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, n, 4, dtype=torch.float64, device=device) for n in (3, 5, 5))
    mask = _mask(2, 5, 2).to(device)
    c, w = cnn.DotProductAttention(scaled=scaled)(q, k, v, mask=mask)
    scale = 0.5 if scaled else 1.0
    scores = torch.einsum("btd,bsd->bts", q, k) * scale
    scores = scores.masked_fill(~mask[:, None], float("-inf"))
    torch.testing.assert_close(w, torch.softmax(scores, -1), atol=1e-12, rtol=0)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None], scale=scale)
    torch.testing.assert_close(c, want, atol=1e-10, rtol=0)
    c_ref, _, _ = ref.dot_attention_forward(q.cpu().numpy(), k.cpu().numpy(), v.cpu().numpy(), mask.cpu().numpy(),
                                            scaled=scaled)
    np.testing.assert_allclose(c.cpu().numpy(), c_ref, atol=1e-10)


def test_attention_errors():
    att = cnn.AdditiveAttention(4, 6, 5)
    with pytest.raises(ShapeError, match=r"query must have 4 features; got \(2, 3\)"):
        att(torch.zeros(2, 3), torch.zeros(2, 5, 6))
    with pytest.raises(ShapeError, match=r"keys must be \(batch, S, d_k\)"):
        att(torch.zeros(2, 4), torch.zeros(2, 6))
    with pytest.raises(DTypeError, match="mask must be a bool tensor"):
        att(torch.zeros(2, 4), torch.zeros(2, 5, 6), mask=torch.ones(2, 5))
    with pytest.raises(ShapeError, match=r"mask must be \(batch, S\) = \(2, 5\); got \(2, 4\)"):
        att(torch.zeros(2, 4), torch.zeros(2, 5, 6), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="attention must be one of"):
        cnn.Seq2Seq(5, 5, attention="luong")


def _batch(seed=0, B=4, S=7, T=6, V_src=11, V_tgt=9):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, S + 1, (B,), generator=g)
    lengths[0] = S
    src = torch.randint(4, V_src, (B, S), generator=g).masked_fill(torch.arange(S)[None] >= lengths[:, None], 0)
    tgt_in = torch.randint(4, V_tgt, (B, T), generator=g)
    tgt_in[:, 0] = 1
    return src, lengths, tgt_in


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_step_by_step_decoding_equals_the_teacher_forced_forward(attention):
    torch.manual_seed(3)
    model = cnn.Seq2Seq(11, 9, embed_size=5, hidden_size=6, attention=attention, dtype=torch.float64)
    src, lengths, tgt_in = _batch()
    logits, weights = model(src, lengths, tgt_in)
    state = model.encode(src, lengths)
    for t in range(tgt_in.shape[1]):
        logp, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(logp, torch.log_softmax(logits[:, t], -1), atol=1e-12, rtol=0)
        if attention is not None:
            torch.testing.assert_close(state["weights"], weights[:, t], atol=1e-12, rtol=0)
    if attention is not None:
        assert torch.all(weights.masked_select(~state["mask"][:, None].expand_as(weights)) == 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2], dtype=torch.float64))


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_source_padding_changes_nothing(attention):
    """More padding after the sources (a longer batch) leaves every output unchanged."""
    torch.manual_seed(4)
    model = cnn.Seq2Seq(11, 9, embed_size=5, hidden_size=6, attention=attention, dtype=torch.float64)
    src, lengths, tgt_in = _batch(1)
    longer = torch.cat([src, torch.zeros(src.shape[0], 3, dtype=torch.int64)], 1)
    a, _ = model(src, lengths, tgt_in)
    b, _ = model(longer, lengths, tgt_in)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_seq2seq_trains_and_input_errors():
    torch.manual_seed(5)
    model = cnn.Seq2Seq(11, 9, embed_size=5, hidden_size=6, attention="additive")
    src, lengths, tgt_in = _batch(2)
    logits, _ = model(src, lengths, tgt_in)
    F.cross_entropy(logits.reshape(-1, 9), tgt_in.roll(-1, 1).reshape(-1)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(TypeError, match=r"src must be an int64 tensor \(batch, time\) of token ids; got torch.float32"):
        model(src.float(), lengths, tgt_in)
    with pytest.raises(ValueError, match=r"tgt_in must hold ids in \[0, 9\); got values in"):
        model(src, lengths, tgt_in + 20)
    with pytest.raises(ShapeError, match=r"src_lengths must be \(4,\)"):
        model(src, lengths[:2], tgt_in)
