"""course_lib.experiments.lstm: the three implementations agree, the hand-set memory keeps exactly f**n of what
it stored, gate traces and gradient norms are right (checked against independent computations), and the
adding-problem trainer stops, seeds and measures as documented."""
import math

import numpy as np
import pytest
import torch

import course_lib
from course_lib import nn as cnn
from course_lib import ref
from course_lib.data import adding_problem
from course_lib.experiments import gradients as ch04
from course_lib.experiments import lstm as L


# ----------------------------------------------------------------------------- three implementations
def test_ref_nn_and_torch_agree_forward_and_backward():
    table = L.compare_implementations(batch=2, T=5, input_size=3, hidden_size=4, seed=1)
    assert table.columns == ["course_lib.nn (fused)", "course_lib.nn (loop)", "torch.nn.LSTM"]
    assert {"out", "h_n", "c_n", "dL/dx", "dL/dh0", "dL/dc0", "dL/dweight_hh_l0", "dL/dbias_ih_l0"} <= set(table.errors)
    assert table.max() < 1e-12
    text = table.format()
    assert text.count("\n") == len(table.errors) and "dL/dweight_ih_l0" in text


def test_agreement_reports_the_largest_difference():
    table = L.Agreement({"out": {"a": 1e-3, "b": 2.0}, "h_n": {"a": 5.0, "b": 0.0}})
    assert table.max() == 5.0 and table.columns == ["a", "b"]
    assert "5.0e+00" in table.format()


def test_compare_implementations_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got 0"):
        L.compare_implementations(hidden_size=0)


# ----------------------------------------------------------------------------- the hand-set memory
def test_tom_sentence_and_encoding():
    toks = L.tom_sentence("dog", 20)
    assert len(toks) == 29 and toks[3] == "dog" and toks[-1] == "eats" and "cat" not in toks
    x = L.encode(toks)
    assert x.shape == (1, 29, len(L.VOCAB)) and np.all(x.sum(axis=2) == 1)
    assert x[0, 3, L.VOCAB.index("dog")] == 1
    with pytest.raises(ValueError, match="animal must be 'cat' or 'dog'; got 'cow'"):
        L.tom_sentence("cow")
    with pytest.raises(ValueError, match="n_filler must be a non-negative int; got -1"):
        L.tom_sentence("cat", -1)
    with pytest.raises(ValueError, match="unknown words \\['fish'\\]"):
        L.encode(["Tom", "fish"])


def test_memory_keeps_exactly_f_to_the_n_of_what_it_stored():
    forget = 0.97
    toks = L.tom_sentence("cat", 30)
    trace = L.gate_trace(L.memory_lstm(forget), L.encode(toks))
    c = trace["c"][0, :, 0]
    stored = c[3]                                       # written at "cat"
    assert stored == pytest.approx(math.tanh(3.0), rel=1e-3)
    n = np.arange(len(toks) - 4)
    np.testing.assert_allclose(c[4:], stored * forget ** (n + 1), rtol=1e-9)
    # the output gate opens only at "eats"
    assert trace["o"][0, -1, 0] > 0.99 and trace["o"][0, :-1, 0].max() < 1e-4


def test_p_fish_follows_the_animal_and_fades_with_a_leaky_forget_gate():
    keep, leak = L.memory_lstm(0.9999), L.memory_lstm(0.9)
    assert L.p_fish(keep, L.tom_sentence("cat", 100)) > 0.95
    assert L.p_fish(keep, L.tom_sentence("dog", 100)) < 0.05
    assert L.p_fish(leak, L.tom_sentence("cat", 0)) > 0.9
    assert abs(L.p_fish(leak, L.tom_sentence("cat", 100)) - 0.5) < 1e-3
    for bad in (0.0, 1.0, 1.5, True):
        with pytest.raises(ValueError, match="forget must be"):
            L.memory_lstm(bad)


# ----------------------------------------------------------------------------- gate traces
def test_gate_trace_matches_ref_lstm_forward_for_ref_and_torch_modules():
    torch.manual_seed(0)
    module = cnn.LSTM(3, 4, batch_first=True)
    x = np.random.default_rng(0).standard_normal((2, 6, 3))
    m = ref.LSTM.from_torch(module)
    out, (h_n, c_n) = m.forward(x)
    for lstm in (module, m, torch.nn.LSTM(3, 4, batch_first=True).requires_grad_(False)):
        if isinstance(lstm, torch.nn.LSTM):
            lstm.load_state_dict(module.state_dict())
        trace = L.gate_trace(lstm, torch.from_numpy(x).float() if lstm is module else x)
        assert set(trace) == set("ifgoch") and trace["c"].shape == (2, 6, 4)
        np.testing.assert_allclose(trace["h"], out, atol=1e-6)
        np.testing.assert_allclose(trace["c"][:, -1], c_n[0], atol=1e-6)
        for k in "ifo":
            assert 0 < trace[k].min() and trace[k].max() < 1
    single = L.gate_trace(m, x[0])                       # (T, input) is one sequence
    np.testing.assert_allclose(single["h"][0], out[0], atol=1e-12)


def test_gate_trace_rejects_other_layers_and_shapes():
    with pytest.raises(TypeError, match="one-layer, one-direction LSTM"):
        L.gate_trace(cnn.LSTM(2, 3, num_layers=2), np.zeros((1, 4, 2)))
    with pytest.raises(TypeError, match="one-layer, one-direction LSTM"):
        L.gate_trace(cnn.GRU(2, 3), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 2\) or \(time, 2\); got \(1, 4, 3\)"):
        L.gate_trace(cnn.LSTM(2, 3), np.zeros((1, 4, 3)))


# ----------------------------------------------------------------------------- gradient norms
def test_rnn_gradient_norms_match_the_chapter_04_measurement():
    torch.manual_seed(3)
    rnn = cnn.RNN(2, 8, batch_first=True)
    x, _ = adding_problem(3, 12, seed=1)
    ours = L.state_gradient_norms(rnn, x, seed=4)
    theirs = ch04.hidden_gradient_norms(ref.RNN.from_torch(rnn), x.double().numpy(), seed=4)
    assert ours.shape == (3, 13)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_lstm_cell_gradient_norms_match_finite_differences():
    torch.manual_seed(0)
    lstm = cnn.LSTM(2, 5, batch_first=True)
    x, _ = adding_problem(1, 8, seed=2)
    x = x.double().numpy()
    norms = L.state_gradient_norms(lstm, x, seed=0)
    assert norms[0, -1] == pytest.approx(1.0)
    g = np.random.default_rng(0).standard_normal((1, 5))
    g /= np.linalg.norm(g)
    trace, m = L.gate_trace(lstm, x), ref.LSTM.from_torch(lstm)
    k, eps = 3, 1e-6                                     # perturb c_k; h_k = o_k tanh(c_k) follows it
    c_k, o_k = trace["c"][0, k - 1], trace["o"][0, k - 1]

    def loss(c):
        _, (_, c_T) = m.forward(x[:, k:], (o_k * np.tanh(c)[None, None], c[None, None]))
        return float(g[0] @ c_T[0, 0])

    numeric = np.array([(loss(c_k + eps * e) - loss(c_k - eps * e)) / (2 * eps) for e in np.eye(5)])
    assert norms[0, k] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


def test_without_recurrent_weights_the_cell_gradient_is_the_product_of_forget_gates():
    torch.manual_seed(1)
    lstm = cnn.LSTM(2, 6, batch_first=True)
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()                      # gates no longer see h, so only the cell path is left
    x, _ = adding_problem(4, 15, seed=3)

    def cell_path():                                   # ||g * prod_{t > k} f_t||, g as in state_gradient_norms
        f = L.gate_trace(lstm, x)["f"]
        g = np.random.default_rng(0).standard_normal((4, 6))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        tails = np.concatenate([np.cumprod(f[:, ::-1], axis=1)[:, ::-1], np.ones((4, 1, 6))], axis=1)
        return np.linalg.norm(g[:, None] * tails, axis=2)

    np.testing.assert_allclose(L.state_gradient_norms(lstm, x), cell_path(), rtol=1e-10)
    with torch.no_grad():
        lstm.weight_hh_l0.normal_()
    assert not np.allclose(L.state_gradient_norms(lstm, x), cell_path(), rtol=1e-3)


def test_state_gradient_norms_rejects_other_models():
    with pytest.raises(TypeError, match="LSTM or RNN"):
        L.state_gradient_norms(cnn.GRU(2, 3), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="must use tanh"):
        L.state_gradient_norms(cnn.RNN(2, 3, nonlinearity="relu"), np.zeros((1, 4, 2)))


def test_geometric_mean_by_distance():
    norms = np.array([[1e-4, 1e-2, 1.0], [1e-2, 1.0, 1.0]])
    np.testing.assert_allclose(L.geometric_mean_by_distance(norms), [1.0, 0.1, 1e-3])
    with pytest.raises(ValueError, match=r"norms must be \(batch, T \+ 1\); got shape \(3,\)"):
        L.geometric_mean_by_distance(np.ones(3))


# ----------------------------------------------------------------------------- the adding problem
def test_set_forget_bias_sets_only_the_forget_quarter():
    for lstm in (cnn.LSTM(2, 3, num_layers=2, bidirectional=True), torch.nn.LSTM(2, 3)):
        before = {n: p.detach().clone() for n, p in lstm.named_parameters()}
        L.set_forget_bias(lstm, 2.5)
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                total = p + getattr(lstm, name.replace("bias_ih", "bias_hh"))
                assert torch.allclose(total[3:6], torch.full((3,), 2.5))
                keep = torch.cat([p[:3], p[6:]]), torch.cat([before[name][:3], before[name][6:]])
                assert torch.equal(*keep)
            elif name.startswith("weight"):
                assert torch.equal(p, before[name])
    with pytest.raises(TypeError, match="lstm must be a torch.nn.LSTM or course_lib.nn.LSTM"):
        L.set_forget_bias(cnn.GRU(2, 3), 1.0)


def test_adding_model_shapes_and_forget_bias():
    x, _ = adding_problem(5, 7, seed=0)
    for kind in L.KINDS:
        assert L.adding_model(kind, 6)(x).shape == (5, 1)
    net = L.adding_model("lstm", 4, forget_bias=3.0)
    assert torch.allclose(net.rnn.bias_ih_l0[4:8] + net.rnn.bias_hh_l0[4:8], torch.full((4,), 3.0))
    default = L.adding_model("lstm", 4, forget_bias=None, seed=0)
    course_lib.seed(0)
    assert torch.equal(default.rnn.bias_ih_l0, cnn.LSTM(2, 4).bias_ih_l0)     # torch's initialisation kept
    with pytest.raises(ValueError, match="kind must be one of \\('rnn', 'lstm'\\); got 'gru'"):
        L.adding_model("gru")


def test_adding_sweep_runs_every_combination_and_stops_when_solved():
    cfg = L.ADDING.replace(steps=5, batch_size=8, eval_every=5, n_eval=16)
    res = L.adding_sweep([4, 6], cfg, seeds=(0, 1), progress=False, hidden_size=4, device="cpu")
    assert set(res) == {(k, T, s) for k in L.KINDS for T in (4, 6) for s in (0, 1)}
    assert all(r.kind == k and r.T == T and r.seed == s for (k, T, s), r in res.items())
    solved = L.adding_sweep([6], cfg.replace(solved_below=10.0, steps=40), kinds=("lstm",), progress=False,
                            hidden_size=4, device="cpu")[("lstm", 6, 0)]
    assert solved.solved and solved.solved_at == 5 and solved.steps == 5     # any MSE counts as solved


def test_adding_sweep_learns_a_short_problem():
    r = L.adding_sweep([5], L.ADDING.replace(steps=250, solved_below=None), kinds=("lstm",), hidden_size=16,
                       progress=False, device="cpu")[("lstm", 5, 0)]
    assert r.relative_mse < 0.3, r.history.metrics["val_mse"]
