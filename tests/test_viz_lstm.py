"""course_lib.viz.lstm: each figure of chapter 05 draws the data it is given (headless, Agg backend)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Circle, FancyBboxPatch

from course_lib.experiments import lstm as L
from course_lib.experiments.tasks import AddingConfig, AddingRun
from course_lib.train import History
from course_lib.viz import lstm as viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_cell_diagram_has_the_four_gates_the_two_operations_and_both_states():
    ax = viz.cell_diagram()
    texts = _texts(ax)
    for gate in ("forget\n$f_t$", "input\n$i_t$", "candidate\n$g_t$", "output\n$o_t$"):
        assert gate in texts
    for state in ("$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$x_t$"):
        assert state in texts
    assert texts.count("σ") == 3 and texts.count("tanh") == 2          # three sigmoid gates, g and tanh(c)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert sorted(t.get_text() for t in ax.texts if t.get_text() in "×+") == ["+", "×", "×", "×"]
    assert len(circles) == 4
    gates = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(gates) == 5                                            # 4 gates + the cell's frame


def test_word_trace_plots_the_trace_it_is_given():
    tokens = L.tom_sentence("dog", 4)
    trace = L.gate_trace(L.memory_lstm(0.95), L.encode(tokens))
    top, bottom = viz.plot_word_trace(tokens, trace)
    cell = [ln for ln in bottom.lines if ln.get_label() == "cell $c_t$"][0]
    np.testing.assert_allclose(cell.get_ydata(), trace["c"][0, :, 0])
    assert [t.get_text() for t in bottom.get_xticklabels()] == tokens
    assert {ln.get_label() for ln in top.lines} >= {"forget gate $f_t$", "input gate $i_t$", "output gate $o_t$"}
    with pytest.raises(ValueError, match="one step per token"):
        viz.plot_word_trace(tokens[:-1], trace)


def test_recall_has_one_line_per_forget_value():
    ax = viz.plot_recall([0, 10, 20], {0.9: [0.9, 0.6, 0.5], 0.99: [0.95, 0.9, 0.85]})
    curves = [ln for ln in ax.lines if ln.get_label().startswith("$f$")]
    assert len(curves) == 2
    np.testing.assert_allclose(curves[1].get_ydata(), [0.95, 0.9, 0.85])
    assert "100" in curves[1].get_label()                              # horizon 1/(1 - 0.99)
    with pytest.raises(ValueError, match="one value per filler length"):
        viz.plot_recall([0, 10], {0.9: [1.0]})


def test_gradient_norms_plot_skips_zeros_and_dashes_rnns():
    ax = viz.plot_gradient_norms({"tanh RNN": np.array([1.0, 0.1, 0.0]), "LSTM": np.array([1.0, 0.9, 0.8])})
    rnn, lstm = ax.lines[:2]
    assert rnn.get_linestyle() == "--" and lstm.get_linestyle() == "-"
    np.testing.assert_allclose(rnn.get_ydata(), [1.0, 0.1])
    np.testing.assert_allclose(lstm.get_xdata(), [0, 1, 2])


def _result(kind, T, seed, mse, evals=(10, 20)):
    hist = History(eval_steps=list(evals), metrics={"val_mse": [0.2, mse]})
    return AddingRun(kind=kind, config=AddingConfig(T=T, seed=seed, solved_below=0.01), val_mse=mse,
                     baseline_mse=1 / 6, solved_at=None, history=hist, model=None, seconds=0.0)


def test_adding_plot_draws_the_mean_over_seeds_per_kind():
    results = {("rnn", 10, 0): _result("rnn", 10, 0, 0.02), ("rnn", 10, 1): _result("rnn", 10, 1, 0.04),
               ("rnn", 30, 0): _result("rnn", 30, 0, 0.16), ("rnn", 30, 1): _result("rnn", 30, 1, 0.18),
               ("lstm", 10, 0): _result("lstm", 10, 0, 0.005), ("lstm", 10, 1): _result("lstm", 10, 1, 0.007),
               ("lstm", 30, 0): _result("lstm", 30, 0, 0.008), ("lstm", 30, 1): _result("lstm", 30, 1, 0.006)}
    ax = viz.plot_adding(results)
    means = {ln.get_label(): ln for ln in ax.lines if ln.get_label() in ("tanh RNN", "LSTM")}
    np.testing.assert_allclose(means["tanh RNN"].get_ydata(), [0.03, 0.17])
    np.testing.assert_allclose(means["LSTM"].get_ydata(), [0.006, 0.007])
    labels = [ln.get_label() for ln in ax.lines]
    assert any(lb.startswith("predict 1 always") for lb in labels) and "solved (MSE < 0.01)" in labels
    with pytest.raises(ValueError, match="results is empty"):
        viz.plot_adding({})


def test_learning_curves_one_line_per_run_one_legend_entry_per_setting():
    results = {(k, T, s): _result(k, T, s, 0.1) for k in ("rnn", "lstm") for T in (10, 30) for s in (0, 1)}
    ax = viz.plot_learning_curves(results)
    runs = [ln for ln in ax.lines if list(ln.get_xdata()) == [10, 20]]
    assert len(runs) == 8
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == sorted(["tanh RNN, T = 10", "tanh RNN, T = 30", "LSTM, T = 10", "LSTM, T = 30"])


def test_gate_heatmaps_show_the_chosen_units():
    rng = np.random.default_rng(0)
    T, H = 12, 5
    x = np.stack([rng.random(T), np.zeros(T)], axis=1)
    x[[2, 8], 1] = 1
    trace = {k: rng.random((1, T, H)) for k in "ifgoch"}
    axes = viz.plot_gate_heatmaps(x, trace, units=[3, 1])
    image = axes[2].images[0].get_array()                             # the forget gate, units x time
    np.testing.assert_allclose(image, trace["f"][0][:, [3, 1]].T)
    np.testing.assert_allclose(axes[4].lines[0].get_ydata(), trace["c"][0, :, 3])
    assert len(axes[0].patches) == T + 2                              # every value, the two marked ones again
    with pytest.raises(ValueError, match=r"x must be one sequence \(T, 2\)"):
        viz.plot_gate_heatmaps(x[:, :1], trace)
    with pytest.raises(ValueError, match="must cover the T = 11 steps"):
        viz.plot_gate_heatmaps(x[:11], trace)
