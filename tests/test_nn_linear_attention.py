"""course_lib.nn linear attention: equal to course_lib.ref (float64, 1e-12), parallel = recurrent (plain and
gated, values and gradients), the multi-head layer and the chapter 10 model streaming with a constant state."""
import numpy as np
import pytest
import torch

from course_lib import nn as cnn
from course_lib import ref
from course_lib.experiments import transformers as X
from course_lib.experiments.linear_attention import LinearAttentionModel, state_bytes_formula
from course_lib.nn.linear_attention import decay_matrix, elu_feature_map


def tensors(seed=0, lead=(2, 3), t=11, d=4, dv=5, gated=False, grad=False):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(*lead, t, n, generator=g, dtype=torch.float64) for n in (d, d, dv))
    a = 0.3 + 0.7 * torch.rand(*lead, t, generator=g, dtype=torch.float64) if gated else None
    out = [q, k, v, a]
    if grad:
        out = [x.requires_grad_() if x is not None else None for x in out]
    return out


def test_feature_map_matches_ref_and_stays_positive():
    x = torch.tensor([-800.0, -40.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    np.testing.assert_array_equal(elu_feature_map(x).numpy(), ref.elu_feature_map(x.numpy()))
    assert elu_feature_map(x)[1] > 0        # F.elu(x) + 1 would round exp(-40) - 1 + 1 to 0


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("gated", [False, True])
def test_torch_equals_ref_and_parallel_equals_recurrent(gated, normalize):
    q, k, v, a = tensors(seed=1, gated=gated)
    par = cnn.linear_attention_parallel(q, k, v, a, normalize=normalize)
    rec, state = cnn.linear_attention_recurrent(q, k, v, a, normalize=normalize)
    np.testing.assert_allclose(par.numpy(), rec.numpy(), rtol=0, atol=1e-12)
    expected = ref.linear_attention(q.numpy(), k.numpy(), v.numpy(), decay=None if a is None else a.numpy(),
                                    normalize=normalize)
    np.testing.assert_allclose(par.numpy(), expected, rtol=0, atol=1e-12)
    _, (S, z) = ref.linear_attention_recurrent(q.numpy(), k.numpy(), v.numpy(),
                                               decay=None if a is None else a.numpy(), normalize=normalize)
    np.testing.assert_allclose(state.S.numpy(), S, atol=1e-12)
    np.testing.assert_allclose(state.z.numpy(), z, atol=1e-12)
    assert len(state) == 11 and state.nbytes == (2 * 3 * 4 * 5 + 2 * 3 * 4) * 8


def test_non_causal_equals_ref():
    q, k, v, _ = tensors(seed=2)
    np.testing.assert_allclose(cnn.linear_attention_parallel(q, k, v, causal=False).numpy(),
                               ref.linear_attention(q.numpy(), k.numpy(), v.numpy(), causal=False), atol=1e-12)


@pytest.mark.parametrize("gated", [False, True])
def test_gradients_of_both_forms_equal_the_ref_backward(gated):
    q, k, v, a = tensors(seed=3, gated=gated, grad=True, t=9)
    d_out = torch.randn(2, 3, 9, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    grads = {}
    for form in ("parallel", "recurrent"):
        fn = cnn.linear_attention_parallel if form == "parallel" else (lambda *x: cnn.linear_attention_recurrent(*x)[0])
        leaves = [x for x in (q, k, v, a) if x is not None]
        grads[form] = torch.autograd.grad((fn(q, k, v, a) * d_out).sum(), leaves)
    _, cache = ref.linear_attention_forward(*(x.detach().numpy() if x is not None else None for x in (q, k, v)),
                                            decay=None if a is None else a.detach().numpy())
    mine = [g for g in ref.linear_attention_backward(d_out.numpy(), cache) if g is not None]
    for gp, gr, gm in zip(grads["parallel"], grads["recurrent"], mine):
        np.testing.assert_allclose(gp.numpy(), gr.numpy(), atol=1e-11, rtol=0)
        np.testing.assert_allclose(gp.numpy(), gm, atol=1e-11, rtol=0)


def test_decay_matrix_matches_ref():
    a = 0.2 + 0.8 * torch.rand(3, 20, dtype=torch.float64)
    np.testing.assert_allclose(decay_matrix(a).numpy(), ref.decay_matrix(a.numpy()), atol=1e-15)


@pytest.mark.parametrize("gated", [False, True])
def test_layer_is_the_ref_function_on_its_own_projections_and_streams(gated):
    torch.manual_seed(0)
    layer = cnn.LinearSelfAttention(12, 3, gated=gated, dtype=torch.float64)
    if gated:                                                     # make the decay depend on the input
        torch.nn.init.normal_(layer.gate.weight, std=0.5)
    x = torch.randn(2, 10, 12, dtype=torch.float64)
    with torch.no_grad():
        out, none = layer(x)
        rec, state = layer(x, mode="recurrent")
        steps, s = [], None
        for t in range(10):
            y, s = layer.step(x[:, t], s)
            steps.append(y)
    assert none is None and state.nbytes == s.nbytes == 2 * 3 * (4 * 4 + 4) * 8
    np.testing.assert_allclose(rec.numpy(), out.numpy(), atol=1e-12)
    np.testing.assert_allclose(torch.stack(steps, 1).numpy(), out.numpy(), atol=1e-12)
    # the same computation in NumPy
    p = {n: t.detach().numpy() for n, t in layer.state_dict().items()}
    qkv = x.numpy() @ p["in_proj_weight"].T + p["in_proj_bias"]
    heads = lambda t: t.reshape(2, 10, 3, 4).transpose(0, 2, 1, 3)
    q, k, v = (heads(t) for t in np.split(qkv, 3, axis=-1))
    decay = None
    if gated:
        decay = ref.sigmoid(x.numpy() @ p["gate.weight"].T + p["gate.bias"]).transpose(0, 2, 1)
    o = ref.linear_attention(q, k, v, decay=decay).transpose(0, 2, 1, 3).reshape(2, 10, 12)
    np.testing.assert_allclose(out.numpy(), o @ p["out_proj.weight"].T + p["out_proj.bias"], atol=1e-12)


def test_gate_starts_at_retnets_fixed_decays():
    layer = cnn.LinearSelfAttention(8, 4, gated=True)
    decay = torch.sigmoid(layer.gate(torch.randn(1, 3, 8))).detach()
    np.testing.assert_allclose(decay[0, 0].numpy(), 1 - 2.0 ** -np.arange(5, 9), rtol=1e-6)


def test_model_trains_in_parallel_and_streams_with_a_constant_state():
    torch.manual_seed(0)
    model = LinearAttentionModel(2, 16, 2, 2, 32, gated=True)
    x = torch.randn(3, 25, 2)
    with torch.no_grad():
        full = model(x)
        rec = model(x, mode="recurrent")
        state, outs = model.init_state(), []
        for t in range(25):
            y, state = model.step(x[:, t], state)
            outs.append(y)
    assert (rec - full).abs().max() < 1e-5 and (torch.stack(outs, 1) - full).abs().max() < 1e-5
    nbytes, _ = X.streaming(model, 40, batch=4)                 # chapter 09's measurement, unchanged
    assert nbytes == [state_bytes_formula(4, 16, 2, 2)] * 40 == [2 * 4 * 2 * (64 + 8) * 4] * 40
    # the parallel form has the same autograd depth at every length; the recurrent one grows with T
    depth = [X.sequential_depth(model, T) for T in (8, 32)]
    assert depth[0] == depth[1]
    x8 = torch.randn(2, 8, 2)
    x32 = torch.randn(2, 32, 2)
    assert X.graph_depth(model(x32, mode="recurrent").sum()) > X.graph_depth(model(x8, mode="recurrent").sum()) + 24


@pytest.mark.parametrize("call,error,match", [
    (lambda q, k, v: cnn.linear_attention_parallel(q, k[..., :3, :], v), ValueError, "q and k must be"),
    (lambda q, k, v: cnn.linear_attention_parallel(q, k, v[..., :3, :]), ValueError, "v must be"),
    (lambda q, k, v: cnn.linear_attention_parallel(q, k, v.float()), TypeError, "must share dtype"),
    (lambda q, k, v: cnn.linear_attention_parallel(q.numpy(), k, v), TypeError, "q must be a torch.Tensor"),
    (lambda q, k, v: cnn.linear_attention_parallel(q, k, v, torch.ones(2, 3)), ValueError, r"decay must be \(\.\.\., time\)"),
    (lambda q, k, v: cnn.linear_attention_parallel(q, k, v, torch.ones(2, 3, 11), causal=False), ValueError,
     "decay needs causal=True"),
    (lambda q, k, v: cnn.linear_attention_recurrent(q, k, v, state=(1, 2)), TypeError,
     "state must be a LinearAttentionState"),
    (lambda q, k, v: cnn.LinearSelfAttention(10, 3), ValueError, "divisible"),
    (lambda q, k, v: cnn.LinearSelfAttention(8, 2)(torch.zeros(2, 8)), ValueError, r"x must be \(batch, time, 8\)"),
    (lambda q, k, v: cnn.LinearSelfAttention(8, 2)(torch.zeros(1, 2, 8), mode="scan"), ValueError, "mode must be one of"),
    (lambda q, k, v: cnn.LinearSelfAttention(8, 2)(torch.zeros(1, 2, 8, dtype=torch.float64)), TypeError,
     "x must be torch.float32"),
    (lambda q, k, v: LinearAttentionModel(2, 8, 2, 1, 8).step(torch.zeros(1, 2), None), ValueError,
     "state must be the list from init_state"),
])
def test_bad_input_says_what_was_expected(call, error, match):
    q, k, v, _ = tensors()
    with pytest.raises(error, match=match):
        call(q, k, v)
