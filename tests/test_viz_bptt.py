"""course_lib.viz.bptt: each figure of chapter 03 draws what it says (headless, Agg backend)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, Rectangle

from course_lib import ref
from course_lib.experiments.bptt import TruncationRun
from course_lib.viz import bptt as viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _arrows(ax, color):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)
            and matplotlib.colors.same_color(p.get_edgecolor(), color)]


def test_unrolled_backward_has_forward_and_gradient_arrows():
    for steps in (1, 3):
        fig = viz.unrolled_backward(steps)
        ax = fig.axes[0]
        # forward: 3 vertical per step + 1 recurrent per step; backward: 2 vertical + 1 recurrent per step
        assert len(_arrows(ax, "black")) == 4 * steps
        assert len(_arrows(ax, viz.GRAD)) == 3 * steps
    with pytest.raises(ValueError, match="steps must be a positive int"):
        viz.unrolled_backward(0)


def test_truncation_windows_draws_one_row_per_backward_pass():
    fig = viz.truncation_windows(20, 3, 6)
    ax = fig.axes[0]
    windows = ref.truncation_windows(20, 3, 6)
    rects = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0 and p.get_height() == 0.7]
    assert len(rects) == 2 * len(windows)
    spans = sorted((r.get_x(), r.get_x() + r.get_width()) for r in rects)
    assert (0, 3) in spans and (14, 20) in spans and (18, 20) in spans   # first pass; last pass and its losses
    with pytest.raises(ValueError, match="k1 must be <= k2"):
        viz.truncation_windows(10, 4, 2)


def test_lag_profile_plots_both_curves():
    fig = viz.lag_profile([1.0, 0.5, 0.25], [1.0, 0.4])
    left, right = fig.axes
    np.testing.assert_array_equal(left.lines[0].get_ydata(), [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(right.lines[0].get_xdata(), [0, 1])
    assert left.get_yscale() == right.get_yscale() == "log"


def test_truncation_runs_one_curve_per_k_and_final_accuracies():
    runs = [TruncationRun(5, 0.5, [10, 20], [0.5, 0.5]), TruncationRun(12, 1.0, [10, 20], [0.8, 1.0])]
    fig = viz.truncation_runs(runs, delay=10)
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines() if not line.get_label().startswith("_")] == \
        ["k = 5", "k = 12"]
    final = [line for line in right.get_lines() if line.get_marker() == "o"][0]
    np.testing.assert_array_equal(final.get_xdata(), [5, 12])
    np.testing.assert_array_equal(final.get_ydata(), [0.5, 1.0])


def test_truncation_costs_per_step_is_per_update_over_k():
    fig = viz.truncation_costs([10, 100], [1e6, 1e7], [0.01, 0.1])
    mem, time = fig.axes
    np.testing.assert_allclose(mem.lines[0].get_ydata(), np.array([1e6, 1e7]) / 2 ** 20)
    per_update, per_step = time.lines[:2]
    np.testing.assert_allclose(per_update.get_ydata(), [10.0, 100.0])
    np.testing.assert_allclose(per_step.get_ydata(), [1.0, 1.0])
