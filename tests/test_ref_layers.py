"""course_lib.ref layers (RNN/LSTM/GRU): BPTT gradient checks, equivalence with torch.nn (incl. packed
variable-length bidirectional multi-layer batches), state_dict round trips, dropout, error messages."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import ref

KINDS = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", None), ("GRU", None)]


def build_torch(kind, nonlinearity, I, H, L, bi, dtype=torch.float64, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    kwargs = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    return getattr(torch.nn, kind)(I, H, num_layers=L, bidirectional=bi, batch_first=True, dtype=dtype,
                                   dropout=dropout, **kwargs)


def random_problem(model, B, T, lengths_too, seed=0):
    """x, initial state, lengths (or None), d_out and d_state for a ref model."""
    rng = np.random.default_rng(seed)
    dt = model.dtype
    D, H, L = model.num_directions, model.hidden_size, model.num_layers
    x = rng.standard_normal((B, T, model.input_size)).astype(dt)
    shape = (L * D, B, H)
    states = [rng.standard_normal(shape).astype(dt) for _ in model.state_names]
    state = tuple(states) if len(states) == 2 else states[0]
    lengths = None
    if lengths_too:
        lengths = rng.integers(1, T + 1, size=B)
        lengths[rng.integers(B)] = T
    d_out = rng.standard_normal((B, T, D * H)).astype(dt)
    d_states = [rng.standard_normal(shape).astype(dt) for _ in model.state_names]
    d_state = tuple(d_states) if len(d_states) == 2 else d_states[0]
    return x, state, lengths, d_out, d_state


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


def torch_reference(tm, x, state, lengths, d_out, d_state):
    """Run torch (packed when lengths are given); return out, final states and every gradient."""
    xt = torch.tensor(x, requires_grad=True)
    st0 = [torch.tensor(s, requires_grad=True) for s in as_list(state)]
    tstate = tuple(st0) if len(st0) == 2 else st0[0]
    tm.zero_grad()
    if lengths is None:
        out, final = tm(xt, tstate)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                         enforce_sorted=False)
        out, final = tm(packed, tstate)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    finals = as_list(final)
    loss = (out * torch.from_numpy(d_out)).sum()
    for f, d in zip(finals, as_list(d_state)):
        loss = loss + (f * torch.from_numpy(d)).sum()
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in tm.named_parameters()}
    grads["x"] = xt.grad.numpy()
    names = ["h0", "c0"][:len(st0)]
    grads.update({n: s.grad.numpy() for n, s in zip(names, st0)})
    return out.detach().numpy(), [f.detach().numpy() for f in finals], grads


def assert_equivalent(kind, nonlinearity, I, H, L, bi, B, T, lengths_too, dtype=np.float64, tol=1e-10, seed=0):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tm = build_torch(kind, nonlinearity, I, H, L, bi, tdtype, seed=seed)
    m = getattr(ref, kind).from_torch(tm, dtype=dtype)
    x, state, lengths, d_out, d_state = random_problem(m, B, T, lengths_too, seed=seed)
    out, final = m.forward(x, state, lengths=lengths)
    grads = m.backward(d_out, d_state)
    t_out, t_finals, t_grads = torch_reference(tm, x, state, lengths, d_out, d_state)
    assert out.dtype == dtype and out.shape == (B, T, (2 if bi else 1) * H)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=tol, err_msg="out")
    for f, tf in zip(as_list(final), t_finals):
        np.testing.assert_allclose(f, tf, rtol=0, atol=tol, err_msg="final state")
    assert list(grads) == list(t_grads)
    for name, g in t_grads.items():
        assert grads[name].shape == g.shape and grads[name].dtype == dtype
        np.testing.assert_allclose(grads[name], g, rtol=0, atol=tol, err_msg=f"d {name}")


# ----------------------------------------------------------------------------- equivalence with torch
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("lengths_too", [False, True])
def test_equivalent_to_torch_float64(kind, nonlinearity, L, bi, lengths_too):
    assert_equivalent(kind, nonlinearity, I=3, H=4, L=L, bi=bi, B=5, T=6, lengths_too=lengths_too)


@pytest.mark.parametrize("kind,nonlinearity", KINDS)
@pytest.mark.parametrize("lengths_too", [False, True])
def test_equivalent_to_torch_float32(kind, nonlinearity, lengths_too):
    assert_equivalent(kind, nonlinearity, I=3, H=4, L=2, bi=True, B=4, T=5, lengths_too=lengths_too,
                      dtype=np.float32, tol=1e-5)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), B=st.integers(1, 4), T=st.integers(1, 7), I=st.integers(1, 5),
       H=st.integers(1, 5), L=st.integers(1, 3), bi=st.booleans(), lengths_too=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_equivalent_to_torch_hypothesis(kind, B, T, I, H, L, bi, lengths_too, seed):
    assert_equivalent(kind[0], kind[1], I=I, H=H, L=L, bi=bi, B=B, T=T, lengths_too=lengths_too, seed=seed)


def test_default_state_is_zeros_and_outputs_past_length_are_zero():
    m = ref.GRU(2, 3, num_layers=2, bidirectional=True, seed=1)
    x = np.random.default_rng(0).standard_normal((3, 5, 2))
    lengths = np.array([5, 2, 3])
    out, h_n = m.forward(x, lengths=lengths)
    out0, h0 = m.forward(x, np.zeros((4, 3, 3)), lengths=lengths)
    np.testing.assert_array_equal(out, out0)
    assert np.all(out[1, 2:] == 0) and np.all(out[2, 3:] == 0) and np.all(out[1, :2] != 0)
    # each sequence's final forward state is its own state at its last step, as if run alone
    alone, h_alone = m.forward(x[1:2, :2])
    np.testing.assert_allclose(out[1:2, :2], alone, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_n[:, 1:2], h_alone, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- finite differences
def weighted_loss(m, x, state, lengths, d_out, d_state):
    """A scalar whose gradient w.r.t. out is d_out and w.r.t. the final state is d_state."""
    out, final = m.forward(x, state, lengths=lengths)
    return np.sum(out * d_out) + sum(np.sum(f * d) for f, d in zip(as_list(final), as_list(d_state)))


@pytest.mark.parametrize("kind,nonlinearity", KINDS)
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("lengths_too", [False, True])
def test_layer_backward_matches_finite_differences(kind, nonlinearity, L, bi, lengths_too):
    kwargs = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    m = getattr(ref, kind)(2, 3, num_layers=L, bidirectional=bi, seed=L, **kwargs)
    x, state, lengths, d_out, d_state = random_problem(m, B=3, T=4, lengths_too=lengths_too, seed=L)
    states = as_list(state)
    weighted_loss(m, x, state, lengths, d_out, d_state)
    grads = m.backward(d_out, d_state)
    f = lambda _: weighted_loss(m, x, tuple(states) if len(states) == 2 else states[0],
                                 lengths, d_out, d_state)
    targets = dict(m.params, x=x, **dict(zip(m.state_names, states)))
    assert set(grads) == set(targets)
    for name, array in targets.items():
        err = ref.grad_check(f, array, grads[name])
        assert err <= 1e-6, f"{kind} {name}: relative error {err:.2e}"


# ----------------------------------------------------------------------------- dropout
def test_dropout_eval_is_deterministic_and_matches_torch_eval():
    tm = build_torch("LSTM", None, 3, 4, 3, True, dropout=0.5).eval()
    m = ref.LSTM.from_torch(tm)
    assert m.training is False and m.dropout == 0.5
    x, state, lengths, _, _ = random_problem(m, 2, 5, True)
    out1, _ = m.forward(x, state, lengths)
    out2, _ = m.forward(x, state, lengths)
    np.testing.assert_array_equal(out1, out2)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        t_out, _ = tm(packed, tuple(torch.tensor(s) for s in state))
    t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True, total_length=5)
    np.testing.assert_allclose(out1, t_out.numpy(), rtol=0, atol=1e-12)


def test_dropout_train_mode_masks_and_backward_use_them():
    m = ref.GRU(2, 3, num_layers=2, bidirectional=True, dropout=0.4, seed=3)
    x, state, lengths, d_out, d_state = random_problem(m, 3, 4, False, seed=3)
    out_a, _ = m.forward(x, state)
    out_b, _ = m.forward(x, state)
    assert not np.allclose(out_a, out_b)  # fresh masks every forward in training mode
    m.reseed(7)
    out_c, _ = m.forward(x, state)
    m.reseed(7)
    out_d, _ = m.forward(x, state)
    np.testing.assert_array_equal(out_c, out_d)
    out_eval, _ = m.eval().forward(x, state)
    assert not np.allclose(out_eval, out_c)
    m.train()

    def f(_):
        m.reseed(7)  # the same masks at every evaluation
        return weighted_loss(m, x, state, None, d_out, d_state)

    f(None)
    grads = m.backward(d_out, d_state)
    for name in ["weight_ih_l0", "weight_hh_l0_reverse", "bias_ih_l1", "weight_ih_l1"]:
        assert ref.grad_check(f, m.params[name], grads[name]) <= 1e-6, name
    assert ref.grad_check(f, x, grads["x"]) <= 1e-6
    m.eval().forward(x, state)
    assert not np.allclose(m.backward(d_out, d_state)["x"], grads["x"])


# ----------------------------------------------------------------------------- state_dict round trips
@pytest.mark.parametrize("kind,nonlinearity", KINDS)
def test_state_dict_round_trip_both_ways(kind, nonlinearity):
    tm = build_torch(kind, nonlinearity, 3, 4, 2, True, seed=5)
    m = getattr(ref, kind)(3, 4, num_layers=2, bidirectional=True, seed=9,
                           **({"nonlinearity": nonlinearity} if kind == "RNN" else {}))
    # torch -> ref: same keys, same order, same values
    m.load_state_dict(tm.state_dict())
    sd = m.state_dict()
    assert list(sd) == list(tm.state_dict())
    for name, value in tm.state_dict().items():
        np.testing.assert_array_equal(sd[name], value.numpy())
    sd[next(iter(sd))][...] = 0.0  # a copy, not the model's arrays
    assert np.any(m.params[next(iter(sd))] != 0)
    # ref -> torch: a fresh torch module takes the ref state_dict strictly
    m2 = getattr(ref, kind)(3, 4, num_layers=2, bidirectional=True, seed=11,
                            **({"nonlinearity": nonlinearity} if kind == "RNN" else {}))
    tm2 = build_torch(kind, nonlinearity, 3, 4, 2, True, seed=6)
    tm2.load_state_dict({k: torch.from_numpy(v) for k, v in m2.state_dict().items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 3))
    with torch.no_grad():
        t_out, _ = tm2(torch.tensor(x))
    np.testing.assert_allclose(m2.forward(x)[0], t_out.numpy(), rtol=0, atol=1e-12)
    # to_torch gives an equivalent module
    with torch.no_grad():
        t_out3, _ = m2.to_torch()(torch.tensor(x))
    np.testing.assert_allclose(m2.forward(x)[0], t_out3.numpy(), rtol=0, atol=1e-12)


def test_seeded_init_is_reproducible_and_in_torch_range():
    a, b, c = ref.LSTM(3, 16, seed=1), ref.LSTM(3, 16, seed=1), ref.LSTM(3, 16, seed=2)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        assert np.abs(a.params[name]).max() <= 1 / np.sqrt(16)
    assert not np.array_equal(a.params["weight_hh_l0"], c.params["weight_hh_l0"])
    assert ref.LSTM(3, 4, dtype=np.float32).params["bias_hh_l0"].dtype == np.float32


# ----------------------------------------------------------------------------- errors
def test_input_shape_errors():
    m = ref.LSTM(16, 8, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"^x must be \(batch, time, 16\); got \(32, 16\)$"):
        m.forward(np.zeros((32, 16)))
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 16\); got \(4, 3, 15\)"):
        m.forward(np.zeros((4, 3, 15)))
    with pytest.raises(ValueError, match=r"h0 must be \(4, 2, 8\) = \(num_layers\*num_directions, batch, hidden\); "
                                         r"got \(2, 2, 8\)"):
        m.forward(np.zeros((2, 3, 16)), (np.zeros((2, 2, 8)), np.zeros((4, 2, 8))))
    with pytest.raises(TypeError, match="state of an LSTM must be a pair \\(h, c\\); got ndarray"):
        m.forward(np.zeros((2, 3, 16)), np.zeros((4, 2, 8)))
    g = ref.GRU(2, 3)
    with pytest.raises(ValueError, match=r"h0 must be \(1, 5, 3\)"):
        g.forward(np.zeros((5, 3, 2)), np.zeros((5, 3)))


def test_dtype_errors():
    m = ref.RNN(2, 3)
    with pytest.raises(TypeError, match=r"x has dtype float32 but the parameters are float64; convert with "
                                        r"x.astype\(np.float64\) or build the model with dtype=np.float32"):
        m.forward(np.zeros((1, 2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="x must be a floating-point array; got dtype int64"):
        m.forward(np.zeros((1, 2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match=r"x must be a NumPy array; got a torch tensor"):
        m.forward(torch.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="h0 has dtype float32 but the parameters are float64"):
        m.forward(np.zeros((1, 2, 2)), np.zeros((1, 1, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64; got int32"):
        ref.RNN(2, 3, dtype=np.int32)
    out = m.forward([[[0.0, 1.0]]])[0]  # nested lists are converted
    assert out.shape == (1, 1, 3)


def test_lengths_errors():
    m = ref.LSTM(2, 3)
    x = np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\] \(1 <= length <= time\); got \[0\]"):
        m.forward(x, lengths=[4, 0, 2])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\] \(1 <= length <= time\); got \[5\]"):
        m.forward(x, lengths=np.array([4, 5, 2]))
    with pytest.raises(ValueError, match=r"lengths must be \(batch,\) = \(3,\); got \(2,\)"):
        m.forward(x, lengths=[4, 2])
    with pytest.raises(ValueError, match=r"lengths must be \(batch,\) = \(3,\); got \(3, 1\)"):
        m.forward(x, lengths=[[4], [2], [1]])
    with pytest.raises(TypeError, match="lengths must be integers; got dtype float64"):
        m.forward(x, lengths=[4, 2.5, 1])
    out, _ = m.forward(x, lengths=torch.tensor([4, 2, 1]))  # torch tensors are accepted, like torch does
    assert out.shape == (3, 4, 3)


def test_non_finite_input_errors():
    m = ref.GRU(2, 3)
    x = np.zeros((2, 3, 2))
    x[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite; got 1 NaN/inf value\(s\), the first at index \(1, 2, 0\)"):
        m.forward(x)
    with pytest.raises(ValueError, match="h0 must be finite"):
        m.forward(np.zeros((2, 3, 2)), np.full((1, 2, 3), np.inf))
    m.forward(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="d_out must be finite"):
        m.backward(np.full((2, 3, 3), np.nan))


def test_backward_errors():
    m = ref.LSTM(2, 3, bidirectional=True)
    with pytest.raises(RuntimeError, match=r"backward\(\) needs a forward\(\) first"):
        m.backward(np.zeros((1, 2, 6)))
    m.forward(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match=r"d_out must be \(1, 2, 6\) = \(batch, time, num_directions\*hidden\) "
                                         r"of the forward; got \(1, 2, 3\)"):
        m.backward(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"dc_n must be \(2, 1, 3\)"):
        m.backward(np.zeros((1, 2, 6)), (None, np.zeros((1, 1, 3))))


def test_state_dict_errors():
    m = ref.GRU(2, 3)
    sd = m.state_dict()
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['weight_ih_l1'\]; expected the names "
                                         r"\['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'\]"):
        m.load_state_dict(dict(sd, weight_ih_l1=np.zeros((9, 3))))
    sd.pop("bias_hh_l0")
    with pytest.raises(ValueError, match=r"missing parameter\(s\) \['bias_hh_l0'\]"):
        m.load_state_dict(sd)
    sd["bias_hh_l0"] = np.zeros(6)
    with pytest.raises(ValueError, match=r"bias_hh_l0 must be \(9,\); got \(6,\)"):
        m.load_state_dict(sd)
    with pytest.raises(TypeError, match="GRU.from_torch expects a torch.nn.GRU; got LSTM"):
        ref.GRU.from_torch(torch.nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="ref layers always have biases; got a module with bias=False"):
        ref.GRU.from_torch(torch.nn.GRU(2, 3, bias=False))


def test_constructor_errors():
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got 0"):
        ref.LSTM(2, 0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\); got 1.0"):
        ref.LSTM(2, 3, num_layers=2, dropout=1.0)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'"):
        ref.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="bidirectional must be True or False; got 'yes'"):
        ref.GRU(2, 3, bidirectional="yes")
    with pytest.raises(ValueError, match="num_layers must be a positive int; got 1.5"):
        ref.GRU(2, 3, num_layers=1.5)
