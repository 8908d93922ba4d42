"""Tests of course_lib.experiments.scan and course_lib.viz.scan (chapter 10)."""
import math

import matplotlib
import pytest
import torch

from course_lib import nn as cnn
from course_lib.experiments import scan as S
from course_lib.experiments.tasks import AddingConfig

matplotlib.use("Agg")


def _ab(T, batch=2, hidden=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, T, hidden, generator=g, dtype=dtype)
    b = torch.randn(batch, T, hidden, generator=g, dtype=dtype)
    h0 = torch.randn(batch, hidden, generator=g, dtype=dtype)
    return a, b, h0


def test_combine_is_composition_and_associative():
    e1, e2, e3 = (_ab(1, seed=s)[:2] for s in range(3))
    h = torch.randn(2, 1, 3, dtype=torch.float64)
    step = lambda e, h: e[0] * h + e[1]
    c = S.combine(e1, e2)
    assert torch.allclose(step(c, h), step(e2, step(e1, h)))
    assert not torch.allclose(step(S.combine(e2, e1), h), step(c, h))        # order matters
    left, right = S.combine(S.combine(e1, e2), e3), S.combine(e1, S.combine(e2, e3))
    assert all(torch.allclose(x, y) for x, y in zip(left, right))


@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 13, 64, 100])
def test_blelloch_scan_equals_the_loop(T):
    a, b, h0 = _ab(T)
    h, counts = S.blelloch_scan(a, b, h0)
    assert h.shape == b.shape
    assert torch.allclose(h, cnn.linear_recurrence_sequential(a, b, h0), atol=1e-12)
    assert torch.allclose(S.blelloch_scan(a, b)[0], cnn.linear_recurrence_sequential(a, b), atol=1e-12)
    n = 1 << (T - 1).bit_length()
    assert counts == {"rounds": 2 * int(math.log2(n)) + 1, "combines": 3 * n - 2}


def test_blelloch_scan_is_stable_and_differentiable():
    a, b, h0 = _ab(1000, dtype=torch.float32)
    a = a * 0.05                                  # products of many a_t underflow to 0: no division, no nan
    h, _ = S.blelloch_scan(a, b, h0)
    assert torch.isfinite(h).all()
    assert torch.allclose(h, cnn.linear_recurrence_sequential(a, b, h0), atol=1e-5)
    a64, b64, h064 = (t.requires_grad_() for t in _ab(10))
    S.blelloch_scan(a64, b64, h064)[0].square().sum().backward()
    grads = [t.grad.clone() for t in (a64, b64, h064)]
    for t in (a64, b64, h064):
        t.grad = None
    cnn.linear_recurrence_sequential(a64, b64, h064).square().sum().backward()
    assert all(torch.allclose(g, t.grad) for g, t in zip(grads, (a64, b64, h064)))


def test_blelloch_scan_errors_and_trace():
    a, b, h0 = _ab(4)
    with pytest.raises(ValueError, match=r"a must have b's shape \(2, 4, 3\)"):
        S.blelloch_scan(a[:, :3], b)
    with pytest.raises(ValueError, match=r"b must be \(batch, time, hidden\); got \(4, 3\)"):
        S.blelloch_scan(a[0], b[0])
    with pytest.raises(ValueError, match=r"h0 must be \(batch, hidden\) = \(2, 3\)"):
        S.blelloch_scan(a, b, h0[0])
    with pytest.raises(TypeError, match="torch.Tensor"):
        S.blelloch_scan(a.numpy(), b)
    trace = []
    S.blelloch_scan(torch.rand(1, 8, 1), torch.rand(1, 8, 1), trace=trace)
    assert [p for p, _ in trace] == ["up"] * 3 + ["down"] * 3 + ["final"]
    assert trace[0][1] == [(0, 1), (2, 3), (4, 5), (6, 7)] and trace[2][1] == [(3, 7)]


def test_hillis_steele_counts():
    assert S.hillis_steele_counts(1) == {"rounds": 0, "combines": 0}
    assert S.hillis_steele_counts(8) == {"rounds": 3, "combines": 7 + 6 + 4}
    assert S.hillis_steele_counts(1000)["rounds"] == 10
    with pytest.raises(ValueError, match="positive int"):
        S.hillis_steele_counts(0)


def test_min_rnn_regressor_modes_agree():
    torch.manual_seed(0)
    for cell in ("gru", "lstm"):
        m1 = S.min_rnn_regressor(2, 8, cell, "scan").double()
        m2 = S.min_rnn_regressor(2, 8, cell, "sequential").double()
        m2.load_state_dict(m1.state_dict())
        x = torch.randn(3, 20, 2, dtype=torch.float64)
        assert m1(x).shape == (3, 1) and torch.allclose(m1(x), m2(x), atol=1e-12)
    with pytest.raises(ValueError, match="cell must be"):
        S.min_rnn_regressor(2, 8, "rnn")


def test_train_both_modes_same_curve():
    cfg = AddingConfig(T=10, steps=30, batch_size=16, eval_every=None)
    runs = S.train_both_modes("gru", cfg, hidden=8, progress=False, device="cpu")
    l1, l2 = torch.tensor(runs["scan"].loss), torch.tensor(runs["sequential"].loss)
    assert len(l1) == len(l2) == 30
    assert torch.allclose(l1, l2, rtol=1e-3)
    assert l1[-1] < l1[0]
    assert abs(runs["scan"].val_mse - runs["sequential"].val_mse) < 1e-3


def test_layer_times_shapes_and_skips():
    t = S.layer_times([8, 32], batch=2, hidden=8, repeats=1, attention_max_T=16)
    assert list(t) == list(S.LAYERS)
    assert all(len(v) == 2 for v in t.values())
    assert math.isnan(t["attention"][1]) and t["attention"][0] > 0
    assert all(v > 0 for name in S.LAYERS[:3] for v in t[name])
    with pytest.raises(ValueError, match="layer must be one of"):
        S.layer_times([8], layers=("GRU",))


def test_scan_figure_draws_every_combination():
    from course_lib.viz import scan as V

    trace = []
    S.blelloch_scan(torch.rand(1, 8, 1), torch.rand(1, 8, 1), trace=trace)
    fig = V.scan_vs_loop(trace, 8)
    loop_ax, scan_ax = fig.axes
    arrows = lambda ax: sum(1 for t in ax.texts if getattr(t, "arrow_patch", None) is not None)
    assert arrows(loop_ax) == 8
    n_up = 4 + 2 + 1
    assert arrows(scan_ax) == n_up + 2 * n_up + 8          # down-sweep rounds draw two arrows per pair
    assert len(scan_ax.get_yticks()) == len(trace) + 1
