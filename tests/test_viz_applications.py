"""course_lib.viz.applications: the figures and the temperature widget of chapter 08 (headless, Agg backend)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.experiments import charlm, forecast
from course_lib.train import History
from course_lib.viz import applications as viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def lm():
    vocab = data.Vocab("abcde \n")
    torch.manual_seed(0)
    model = charlm.CharLM(len(vocab), hidden=8, embed=4)
    with torch.no_grad():                      # make "e" the clear favourite after any prompt
        model.out.bias.zero_()
        model.out.bias[vocab.index["e"]] = 3.0
        model.out.weight.mul_(0.01)
    return model, vocab


def test_next_char_distribution_follows_the_temperature(lm):
    model, vocab = lm
    chars, p1 = viz.next_char_distribution(model, vocab, "abc", 1.0, k=4)
    assert chars[0] == "e" and len(chars) == 4 and np.all(np.diff(p1) <= 0)
    _, p_cold = viz.next_char_distribution(model, vocab, "abc", 0.5, k=4)
    _, p_hot = viz.next_char_distribution(model, vocab, "abc", 2.0, k=4)
    assert p_cold[0] > p1[0] > p_hot[0]
    chars0, p0 = viz.next_char_distribution(model, vocab, "abc", 0.0, k=3)
    assert chars0[0] == "e" and p0[0] == 1.0 and p0[1:].sum() == 0.0
    with pytest.raises(ValueError, match=r"temperature must be a number in \[0.0, 2.0\]; got 3"):
        viz.next_char_distribution(model, vocab, "abc", 3)


def test_temperature_update_is_reproducible(lm):
    model, vocab = lm
    a = viz.temperature_update(model, vocab, "ab", 1.0, n=30, seed=2)
    b = viz.temperature_update(model, vocab, "ab", 1.0, n=30, seed=2)
    assert a["text"] == b["text"] and len(a["text"]) == 30 and a["chars"][0] == "e"
    assert viz.temperature_update(model, vocab, "ab", 0.0, n=10)["text"] == "e" * 10


def test_temperature_demo_builds_and_redraws(lm):
    pytest.importorskip("ipywidgets")
    model, vocab = lm
    box = viz.temperature_demo(model, vocab, "ab", temperature=1.0, n=20)
    slider = box.children[0]
    assert slider.min == 0.0 and slider.max == 2.0 and slider.value == 1.0
    slider.value = 0.0                          # triggers a redraw without error


def test_plot_temperatures_draws_one_panel_per_temperature(lm):
    model, vocab = lm
    axes = viz.plot_temperatures(model, vocab, "abc", temperatures=(0.5, 1.0, 1.5), k=5)
    assert len(axes) == 3
    heights = [[p.get_height() for p in ax.patches] for ax in axes]
    assert all(len(h) == 5 for h in heights) and heights[0][0] > heights[2][0]
    assert axes[0].get_xticklabels()[0].get_text() == "e"


def test_plot_bpc_shows_curve_and_baselines():
    hist = History(steps=list(range(1, 61)), loss=list(np.linspace(3.0, 1.5, 60)), eval_steps=[30, 60],
                   metrics={"val_bpc": [3.1, 2.6]})
    run = charlm.CharLMRun(None, None, None, None, unigram_bpc=4.5, bigram_bpc=3.5, val_bpc=2.6, history=hist,
                           settings={"kind": "gru", "hidden": 8})
    ax = viz.plot_bpc(run)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "validation" in labels and any(lbl.startswith("unigram") for lbl in labels)
    val = next(line for line in ax.get_lines() if line.get_label() == "validation")
    np.testing.assert_allclose(val.get_ydata(), [3.1, 2.6])
    assert any(np.allclose(line.get_ydata(), 4.5) for line in ax.get_lines())       # the unigram line
    assert ax.get_ylim()[0] < 2.6 and ax.get_ylim()[1] > 4.5


def test_plot_forecasts_and_rmse():
    r = forecast.forecast_experiment(input_len=12, horizon=3, split_year=1950, val_years=20, runs=2, steps=10,
                                     device="cpu")
    ax = viz.plot_forecasts(r, ahead=(1, 3))
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert "observed" in labels and "GRU, 3 yr ahead" in labels and len(labels) == 1 + 3 * 2
    gru3 = next(line for line in ax.get_lines() if line.get_label() == "GRU, 3 yr ahead")
    np.testing.assert_allclose(gru3.get_xdata(), r.target_years + 2)     # the year each forecast is for
    np.testing.assert_allclose(gru3.get_ydata(), r.forecasts["GRU"][:, 2])
    ax = viz.plot_rmse(r)
    gru = next(line for line in ax.get_lines() if line.get_label() == "GRU")
    np.testing.assert_allclose(gru.get_ydata(), r.rmse["GRU"])
    assert len(ax.get_lines()) == 3 + 2                      # three models + the two runs, faint


def test_plot_confusion_writes_the_counts():
    cm = np.array([[5, 1], [0, 7]])
    ax = viz.plot_confusion(cm, labels=["a", "b"])
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "5", "7"]
    assert np.array_equal(ax.images[0].get_array(), cm)
    with pytest.raises(ValueError, match=r"square \(classes, classes\) matrix; got shape \(2, 3\)"):
        viz.plot_confusion(np.zeros((2, 3)))
