"""course_lib.ref cells: finite-difference gradient checks, equivalence with torch.nn.*Cell, error messages."""
import numpy as np
import pytest
import torch

from course_lib import ref

B, I, H = 3, 4, 5
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def make(kind, seed=0, dtype=np.float64):
    """Random inputs of a cell: x, states, W_ih, W_hh, b_ih, b_hh."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    arrays = dict(x=rng.standard_normal((B, I)), h=rng.standard_normal((B, H)),
                  W_ih=rng.standard_normal((G * H, I)) * 0.5, W_hh=rng.standard_normal((G * H, H)) * 0.5,
                  b_ih=rng.standard_normal(G * H) * 0.5, b_hh=rng.standard_normal(G * H) * 0.5)
    if kind == "lstm":
        arrays["c"] = rng.standard_normal((B, H))
    return {k: v.astype(dtype) for k, v in arrays.items()}


def run(kind, a, nonlinearity="tanh"):
    """Forward of the cell on the dict a; returns (list of next-state arrays, cache)."""
    if kind == "rnn":
        h, cache = ref.rnn_cell_forward(a["x"], a["h"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"], nonlinearity)
        return [h], cache
    if kind == "lstm":
        (h, c), cache = ref.lstm_cell_forward(a["x"], a["h"], a["c"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
        return [h, c], cache
    h, cache = ref.gru_cell_forward(a["x"], a["h"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
    return [h], cache


def backward(kind, upstream, cache):
    """Backward of the cell; returns a dict input name -> gradient."""
    if kind == "lstm":
        dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh = ref.lstm_cell_backward(tuple(upstream), cache)
        return dict(x=dx, h=dh, c=dc, W_ih=dW_ih, W_hh=dW_hh, b_ih=db_ih, b_hh=db_hh)
    fn = ref.rnn_cell_backward if kind == "rnn" else ref.gru_cell_backward
    dx, dh, dW_ih, dW_hh, db_ih, db_hh = fn(upstream[0], cache)
    return dict(x=dx, h=dh, W_ih=dW_ih, W_hh=dW_hh, b_ih=db_ih, b_hh=db_hh)


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_cell_backward_matches_finite_differences(kind, nonlinearity):
    a = make(kind, seed=1)
    rng = np.random.default_rng(2)
    states, cache = run(kind, a, nonlinearity or "tanh")
    upstream = [rng.standard_normal(s.shape) for s in states]

    def loss(_):
        out, _c = run(kind, a, nonlinearity or "tanh")
        return sum(np.sum(o * u) for o, u in zip(out, upstream))

    grads = backward(kind, upstream, cache)
    assert set(grads) == set(a)
    for name in a:
        err = ref.grad_check(loss, a[name], grads[name])
        assert err <= 1e-6, f"{kind} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_cell_matches_torch(kind, nonlinearity, dtype, tol):
    a = make(kind, seed=3, dtype=dtype)
    states, cache = run(kind, a, nonlinearity or "tanh")
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    kwargs = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    cell = cls(I, H, dtype=tdtype, **kwargs)
    with torch.no_grad():
        for tname, name in [("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh")]:
            getattr(cell, tname).copy_(torch.from_numpy(a[name]))
    xt = torch.tensor(a["x"], requires_grad=True)
    ht = torch.tensor(a["h"], requires_grad=True)
    if kind == "lstm":
        ct = torch.tensor(a["c"], requires_grad=True)
        touts = list(cell(xt, (ht, ct)))
    else:
        touts = [cell(xt, ht)]
    rng = np.random.default_rng(4)
    upstream = [rng.standard_normal(s.shape).astype(dtype) for s in states]
    for s, t in zip(states, touts):
        assert s.dtype == dtype
        np.testing.assert_allclose(s, t.detach().numpy(), rtol=0, atol=tol)
    sum((t * torch.from_numpy(u)).sum() for t, u in zip(touts, upstream)).backward()
    grads = backward(kind, upstream, cache)
    expected = dict(x=xt.grad, h=ht.grad, W_ih=cell.weight_ih.grad, W_hh=cell.weight_hh.grad,
                    b_ih=cell.bias_ih.grad, b_hh=cell.bias_hh.grad)
    if kind == "lstm":
        expected["c"] = ct.grad
    for name, g in expected.items():
        np.testing.assert_allclose(grads[name], g.numpy(), rtol=0, atol=tol, err_msg=name)


def test_cell_shape_errors_name_expected_and_given():
    a = make("lstm")
    with pytest.raises(ValueError, match=r"W_ih must be \(20, 4\) = \(4\*hidden, input_size\); got \(20, 3\)"):
        ref.lstm_cell_forward(a["x"], a["h"], a["c"], a["W_ih"][:, :3], a["W_hh"], a["b_ih"], a["b_hh"])
    with pytest.raises(ValueError, match=r"c must be \(3, 5\) = \(batch, hidden\); got \(2, 5\)"):
        ref.lstm_cell_forward(a["x"], a["h"], a["c"][:2], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
    with pytest.raises(ValueError, match=r"x must be \(batch, input_size\); got shape \(3, 1, 4\)"):
        ref.lstm_cell_forward(a["x"][:, None], a["h"], a["c"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
    g = make("gru")
    with pytest.raises(ValueError, match=r"b_hh must be \(15,\) = \(3\*hidden,\); got \(5,\)"):
        ref.gru_cell_forward(g["x"], g["h"], g["W_ih"], g["W_hh"], g["b_ih"], g["b_hh"][:5])
    r = make("rnn")
    with pytest.raises(ValueError, match=r"W_hh must be \(5, 5\) = \(hidden, hidden\); got \(5, 4\)"):
        ref.rnn_cell_forward(r["x"], r["h"], r["W_ih"], r["W_hh"][:, :4], r["b_ih"], r["b_hh"])
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'"):
        ref.rnn_cell_forward(r["x"], r["h"], r["W_ih"], r["W_hh"], r["b_ih"], r["b_hh"], "sigmoid")


def test_cell_dtype_and_finiteness_errors():
    r = make("rnn")
    with pytest.raises(TypeError, match="W_ih has dtype float32 but x has dtype float64"):
        ref.rnn_cell_forward(r["x"], r["h"], r["W_ih"].astype(np.float32), r["W_hh"], r["b_ih"], r["b_hh"])
    with pytest.raises(TypeError, match="x must be a floating-point array; got dtype int64"):
        ref.rnn_cell_forward(r["x"].astype(np.int64), r["h"], r["W_ih"], r["W_hh"], r["b_ih"], r["b_hh"])
    bad = r["h"].copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"h must be finite; got 1 NaN/inf value\(s\), the first at index \(1, 2\)"):
        ref.rnn_cell_forward(r["x"], bad, r["W_ih"], r["W_hh"], r["b_ih"], r["b_hh"])


def test_cell_backward_errors():
    a = make("lstm")
    (h, c), cache = ref.lstm_cell_forward(a["x"], a["h"], a["c"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"])
    with pytest.raises(TypeError, match=r"lstm_cell_backward expects \(dh_next, dc_next\); got ndarray"):
        ref.lstm_cell_backward(h, cache)
    with pytest.raises(ValueError, match=r"dc_next must be \(3, 5\) = \(batch, hidden\) of the forward pass; got \(3, 4\)"):
        ref.lstm_cell_backward((h, c[:, :4]), cache)
