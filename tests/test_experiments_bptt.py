"""course_lib.experiments.bptt: the chapter-03 model's gradients are right (finite differences, torch),
the lag decomposition and the truncation behave as the chapter says, the equation -> code map resolves,
and the PyTorch truncated-BPTT loop carries and detaches its state exactly every k steps."""
import copy

import numpy as np
import pytest
import torch

from course_lib import ref
from course_lib.data import delayed_echo
from course_lib.experiments import bptt

B, T, D, H, C = 2, 5, 3, 4, 3


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    model = bptt.ElmanClassifier(D, H, C, seed=0)
    return model, rng.standard_normal((B, T, D)), rng.integers(0, C, size=(B, T))


# ----------------------------------------------------------------------------- read-out and the model
def test_readout_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    h, W, b, g = rng.standard_normal((2, 3, H)), rng.standard_normal((C, H)), rng.standard_normal(C), \
        rng.standard_normal((2, 3, C))
    f = lambda _: float(np.sum(g * bptt.readout_forward(h, W, b)))   # dL/dy = g
    dh, dW, db = bptt.readout_backward(g, h, W)
    assert ref.grad_check(f, h, dh) < 1e-8
    assert ref.grad_check(f, W, dW) < 1e-8
    assert ref.grad_check(f, b, db) < 1e-8


def test_every_parameter_passes_the_gradient_check(problem):
    model, x, c = problem
    errors = bptt.gradient_check(model, x, c)
    assert set(errors) == set(model.params) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                "weight_hy", "bias_y"}
    assert max(errors.values()) < 1e-6


def test_input_and_initial_state_gradients(problem):
    model, x, c = problem
    h0 = np.random.default_rng(2).standard_normal((1, B, H))
    _, grads = model.gradients(x, c, h0)
    assert ref.grad_check(lambda _: model.loss(x, c, h0), x, grads["x"]) < 1e-6
    assert ref.grad_check(lambda _: model.loss(x, c, h0), h0, grads["h0"]) < 1e-6


def test_loss_is_the_summed_cross_entropy_and_matches_torch(problem):
    model, x, c = problem
    loss, grads = model.gradients(x, c)
    t_loss, t_grads = bptt.torch_gradients(model, x, c)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    # a sum, not a mean: B * T terms of about log(C) each at initialisation
    assert loss > 0.5 * B * T * np.log(C)
    for name in model.params:
        assert ref.relative_error(grads[name], t_grads[name]) < 1e-10, name


def test_a_gradient_without_the_path_through_time_fails_the_check(problem):
    model, x, c = problem
    _, grads = model.gradients(x, c)
    cut = model.truncated_gradients(x, c, k1=1, k2=1)
    numeric = ref.numeric_gradient(lambda _: model.loss(x, c), model.params["weight_hh_l0"])
    assert ref.relative_error(cut["weight_hh_l0"], numeric) > 1e-2
    # the read-out does not involve time: truncation leaves its gradient alone
    np.testing.assert_allclose(cut["weight_hy"], grads["weight_hy"], rtol=1e-12)


def test_truncation_that_reaches_the_start_is_full_bptt(problem):
    model, x, c = problem
    _, full = model.gradients(x, c)
    for k1, k2 in [(1, T), (2, T + 3), (T, T)]:
        trunc = model.truncated_gradients(x, c, k1, k2)
        for name in model.params:
            assert ref.relative_error(trunc[name], full[name]) < 1e-12, (k1, k2, name)


def test_model_input_errors(problem):
    model, x, c = problem
    with pytest.raises(TypeError, match="integer class indices"):
        model.loss(x, c.astype(float))
    with pytest.raises(ValueError, match=r"targets must be \(batch, time\)"):
        model.loss(x, c[:, :-1])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\]"):
        model.loss(x, c + C)
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        bptt.ElmanClassifier(D, H, 1)
    with pytest.raises(RuntimeError, match="forward"):
        bptt.ElmanClassifier(D, H, C).backward()
    with pytest.raises(ValueError, match="unknown parameter"):
        bptt.gradient_check(model, x, c, names=["weight_xx"])


# ----------------------------------------------------------------------------- Jacobians and lags
def test_hidden_jacobian_matches_finite_differences(problem):
    model, x, _ = problem
    h0 = np.random.default_rng(3).standard_normal((1, B, H))
    for t, k in [(T, 0), (3, 1)]:
        J = bptt.hidden_jacobian(model, x, t, k, h0=h0, b=1)
        # dh_t/dh_k by perturbing h_k: run the steps k+1..t from a perturbed state
        hk = h0 if k == 0 else model.rnn.forward(x[:, :k], h0)[1]
        hk = np.ascontiguousarray(hk)
        rows = [ref.numeric_gradient(lambda _: model.rnn.forward(x[:, k:t], hk)[1][0, 1, i], hk)[0, 1]
                for i in range(H)]
        assert ref.relative_error(J, np.stack(rows)) < 1e-6, (t, k)
    np.testing.assert_array_equal(bptt.hidden_jacobian(model, x, 2, 2), np.eye(H))


def test_hidden_jacobian_errors(problem):
    model, x, _ = problem
    with pytest.raises(ValueError, match="0 <= k <= t <= time"):
        bptt.hidden_jacobian(model, x, T + 1, 0)
    with pytest.raises(ValueError, match="0 <= k <= t <= time"):
        bptt.hidden_jacobian(model, x, 2, 3)
    with pytest.raises(ValueError, match="tanh RNN"):
        bptt.hidden_jacobian(ref.RNN(D, H, nonlinearity="relu"), x, 2, 1)


def test_gradient_by_lag_adds_up_and_starts_with_the_untruncated_step(problem):
    model, x, c = problem
    shares = bptt.gradient_by_lag(model, x, c)
    _, full = model.gradients(x, c)
    assert shares.shape == (T, H, H)
    assert ref.relative_error(shares.sum(axis=0), full["weight_hh_l0"]) < 1e-12
    lag0 = model.truncated_gradients(x, c, 1, 1)["weight_hh_l0"]
    np.testing.assert_allclose(shares[0], lag0, rtol=1e-12, atol=1e-15)
    assert np.linalg.norm(shares[1]) > 0          # the recurrence contributes something
    with pytest.raises(ValueError, match="recurrent parameter"):
        bptt.gradient_by_lag(model, x, c, name="weight_hy")


# ----------------------------------------------------------------------------- equation -> code
def test_equation_map_resolves_every_label():
    rows = bptt.equation_map()
    assert {r.label for r in rows} == {"eq-bptt-forward", "eq-bptt-output", "eq-bptt-loss", "eq-bptt-dy",
                                       "eq-bptt-dout", "eq-bptt-dh", "eq-bptt-da", "eq-bptt-dW", "eq-bptt-jacobian"}
    for r in rows:
        with open(r.path if r.path.startswith("/") else f"{_root()}/{r.path}") as f:
            assert f.read().splitlines()[r.lineno - 1].strip() == r.text


def _root():
    from pathlib import Path

    import course_lib
    return Path(course_lib.__file__).resolve().parents[1]


def test_code_line_fails_loudly_on_a_stale_pattern():
    with pytest.raises(LookupError, match="rnn_step_backward"):
        bptt.code_line(ref.rnn_step_backward, "this line does not exist")
    line = bptt.code_line(ref.rnn_step_backward, "da @ W_hh")
    assert line.function == "rnn_step_backward" and "da @ W_hh" in line.text and line.lineno > 1


# ----------------------------------------------------------------------------- truncated BPTT in torch
def test_fit_truncated_carries_and_detaches_the_state_every_k_steps():
    torch.manual_seed(0)
    model = bptt.StreamEchoRNN(hidden=5)
    manual = copy.deepcopy(model)
    x, y, mask = delayed_echo(3, 10, 2, seed=0)
    k, lr = 4, 0.1
    hist = bptt.fit_truncated(model, x, y, mask, k, optimizer="sgd", lr=lr, progress=False, device="cpu")
    assert hist.steps == [1, 2, 3]                           # chunks of 4, 4 and 2 steps
    # the same updates by hand: state carried between chunks, gradient stopped at the boundary
    h = None
    for s in range(0, 10, k):
        logits, h_n = manual(x[:, s:s + k], h)
        loss = bptt.masked_bce(logits, y[:, s:s + k], mask[:, s:s + k])
        grads = torch.autograd.grad(loss, list(manual.parameters()))
        with torch.no_grad():
            for p, g in zip(manual.parameters(), grads):
                p -= lr * g
        h = h_n.detach()
    for (name, p), q in zip(model.named_parameters(), manual.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_fit_truncated_input_errors():
    model = bptt.StreamEchoRNN(hidden=3)
    x, y, mask = delayed_echo(2, 8, 1, seed=0)
    with pytest.raises(ValueError, match="k must be a positive int"):
        bptt.fit_truncated(model, x, y, mask, 0, progress=False)
    with pytest.raises(ValueError, match=r"x must be \(streams, length, 1\)"):
        bptt.fit_truncated(model, x, y[:, :-1], mask, 2, progress=False)


def test_masked_bce_ignores_masked_steps_and_empty_masks():
    logits = torch.tensor([[0.0, 5.0]])
    y = torch.tensor([[1.0, 0.0]])
    only_first = bptt.masked_bce(logits, y, torch.tensor([[True, False]]))
    assert only_first.item() == pytest.approx(np.log(2))
    assert bptt.masked_bce(logits, y, torch.zeros(1, 2, dtype=torch.bool)).item() == 0.0


def test_truncation_experiment_reports_runs_and_keeps_thread_setting():
    threads = torch.get_num_threads()
    runs = bptt.truncation_experiment(3, [2, 6], hidden=8, streams=4, length=120, lr=1e-2, evals=2,
                                      progress=False, device="cpu")
    assert [r.k for r in runs] == [2, 6]
    for r in runs:
        assert 0.0 <= r.accuracy <= 1.0 and r.accuracy == r.curve[-1]
        assert r.tokens[-1] == 120 and len(r.tokens) == len(r.curve) and r.seconds > 0
    assert torch.get_num_threads() == threads


def test_saved_activation_bytes_is_linear_in_k_and_zero_without_grad():
    model = bptt.StreamEchoRNN(hidden=8)
    b = {k: bptt.saved_activation_bytes(model, torch.zeros(4, k, 1)) for k in (5, 10, 15)}
    assert b[10] - b[5] == b[15] - b[10] > 0
    assert b[10] - b[5] == 5 * 4 * (8 + 8 + 8 + 1) * 4  # per step: h, read-out input, x, W_xh x (float32)
    with torch.no_grad():
        assert bptt.saved_activation_bytes(model, torch.zeros(4, 10, 1)) == 0


def test_time_per_update_is_positive_and_checks_k():
    model = bptt.StreamEchoRNN(hidden=4)
    assert bptt.time_per_update(model, 3, streams=2, repeats=2) > 0
    with pytest.raises(ValueError, match="k must be a positive int"):
        bptt.time_per_update(model, 0)


def test_backward_steps_counts_the_windows():
    assert bptt.backward_steps(7, 2, 3) == 2 + 3 + 3 + 3
    assert bptt.backward_steps(400, 400, 400) == 400
    assert bptt.backward_steps(400, 20, 20) == 400
    assert bptt.backward_steps(400, 1, 20) == 20 * 400 - sum(range(1, 20))


def test_ref_bptt_seconds_is_positive():
    m = ref.RNN(1, 3, seed=0)
    x, d = np.zeros((1, 6, 1)), np.ones((1, 6, 3))
    assert bptt.ref_bptt_seconds(m, x, d, 2, 3, repeats=1) > 0
