"""course_lib.experiments.bidirectional and course_lib.viz.bidirectional (chapter 07): the tasks label what
they claim, the forward-only ceiling is the real one, padding is measured right, the runs and figures work."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from course_lib import nn as cnn
from course_lib.data import future_tagging
from course_lib.experiments import bidirectional as bx
from course_lib.viz import bidirectional as viz


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- tasks
@pytest.mark.parametrize("T,ahead,K", [(20, 3, 4), (10, 1, 2), (5, 7, 3)])
def test_forward_only_cap_is_what_the_best_forward_predictor_gets(T, ahead, K):
    x, y = future_tagging(20_000, T, K, ahead, seed=1)
    # the best a forward reader can do: where x_{t+ahead} is inside the sequence it is unseen and uniform, so
    # any guess is right with probability 1/K (guess x_t); past the end the label is x_t exactly
    acc = float((x == y).double().mean())
    assert acc == pytest.approx(bx.forward_only_cap(T, ahead, K), abs=0.01)
    assert bx.forward_only_cap(20, 3, 4) == pytest.approx(0.3625)


def test_padded_future_tagging_labels_each_sequence_at_its_own_end():
    K, A = 4, 3
    x, y, lengths = bx.padded_future_tagging(50, max_len=12, min_len=2, n_tokens=K, ahead=A, seed=5)
    assert x.shape == y.shape == (50, 12) and lengths.shape == (50,)
    assert int(lengths.min()) >= 2 and int(lengths.max()) <= 12 and len(set(lengths.tolist())) > 3
    for b, L in enumerate(lengths.tolist()):
        assert (x[b, L:] == K).all() and (y[b, L:] == bx.IGNORE).all()
        assert (x[b, :L] < K).all()
        for t in range(L):
            future = int(x[b, t + A]) if t + A < L else 0
            assert int(y[b, t]) == (int(x[b, t]) + future) % K
    with pytest.raises(ValueError, match="min_len must be <= max_len"):
        bx.padded_future_tagging(3, max_len=4, min_len=5)


def test_two_sided_xor_rule():
    x, y = bx.two_sided_xor(30, T=9, reach=2, seed=2)
    assert set(x.unique().tolist()) <= {0, 1}
    for b in range(30):
        for t in range(9):
            past = int(x[b, t - 2]) if t >= 2 else 0
            future = int(x[b, t + 2]) if t + 2 < 9 else 0
            assert int(y[b, t]) == past ^ future
    with pytest.raises(ValueError, match="reach must be a positive int"):
        bx.two_sided_xor(3, reach=0)


# ----------------------------------------------------------------------------- padding
def test_padding_gaps_show_the_reverse_direction_reading_padding():
    torch.manual_seed(0)
    K = 4
    bi = cnn.GRU(K + 1, 6, batch_first=True, bidirectional=True, dtype=torch.float64)
    x, _, lengths = bx.padded_future_tagging(5, max_len=10, min_len=3, n_tokens=K, seed=1)
    assert int(lengths.min()) < 10                               # some padding to read
    gaps = bx.padding_gaps(bi, F.one_hot(x, K + 1).double(), lengths)
    assert gaps["padded"][0] < 1e-12 < 1e-3 < gaps["padded"][1]
    assert gaps["h_n"]["padded"] > 1e-3
    assert max(gaps["lengths"]) < 1e-12 and gaps["h_n"]["lengths"] < 1e-12
    with pytest.raises(ValueError, match="bidirectional"):
        bx.padding_gaps(cnn.GRU(5, 6, batch_first=True), F.one_hot(x, K + 1).float(), lengths)
    with pytest.raises(ValueError, match="lengths"):
        bx.padding_gaps(bi, F.one_hot(x, K + 1).double(), lengths[:3])


def test_accuracy_by_distance_from_end():
    y = torch.tensor([[1, 2, 3, bx.IGNORE], [1, 2, 3, 4]])
    pred = torch.tensor([[1, 0, 3, 0], [0, 2, 3, 0]])
    acc = bx.accuracy_by_distance_from_end(pred, y, torch.tensor([3, 4]))
    # d = 0: row 0 step 2 right, row 1 step 3 wrong; d = 1: row 0 step 1 wrong, row 1 step 2 right;
    # d = 2: both right (row 0 step 0, row 1 step 1); d = 3: only row 1, step 0, wrong
    assert np.allclose(acc, [0.5, 0.5, 1.0, 0.0])


# ----------------------------------------------------------------------------- dropout simulation
def test_recurrent_dropout_survival():
    naive = bx.recurrent_dropout_survival(0.3, steps=8, n_units=50_000)
    variational = bx.recurrent_dropout_survival(0.3, steps=8, n_units=50_000, variational=True)
    k = np.arange(9)
    assert np.allclose(naive, 0.7 ** k, atol=0.01)
    assert variational[0] == 1.0 and np.allclose(variational[1:], variational[1]) and abs(variational[1] - 0.7) < 0.01
    assert np.all(bx.recurrent_dropout_survival(0.0, steps=3) == 1.0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        bx.recurrent_dropout_survival(1.0)


# ----------------------------------------------------------------------------- runs (tiny)
def test_future_tagging_run_modes():
    runs = {m: bx.future_tagging_run(m, T=6, ahead=2, hidden=4, steps=2, batch=8) for m in bx.MODES}
    assert runs["forward"].name == "forward only" and runs["delayed"].name == "forward, delay 2"
    assert runs["bidirectional"].params > runs["forward"].params == runs["delayed"].params
    for r in runs.values():
        assert 0 <= r.accuracy <= 1 and r.per_position.shape == (6,) and len(r.history.loss) == 2
    assert bx.future_tagging_run("delayed", T=6, ahead=2, delay=4, hidden=4, steps=1, batch=4).name == \
        "forward, delay 4"
    with pytest.raises(ValueError, match="mode must be one of"):
        bx.future_tagging_run("backward")


def test_padding_depth_and_lm_runs():
    run, ev = bx.padding_run(True, max_len=8, min_len=3, hidden=4, steps=2, batch=8)
    assert set(ev) == {"lengths", "padded"} and run.accuracy == pytest.approx(ev["lengths"][0])
    assert len(ev["padded"][1]) == 8
    run = bx.depth_run(2, T=8, hidden=4, steps=2, batch=8)
    assert run.model.rnn.num_layers == 2 and run.name == "2 layers"
    lm = bx.dropout_lm_run(0.5, n_chars=3000, hidden=8, seq_len=8, batch=4, steps=4, eval_every=2)
    assert lm.steps == [2, 4] and len(lm.train) == len(lm.val) == 2
    assert lm.gap == pytest.approx(lm.val[-1] - lm.train[-1])
    assert lm.params == _lm_params(lm)


def _lm_params(lm):
    from course_lib.experiments.tasks import model_parameters
    return model_parameters("gru", 76, lm.hidden, 76, num_layers=lm.num_layers)


# ----------------------------------------------------------------------------- figures
def test_birnn_diagram_draws_both_chains():
    fig = viz.birnn_diagram(3)
    ax = fig.axes[0]
    assert len([p for p in ax.patches if isinstance(p, FancyBboxPatch)]) == 4 * 3
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 4 * 3 + 2 * 2                # 4 per step + the two chains' links
    assert fig.get_label().startswith("diagram of a bidirectional RNN unrolled over 3 time steps")   # alt text
    with pytest.raises(ValueError, match="steps must be an int >= 2"):
        viz.birnn_diagram(1)


def _run(name, acc, per_pos, layers=1, seconds=1.0):
    model = torch.nn.Module()
    model.rnn = cnn.GRU(2, 3, num_layers=layers)
    return bx.TagRun(name, acc, np.asarray(per_pos, dtype=float), 10 * layers, seconds, None, model)


def test_plot_per_position_and_padding():
    fig = viz.plot_per_position([_run("a", 0.5, [0.25, 1.0]), _run("b", 1.0, [1.0, 1.0])], chance=0.25, cap=0.6)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4 and np.allclose(lines[0].get_ydata(), [0.25, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_per_position([])
    fig = viz.plot_padding({"with": (1.0, np.ones(5)), "without": (0.8, np.array([0.2, 0.2, 1, 1, 1]))})
    assert len(fig.axes[0].get_lines()) == 2


def test_plot_depth_and_dropout():
    fig = viz.plot_depth([_run("1", 0.6, [0.6], 1, 1.0), _run("2", 1.0, [1.0], 2, 2.5)])
    acc_ax, time_ax = fig.axes
    assert [b.get_height() for b in acc_ax.patches] == [0.6, 1.0]
    assert [b.get_height() for b in time_ax.patches] == [1.0, 2.5]
    lm = bx.LMRun(0.5, 2, 8, 100, [1, 2], [3.0, 2.0], [3.1, 3.0], 1.0)
    fig = viz.plot_dropout(0.2, [1, 0.8, 0.64], [1, 0.8, 0.8], [lm])
    left, right = fig.axes
    assert len(left.get_lines()) == 3 and len(right.get_lines()) == 2
