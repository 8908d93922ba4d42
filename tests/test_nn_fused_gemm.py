"""course_lib.nn.fused: the oneDNN matrix products and the torch.mm fallback give the same numbers."""
import pytest
import torch
import torch.nn.functional as F

from course_lib import nn as cnn
from course_lib.nn import fused


@pytest.fixture(autouse=True)
def onednn_at_any_size():
    """These tests use small layers; let oneDNN take them (by default it takes only big ones)."""
    old = fused.ONEDNN_MIN_SIZE
    fused.ONEDNN_MIN_SIZE = 0
    yield
    fused.ONEDNN_MIN_SIZE = old


def test_linear_matches_functional_linear_values_and_grads():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 7, 5, generator=g).transpose(0, 1).requires_grad_()   # a strided view, like rnn.py
    w = torch.randn(12, 5, generator=g, requires_grad=True)
    b = torch.randn(12, generator=g, requires_grad=True)
    dy = torch.randn(7, 32, 12, generator=g)
    y1 = fused.linear(x, w, b)
    y2 = F.linear(x, w, b)
    assert y1.shape == (7, 32, 12)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-5)
    g1 = torch.autograd.grad(y1, (x, w, b), dy)
    g2 = torch.autograd.grad(y2, (x, w, b), dy)
    for a, c in zip(g1, g2):
        torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-5)
    y3 = fused.linear(x, w)                                         # no bias
    torch.testing.assert_close(y3, F.linear(x, w), atol=1e-5, rtol=1e-5)


def test_onednn_is_used_for_cpu_float32_only():
    x32 = torch.zeros(2, 3)
    w = torch.zeros(4, 3)
    assert fused._fast(x32, w) == fused._onednn_works()
    assert not fused._fast(x32.double(), w.double())               # float64: torch.mm (oneDNN has none)
    if fused._onednn_works():
        assert fused.linear(x32.requires_grad_(), w).grad_fn.name().endswith("_LinearBackward")
    fused.ONEDNN_MIN_SIZE = 4
    assert not fused._fast(x32, w)                                  # small weights: torch.mm
    assert fused.linear(x32, w).grad_fn.name() != "_LinearBackward"


@pytest.mark.parametrize("onednn,step", [(True, "onednn"), (True, "mm"), (False, "onednn")])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("use_lengths", [False, True])
def test_both_gemm_paths_match_torch(kind, use_lengths, onednn, step, monkeypatch):
    """oneDNN products or torch.mm (for the whole sequence and for the LSTM's steps): the fused
    path equals torch.nn either way."""
    monkeypatch.setattr(fused, "USE_ONEDNN", onednn)
    monkeypatch.setattr(fused, "STEP_GEMM", step)
    assert fused._fast(torch.zeros(1), torch.zeros(1, 1)) == (onednn and fused._onednn_works())
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    ours = getattr(cnn, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 6, 5, requires_grad=True)
    lengths = [6, 2, 1, 5] if use_lengths else None
    if use_lengths:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out_t = torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=6)[0]
    else:
        out_t = ref(x)[0]
    out_o = ours(x, lengths=lengths)[0]
    torch.testing.assert_close(out_o, out_t, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(out_t)
    g_t = torch.autograd.grad((out_t * w).sum(), [x, *ref.parameters()])
    g_o = torch.autograd.grad((out_o * w).sum(), [x, *ours.parameters()])
    for a, b in zip(g_o, g_t):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("use_lengths", [False, True])
def test_lstm_onednn_and_torch_mm_paths_agree(use_lengths):
    torch.manual_seed(1)
    m = cnn.LSTM(6, 8, batch_first=True, bidirectional=True)
    x = torch.randn(3, 9, 6, requires_grad=True)
    lengths = [9, 4, 1] if use_lengths else None
    res = []
    for use in (True, False):
        fused.USE_ONEDNN = use
        try:
            out, (h, c) = m(x, lengths=lengths)
            loss = out.square().sum() + h.sum() + (2 * c).sum()
            res.append((out, h, c, *torch.autograd.grad(loss, [x, *m.parameters()])))
        finally:
            fused.USE_ONEDNN = True
    for a, b in zip(*res):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_step_gemm_choice_is_measured_once_per_shape_and_only_where_onednn_applies(monkeypatch):
    monkeypatch.setattr(fused, "_STEP_CHOICE", {})
    monkeypatch.setattr(fused, "STEP_GEMM", "auto")
    w = torch.zeros(12, 3)
    assert fused._step_onednn(4, w.double(), w.double()) is False        # float64: never oneDNN
    assert fused._STEP_CHOICE == {}
    if not fused._onednn_works():
        pytest.skip("this torch has no usable oneDNN product")
    choice = fused._step_onednn(4, w, w)
    key = (4, 12, 3, torch.get_num_threads())
    assert fused._STEP_CHOICE == {key: choice}
    fused._STEP_CHOICE[key] = not choice                                 # a cached decision is reused
    assert fused._step_onednn(4, w, w) is (not choice)
    monkeypatch.setattr(fused, "STEP_GEMM", "mm")
    assert fused._step_onednn(4, w, w) is False
    monkeypatch.setattr(fused, "STEP_GEMM", "onednn")
    assert fused._step_onednn(4, w, w) is True
    monkeypatch.setattr(fused, "USE_ONEDNN", False)
    assert fused._step_onednn(4, w, w) is False
