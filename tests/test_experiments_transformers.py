"""Tests of course_lib.experiments.transformers (chapter 09): models, depth, memory and streaming counts."""
import pytest
import torch

from course_lib.experiments import transformers as X
from course_lib.experiments.tasks import AddingConfig


def _models(input_size=3, hidden=6, d_model=8, layers=2):
    torch.manual_seed(0)
    return (X.LSTMModel(input_size, hidden, output_size=2),
            X.TransformerModel(input_size, d_model, nhead=2, num_layers=layers, dim_feedforward=16, output_size=2))


def test_forward_shapes_and_errors():
    for m in _models():
        assert m(torch.randn(4, 7, 3)).shape == (4, 7, 2)
        with pytest.raises(ValueError, match=r"x must be \(batch, time, 3\); got \(4, 7\)"):
            m(torch.randn(4, 7))
        with pytest.raises(TypeError, match="torch.Tensor"):
            m([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("which", [0, 1])
def test_step_by_step_equals_forward_and_is_causal(which):
    m = _models()[which].eval()
    x = torch.randn(2, 9, 3)
    with torch.no_grad():
        full = m(x)
        state, ys = m.init_state(), []
        for t in range(9):
            y, state = m.step(x[:, t], state)
            ys.append(y)
        x2 = x.clone()
        x2[:, 5:] += 1.0                                   # change the future only
        changed = m(x2)
    assert torch.allclose(torch.stack(ys, 1), full, atol=1e-5)
    assert torch.allclose(changed[:, :5], full[:, :5], atol=1e-6)
    assert not torch.allclose(changed[:, 5:], full[:, 5:], atol=1e-3)


def test_graph_depth_counts_the_longest_chain():
    x = torch.randn(3, requires_grad=True)
    y = x
    for _ in range(7):
        y = y * 2.0
    short = x * 3.0
    z = (y + short).sum()                  # Sum <- Add <- 7 x Mul <- AccumulateGrad(x)
    assert X.graph_depth(z) == 1 + 1 + 7 + 1
    assert X.graph_depth(short.sum()) == 3
    with pytest.raises(ValueError, match="grad_fn"):
        X.graph_depth(torch.ones(3))


def test_sequential_depth_linear_for_lstm_loop_constant_for_transformer():
    torch.manual_seed(0)
    lstm = X.LSTMModel(2, 5, impl="loop")
    tf = X.TransformerModel(2, 8, 2, 1, 16)
    d = {T: (X.sequential_depth(lstm, T), X.sequential_depth(tf, T)) for T in (4, 8, 16)}
    assert d[16][0] - d[8][0] == 2 * (d[8][0] - d[4][0]) > 0
    assert d[4][1] == d[8][1] == d[16][1]


def test_activation_bytes_exact_for_known_layers():
    class Tiny(torch.nn.Module):          # Linear saves its input, ReLU its output
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 8)

        def forward(self, x):
            return torch.relu(self.lin(x))

    B, T = 3, 5
    assert X.activation_bytes(Tiny(), torch.randn(B, T, 4)) == B * T * (4 + 8) * 4


def test_activation_bytes_linear_for_lstm_superlinear_for_transformer():
    lstm, tf = _models(layers=1)
    b = {T: (X.activation_bytes(lstm, torch.randn(2, T, 3)), X.activation_bytes(tf, torch.randn(2, T, 3)))
         for T in (8, 16, 24, 32)}
    lstm_steps = [b[16][0] - b[8][0], b[24][0] - b[16][0], b[32][0] - b[24][0]]
    tf_steps = [b[16][1] - b[8][1], b[24][1] - b[16][1], b[32][1] - b[24][1]]
    assert lstm_steps[0] == lstm_steps[1] == lstm_steps[2] > 0                 # linear in T
    assert tf_steps[2] - tf_steps[1] == tf_steps[1] - tf_steps[0] > 0          # quadratic in T


def test_streaming_state_bytes():
    lstm, tf = _models(hidden=6, d_model=8, layers=2)
    nb_lstm, secs = X.streaming(lstm, 10, batch=3)
    nb_tf, _ = X.streaming(tf, 10, batch=3)
    assert nb_lstm == [2 * 3 * 6 * 4] * 10 and len(secs) == 10 and min(secs) > 0
    assert nb_tf == [t * 2 * 2 * 3 * 8 * 4 for t in range(1, 11)]     # (k, v) x layers x batch x d x float32
    assert X.state_nbytes(None) == 0


def test_attention_weights_rows_are_causal_distributions():
    _, tf = _models()
    w = X.attention_weights(tf, torch.randn(2, 6, 3))
    assert w.shape == (2, 2, 6, 6)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 6), atol=1e-6)
    assert torch.all(torch.triu(w, diagonal=1) == 0)
    with pytest.raises(TypeError, match="TransformerModel"):
        X.attention_weights(_models()[0], torch.randn(2, 6, 3))


def test_step_times_and_recompute_shapes():
    lstm, tf = _models()
    t = X.step_times({"a": lstm, "b": tf}, [4, 8], batch=2, repeats=1)
    assert set(t) == {"a", "b"} and all(len(v) == 2 and min(v) > 0 for v in t.values())
    with pytest.raises(ValueError, match="input_size"):
        X.step_times({"a": lstm, "c": X.LSTMModel(5, 4)}, [4], repeats=1)
    r = X.recompute_seconds(tf, [4, 8], repeats=1)
    assert len(r) == 2 and min(r) > 0
    with pytest.raises(ValueError, match="CUDA"):
        X.cuda_peak_bytes(tf, torch.randn(1, 4, 3))


def test_train_adding_learns_something():
    torch.manual_seed(0)
    tf = X.TransformerModel(2, 16, 2, 1, 32)
    cfg = AddingConfig(T=8, steps=60, batch_size=32, lr=1e-2, eval_every=20, n_eval=200)
    steps, mse = X.train_adding(tf, cfg, progress=False, device="cpu")
    assert steps == [20, 40, 60] and len(mse) == 3
    assert mse[-1] < 0.1 < 1 / 6                     # well below the "answer 1" baseline
    assert X.count_parameters(tf) == sum(p.numel() for p in tf.parameters())
