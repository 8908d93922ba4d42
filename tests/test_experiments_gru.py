"""course_lib.experiments.gru and course_lib.viz.gru (chapter 06): the paper's GRU really is the paper's,
parameter counts match torch, budgets are the closest, the runs report what they claim, figures draw it."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import nn as cnn
from course_lib.data.corpus import load_corpus
from course_lib.experiments import gru as exp
from course_lib.experiments import tasks as TK
from course_lib.viz import gru as viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _paper_gru_numpy(x, h, p):
    """Cho et al. 2014 written independently in NumPy, torch's names: n = tanh(W_in x + b_in + W_hn (r h) + b_hn)."""
    H = h.shape[1]
    Wi, Wh, bi, bh = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = _sigmoid(xt @ Wi[:H].T + bi[:H] + h @ Wh[:H].T + bh[:H])
        z = _sigmoid(xt @ Wi[H:2 * H].T + bi[H:2 * H] + h @ Wh[H:2 * H].T + bh[H:2 * H])
        n = np.tanh(xt @ Wi[2 * H:].T + bi[2 * H:] + (r * h) @ Wh[2 * H:].T + bh[2 * H:])
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs, axis=1)


# ----------------------------------------------------------------------------- the two formulations
def test_cho_gru_is_the_paper_formula_and_loads_torch_weights():
    torch.manual_seed(0)
    tg = torch.nn.GRU(3, 5, batch_first=True, dtype=torch.float64)
    paper = exp.ChoGRU(3, 5, batch_first=True, dtype=torch.float64)
    paper.load_state_dict(tg.state_dict())
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 5, dtype=torch.float64)
    out, h_n = paper(x, h0)
    p = {k: v.numpy() for k, v in tg.state_dict().items()}
    expected = _paper_gru_numpy(x.numpy(), h0[0].numpy(), p)
    assert np.allclose(out.detach().numpy(), expected, atol=1e-12)
    assert torch.equal(h_n[0], out[:, -1])
    # ... and it is not torch's GRU on the same weights
    assert (out - tg(x, h0)[0]).abs().max() > 1e-2


def test_the_two_forms_agree_exactly_when_every_reset_gate_is_one():
    torch.manual_seed(1)
    ours = cnn.GRU(4, 6, batch_first=True, dtype=torch.float64)
    paper = exp.ChoGRU(4, 6, batch_first=True, dtype=torch.float64)
    paper.load_state_dict(ours.state_dict())
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    with torch.no_grad():
        assert (ours(x)[0] - paper(x)[0]).abs().max() > 1e-2
        for m in (ours, paper):
            m.bias_ih_l0[:6] += 60.0
        assert (ours(x)[0] - paper(x)[0]).abs().max() < 1e-12


def test_cho_gru_time_major_backward_and_errors():
    paper = exp.ChoGRU(2, 3)                      # batch_first=False like torch
    x = torch.randn(5, 4, 2, requires_grad=True)
    out, h_n = paper(x)
    assert out.shape == (5, 4, 3) and h_n.shape == (1, 4, 3)
    out.sum().backward()
    assert paper.weight_hh_l0.grad is not None and paper.weight_hh_l0.grad.abs().sum() > 0
    with pytest.raises(NotImplementedError, match="lengths"):
        paper(x, lengths=[5, 5, 5, 5])
    with pytest.raises(ValueError, match=r"\(time, batch, 2\)"):
        paper(torch.randn(5, 4, 3))
    with pytest.raises(ValueError, match="xw_t must be"):
        exp.cho_gru_step(torch.randn(2, 8), torch.randn(2, 3), torch.randn(9, 3), None)


def test_cho_gru_step_without_bias():
    torch.manual_seed(2)
    paper = exp.ChoGRU(2, 3, bias=False, batch_first=True)
    out, _ = paper(torch.randn(2, 4, 2))
    assert out.shape == (2, 4, 3) and torch.isfinite(out).all()


# ----------------------------------------------------------------------------- parameter budgets
LAYERS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), d=st.integers(1, 20), H=st.integers(1, 20),
       layers=st.integers(1, 3), bidirectional=st.booleans(), bias=st.booleans())
def test_recurrent_parameters_match_torch(kind, d, H, layers, bidirectional, bias):
    module = LAYERS[kind](d, H, num_layers=layers, bidirectional=bidirectional, bias=bias)
    assert TK.recurrent_parameters(kind, d, H, num_layers=layers, bidirectional=bidirectional, bias=bias) \
        == TK.count_parameters(module)


def test_model_parameters_count_the_readout_and_the_gru_is_three_rnns():
    assert TK.recurrent_parameters("gru", 16, 64) == 3 * TK.recurrent_parameters("rnn", 16, 64)
    assert TK.recurrent_parameters("lstm", 16, 64) == 4 * TK.recurrent_parameters("rnn", 16, 64)
    m = exp.sequence_model("lstm", 5, 7, 3)
    assert TK.model_parameters("lstm", 5, 7, 3) == TK.count_parameters(m)
    assert TK.model_parameters("gru", 5, 7, 3, bidirectional=True) == \
        TK.recurrent_parameters("gru", 5, 7, bidirectional=True) + 2 * 7 * 3 + 3


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("budget", [500, 6000, 30000])
def test_hidden_for_budget_is_the_closest(kind, budget):
    H = TK.hidden_for_budget(kind, 10, 9, budget)
    gap = lambda h: abs(TK.model_parameters(kind, 10, h, 9) - budget)
    assert gap(H) <= gap(H + 1)
    assert H == 1 or gap(H) <= gap(H - 1)


def test_budget_and_kind_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        TK.recurrent_parameters("transformer", 2, 3)
    with pytest.raises(ValueError, match="budget must be a positive int; got 0"):
        TK.hidden_for_budget("gru", 2, 1, 0)
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        TK.recurrent_parameters("gru", 2, 0)


# ----------------------------------------------------------------------------- model, baselines
def test_sequence_model_shapes_and_one_hot_check():
    m = exp.sequence_model("gru", 4, 6, 3, per_step=False)
    assert m(torch.randn(2, 5, 4)).shape == (2, 3)
    m = exp.sequence_model("rnn", 10, 6, 9, one_hot=True)
    assert m(torch.randint(0, 10, (2, 5))).shape == (2, 5, 9)
    with pytest.raises(ValueError, match="int64 ids"):
        m(torch.randn(2, 5, 10))


def test_unigram_bits_per_char():
    V = 4
    uniform = torch.arange(4000) % V
    assert TK.unigram_bits_per_char(uniform, uniform, V) == pytest.approx(2.0, abs=1e-3)
    skewed = torch.tensor([0] * 900 + [1] * 100)
    p0, p1 = 901 / 1004, 101 / 1004                 # add-one smoothing over V = 4 symbols
    assert TK.unigram_bits_per_char(skewed, torch.tensor([0, 1]), V) == \
        pytest.approx(-(math.log2(p0) + math.log2(p1)) / 2)


def test_charlm_data_is_a_contiguous_slice():
    vocab, train, val = TK.charlm_data(10_000, val_fraction=0.2)
    assert len(train) == 8000 and len(val) == 2000
    assert vocab.decode(torch.cat([train, val])) == load_corpus()[:10_000]


# ----------------------------------------------------------------------------- runs
def test_adding_run_reports_the_best_validation_value():
    run = exp.adding_run("gru", exp.TaskConfig(T=6, budget=300, steps=6, batch=8, eval_every=2))
    assert (run.task, run.kind, run.metric, run.baseline) == ("adding", "gru", "MSE", pytest.approx(1 / 6))
    assert run.curve_steps == [2, 4, 6] and len(run.curve) == 3
    assert run.value == min(run.curve) and run.final == run.curve[-1]
    assert run.params == TK.model_parameters("gru", 2, run.hidden, 1) == TK.count_parameters(run.model)
    assert run.ratio == pytest.approx(run.value * 6)
    assert len(run.history.loss) == 6 and run.seconds > 0


def test_copy_and_charlm_runs():
    run = exp.copy_run("lstm", exp.TaskConfig(T=3, budget=400, steps=2, batch=4, eval_every=1))
    assert run.baseline == pytest.approx(10 * math.log(8) / 23)
    assert run.value > 0 and len(run.curve) == 2
    run = exp.charlm_run("rnn", exp.TaskConfig(T=16, budget=3000, n_chars=5_000, steps=2, batch=4, eval_every=1))
    assert run.metric == "bits/char" and 3.0 < run.baseline < 6.5
    assert run.value < 7.0            # ~log2(76) = 6.25 at initialisation, and no worse than that by far


def test_side_by_side_and_table():
    tiny = {"adding": exp.TaskConfig(T=4, budget=200, steps=2, batch=4)}
    runs = exp.side_by_side(tasks=("adding",), kinds=("rnn", "gru"), configs=tiny, progress=False)
    assert [r.kind for r in runs["adding"]] == ["rnn", "gru"]
    table = exp.results_table(runs).splitlines()
    assert len(table) == 3 and table[1].split()[:2] == ["adding", "rnn"]
    runs = exp.side_by_side(tasks=("adding",), configs=tiny, only={"adding": ("cho-gru",)}, progress=False)
    assert [r.kind for r in runs["adding"]] == ["cho-gru"]
    with pytest.raises(ValueError, match="tasks, configs and only"):
        exp.side_by_side(tasks=("sorting",), progress=False)
    with pytest.raises(ValueError, match="tasks, configs and only"):
        exp.side_by_side(tasks=("adding",), only={"copy": ("gru",)}, progress=False)


# ----------------------------------------------------------------------------- gates
def test_gru_gates_reproduce_the_module_and_are_gates():
    torch.manual_seed(3)
    gru = cnn.GRU(2, 5, batch_first=True)
    x = torch.randn(3, 8, 2)
    g = exp.gru_gates(gru, x)
    out, _ = gru(x)
    assert np.allclose(g["h"], out.detach().numpy(), atol=1e-5)
    for k in ("r", "z"):
        assert g[k].shape == (3, 8, 5) and (g[k] > 0).all() and (g[k] < 1).all()
    with pytest.raises(ValueError, match="one-layer"):
        exp.gru_gates(cnn.GRU(2, 5, num_layers=2, batch_first=True), x)
    with pytest.raises(ValueError, match=r"\(batch, time, 2\)"):
        exp.gru_gates(gru, torch.randn(3, 8))


# ----------------------------------------------------------------------------- figures
def _fake_run(kind, task, curve, baseline):
    return exp.Run(task, kind, 4, 100, "m", min(curve), baseline, 1.0, list(range(1, len(curve) + 1)), curve)


def test_plot_comparison_draws_one_line_per_run_relative_to_the_baseline():
    runs = {"adding": [_fake_run("rnn", "adding", [0.2, 0.1], 0.2), _fake_run("gru", "adding", [0.1, 0.01], 0.2)],
            "copy": [_fake_run("lstm", "copy", [1.0, 5.0], 1.0)]}
    fig = viz.plot_comparison(runs)
    a, b = fig.axes
    assert a.get_yscale() == "log" and b.get_yscale() == "linear"
    ys = [list(line.get_ydata()) for line in a.get_lines()[:2]]
    assert np.allclose(ys, [[1.0, 0.5], [0.5, 0.05]])
    assert b.get_ylim()[1] == pytest.approx(1.3)          # the spike to 5x is cut off
    with pytest.raises(ValueError, match="at least one task"):
        viz.plot_comparison({})


def test_plot_gates_marks_the_markers_and_checks_shapes():
    x = np.zeros((10, 2))
    x[[2, 7], 1] = 1
    gates = {"z": np.random.default_rng(0).random((10, 4)), "r": np.full((10, 4), 0.5)}
    fig = viz.plot_gates(x, gates, units=2)
    top, zax, rax = fig.axes
    assert len(zax.get_lines()) == 2 + 1 + 2          # 2 units, the mean, 2 marker lines
    assert np.allclose(zax.get_lines()[2].get_ydata(), gates["z"].mean(axis=1))
    with pytest.raises(ValueError, match=r"gates\['r'\] must be \(time, hidden\)"):
        viz.plot_gates(x, {"z": gates["z"], "r": gates["r"][:5]})
    with pytest.raises(ValueError, match="x must be"):
        viz.plot_gates(x[:, 0], gates)
