"""Tests for course_lib.viz.gradients: the widget's callback, the widget itself, the plots (no browser)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.experiments import gradients as G
from course_lib.experiments.tasks import AddingConfig, AddingRun
from course_lib.train import History
from course_lib.viz import gradients as V


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_update_is_the_measurement():
    curve = V.update(1.2, 40, input_scale=0.3)
    direct = G.gradient_norm_curve(1.2, 40, input_scale=0.3)
    np.testing.assert_array_equal(curve.norm, direct.norm)
    assert curve.T == 40 and curve.distance[-1] == 40
    assert curve.spectral_radius == pytest.approx(1.2)


def test_update_grows_with_radius_and_length():
    ends = [V.update(r, 50).at(50) for r in (0.6, 1.0, 1.4, 1.8)]
    assert ends == sorted(ends) and ends[0] < 1e-6 and ends[-1] > 1.0
    short, long = V.update(1.6, 20), V.update(1.6, 80)
    assert long.at(80) > short.at(20) > 1.0                  # exploding: longer is worse


@pytest.mark.parametrize("kwargs, message", [
    (dict(spectral_radius=2.5, T=50), r"spectral_radius must be a number in \[0.5, 2.0\]; got 2.5"),
    (dict(spectral_radius=True, T=50), "spectral_radius must be a number"),
    (dict(spectral_radius=1.0, T=5), r"T must be an int in \[10, 300\]; got 5"),
    (dict(spectral_radius=1.0, T=50.0), "T must be an int"),
    (dict(spectral_radius=1.0, T=50, input_scale=10.0), r"input_scale must be a number in \[0.01, 3.0\]"),
])
def test_update_rejects_values_outside_the_sliders(kwargs, message):
    with pytest.raises(ValueError, match=message):
        V.update(**kwargs)


def test_plot_curves_draws_each_curve_and_its_guide():
    curves = [V.update(0.8, 30), V.update(1.5, 30)]
    ax = V.plot_curves(curves)
    assert ax.get_yscale() == "log"
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-" and len(line.get_xdata()) == 31]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--" and len(line.get_xdata()) == 31]
    assert len(solid) == 2 and len(dashed) == 2
    np.testing.assert_allclose(solid[0].get_ydata(), curves[0].norm)
    lo, hi = ax.get_ylim()
    assert lo <= curves[0].norm.min() and hi >= curves[1].norm.max()       # the measured data are in view
    assert hi < 1.5 ** 30                                                    # the dashed guides may leave it
    assert len(V.plot_curves(curves, linear=False).get_lines()) == 3          # two curves + the line at 1


def test_demo_builds_sliders_and_redraws_through_update(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []
    real = V.update

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(V, "update", spy)
    box = V.demo(spectral_radius=1.1, T=30, input_scale=0.2)
    assert isinstance(box, ipywidgets.VBox)
    radius, length, scale = box.children[0].children
    assert calls == [(1.1, 30, pytest.approx(0.2))]                     # drawn once when built
    radius.value = 1.5
    length.value = 60
    assert calls[-2][:2] == (1.5, 30) and calls[-1][:2] == (1.5, 60)    # every change redraws
    assert (radius.min, radius.max) == V.RADIUS_RANGE and (length.min, length.max) == V.T_RANGE


def test_activation_derivative_plot_peaks_at_the_bounds():
    ax = V.plot_activation_derivatives()
    peaks = sorted(max(line.get_ydata()) for line in ax.get_lines() if len(line.get_xdata()) > 2)
    assert peaks == [pytest.approx(0.25), pytest.approx(1.0)]


def _run(loss, grad_norm=(), diverged=False):
    err = FloatingPointError("loss became inf at step 3") if diverged else None
    hist = History(loss=list(loss), grad_norm=list(grad_norm))
    return AddingRun("rnn", AddingConfig(T=5), float("nan") if diverged else 0.1, 1 / 6, None, hist, None, 0.0, err)


def test_plot_losses_marks_a_diverged_run_and_checks_labels():
    runs = [_run([1.0, 10.0, 1e6, float("inf")], diverged=True), _run(np.linspace(1, 0.1, 50), [2.0] * 50)]
    ax = V.plot_losses(runs, ["no clip", "clip"], window=5, baseline=0.17, ylim=(1e-2, 1e3))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no clip: diverged at step 4" in texts and "clip: held-out MSE 0.100" in texts
    marker = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(marker) == 1 and marker[0].get_ydata()[0] == 1e3       # pinned to the top edge
    assert ax.get_ylim() == (1e-2, 1e3)
    with pytest.raises(ValueError, match="one label per run; got 2 runs and 1 labels"):
        V.plot_losses(runs, ["only one"])
    ax = V.plot_grad_norms(runs[1], clip=1.0)
    assert any(line.get_ydata()[0] == 1.0 for line in ax.get_lines())
