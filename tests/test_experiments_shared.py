"""Tests of the shared experiment layer: course_lib.experiments.models and .tasks, and fit's until/NaN record."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import nn as cnn
from course_lib.data import adding_problem
from course_lib.experiments import models as M
from course_lib.experiments import tasks as TK
from course_lib.train import NonFiniteLossError, fit


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("core,kwargs", [("rnn", {}), ("gru", {}), ("lstm", {}), ("mingru", {}),
                                         ("minlstm", {"mode": "sequential"}), ("transformer", {"nhead": 2})])
def test_every_core_gives_both_heads(core, kwargs):
    torch.manual_seed(0)
    per_step = M.SequenceModel(core, 3, 8, 2, **kwargs)
    last = M.SequenceModel(core, 3, 8, 2, per_step=False, **kwargs)
    last.load_state_dict(per_step.state_dict())
    x = torch.randn(4, 6, 3)
    y = per_step(x)
    assert y.shape == (4, 6, 2) and last(x).shape == (4, 2)
    torch.testing.assert_close(last(x), y[:, -1])               # the last-step head reads the last step


@pytest.mark.parametrize("core", ["lstm", "transformer"])
def test_step_by_step_equals_the_whole_sequence(core):
    torch.manual_seed(1)
    m = M.SequenceModel(core, 2, 8, 1, **({"nhead": 2} if core == "transformer" else {})).eval()
    x = torch.randn(3, 5, 2)
    with torch.no_grad():
        whole = m(x)
        state, rows = m.init_state(), []
        for t in range(5):
            y_t, state = m.step(x[:, t], state)
            rows.append(y_t)
    torch.testing.assert_close(torch.stack(rows, 1), whole, atol=1e-5, rtol=1e-5)


def test_run_carries_the_state_across_chunks():
    torch.manual_seed(2)
    m = M.SequenceModel("gru", 2, 5, 1)
    x = torch.randn(2, 8, 2)
    first, h = m.run(x[:, :3])
    second, _ = m.run(x[:, 3:], h)
    torch.testing.assert_close(torch.cat([first, second], 1), m(x))


def test_core_is_the_course_layer_and_one_hot_and_bidirectional():
    m = M.SequenceModel("lstm", 10, 6, 9, one_hot=True, bidirectional=True, num_layers=2)
    assert isinstance(m.rnn, cnn.LSTM) and m.rnn.batch_first and m.out.in_features == 12
    assert m(torch.randint(0, 10, (2, 5))).shape == (2, 5, 9)
    assert M.SequenceModel(cnn.GRU, 2, 3, 1).kind == "GRU"       # a class as the core


def test_model_errors():
    with pytest.raises(ValueError, match="core must be one of"):
        M.SequenceModel("conv", 2, 3, 1)
    with pytest.raises(TypeError, match="core must be a name"):
        M.make_core(len, 2, 3)
    m = M.SequenceModel("rnn", 3, 4, 1)
    with pytest.raises(ValueError, match=r"x must be \(batch, time, 3\); got \(4, 7\)"):
        m(torch.randn(4, 7))
    with pytest.raises(TypeError, match="torch.Tensor"):
        m([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="int64 ids"):
        M.SequenceModel("rnn", 10, 4, 1, one_hot=True)(torch.randn(2, 5, 10))


# ----------------------------------------------------------------------------- the adding task
def test_adding_config_checks_and_replace():
    cfg = TK.AddingConfig(T=7, steps=3)
    assert cfg.replace(T=9).T == 9 and cfg.T == 7
    for bad, match in ((dict(T=1), "T must be"), (dict(steps=0), "steps must be"), (dict(lr=0), "lr must be"),
                       (dict(clip=-1.0), "clip must be"), (dict(solved_below=0), "solved_below must be"),
                       (dict(optimizer="lbfgs"), "optimizer must be one of")):
        with pytest.raises(ValueError, match=match):
            TK.AddingConfig(**bad)
    with pytest.raises(TypeError, match="cfg must be an AddingConfig"):
        TK.train_adding(M.SequenceModel("rnn", 2, 3, 1, per_step=False), {"T": 5})


def test_adding_data_are_seeded_and_held_out_differs():
    cfg = TK.AddingConfig(T=6, steps=3, batch_size=5, n_eval=7)
    a, b = list(TK.adding_batches(cfg)), list(TK.adding_batches(cfg.replace(steps=2)))
    assert len(a) == 3 and a[0][0].shape == (5, 6, 2) and torch.equal(a[1][0], b[1][0])
    x_val, _ = TK.adding_validation(cfg)
    assert x_val.shape == (7, 6, 2) and not torch.equal(a[0][0], x_val[:5])
    _, y = adding_problem(20000, 10, seed=0)
    assert TK.adding_baseline_mse(y) == pytest.approx(TK.ADDING_BASELINE, abs=0.005)
    assert TK.adding_baseline_mse(torch.tensor([[0.0], [2.0]])) == pytest.approx(1.0)


def test_train_adding_stops_when_solved_and_is_deterministic():
    cfg = TK.AddingConfig(T=6, steps=40, batch_size=16, eval_every=10, n_eval=64)
    build = lambda: (torch.manual_seed(3), M.SequenceModel("rnn", 2, 8, 1, per_step=False))[1]
    r = TK.train_adding(build(), cfg.replace(solved_below=10.0), device="cpu")       # any MSE counts
    assert r.solved and r.solved_at == 10 and r.steps == 10 and r.history.eval_steps == [10]
    a = TK.train_adding(build(), cfg.replace(solved_below=1e-9), device="cpu")
    b = TK.train_adding(build(), cfg.replace(solved_below=1e-9), device="cpu")
    assert not a.solved and a.steps == 40 and a.history.eval_steps == [10, 20, 30, 40]
    assert a.val_mse == b.val_mse and a.loss == b.loss
    assert a.relative_mse == pytest.approx(a.val_mse / a.baseline_mse) and 0.1 < a.baseline_mse < 0.25


def test_train_adding_reads_a_per_step_model_at_its_last_step_and_learns():
    torch.manual_seed(0)
    m = M.SequenceModel("lstm", 2, 16, 1)                        # per step: (batch, T, 1)
    r = TK.train_adding(m, TK.AddingConfig(T=5, steps=250, lr=0.02), device="cpu")
    assert r.relative_mse < 0.3, r.history.metrics["val_mse"]


def test_train_adding_records_a_divergence():
    torch.manual_seed(0)
    m = M.SequenceModel("rnn", 2, 8, 1, per_step=False)
    with torch.no_grad():
        m.rnn.weight_hh_l0.mul_(30.0)
    r = TK.train_adding(m, TK.AddingConfig(T=10, optimizer="sgd", lr=10.0, clip=None, steps=50), device="cpu")
    assert r.diverged and isinstance(r.error, NonFiniteLossError) and math.isnan(r.val_mse)
    assert r.error.step == len(r.loss) <= 50 and not r.solved


# ----------------------------------------------------------------------------- other baselines, parameters
def test_sequence_xent_ignores_padding():
    logits = torch.randn(2, 3, 4)
    y = torch.tensor([[1, 2, TK.IGNORE], [0, TK.IGNORE, TK.IGNORE]])
    keep = y != TK.IGNORE
    torch.testing.assert_close(TK.sequence_xent(logits, y), F.cross_entropy(logits[keep], y[keep]))


def test_unigram_and_parameter_counts():
    V = 4
    uniform = torch.arange(4000) % V
    assert TK.unigram_bits_per_char(uniform, uniform, V) == pytest.approx(2.0, abs=1e-3)
    m = M.SequenceModel("gru", 5, 7, 3, bidirectional=True)
    assert TK.model_parameters("gru", 5, 7, 3, bidirectional=True) == TK.count_parameters(m)


# ----------------------------------------------------------------------------- fit: until, NaN record
def test_fit_until_stops_at_the_first_evaluation_that_meets_it():
    model = torch.nn.Linear(1, 1)
    data = [(torch.ones(4, 1), torch.zeros(4, 1))] * 50
    seen = []
    hist = fit(model, lambda m, b: (seen.append(1), F.mse_loss(m(b[0]), b[1]))[1], data, lr=0.1, eval_every=5,
               eval_fn=lambda m: {"n": float(len(seen))}, until=lambda mt: mt["n"] >= 15, progress=False,
               device="cpu")
    assert hist.stop_reason == "target reached at step 15" and hist.eval_steps == [5, 10, 15] and len(seen) == 15
    with pytest.raises(ValueError, match="needs an eval_fn"):
        fit(model, lambda m, b: m(b[0]).sum(), data, until=lambda mt: True, progress=False)


def test_nan_error_carries_the_step_and_the_history():
    model = torch.nn.Linear(1, 1)
    data = [(torch.ones(2, 1),)] * 3 + [(torch.full((2, 1), float("nan")),)] * 3
    with pytest.raises(NonFiniteLossError, match="at step 4") as info:
        fit(model, lambda m, b: m(b[0]).mean(), data, progress=False, device="cpu")
    assert info.value.step == 4 and len(info.value.history.loss) == 4 and math.isnan(info.value.history.loss[-1])
    assert len(info.value.history.grad_norm) == 3


# ----------------------------------------------------------------------------- measure
def test_saved_tensor_bytes_grows_linearly_for_a_recurrence_and_excludes_parameters():
    from course_lib.experiments.measure import saved_tensor_bytes

    torch.manual_seed(0)
    m = M.SequenceModel("rnn", 2, 8, 1, impl="loop")
    sizes = [saved_tensor_bytes(m, torch.randn(4, T, 2)) for T in (5, 10, 15)]
    assert sizes[0] > 0 and sizes[2] - sizes[1] == sizes[1] - sizes[0]          # the same bytes per step
    lin = torch.nn.Linear(3, 3)
    assert saved_tensor_bytes(lin, torch.randn(2, 3)) == 2 * 3 * 4                 # the input only, not W
    with pytest.raises(TypeError, match="torch.nn.Module"):
        saved_tensor_bytes(len, torch.randn(2))
