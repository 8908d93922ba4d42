"""course_lib.ref attention: forward/backward vs torch and finite differences, masks, multi-head self-attention,
positional encoding, and the pre-norm encoder block vs torch.nn.TransformerEncoderLayer."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import ref


def qkv(seed=0, lead=(2, 3), tq=4, tk=5, d=6, dv=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(lead + (tq, d)), rng.standard_normal(lead + (tk, d)),
            rng.standard_normal(lead + (tk, dv)))


def random_mask(seed, shape):
    mask = np.random.default_rng(seed).random(shape) < 0.6
    mask[..., 0] = True  # every query may attend to at least one key
    return mask


@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_attention_matches_torch_forward_and_backward(masking):
    q, k, v = qkv(tq=5, tk=5)
    mask = random_mask(1, (5, 5)) if masking in ("mask", "both") else None
    causal = masking in ("causal", "both")
    out, cache = ref.attention_forward(q, k, v, mask=mask, causal=causal)
    d_out = np.random.default_rng(2).standard_normal(out.shape)
    dq, dk, dv = ref.attention_backward(d_out, cache)

    tq_, tk_, tv_ = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    allowed = None
    if mask is not None or causal:
        allowed = torch.ones(5, 5, dtype=torch.bool)
        if mask is not None:
            allowed &= torch.from_numpy(mask)
        if causal:
            allowed &= torch.ones(5, 5, dtype=torch.bool).tril()
    t_out = F.scaled_dot_product_attention(tq_, tk_, tv_, attn_mask=allowed)
    (t_out * torch.from_numpy(d_out)).sum().backward()
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-12)
    for mine, theirs in ((dq, tq_), (dk, tk_), (dv, tv_)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=0, atol=1e-12)
    w = cache["weights"]
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-14)
    if allowed is not None:
        assert np.all(w[..., ~allowed.numpy()] == 0.0)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_backward_matches_finite_differences(causal):
    q, k, v = qkv(seed=3, lead=(2,), tq=4, tk=4, d=3, dv=2)
    mask = random_mask(4, (2, 4, 4))
    d_out = np.random.default_rng(5).standard_normal((2, 4, 2))
    _, cache = ref.attention_forward(q, k, v, mask=mask, causal=causal)
    grads = ref.attention_backward(d_out, cache)
    f = lambda _: np.sum(ref.attention(q, k, v, mask=mask, causal=causal)[0] * d_out)
    for array, g in zip((q, k, v), grads):
        assert ref.grad_check(f, array, g) <= 1e-6


def test_attention_is_stable_for_huge_scores():
    q = np.full((1, 2, 4), 300.0)
    k = np.array([[[300.0] * 4, [-300.0] * 4]])
    v = np.array([[[1.0], [2.0]]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out, w = ref.attention(q, k, v)
    np.testing.assert_array_equal(w, [[[1.0, 0.0], [1.0, 0.0]]])
    np.testing.assert_array_equal(out, [[[1.0], [1.0]]])


def test_attention_errors():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"k must be \(2, 3, time_k, 6\) = \(\.\.\., time_k, d\) with q's leading "
                                         r"dims and d; got \(2, 3, 5, 4\)"):
        ref.attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match=r"v must be \(2, 3, 5, d_v\) = .*; got \(2, 3, 4, 3\)"):
        ref.attention(q, k, v[..., :4, :])
    with pytest.raises(ValueError, match=r"mask must broadcast to the scores' shape \(\.\.\., time_q, time_k\) = "
                                         r"\(2, 3, 4, 5\); got \(5, 4\)"):
        ref.attention(q, k, v, mask=np.ones((5, 4), dtype=bool))
    with pytest.raises(TypeError, match="mask must be boolean \\(True = may attend\\); got dtype float64"):
        ref.attention(q, k, v, mask=np.ones((4, 5)))
    blocked = np.ones((4, 5), dtype=bool)
    blocked[2] = False
    with pytest.raises(ValueError, match="mask leaves a query with no key to attend to"):
        ref.attention(q, k, v, mask=blocked)
    with pytest.raises(ValueError, match="q must be finite"):
        ref.attention(np.full_like(q, np.nan), k, v)
    with pytest.raises(TypeError, match="k has dtype float32 but q has dtype float64"):
        ref.attention(q, k.astype(np.float32), v)
    _, cache = ref.attention_forward(q, k, v)
    with pytest.raises(ValueError, match=r"d_out must be \(2, 3, 4, 3\)"):
        ref.attention_backward(np.zeros((2, 3, 4, 4)), cache)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_self_attention_matches_torch(causal):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    x = np.random.default_rng(6).standard_normal((3, 5, 8))
    sd = {k: v.numpy() for k, v in mha.state_dict().items()}
    out, w = ref.multi_head_self_attention(x, sd["in_proj_weight"], sd["in_proj_bias"], sd["out_proj.weight"],
                                           sd["out_proj.bias"], num_heads=2, causal=causal)
    xt = torch.tensor(x)
    blocked = torch.ones(5, 5, dtype=torch.bool).triu(1) if causal else None
    with torch.no_grad():
        t_out, t_w = mha(xt, xt, xt, attn_mask=blocked, need_weights=True)
    np.testing.assert_allclose(out, t_out.numpy(), rtol=0, atol=1e-12)
    assert w.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(w.mean(axis=1), t_w.numpy(), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="num_heads must be a positive divisor of d_model = 8; got 3"):
        ref.multi_head_self_attention(x, sd["in_proj_weight"], sd["in_proj_bias"], sd["out_proj.weight"],
                                      sd["out_proj.bias"], num_heads=3)


@pytest.mark.parametrize("causal", [False, True])
def test_encoder_block_matches_torch_pre_norm_layer(causal):
    torch.manual_seed(1)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, norm_first=True,
                                             batch_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        for p in layer.parameters():  # make norms and biases non-trivial
            p.add_(0.1 * torch.randn_like(p))
    block = ref.TransformerEncoderBlock.from_torch(layer)
    assert list(block.state_dict()) == list(layer.state_dict())
    x = np.random.default_rng(7).standard_normal((2, 6, 8))
    blocked = torch.ones(6, 6, dtype=torch.bool).triu(1) if causal else None
    with torch.no_grad():
        expected = layer(torch.tensor(x), src_mask=blocked, is_causal=causal)
    np.testing.assert_allclose(block.forward(x, causal=causal), expected.numpy(), rtol=0, atol=1e-12)
    fresh = ref.TransformerEncoderBlock(8, 2, dim_feedforward=16, seed=3)
    assert not np.allclose(fresh.forward(x), expected.numpy())
    with pytest.raises(ValueError, match="the ref block is pre-norm; got a TransformerEncoderLayer with "
                                         "norm_first=False"):
        ref.TransformerEncoderBlock.from_torch(torch.nn.TransformerEncoderLayer(8, 2, batch_first=True))
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['linear3.weight'\]"):
        fresh.load_state_dict(dict(fresh.state_dict(), **{"linear3.weight": np.zeros(1)}))
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 8\); got \(6, 8\)"):
        fresh.forward(x[0])


@pytest.mark.parametrize("length,d_model", [(7, 6), (5, 5)])
def test_positional_encoding_formula(length, d_model):
    pe = ref.positional_encoding(length, d_model)
    assert pe.shape == (length, d_model)
    for p in range(length):
        for j in range(d_model):
            angle = p / 10000 ** ((j - j % 2) / d_model)
            assert pe[p, j] == pytest.approx(math.sin(angle) if j % 2 == 0 else math.cos(angle), abs=1e-12)
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)
    with pytest.raises(ValueError, match="d_model must be a positive int; got 0"):
        ref.positional_encoding(3, 0)
