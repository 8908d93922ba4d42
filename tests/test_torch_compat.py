"""pyproject.toml promises ``torch>=2.1``; requirements.txt pins 2.13. The few newer or private torch APIs that
course_lib uses are each behind a guard with a fallback; here each guard is made to take its fallback (the
API is removed or given its torch 2.1 signature) and the result is checked against the normal path.

- ``torch.is_autocast_enabled(device_type)`` / ``torch.get_autocast_dtype`` are torch >= 2.4
  (course_lib.nn.rnn._autocast_dtype falls back to the per-device functions of torch 2.1);
- ``torch.ops.mkldnn._linear_pointwise`` is private (course_lib.nn.fused probes it once, else torch.mm);
- ``torch._C._are_functorch_transforms_active`` is private (course_lib.nn.rnn._functorch_active).
"""
import types

import pytest
import torch

from course_lib import nn as cnn
from course_lib.nn import fused, rnn

# the torch 2.1 functions still exist in 2.13, deprecated
pytestmark = pytest.mark.filterwarnings("ignore:torch\\..* is deprecated:DeprecationWarning")


class _Torch21:
    """``torch`` as course_lib.nn.rnn sees it on torch < 2.4: ``is_autocast_enabled()`` takes no device (it
    means CUDA) and ``get_autocast_dtype`` does not exist. (Only rnn's view: torch.autocast itself needs the
    real functions.)"""

    def __getattr__(self, name):
        if name == "get_autocast_dtype":
            raise AttributeError("module 'torch' has no attribute 'get_autocast_dtype'")
        return getattr(torch, name)

    @staticmethod
    def is_autocast_enabled(*args):
        if args:
            raise TypeError("is_autocast_enabled() takes 0 positional arguments but 1 was given")
        return torch.is_autocast_enabled("cuda")


def _torch_2_1_autocast_api(monkeypatch):
    monkeypatch.setattr(rnn, "torch", _Torch21())


@pytest.mark.parametrize("kind,expected", [("LSTM", torch.bfloat16), ("GRU", torch.bfloat16), ("RNN", torch.bfloat16)])
def test_autocast_dtype_without_the_torch_2_4_api(monkeypatch, kind, expected):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        new = rnn._autocast_dtype(kind, "cpu")
    _torch_2_1_autocast_api(monkeypatch)
    with pytest.raises(AttributeError):
        rnn.torch.get_autocast_dtype("cpu")
    assert rnn._autocast_dtype(kind, "cpu") is None                 # autocast off
    with torch.autocast("cpu", dtype=torch.bfloat16):
        old = rnn._autocast_dtype(kind, "cpu")
    assert old == new == expected


def test_lstm_under_autocast_is_the_same_with_the_torch_2_1_api(monkeypatch):
    torch.manual_seed(0)
    m = cnn.LSTM(6, 8, batch_first=True)
    x = torch.randn(3, 5, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_new, (h_new, _) = m(x)
    _torch_2_1_autocast_api(monkeypatch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_old, (h_old, _) = m(x)
    assert out_new.dtype == out_old.dtype == torch.bfloat16        # torch's own CPU policy: LSTM in bf16
    assert torch.equal(out_new, out_old) and torch.equal(h_new, h_old)


@pytest.fixture
def reprobe(monkeypatch):
    """Forget the probe's cached answer (restored afterwards), and let oneDNN take small layers."""
    monkeypatch.setattr(fused, "_ONEDNN_WORKS", None)
    monkeypatch.setattr(fused, "ONEDNN_MIN_SIZE", 0)
    monkeypatch.setattr(fused, "STEP_GEMM", "onednn")


@pytest.mark.parametrize("why", ["missing", "old signature"])
def test_without_onednn_linear_pointwise_the_fused_lstm_uses_torch_mm_and_matches_torch(monkeypatch, reprobe,
                                                                                      why):
    if why == "missing":                       # a torch built without oneDNN, or one that renamed the op
        monkeypatch.setattr(torch.ops, "mkldnn", types.SimpleNamespace())
    else:                                      # the op exists but rejects these arguments
        def _linear_pointwise(*args):
            raise RuntimeError("_linear_pointwise() expected 6 arguments")
        _linear_pointwise.binary = _linear_pointwise
        monkeypatch.setattr(torch.ops, "mkldnn", types.SimpleNamespace(_linear_pointwise=_linear_pointwise))
    assert fused._onednn_works() is False
    assert not fused._fast(torch.zeros(2, 3), torch.zeros(4, 3))
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 7, num_layers=2, batch_first=True)
    ours = cnn.LSTM(5, 7, num_layers=2, batch_first=True)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 6, 5, requires_grad=True)
    out, (h, c) = ours(x)                      # would raise if any product still went to the missing op
    out_r, (h_r, c_r) = ref(x)
    torch.testing.assert_close(out, out_r, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c, c_r, atol=1e-5, rtol=1e-5)
    g = torch.autograd.grad(out.sum() + h.sum(), (x, *ours.parameters()))
    g_r = torch.autograd.grad(out_r.sum() + h_r.sum(), (x, *ref.parameters()))
    for a, b in zip(g, g_r):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


def test_the_onednn_probe_is_true_where_the_op_works(reprobe):
    """The guard is not simply always off: on this torch (2.13, CPU build with oneDNN) the op is used."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch is built without oneDNN")
    assert fused._onednn_works() is True
    assert fused._fast(torch.zeros(2, 3), torch.zeros(4, 3))


def test_functorch_probe_missing_means_no_transform(monkeypatch):
    assert rnn._functorch_active() is False
    seen = []
    torch.func.grad(lambda t: (seen.append(rnn._functorch_active()), t.sum())[1])(torch.ones(2))
    assert seen == [True]
    monkeypatch.delattr(torch._C, "_are_functorch_transforms_active")
    assert rnn._functorch_active() is False
