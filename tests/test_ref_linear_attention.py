"""course_lib.ref linear attention: parallel = recurrent (plain and gated), hand-written backward vs finite
differences and torch autograd, normaliser, causality, streaming state, errors."""
import numpy as np
import pytest
import torch

from course_lib import ref
from course_lib.ref.linear_attention import decay_matrix, elu_feature_map, elu_feature_map_grad


def qkv(seed=0, lead=(2, 3), t=7, d=4, dv=5, decay=False):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(lead + (t, n)) for n in (d, d, dv))
    a = rng.uniform(0.3, 1.0, size=lead + (t,)) if decay else None
    return q, k, v, a


def test_feature_map_is_elu_plus_one_and_positive():
    x = np.array([-800.0, -3.0, -1e-9, 0.0, 1e-9, 2.5])
    expected = torch.nn.functional.elu(torch.tensor(x)).numpy() + 1
    np.testing.assert_allclose(elu_feature_map(x)[1:], expected[1:], rtol=1e-12, atol=1e-15)
    assert np.all(elu_feature_map(x[1:]) > 0) and elu_feature_map(x)[0] == 0.0
    np.testing.assert_allclose(elu_feature_map_grad(x[1:]), [np.exp(-3.0), np.exp(-1e-9), 1.0, 1.0, 1.0])


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("gated", [False, True])
def test_parallel_equals_recurrent_in_float64_with_batch_and_heads(normalize, gated):
    q, k, v, a = qkv(seed=1, decay=gated, t=33)
    par = ref.linear_attention(q, k, v, decay=a, normalize=normalize)
    rec, (S, z) = ref.linear_attention_recurrent(q, k, v, decay=a, normalize=normalize)
    assert par.shape == (2, 3, 33, 5) and S.shape == (2, 3, 4, 5) and z.shape == (2, 3, 4)
    np.testing.assert_allclose(par, rec, rtol=0, atol=1e-12)


def test_the_recurrence_continues_from_a_state_and_the_state_size_is_constant():
    q, k, v, a = qkv(seed=2, decay=True, t=12)
    whole, end = ref.linear_attention_recurrent(q, k, v, decay=a)
    first, mid = ref.linear_attention_recurrent(q[..., :5, :], k[..., :5, :], v[..., :5, :], decay=a[..., :5])
    rest, end2 = ref.linear_attention_recurrent(q[..., 5:, :], k[..., 5:, :], v[..., 5:, :], decay=a[..., 5:],
                                                state=mid)
    np.testing.assert_allclose(np.concatenate([first, rest], axis=-2), whole, atol=1e-13)
    assert mid[0].shape == end[0].shape == end2[0].shape
    np.testing.assert_allclose(end2[0], end[0], atol=1e-13)


def test_parallel_form_written_out_and_its_normaliser():
    q, k, v, _ = qkv(seed=3, lead=(), t=6)
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    for i in range(6):
        w = fq[i] @ fk[: i + 1].T                            # phi(q_i) . phi(k_j), j <= i
        out, cache = ref.linear_attention_forward(q, k, v)
        np.testing.assert_allclose(out[i], w @ v[: i + 1] / w.sum(), atol=1e-13)
    np.testing.assert_allclose(cache["weights"].sum(-1), 1.0, rtol=1e-14)
    assert np.all(np.triu(cache["weights"], k=1) == 0)       # causal: nothing from the future
    full = ref.linear_attention(q, k, v, causal=False)
    np.testing.assert_allclose(full[-1], out[-1], atol=1e-13)  # the last query sees every key either way
    assert np.abs(full[0] - out[0]).max() > 1e-3


def test_causal_outputs_do_not_depend_on_the_future():
    q, k, v, a = qkv(seed=4, decay=True)
    out = ref.linear_attention(q, k, v, decay=a)
    q2, k2, v2 = q.copy(), k.copy(), v.copy()
    for x in (q2, k2, v2):
        x[..., 4:, :] += 3.0
    np.testing.assert_array_equal(ref.linear_attention(q2, k2, v2, decay=a)[..., :4, :], out[..., :4, :])


def test_decay_matrix_is_the_product_of_the_decays_in_between():
    a = np.array([0.9, 0.5, 0.8, 0.7])
    D = decay_matrix(a)
    for i in range(4):
        for j in range(4):
            expected = np.prod(a[j + 1: i + 1]) if j <= i else 0.0
            assert D[i, j] == pytest.approx(expected, rel=1e-14, abs=0)
    assert np.all(decay_matrix(np.full(2000, 0.5))[-1, :10] == 0.0)   # underflows to 0, no warning, no nan
    ones = decay_matrix(np.ones(5))                                  # a = 1: plain causal linear attention
    np.testing.assert_array_equal(ones, np.tril(np.ones((5, 5))))


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("kind", ["causal", "gated", "non-causal"])
def test_backward_matches_finite_differences(kind, normalize):
    q, k, v, a = qkv(seed=5, lead=(2,), t=5, d=3, dv=2, decay=kind == "gated")
    causal = kind != "non-causal"
    d_out = np.random.default_rng(6).standard_normal((2, 5, 2))
    _, cache = ref.linear_attention_forward(q, k, v, decay=a, causal=causal, normalize=normalize)
    grads = ref.linear_attention_backward(d_out, cache)
    loss = lambda _: np.sum(ref.linear_attention(q, k, v, decay=a, causal=causal, normalize=normalize) * d_out)
    for name, x, g in zip("qkva", (q, k, v, a), grads):
        if x is None:
            assert g is None
            continue
        assert ref.grad_check(loss, x, g) < 1e-7, name


def test_backward_matches_torch_autograd():
    q, k, v, a = qkv(seed=7, decay=True, t=9)
    out, cache = ref.linear_attention_forward(q, k, v, decay=a)
    d_out = np.random.default_rng(8).standard_normal(out.shape)
    tq, tk, tv, ta = (torch.tensor(x, requires_grad=True) for x in (q, k, v, a))
    phi = lambda x: torch.nn.functional.elu(x) + 1
    c = torch.cumsum(torch.log(ta), -1)
    D = torch.exp(c.unsqueeze(-1) - c.unsqueeze(-2)).tril()
    W = phi(tq) @ phi(tk).transpose(-1, -2) * D
    t_out = (W @ tv) / W.sum(-1, keepdim=True)
    (t_out * torch.from_numpy(d_out)).sum().backward()
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-12, rtol=0)
    for mine, theirs in zip(ref.linear_attention_backward(d_out, cache), (tq, tk, tv, ta)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), atol=1e-11, rtol=1e-10)


def test_step_by_step_equals_the_sequence_call():
    q, k, v, a = qkv(seed=9, lead=(3,), decay=True)
    whole, _ = ref.linear_attention_recurrent(q, k, v, decay=a)
    state = None
    for t in range(q.shape[-2]):
        out_t, state = ref.linear_attention_step(q[:, t], k[:, t], v[:, t], state, a[:, t])
        np.testing.assert_allclose(out_t, whole[:, t], atol=1e-14)


@pytest.mark.parametrize("call,error,match", [
    (lambda q, k, v: ref.linear_attention(q, k[..., :3, :], v), ValueError, r"k must be \(2, 3, 7, 4\)"),
    (lambda q, k, v: ref.linear_attention(q, k, v[..., :2, :]), ValueError, "v must be"),
    (lambda q, k, v: ref.linear_attention(q[0, 0, 0], k, v), ValueError, r"q must be \(\.\.\., time, d\)"),
    (lambda q, k, v: ref.linear_attention(q, k, v.astype(np.float32)), TypeError, "v has dtype float32"),
    (lambda q, k, v: ref.linear_attention(q, k, v, decay=np.full((2, 3, 7), 1.5)), ValueError,
     r"decay must lie in \(0, 1\]"),
    (lambda q, k, v: ref.linear_attention(q, k, v, decay=np.ones((2, 3))), ValueError, r"decay must be \(2, 3, 7\)"),
    (lambda q, k, v: ref.linear_attention(q, k, v, decay=np.ones((2, 3, 7)), causal=False), ValueError,
     "decay needs causal=True"),
    (lambda q, k, v: ref.linear_attention(q, k, v, causal=1), TypeError, "causal must be True or False"),
    (lambda q, k, v: ref.linear_attention(np.full_like(q, np.nan), k, v), ValueError, "q must be finite"),
    (lambda q, k, v: ref.linear_attention(q, np.full_like(k, -1e4), v), ValueError, "normaliser"),
    (lambda q, k, v: ref.linear_attention(torch.tensor(q), k, v), TypeError, "got a torch tensor"),
    (lambda q, k, v: ref.linear_attention_recurrent(q, k, v, state=[1, 2]), TypeError, r"state must be a tuple \(S, z\)"),
    (lambda q, k, v: ref.linear_attention_recurrent(q, k, v, state=(np.zeros((4, 5)), np.zeros(4))), ValueError,
     r"S must be \(2, 3, 4, 5\)"),
])
def test_bad_input_says_what_was_expected(call, error, match):
    q, k, v, _ = qkv()
    with pytest.raises(error, match=match):
        call(q, k, v)
