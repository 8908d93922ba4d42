"""Attention, multi-head self-attention and the pre-norm Transformer against torch; KV-cache decoding."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import nn as cnn

f64 = torch.float64


def qkv(device, L=5, S=6):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, n, d, generator=g, dtype=f64).to(device) for n, d in ((L, 4), (S, 4), (S, 8))]


@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float"])
def test_sdpa_matches_torch(case, device):
    q, k, v = qkv(device)
    g = torch.Generator().manual_seed(1)
    mask = None
    if case == "bool":
        mask = (torch.rand(5, 6, generator=g) > 0.3).to(device)
        mask[:, 0] = True                                  # no fully masked row
    elif case == "float":
        mask = torch.randn(2, 1, 5, 6, generator=g, dtype=f64).to(device)
    out, w = cnn.scaled_dot_product_attention(q, k, v, mask=mask, causal=case == "causal")
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=case == "causal")
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    if case == "causal":
        assert (w[..., 0, 1:] == 0).all()


def test_sdpa_formula_and_errors():
    q, k, v = qkv("cpu", 1, 2)
    out, w = cnn.scaled_dot_product_attention(q, k, v)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(4)
    torch.testing.assert_close(w, torch.softmax(s, -1))
    with pytest.raises(ValueError, match=r"q and k must share the feature size d_k; got q \(2, 3, 1, 4\), k \(2, 3, 2, 3\)"):
        cnn.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"mask must broadcast to the scores' shape \(2, 3, 1, 2\).*got \(3, 3\)"):
        cnn.scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 3, dtype=torch.bool))


@pytest.mark.parametrize("case", ["plain", "causal", "lengths"])
def test_mha_matches_torch(case, device):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(16, 4, batch_first=True, dtype=f64, device=device)
    ours = cnn.MultiheadSelfAttention(16, 4, dtype=f64, device=device)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, 16, dtype=f64, device=device, requires_grad=True)
    kw, ours_kw = {}, {}
    if case == "causal":
        kw["attn_mask"] = torch.triu(torch.ones(7, 7, dtype=torch.bool, device=device), 1)  # True = blocked
        ours_kw["causal"] = True
    elif case == "lengths":
        lengths = torch.tensor([7, 3, 5])
        kw["key_padding_mask"] = (torch.arange(7)[None] >= lengths[:, None]).to(device)
        ours_kw["lengths"] = lengths
    out_t, w_t = ref(x, x, x, average_attn_weights=False, **kw)
    out_o, w_o = ours(x, need_weights=True, **ours_kw)
    torch.testing.assert_close(out_o, out_t, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(w_o, w_t, atol=1e-12, rtol=1e-12)
    g_t = torch.autograd.grad(out_t.square().sum(), [x, *ref.parameters()])
    g_o = torch.autograd.grad(out_o.square().sum(), [x, *ours.parameters()])
    for a, b in zip(g_o, g_t):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_encoder_layer_matches_torch(causal, device):
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=True,
                                           dtype=f64, device=device)
    ours = cnn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, dtype=f64, device=device)
    ours.load_state_dict(ref.state_dict())                       # strict: same names and shapes
    x = torch.randn(2, 6, 16, dtype=f64, device=device)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6, device=device, dtype=f64) if causal else None
    torch.testing.assert_close(ours(x, causal=causal), ref(x, src_mask=mask, is_causal=causal),
                               atol=1e-12, rtol=1e-12)


def test_kv_cache_decoding_equals_causal_forward(device):
    torch.manual_seed(0)
    enc = cnn.TransformerEncoder(16, 4, num_layers=2, causal=True, dtype=f64, device=device).eval()
    x = torch.randn(2, 9, 16, dtype=f64, device=device)
    full = enc(x)
    cache = enc.init_cache()
    first = enc.step(x[:, :3], cache)                           # a prompt of 3, then one at a time
    rest = [enc.step(x[:, t], cache) for t in range(3, 9)]
    torch.testing.assert_close(torch.cat([first, torch.stack(rest, 1)], 1), full, atol=1e-12, rtol=1e-12)
    assert len(cache[0]) == 9 and cache[0].nbytes == 2 * 2 * 9 * 16 * 8
    noncausal = cnn.TransformerEncoder(16, 4, 1, dtype=f64, device=device)
    assert not torch.allclose(noncausal(x)[:, 0], noncausal(x[:, :1])[:, 0])   # sees the future
    with pytest.raises(ValueError, match="needs a causal encoder"):
        noncausal.step(x[:, 0], noncausal.init_cache())


def test_positional_encoding_values():
    pe = cnn.sinusoidal_positional_encoding(50, 7)
    p, i = 13, 2
    assert pe.shape == (50, 7)
    assert math.isclose(pe[p, 2 * i].item(), math.sin(p / 10000 ** (2 * i / 7)), abs_tol=1e-6)
    assert math.isclose(pe[p, 2 * i + 1].item(), math.cos(p / 10000 ** (2 * i / 7)), abs_tol=1e-6)
    torch.testing.assert_close(cnn.sinusoidal_positional_encoding(5, 7, offset=13), pe[13:18])


def test_attention_errors():
    m = cnn.MultiheadSelfAttention(16, 4)
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 16\); got \(7, 16\)"):
        m(torch.randn(7, 16))
    with pytest.raises(TypeError, match="x must be torch.float32 on cpu; got torch.float64"):
        m(torch.randn(1, 7, 16, dtype=f64))
    with pytest.raises(ValueError, match="divisible by num_heads; got 10 and 4"):
        cnn.MultiheadSelfAttention(10, 4)
