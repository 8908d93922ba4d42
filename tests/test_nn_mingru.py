"""MinGRU / MinLSTM: the sequential loop and the log-space parallel scan compute the same thing."""
import pytest
import torch

from course_lib import nn as cnn


@pytest.mark.parametrize("cls", [cnn.MinGRU, cnn.MinLSTM])
@pytest.mark.parametrize("with_h0", [False, True])
def test_scan_equals_sequential_values_and_grads(cls, with_h0, device):
    torch.manual_seed(0)
    scan = cls(5, 7, mode="scan", device=device, dtype=torch.float64)
    seq = cls(5, 7, mode="sequential", device=device, dtype=torch.float64)
    seq.load_state_dict(scan.state_dict())
    x = torch.randn(3, 40, 5, dtype=torch.float64, device=device, requires_grad=True)
    h0 = (torch.rand(3, 7, dtype=torch.float64, device=device) + 0.1).requires_grad_() if with_h0 else None
    (o1, h1), (o2, h2) = scan(x, h0), seq(x, h0)
    assert o1.shape == (3, 40, 7) and h1.shape == (3, 7)
    torch.testing.assert_close(o1, o2, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(h1, h2, atol=1e-10, rtol=1e-10)
    w = torch.randn_like(o1)
    inputs = [x] + ([h0] if with_h0 else [])
    g1 = torch.autograd.grad((o1 * w).sum(), inputs + list(scan.parameters()))
    g2 = torch.autograd.grad((o2 * w).sum(), inputs + list(seq.parameters()))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def test_mingru_follows_its_equation():
    torch.manual_seed(1)
    m = cnn.MinGRU(2, 3, mode="scan", dtype=torch.float64)
    x = torch.randn(1, 4, 2, dtype=torch.float64)
    k, v = m.linear(x).chunk(2, dim=-1)
    z = torch.sigmoid(k)
    h_tilde = torch.where(v >= 0, v + 0.5, torch.sigmoid(v))
    h = torch.zeros(1, 3, dtype=torch.float64)
    for t in range(4):                                    # book eq. eq-mingru, by hand
        h = (1 - z[:, t]) * h + z[:, t] * h_tilde[:, t]
    torch.testing.assert_close(m(x)[1], h, atol=1e-12, rtol=1e-12)


def test_long_sequence_float32_scan_stays_finite_and_close():
    torch.manual_seed(0)
    scan = cnn.MinGRU(4, 8, mode="scan")
    seq = cnn.MinGRU(4, 8, mode="sequential")
    seq.load_state_dict(scan.state_dict())
    x = torch.randn(2, 2048, 4)
    a, b = scan(x)[0], seq(x)[0]
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_errors():
    m = cnn.MinGRU(4, 3)
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 4\); got \(5, 4\)"):
        m(torch.randn(5, 4))
    with pytest.raises(TypeError, match="dtype torch.float32; got torch.float64"):
        m(torch.randn(2, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"h0 must be \(batch, hidden\) = \(2, 3\); got \(2, 4\)"):
        m(torch.randn(2, 5, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="h0 must be positive"):
        m(torch.randn(2, 5, 4), -torch.ones(2, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        cnn.MinGRU(4, 3, mode="parallel")
