"""Beam search (course_lib.ref.beam and the batched course_lib.nn.beam): width 1 is greedy, a model with known
scores gets its best sequence, an exhaustive beam finds the brute-force optimum, and both versions agree."""
import itertools

import numpy as np
import pytest
import torch

from course_lib import nn as cnn
from course_lib import ref

BOS, EOS = 0, 1


def table_model(seed, vocab=5, eos_bias=0.0):
    """A random next-token model whose log-probabilities depend on the last two tokens (known exactly)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(vocab, vocab, vocab)) * 2
    logits[..., EOS] += eos_bias
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))

    def step(prefix):
        a = prefix[-2] if len(prefix) > 1 else BOS
        return logp[a, prefix[-1]]

    def batched(tokens, state):
        prev = state["prev"]
        out = torch.from_numpy(logp)[prev, tokens]
        return out, {"prev": tokens.clone(), "pos": state["pos"] + 1}

    return step, batched


def brute_force(step, vocab, max_len, alpha):
    """The best sequence over *every* sequence of at most ``max_len`` tokens (ending in eos, or cut)."""
    best = None
    for n in range(1, max_len + 1):
        for body in itertools.product([t for t in range(vocab) if t != EOS], repeat=n - 1):
            for seq in ([body + (EOS,)] + ([body + (t,) for t in range(vocab) if t != EOS] if n == max_len else [])):
                prefix, score = (BOS,), 0.0
                for tok in seq:
                    score += step(prefix)[tok]
                    prefix += (tok,)
                value = ref.normalised_score(score, len(seq), alpha)
                if best is None or value > best[0]:
                    best = (value, tuple(seq), score)
    return best


def test_the_classic_example_where_greedy_fails_and_beam_search_does_not():
    """p(a)=0.6, p(b)=0.4; after a the next token is spread (max 0.4), after b it is certain (0.9):
    greedy commits to a (0.6 * 0.4 = 0.24); beam width 2 finds b (0.4 * 0.9 = 0.36)."""
    A, B, X, Y = 2, 3, 4, 5
    table = {(BOS,): {A: 0.6, B: 0.4}, (BOS, A): {X: 0.4, Y: 0.35, EOS: 0.25}, (BOS, B): {X: 0.9, Y: 0.1}}

    def step(prefix):
        p = table.get(tuple(prefix), {EOS: 1.0})
        out = np.full(6, -np.inf)
        for tok, prob in p.items():
            out[tok] = np.log(prob)
        return out

    greedy, g_score = ref.greedy_decode(step, BOS, EOS, max_len=5)
    beam, b_score = ref.beam_search(step, BOS, EOS, beam_width=2, max_len=5, alpha=0.0)
    assert greedy == (A, X, EOS) and np.isclose(np.exp(g_score), 0.24)
    assert beam == (B, X, EOS) and np.isclose(np.exp(b_score), 0.36)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.75, 1.0])
def test_an_exhaustive_beam_finds_the_brute_force_best_sequence(seed, alpha):
    vocab, max_len = 4, 4
    step, _ = table_model(seed, vocab, eos_bias=-1.0)
    want_value, want_seq, want_score = brute_force(step, vocab, max_len, alpha)
    seq, score = ref.beam_search(step, BOS, EOS, beam_width=vocab ** max_len, max_len=max_len, alpha=alpha)
    assert seq == want_seq and score == pytest.approx(want_score, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_beam_width_one_is_greedy(seed):
    step, batched = table_model(seed, 6)
    assert ref.beam_search(step, BOS, EOS, beam_width=1, max_len=8) == ref.greedy_decode(step, BOS, EOS, max_len=8)


def test_length_normalisation_changes_the_winner_and_eos_ends_a_hypothesis():
    """Raw log-probabilities favour short outputs; per-token scores (alpha = 1) do not."""
    differ = 0
    for seed in range(30):
        step, _ = table_model(seed, 5, eos_bias=0.5)
        raw, _ = ref.beam_search(step, BOS, EOS, beam_width=4, max_len=6, alpha=0.0)
        norm, _ = ref.beam_search(step, BOS, EOS, beam_width=4, max_len=6, alpha=1.0)
        differ += raw != norm
        for seq in (raw, norm):
            assert EOS not in seq[:-1]                        # nothing ever follows <eos>
        assert len(raw) <= len(norm) or raw == norm
    assert differ >= 3


def _batched_run(batched, B, width, max_len, alpha, seed=0):
    prev = torch.full((B,), BOS, dtype=torch.int64)
    state = {"prev": prev, "pos": torch.zeros(B, dtype=torch.int64)}
    if width is None:
        return cnn.greedy_decode(batched, state, B, BOS, EOS, max_len=max_len)
    return cnn.beam_search(batched, state, B, BOS, EOS, beam_width=width, max_len=max_len, alpha=alpha)


@pytest.mark.parametrize("width", [1, 2, 5])
@pytest.mark.parametrize("alpha", [0.0, 0.75])
def test_the_batched_beam_search_agrees_with_the_reference(width, alpha):
    for seed in range(4):
        step, batched = table_model(seed, 6, eos_bias=-0.5)
        want, want_score = ref.beam_search(step, BOS, EOS, beam_width=width, max_len=7, alpha=alpha)
        got = _batched_run(batched, 3, width, 7, alpha)
        for b in range(3):                                     # the same model for every row of the batch
            assert tuple(got.sequences()[b]) == want
            assert got.log_prob[b].item() == pytest.approx(want_score, abs=1e-9)


def test_batched_greedy_equals_the_reference_and_beam_width_one():
    step, batched = table_model(11, 6)
    want, score = ref.greedy_decode(step, BOS, EOS, max_len=9)
    g = _batched_run(batched, 2, None, 9, 0.0)
    b1 = _batched_run(batched, 2, 1, 9, 0.75)
    assert tuple(g.sequences()[0]) == want == tuple(b1.sequences()[1])
    assert g.log_prob[0].item() == pytest.approx(score) == b1.log_prob[0].item()


@pytest.mark.parametrize("attention", [None, "additive"])
def test_on_a_seq2seq_model_beam_one_is_greedy_and_wider_beams_score_at_least_as_well(attention):
    torch.manual_seed(0)
    model = cnn.Seq2Seq(9, 8, embed_size=6, hidden_size=8, attention=attention, dtype=torch.float64).eval()
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 9, (6, 5), generator=g)
    lengths = torch.tensor([5, 3, 4, 5, 2, 1])
    state = model.encode(src, lengths)
    greedy = cnn.greedy_decode(model.step, state, 6, 1, 2, max_len=8)
    beam1 = cnn.beam_search(model.step, state, 6, 1, 2, beam_width=1, max_len=8)
    assert greedy.sequences() == beam1.sequences()
    torch.testing.assert_close(greedy.log_prob, beam1.log_prob)
    beam8 = cnn.beam_search(model.step, state, 6, 1, 2, beam_width=8, max_len=8, alpha=0.0)
    assert torch.all(beam8.log_prob >= greedy.log_prob - 1e-12)
    # the batched search equals the reference on each input, the model seen through step(prefix)
    for b in range(6):
        def step(prefix, b=b):
            st = {k: v[b:b + 1] for k, v in state.items()}
            for tok in prefix:
                logp, st = model.step(torch.tensor([tok]), st)
            return logp[0].detach().numpy()
        want, score = ref.beam_search(step, 1, 2, beam_width=3, max_len=6, alpha=0.75)
        got = cnn.beam_search(model.step, {k: v[b:b + 1] for k, v in state.items()}, 1, 1, 2, beam_width=3,
                              max_len=6, alpha=0.75)
        assert tuple(got.sequences()[0]) == want and got.log_prob[0].item() == pytest.approx(score, abs=1e-9)


def test_beam_search_errors():
    step, batched = table_model(0)
    with pytest.raises(ValueError, match="beam_width must be greater than zero; got 0"):
        ref.beam_search(step, BOS, EOS, beam_width=0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        ref.beam_search(step, BOS, EOS, alpha=-1)
    with pytest.raises(TypeError, match="max_len should be of type int"):
        _batched_run(batched, 2, 2, 3.0, 0.0)
    with pytest.raises(ValueError, match=r"step\(prefix\) must return a 1-D array"):
        ref.greedy_decode(lambda p: np.zeros((2, 2)), BOS, EOS)
