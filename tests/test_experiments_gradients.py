"""Tests for course_lib.experiments.gradients (book chapter 04)."""
import numpy as np
import pytest
import torch

from course_lib import ref
from course_lib.experiments import gradients as G
from course_lib.experiments.tasks import AddingConfig
from course_lib.train import NonFiniteLossError


def _autograd_norms(model, x, h0, g):
    """||dL/dh_k||, k = 0..T, with L = sum_b g_b . h_T^b, by torch.autograd on the same weights."""
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    phi = torch.tanh if model.nonlinearity == "tanh" else torch.relu
    h = torch.tensor(h0, requires_grad=True)
    hs = [h]
    xt = torch.tensor(x)
    for t in range(x.shape[1]):
        a = xt[:, t] @ p["weight_ih_l0"].T + p["bias_ih_l0"] + hs[-1] @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        hs.append(phi(a))
        hs[-1].retain_grad()
    (hs[-1] * torch.tensor(g)).sum().backward()
    return np.stack([hh.grad.norm(dim=-1).numpy() for hh in hs], axis=1)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_hidden_gradient_norms_match_autograd(nonlinearity):
    rng = np.random.default_rng(0)
    model = ref.RNN(3, 6, seed=1, nonlinearity=nonlinearity)
    model.params["weight_hh_l0"] = G.recurrent_matrix(6, 1.3, seed=2)
    x = rng.standard_normal((4, 9, 3))
    h0 = 0.5 * rng.standard_normal((1, 4, 6))
    norms = G.hidden_gradient_norms(model, x, h0=h0, seed=7)
    g = np.random.default_rng(7).standard_normal((1, 4, 6))
    g /= np.linalg.norm(g, axis=-1, keepdims=True)
    expected = _autograd_norms(model, x, h0[0], g[0])
    assert norms.shape == (4, 10)
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(norms[:, -1], 1.0)


def test_hidden_gradient_norms_leave_the_model_unchanged():
    model = G.measurement_rnn(5, 0.9, seed=0)
    before = model.state_dict()
    G.hidden_gradient_norms(model, np.zeros((2, 4, 5)))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_hidden_gradient_norms_rejects_bad_models_and_inputs():
    with pytest.raises(TypeError, match="one-layer"):
        G.hidden_gradient_norms(ref.RNN(2, 3, num_layers=2), np.zeros((1, 4, 2)))
    with pytest.raises(TypeError, match="one-layer"):
        G.hidden_gradient_norms(ref.GRU(2, 3), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match=r"\(batch, time, 2\)"):
        G.hidden_gradient_norms(ref.RNN(2, 3), np.zeros((4, 2)))


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.7])
def test_recurrent_matrix_radius_and_kinds(radius):
    W = G.recurrent_matrix(20, radius, "gaussian", seed=3)
    assert G.spectral_radius(W) == pytest.approx(radius, rel=1e-10)
    assert G.largest_singular_value(W) > 1.2 * radius           # Gaussian: far from normal
    Q = G.recurrent_matrix(20, radius, "orthogonal", seed=3)
    np.testing.assert_allclose(np.linalg.svd(Q, compute_uv=False), radius, rtol=1e-10)
    assert not np.allclose(G.recurrent_matrix(20, radius, seed=4), W)   # the seed matters


def test_recurrent_matrix_errors():
    with pytest.raises(ValueError, match="kind must be"):
        G.recurrent_matrix(4, 1.0, kind="uniform")
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got 0"):
        G.recurrent_matrix(0, 1.0)
    with pytest.raises(ValueError, match="radius"):
        G.recurrent_matrix(4, -1.0)
    with pytest.raises(ValueError, match="square"):
        G.spectral_radius(np.zeros((2, 3)))


def test_linear_regime_gives_radius_to_the_power_distance():
    # tiny inputs keep tanh linear; an orthogonal W_hh then scales the gradient by exactly rho per step
    for radius in (0.7, 1.1):
        curve = G.gradient_norm_curve(radius, 20, hidden_size=16, batch=4, input_scale=1e-7, kind="orthogonal")
        np.testing.assert_allclose(curve.norm, radius ** curve.distance, rtol=1e-6)
        assert curve.factor_per_step == pytest.approx(radius, rel=1e-6)
        assert curve.mean_slope == pytest.approx(1.0, abs=1e-6)


def test_curve_orders_by_radius_and_saturation_kills_explosion():
    T = 60
    low, high = G.gradient_norm_curve(0.8, T), G.gradient_norm_curve(1.5, T)
    assert low.distance.tolist() == list(range(T + 1)) and low.at(0) == pytest.approx(1.0)
    assert low.at(T) < 1e-4 < 1.0 < high.at(T)
    saturated = G.gradient_norm_curve(1.5, T, input_scale=1.0)
    assert saturated.mean_slope < high.mean_slope
    assert saturated.at(T) < 1e-3 * high.at(T)
    with pytest.raises(ValueError, match=r"d must be an int in \[0, 60\]"):
        low.at(61)


def test_init_recurrent_schemes():
    torch.manual_seed(0)
    rnn = G.build_adding_model(hidden_size=8).rnn
    default = rnn.weight_hh_l0.detach().clone()
    G.init_recurrent(rnn, "identity")
    assert torch.equal(rnn.weight_hh_l0, torch.eye(8)) and not rnn.bias_hh_l0.any() and not rnn.bias_ih_l0.any()
    G.init_recurrent(rnn, "orthogonal")
    W = rnn.weight_hh_l0.detach()
    torch.testing.assert_close(W.T @ W, torch.eye(8), atol=1e-5, rtol=0)
    G.init_recurrent(rnn, "xavier")
    bound = (6 / (8 + 8)) ** 0.5
    assert rnn.weight_hh_l0.abs().max() <= bound and rnn.weight_hh_l0.abs().max() > 1 / 8 ** 0.5
    assert not torch.equal(rnn.weight_hh_l0, default)
    G.init_recurrent(rnn, "default", radius=1.5)
    assert G.spectral_radius(rnn.weight_hh_l0.detach().double().numpy()) == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(ValueError, match="scheme must be one of"):
        G.init_recurrent(rnn, "he")


def test_build_adding_model_is_seeded():
    a, b = G.build_adding_model(seed=3), G.build_adding_model(seed=3)
    c = G.build_adding_model(seed=4)
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.rnn.weight_hh_l0, c.rnn.weight_hh_l0)
    assert a(torch.zeros(5, 7, 2)).shape == (5, 1)


def test_initial_gradient_norms_identity_relu_keeps_the_gradient():
    T = 30
    irnn = G.initial_gradient_norms(T, "identity", "relu")
    default = G.initial_gradient_norms(T, "default", "tanh")
    assert irnn.shape == (T + 1,) and irnn[0] == pytest.approx(1.0)
    assert irnn[T] > 1e3 * default[T]


def test_adding_run_records_a_divergence_and_clipping_prevents_it():
    cfg = AddingConfig(T=10, optimizer="sgd", lr=0.1, steps=60, eval_every=None)
    diverged = G.adding_run(cfg.replace(clip=None), radius=1.5, device="cpu")
    assert diverged.diverged and isinstance(diverged.error, NonFiniteLossError)
    assert "step" in str(diverged.error) and np.isnan(diverged.val_mse)
    assert diverged.error.step == len(diverged.loss) < 60 and len(diverged.grad_norm) < len(diverged.loss)
    clipped = G.adding_run(cfg, radius=1.5, device="cpu")
    assert not clipped.diverged and len(clipped.loss) == 60 and np.isfinite(clipped.val_mse)
    assert max(clipped.grad_norm) > 1.0                        # clipping had something to do
    assert clipped.loss[0] == diverged.loss[0]                 # same weights, same first batch
    again = G.adding_run(cfg, radius=1.5, device="cpu")
    assert again.loss == clipped.loss                          # seeded: the same run twice


def test_adding_run_learns_a_short_adding_problem():
    run = G.adding_run(AddingConfig(T=5, lr=1e-2, clip=1.0, steps=150), init="identity", nonlinearity="relu",
                       device="cpu")
    assert run.val_mse < 0.5 * run.baseline_mse and run.seconds > 0
