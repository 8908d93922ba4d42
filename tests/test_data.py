"""course_lib.data: determinism per seed, correct labels, shipped files, stream batching."""
import math

import numpy as np
import pytest
import torch

from course_lib import data


@pytest.mark.parametrize("make", [
    lambda s: data.adding_problem(16, 30, seed=s),
    lambda s: data.copy_memory(16, 12, seed=s),
    lambda s: data.future_tagging(16, 10, seed=s),
    lambda s: data.frequency_classification(16, 20, seed=s),
    lambda s: (torch.as_tensor(data.noisy_sine(100, seed=s)),),
    lambda s: (torch.as_tensor(data.mackey_glass(100, discard=10, seed=s)),),
])
def test_generators_are_deterministic_per_seed(make):
    a, b, c = make(3), make(3), make(4)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert any(not torch.equal(u, w) for u, w in zip(a, c))


def test_adding_problem_target_is_sum_of_marked_values():
    x, y = data.adding_problem(200, 40, seed=1)
    assert x.shape == (200, 40, 2) and y.shape == (200, 1) and x.dtype == torch.float32
    marks = x[:, :, 1]
    assert (marks.sum(1) == 2).all()
    assert (marks[:, :20].sum(1) == 1).all() and (marks[:, 20:].sum(1) == 1).all()
    torch.testing.assert_close(y[:, 0], (x[:, :, 0] * marks).sum(1))


def test_copy_memory_layout_and_baseline():
    T, n_copy = 15, 10
    x, y = data.copy_memory(50, T, seed=2)
    assert x.shape == y.shape == (50, T + 20)
    digits = x[:, :n_copy]
    assert ((digits >= 1) & (digits <= 8)).all()
    assert (x[:, n_copy:T + n_copy - 1] == 0).all() and (x[:, T + n_copy - 1] == 9).all()
    assert (x[:, T + n_copy:] == 0).all()
    assert (y[:, :T + n_copy] == 0).all() and torch.equal(y[:, T + n_copy:], digits)
    assert math.isclose(data.copy_memory_baseline(100), 10 * math.log(8) / 120)
    # the baseline is the cross-entropy of "blank, then uniform over the 8 digits"
    logits = torch.full((T + 20, 10), -1e9)
    logits[: T + n_copy, 0] = 0
    logits[T + n_copy:, 1:9] = 0
    ce = torch.nn.functional.cross_entropy(logits.expand(50, -1, -1).reshape(-1, 10), y.reshape(-1))
    assert math.isclose(ce.item(), data.copy_memory_baseline(T), rel_tol=1e-5)
    oh, _ = data.copy_memory(2, 5, one_hot=True)
    assert oh.shape == (2, 25, 10) and oh.dtype == torch.float32


def test_future_tagging_labels_depend_on_the_future():
    x, y = data.future_tagging(30, 12, n_tokens=5, ahead=3, seed=0)
    for t in range(12):
        fut = x[:, t + 3] if t + 3 < 12 else torch.zeros_like(x[:, t])
        assert torch.equal(y[:, t], (x[:, t] + fut) % 5)
    assert (y[:, :9] != x[:, :9]).any()                      # the future token really matters


def test_frequency_classification_classes_differ_in_frequency():
    x, y = data.frequency_classification(300, 64, n_classes=3, noise=0.0, seed=0)
    assert x.shape == (300, 64, 1) and set(y.tolist()) == {0, 1, 2}
    peak = torch.fft.rfft(x[:, :, 0]).abs()[:, 1:].argmax(1) + 1
    assert torch.equal(peak, y + 1)


def test_series_and_windows():
    s = data.noisy_sine(200, period=20, noise=0.0)
    assert np.allclose(s[:20], s[20:40])
    mg = data.mackey_glass(500)
    assert mg.shape == (500,) and 0.2 < mg.min() < mg.max() < 1.5
    assert np.std(mg) > 0.1                                 # not a fixed point: it keeps oscillating
    X, Y = data.make_windows(np.arange(20.0), input_len=5, horizon=3, stride=2)
    assert X.shape == (7, 5, 1) and Y.shape == (7, 3)
    assert X[2, :, 0].tolist() == [4, 5, 6, 7, 8] and Y[2].tolist() == [9, 10, 11]
    with pytest.raises(ValueError, match="at least input_len \\+ horizon = 8 values; got 6"):
        data.make_windows(np.arange(6.0), 5, 3)
    with pytest.raises(ValueError, match=r"series must be 1-D \(time,\); got \(2, 3\)"):
        data.make_windows(np.zeros((2, 3)), 1)


def test_sunspots_shipped():
    years, values = data.sunspots()
    assert years[0] == 1700 and years[-1] == 2008 and len(values) == 309
    assert values[0] == 5 and values.min() >= 0 and 150 < values.max() < 200


def test_corpus_vocab_and_split():
    text = data.load_corpus()
    assert 300_000 < len(text) < 600_000 and "MACBETH" in text and "Gutenberg" not in text
    vocab = data.Vocab(text)
    ids = vocab.encode("To be, or not")
    assert ids.dtype == torch.int64 and vocab.decode(ids) == "To be, or not"
    with pytest.raises(ValueError, match="outside the vocabulary: '€'"):
        vocab.encode("€")
    train, val = data.train_val_split(torch.arange(100), 0.1)
    assert torch.equal(torch.cat([train, val]), torch.arange(100)) and len(val) == 10
    with pytest.raises(ValueError, match="plays must be"):
        data.load_corpus(["hamlet"])


def test_stream_batches_continue_across_batches():
    ids = torch.arange(1000)
    batches = data.stream_batches(ids, batch_size=4, seq_len=10)
    seen = list(batches)
    assert len(seen) == len(batches) == 24
    for (x0, y0), (x1, _) in zip(seen, seen[1:]):
        assert x0.shape == (4, 10)
        assert torch.equal(y0, x0 + 1)                      # targets: next character
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)         # row b continues row b
    assert len(list(batches)) == 24                          # re-iterable: one pass per epoch
    a = [x for x, _ in data.stream_batches(ids, 4, 10, seed=5)]
    b = [x for x, _ in data.stream_batches(ids, 4, 10, seed=5)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match="too short for batch_size=4, seq_len=300"):
        data.stream_batches(ids, 4, 300)


def test_bad_arguments():
    with pytest.raises(ValueError, match="T must be >= 2; got 1"):
        data.adding_problem(5, 1)
    with pytest.raises(TypeError, match="n must be an int; got float"):
        data.copy_memory(5.0)
