"""course_lib.ref.truncated_bptt: BPTT(k1, k2) equals full BPTT when nothing is cut, and otherwise equals an
independent per-step torch computation with the state detached where the truncation cuts."""
import numpy as np
import pytest
import torch

from course_lib import ref

B, T, I, H = 2, 7, 3, 4


def setup(kind, num_layers=1, seed=0):
    torch.manual_seed(seed)
    tm = getattr(torch.nn, kind)(I, H, num_layers=num_layers, batch_first=True, dtype=torch.float64)
    m = getattr(ref, kind).from_torch(tm)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I))
    d_out = rng.standard_normal((B, T, H))
    shape = (num_layers, B, H)
    state = tuple(rng.standard_normal(shape) for _ in m.state_names)
    return tm, m, x, d_out, (state if kind == "LSTM" else state[0])


def test_windows_of_a_small_case():
    assert ref.truncation_windows(7, 2, 3) == [(0, 0, 2), (1, 2, 4), (3, 4, 6), (4, 6, 7)]
    assert ref.truncation_windows(6, 3, 3) == [(0, 0, 3), (3, 3, 6)]
    assert ref.truncation_windows(5, 5, 5) == [(0, 0, 5)]
    assert ref.truncation_windows(4, 1, 10) == [(0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 3, 4)]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("k1,k2", [(T, T), (3, T), (2, T + 5), (1, T)])
def test_no_truncation_equals_full_bptt(kind, k1, k2):
    _, m, x, d_out, state = setup(kind, num_layers=2)
    m.forward(x, state)
    full = m.backward(d_out)
    trunc = ref.truncated_bptt(m, x, d_out, k1, k2, state=state)
    assert list(trunc) == list(full)
    for name in full:
        np.testing.assert_allclose(trunc[name], full[name], rtol=0, atol=1e-12, err_msg=name)


def torch_truncated(tm, x, d_out, state, k1, k2):
    """Independent reference: for every output step s, find the backward pass that injects it (the one
    ending at the first multiple of k1 at or after s, or at T-1) and back-propagate d_out[s] from the
    state detached k2 steps before that pass's end."""
    xt = torch.tensor(x, requires_grad=True)
    tm.zero_grad()
    states = [torch.tensor(s) for s in (state if isinstance(state, tuple) else (state,))]

    def state_at(t):  # exact (untruncated) state after t steps, as a constant
        if t == 0:
            return tuple(states) if len(states) == 2 else states[0]
        with torch.no_grad():
            _, s = tm(torch.tensor(x[:, :t]), tuple(states) if len(states) == 2 else states[0])
        return s

    for s in range(T):
        end = min(((s // k1) + 1) * k1, T)  # the pass runs after step end-1
        start = max(0, end - k2)
        out, _ = tm(xt[:, start:s + 1], state_at(start))
        (out[:, -1] * torch.from_numpy(d_out[:, s])).sum().backward()
    grads = {name: p.grad.numpy() for name, p in tm.named_parameters()}
    grads["x"] = xt.grad.numpy()
    return grads


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("k1,k2", [(2, 3), (3, 3), (1, 2)])
def test_truncation_matches_independent_reference_and_differs_from_full(kind, k1, k2):
    tm, m, x, d_out, state = setup(kind, seed=1)
    trunc = ref.truncated_bptt(m, x, d_out, k1, k2, state=state)
    expected = torch_truncated(tm, x, d_out, state, k1, k2)
    for name, g in expected.items():
        np.testing.assert_allclose(trunc[name], g, rtol=0, atol=1e-12, err_msg=name)
    m.forward(x, state)
    full = m.backward(d_out)
    assert np.abs(trunc["weight_hh_l0"] - full["weight_hh_l0"]).max() > 1e-4  # truncation is biased
    np.testing.assert_allclose(trunc["x"][:, -1], full["x"][:, -1], atol=1e-12)  # the last step sees no cut


def test_h0_gradient_only_from_passes_reaching_step_zero():
    _, m, x, d_out, state = setup("GRU", seed=2)
    trunc = ref.truncated_bptt(m, x, d_out, 2, 3, state=state)
    d_first = np.zeros_like(d_out)
    d_first[:, :2] = d_out[:, :2]  # only the first pass (steps 0..1) starts at step 0
    m.forward(x[:, :2], state)
    first = m.backward(d_first[:, :2])
    np.testing.assert_allclose(trunc["h0"], first["h0"], rtol=0, atol=1e-13)
    assert np.abs(trunc["h0"]).max() > 1e-3


def test_per_window_sums_to_total():
    _, m, x, d_out, state = setup("LSTM", seed=3)
    passes = ref.truncated_bptt(m, x, d_out, 2, 4, state=state, per_window=True)
    assert [w for w, _ in passes] == ref.truncation_windows(T, 2, 4)
    total = ref.truncated_bptt(m, x, d_out, 2, 4, state=state)
    for name in total:
        np.testing.assert_allclose(sum(g[name] for _, g in passes), total[name], rtol=0, atol=1e-13)


def test_truncated_errors():
    _, m, x, d_out, _ = setup("RNN")
    with pytest.raises(ValueError, match="k1 must be <= k2 .*; got k1=4, k2=2"):
        ref.truncated_bptt(m, x, d_out, 4, 2)
    with pytest.raises(ValueError, match="k1 must be a positive int; got 0"):
        ref.truncated_bptt(m, x, d_out, 0, 2)
    with pytest.raises(ValueError, match=r"d_out must be \(2, 7, 4\) = \(batch, time, hidden\); got \(2, 6, 4\)"):
        ref.truncated_bptt(m, x, d_out[:, :6], 2, 3)
    with pytest.raises(ValueError, match="truncated BPTT needs a unidirectional model"):
        ref.truncated_bptt(ref.RNN(I, H, bidirectional=True), x, d_out, 2, 3)
    with pytest.raises(ValueError, match=r"call model.eval\(\) or use dropout=0"):
        ref.truncated_bptt(ref.RNN(I, H, num_layers=2, dropout=0.5), x, d_out, 2, 3)
