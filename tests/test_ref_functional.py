"""course_lib.ref functional pieces: stable sigmoid/softmax/log_softmax, cross-entropy, clipping, gradient checks."""
import warnings

import numpy as np
import pytest
import torch

from course_lib import ref


def strict():
    """Turn every NumPy floating-point problem and every warning into an error."""
    warnings.simplefilter("error")
    return np.errstate(all="raise")


def test_sigmoid_stable_and_exact_at_extremes():
    x = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    with warnings.catch_warnings(), strict():
        s = ref.sigmoid(x)
    expected = torch.sigmoid(torch.tensor(x)).numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-15, atol=0)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5


def test_sigmoid_matches_torch_on_a_range():
    x = np.linspace(-40, 40, 2001)
    np.testing.assert_allclose(ref.sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-14, atol=0)


def test_softmax_and_log_softmax_never_overflow():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [3.0, 1.0, 2.0]])
    with warnings.catch_warnings(), strict():
        p = ref.softmax(x)
        lp = ref.log_softmax(x)
    t = torch.tensor(x)
    np.testing.assert_allclose(p, torch.softmax(t, -1).numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(lp, torch.log_softmax(t, -1).numpy(), rtol=1e-14, atol=1e-12)
    assert lp[0, 1] == -2000.0  # exact where softmax itself underflows to 0
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-15)


def test_softmax_along_another_axis():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(ref.softmax(x, axis=0), torch.softmax(torch.tensor(x), 0).numpy(), rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_gradient_match_torch(reduction):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 5, 7)) * 3
    logits[0, 0, 0] = 900.0  # would overflow a naive exp
    targets = rng.integers(0, 7, size=(4, 5))
    t = torch.tensor(logits, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t.reshape(-1, 7), torch.tensor(targets).reshape(-1), reduction=reduction)
    with warnings.catch_warnings(), strict():
        loss = ref.cross_entropy(logits, targets, reduction=reduction)
        grad = ref.cross_entropy_backward(logits, targets, reduction=reduction)
    np.testing.assert_allclose(np.reshape(loss, -1), tl.detach().numpy().reshape(-1), rtol=1e-13)
    tl.sum().backward()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_gradient_by_finite_differences():
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    err = ref.grad_check(lambda z: ref.cross_entropy(z, targets), logits, ref.cross_entropy_backward(logits, targets))
    assert err < 1e-8


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\]; got values in \[0, 3\]"):
        ref.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"targets must have shape logits.shape\[:-1\] = \(2,\); got \(3,\)"):
        ref.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="targets must be integer class indices; got dtype float64"):
        ref.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must be finite"):
        ref.cross_entropy(np.array([[0.0, np.nan]]), np.array([0]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'; got 'avg'"):
        ref.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg")


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(3)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    before = {k: v.copy() for k, v in grads.items()}
    clipped, norm = ref.clip_grad_norm(grads, max_norm)
    params = [torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64)) for v in grads.values()]
    for p, v in zip(params, grads.values()):
        p.grad = torch.tensor(v)
    tnorm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm == pytest.approx(float(tnorm), rel=1e-14)
    for p, name in zip(params, grads):
        np.testing.assert_allclose(clipped[name], p.grad.numpy(), rtol=1e-14)
        np.testing.assert_array_equal(grads[name], before[name])  # input untouched
    assert ref.global_norm(clipped) == pytest.approx(min(max_norm, norm), rel=1e-5)


def test_clip_grad_norm_list_and_errors():
    clipped, norm = ref.clip_grad_norm([np.array([3.0]), np.array([4.0])], 1.0)
    assert norm == 5.0 and isinstance(clipped, list)
    np.testing.assert_allclose(np.concatenate(clipped), [0.6, 0.8], rtol=1e-6)
    with pytest.raises(ValueError, match="gradient norm is nan"):
        ref.clip_grad_norm([np.array([np.nan])], 1.0)
    with pytest.raises(ValueError, match="max_norm must be a positive number; got -1"):
        ref.clip_grad_norm([np.array([1.0])], -1)


def test_numeric_gradient_of_a_known_function():
    x = np.random.default_rng(4).standard_normal((3, 2))
    before = x.copy()
    g = ref.numeric_gradient(lambda z: np.sum(np.sin(z) * z), x)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(x, before)  # restored after perturbing


def test_grad_check_detects_a_wrong_gradient():
    x = np.random.default_rng(5).standard_normal(6)
    f = lambda z: np.sum(z ** 3)
    assert ref.grad_check(f, x, 3 * x ** 2) < 1e-8
    assert ref.grad_check(f, x, 3 * x ** 2 + 0.01 * np.ones(6)) > 1e-3
    assert ref.grad_check(f, x, 2 * x ** 2) > 0.1


def test_numeric_gradient_errors():
    with pytest.raises(TypeError, match="x must be a float ndarray"):
        ref.numeric_gradient(lambda z: 0.0, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"f must return a scalar; got shape \(2,\)"):
        ref.numeric_gradient(lambda z: z, np.zeros(2))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        ref.numeric_gradient(lambda z: 0.0, np.zeros((3, 3))[:, 0])
    with pytest.raises(ValueError, match=r"analytic gradient must have the numeric gradient's shape \(2,\); got \(3,\)"):
        ref.relative_error(np.zeros(3), np.zeros(2))
