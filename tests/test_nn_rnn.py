"""course_lib.nn.RNN / LSTM / GRU against torch.nn: values, final states, gradients, errors."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_lib import nn as cnn

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
KINDS = ["RNN", "LSTM", "GRU"]


def make_pair(kind, device, dtype, mode, seed=0, **kw):
    torch.manual_seed(seed)
    ref = getattr(torch.nn, kind)(5, 7, batch_first=True, device=device, dtype=dtype, **kw)
    ours = getattr(cnn, kind)(5, 7, batch_first=True, device=device, dtype=dtype, impl=mode, **kw)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def run_torch(mod, x, hx, lengths):
    if lengths is None:
        return mod(x, hx)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = mod(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def loss_and_grads(out, state, weights, inputs):
    loss = (out * weights[0]).sum() + sum((s * w).sum() for s, w in zip(flat(state), weights[1:]))
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (1, True), (2, True), (3, False)])
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("mode", ["fused", "loop"])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_torch(kind, mode, use_lengths, layers, bidirectional, dtype, device):
    ref, ours = make_pair(kind, device, dtype, mode, num_layers=layers, bidirectional=bidirectional)
    B, T, D = 4, 6, 2 if bidirectional else 1
    gen = torch.Generator().manual_seed(1)
    rand = lambda *s: torch.randn(*s, generator=gen, dtype=dtype).to(device).requires_grad_()
    x = rand(B, T, 5)
    h0, c0 = rand(layers * D, B, 7), rand(layers * D, B, 7)
    hx = (h0, c0) if kind == "LSTM" else h0
    lengths = torch.tensor([6, 2, 1, 5]) if use_lengths else None
    out_t, st_t = run_torch(ref, x, hx, lengths)
    out_o, st_o = ours(x, hx, lengths=lengths)
    tol = TOL[dtype]
    assert out_o.shape == out_t.shape
    torch.testing.assert_close(out_o, out_t, atol=tol, rtol=tol)
    for a, b in zip(flat(st_o), flat(st_t)):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    if use_lengths:
        assert (out_o[1, 2:] == 0).all() and (out_o[2, 1:] == 0).all()
    weights = [torch.randn_like(out_t)] + [torch.randn_like(s) for s in flat(st_t)]
    inputs_t = [x, h0] + ([c0] if kind == "LSTM" else []) + list(ref.parameters())
    inputs_o = [x, h0] + ([c0] if kind == "LSTM" else []) + list(ours.parameters())
    g_t = loss_and_grads(out_t, st_t, weights, inputs_t)
    g_o = loss_and_grads(out_o, st_o, weights, inputs_o)
    names = ["x", "h0"] + (["c0"] if kind == "LSTM" else []) + [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, g_o, g_t):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=lambda m: f"grad of {name}: {m}")


@pytest.mark.parametrize("kind", KINDS)
def test_loop_and_fused_agree_without_state_or_bias(kind, device):
    _, fused = make_pair(kind, device, torch.float64, "fused", num_layers=2, bias=False)
    loop = getattr(cnn, kind)(5, 7, num_layers=2, bias=False, batch_first=True, impl="loop",
                              device=device, dtype=torch.float64)
    loop.load_state_dict(fused.state_dict())
    assert not any("bias" in n for n in fused.state_dict())
    x = torch.randn(3, 9, 5, dtype=torch.float64, device=device, requires_grad=True)
    outs = [m(x)[0] for m in (fused, loop)]
    torch.testing.assert_close(outs[0], outs[1], atol=1e-12, rtol=1e-12)
    g = [torch.autograd.grad(o.square().sum(), [x, *m.parameters()]) for o, m in zip(outs, (fused, loop))]
    for a, b in zip(*g):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_relu_rnn_and_time_major_layout(device):
    torch.manual_seed(0)
    ref = torch.nn.RNN(5, 7, nonlinearity="relu", num_layers=2, device=device, dtype=torch.float64)
    ours = cnn.RNN(5, 7, nonlinearity="relu", num_layers=2, device=device, dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(8, 3, 5, dtype=torch.float64, device=device)     # (time, batch, features)
    (o1, h1), (o2, h2) = ref(x), ours(x)
    assert o2.shape == (8, 3, 7)
    torch.testing.assert_close(o2, o1, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(h2, h1, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_moves_both_ways(kind):
    ours = getattr(cnn, kind)(5, 7, num_layers=2, bidirectional=True)
    ref = getattr(torch.nn, kind)(5, 7, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(ours.state_dict())            # course -> torch, strict
    for (n, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        assert a.shape == b.shape and torch.equal(a, b), n
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["fused", "loop"])
def test_dropout_between_layers(mode, device):
    ref, ours = make_pair("LSTM", device, torch.float64, mode, num_layers=3, dropout=0.5)
    x = torch.randn(2, 5, 5, dtype=torch.float64, device=device)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-10, rtol=1e-10)   # eval: no dropout
    ours.train()
    torch.manual_seed(3)
    a = ours(x)[0]
    torch.manual_seed(4)
    b = ours(x)[0]
    assert not torch.allclose(a, b)                     # train: dropout is really applied
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):   # as torch
        single = getattr(cnn, "LSTM")(5, 7, num_layers=1, dropout=0.5, batch_first=True, device=device,
                                      dtype=torch.float64).train()
    torch.testing.assert_close(single(x)[0], single(x)[0])   # like torch: no dropout after the last layer


def test_lengths_semantics_reverse_starts_at_own_end():
    torch.manual_seed(0)
    m = cnn.GRU(3, 4, bidirectional=True, batch_first=True, dtype=torch.float64)
    x = torch.randn(1, 6, 3, dtype=torch.float64)
    short, _ = m(x[:, :4])
    padded, h_n = m(torch.cat([x[:, :4], 100 * torch.ones(1, 2, 3, dtype=torch.float64)], 1), lengths=[4])
    torch.testing.assert_close(padded[:, :4], short)           # padding never leaks into either direction
    assert (padded[:, 4:] == 0).all()
    torch.testing.assert_close(h_n[0], short[:, 3, :4])        # forward: own last step
    torch.testing.assert_close(h_n[1], short[:, 0, 4:])        # reverse: ends at step 0


def test_fused_is_default_and_gradcheck():
    m = cnn.LSTM(2, 3, batch_first=True, dtype=torch.float64)
    assert m.impl == "fused" and m.mode == "LSTM"       # torch's meaning of .mode is kept
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    f = lambda x, h0, c0: (lambda o, s: (o, *s))(*m(x, (h0, c0), lengths=[4, 2]))
    assert torch.autograd.gradcheck(f, (x, h0, c0))


# ------------------------------------------------------------------ errors
def test_errors_name_expected_and_given():
    m = cnn.LSTM(16, 8, batch_first=True)
    with pytest.raises(ValueError, match=r"input must be \(batch, time, 16\).*got \(32, 2, 4, 16\)"):
        m(torch.randn(32, 2, 4, 16))
    with pytest.raises(ValueError, match=r"input must be \(batch, time, 16\).*got \(2, 5, 15\)"):
        m(torch.randn(2, 5, 15))
    with pytest.raises(TypeError, match=r"input dtype \(torch.float64\) does not match weight dtype \(torch.float32\)"):
        m(torch.randn(2, 5, 16, dtype=torch.float64))
    with pytest.raises(TypeError, match="must be a torch.Tensor or a PackedSequence; got list"):
        m([[1.0] * 16])
    with pytest.raises(ValueError, match=r"h0 must be .* = \(1, 2, 8\); got \(2, 2, 8\)"):
        m(torch.randn(2, 5, 16), (torch.zeros(2, 2, 8), torch.zeros(2, 2, 8)))
    with pytest.raises(ValueError, match=r"unbatched 2-D input, h0 must be .* = \(1, 8\); got \(1, 1, 8\)"):
        m(torch.randn(5, 16), (torch.zeros(1, 1, 8), torch.zeros(1, 8)))
    with pytest.raises(TypeError, match=r"tuple \(h0, c0\)"):
        m(torch.randn(2, 5, 16), torch.zeros(1, 2, 8))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\].*max 6"):
        m(torch.randn(2, 5, 16), lengths=[6, 2])
    with pytest.raises(ValueError, match=r"shape \(2,\); got \(3,\)"):
        m(torch.randn(2, 5, 16), lengths=[1, 2, 3])
    with pytest.raises(TypeError, match="lengths must be integers"):
        m(torch.randn(2, 5, 16), lengths=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="sequence length to be larger than 0"):
        m(torch.randn(2, 0, 16))
    with pytest.raises(ValueError, match="impl must be one of"):
        cnn.GRU(3, 4, impl="fast")
    with pytest.raises(TypeError, match=r"mode= is torch's layer type .* impl='fused' or impl='loop'"):
        cnn.GRU(3, 4, mode="loop")
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        cnn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero; got 0"):
        cnn.RNN(3, 0)
    with pytest.raises(ValueError, match=r"\(time, batch, 16\) \(batch_first=False\)"):
        cnn.RNN(16, 4)(torch.randn(5, 2, 3))


def test_shape_errors_are_also_runtime_errors_like_torch():
    """torch raises RuntimeError for a wrong shape: code written for torch.nn catches ours too."""
    m = cnn.GRU(4, 3)
    for bad in (lambda: m(torch.randn(5, 2, 7)), lambda: m(torch.randn(5, 2, 4), torch.zeros(1, 3, 3))):
        with pytest.raises(RuntimeError):
            bad()
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize("flag", ["bias", "batch_first", "bidirectional"])
@pytest.mark.parametrize("value", [0, 1, "False", None])
def test_flags_are_not_read_by_truthiness(flag, value):
    with pytest.raises(TypeError, match=f"{flag} should be of type bool, got: {type(value).__name__}"):
        cnn.LSTM(3, 4, **{flag: value})


def test_device_mismatch_error():
    if not torch.cuda.is_available():
        m = cnn.GRU(4, 3, batch_first=True).to("meta")
        with pytest.raises(ValueError, match=r"parameters' device meta; got cpu"):
            m(torch.randn(2, 3, 4))
    else:
        m = cnn.GRU(4, 3, batch_first=True).cuda()
        with pytest.raises(ValueError, match=r"parameters' device cuda:0; got cpu"):
            m(torch.randn(2, 3, 4))
