"""course_lib.ref.ModernHopfield: the update is attention, the energy falls, capacity against the classical net."""
import math

import numpy as np
import pytest

from course_lib import ref
from course_lib.ref.hopfield import Hopfield, corrupt, random_patterns
from course_lib.ref.modern_hopfield import compare_capacity, lse_energy, modern_hopfield_update


def net_and_states(beta=0.7, P=30, N=12, B=5, seed=0):
    rng = np.random.default_rng(seed)
    return ref.ModernHopfield(beta).store(rng.standard_normal((P, N))), rng.standard_normal((B, N))


@pytest.mark.parametrize("beta", [0.05, 1.0, 8.0])
def test_update_is_attention_with_the_state_as_query_and_patterns_as_keys_and_values(beta):
    net, states = net_and_states(beta)
    q, k, v = net.attention_inputs(states)
    out, weights = ref.attention(q, k, v)
    np.testing.assert_allclose(net.update(states), out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.weights(states), weights, rtol=0, atol=1e-12)
    # written out: X^T softmax(beta X xi), one state at a time
    X = net.patterns
    for s in states:
        z = beta * X @ s
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(net.update(s), X.T @ p, rtol=0, atol=1e-12)
    one_q, _, _ = net.attention_inputs(states[0])
    assert one_q.shape == (1, X.shape[1])


def test_update_is_the_gradient_of_the_log_sum_exp():
    """xi_new = grad_xi lse(beta, X xi): the concave-convex procedure on E (so E cannot rise)."""
    net, states = net_and_states(beta=0.9)
    X, beta = net.patterns, net.beta
    s = states[0].copy()

    def lse(_):
        z = beta * X @ s
        return (z.max() + np.log(np.exp(z - z.max()).sum())) / beta

    assert ref.grad_check(lse, s, net.update(s)) < 1e-8


def test_energy_formula_and_monotone_descent():
    net, states = net_and_states(beta=0.5, P=20, N=8)
    X, beta = net.patterns, net.beta
    s = states[1]
    expected = (-np.log(np.sum(np.exp(beta * X @ s))) / beta + 0.5 * s @ s + np.log(len(X)) / beta
                + 0.5 * np.max(np.sum(X * X, axis=1)))
    assert net.energy(s) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(net.energy(states), [net.energy(r) for r in states], rtol=1e-12)
    final, info = net.retrieve(states, steps=12, return_info=True)
    assert info.energy.shape == (13, len(states)) and info.change.shape == (12, len(states))
    assert np.all(np.diff(info.energy, axis=0) <= 1e-12)          # never rises (up to rounding)
    assert np.all(info.energy >= -1e-12)                           # Ramsauer et al.: E >= 0
    np.testing.assert_allclose(info.energy[-1], net.energy(final), rtol=1e-12)
    np.testing.assert_allclose(info.weights, net.weights(net.retrieve(states, steps=11)), atol=1e-12)


def test_large_beta_retrieves_a_stored_pattern_in_one_update_without_overflow():
    X = random_patterns(40, 64, seed=1)
    net = ref.ModernHopfield(beta=50.0).store(X)                    # scores up to 3200: exp would overflow
    cues = corrupt(X[:10], 0.25, seed=2)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        one = net.retrieve(cues, steps=1)
    np.testing.assert_allclose(one, X[:10], atol=1e-12)
    np.testing.assert_allclose(net.update(one), one, atol=1e-12)    # and it is a fixed point


def test_small_beta_gives_a_metastable_average_and_beta_to_zero_the_mean():
    X = random_patterns(16, 32, seed=3)
    cue = corrupt(X[0], 0.2, seed=4)
    part = [1.0 / np.sum(ref.ModernHopfield(b).store(X).weights(cue) ** 2) for b in (1e-4, 0.05, 0.2, 2.0)]
    assert part[0] > 15.9 and part[-1] < 1.01 and np.all(np.diff(part) < 0)
    np.testing.assert_allclose(ref.ModernHopfield(1e-9).store(X).update(cue), X.mean(axis=0), atol=1e-6)


def test_stored_patterns_of_any_scale_and_the_repr():
    net = ref.ModernHopfield(2).store([[3.0, 0.0], [0.0, 3.0]])
    assert repr(net) == "ModernHopfield(beta=2, stored=2 patterns of 2)" and net.n_units == 2
    assert net.retrieve([2.9, 0.2]).round(6).tolist() == [3.0, 0.0]
    assert net.overlaps([3.0, 0.0]).tolist() == [4.5, 0.0]
    assert lse_energy(net.patterns, np.array([3.0, 0.0]), 2.0) == pytest.approx(net.energy([3.0, 0.0]))


def test_stacked_update_matches_one_network_at_a_time():
    rng = np.random.default_rng(5)
    X, S = rng.standard_normal((3, 7, 6)), rng.standard_normal((3, 4, 6))
    out, w = modern_hopfield_update(X, S, 1.3)
    for t in range(3):
        np.testing.assert_allclose(out[t], ref.ModernHopfield(1.3).store(X[t]).update(S[t]), atol=1e-13)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("call,error,match", [
    (lambda: ref.ModernHopfield(0.0), ValueError, "beta must be a finite number > 0; got 0.0"),
    (lambda: ref.ModernHopfield(-1), ValueError, "beta must be a finite number > 0"),
    (lambda: ref.ModernHopfield("1"), TypeError, "beta must be a positive number; got str"),
    (lambda: ref.ModernHopfield(True), TypeError, "beta must be a positive number; got bool"),
    (lambda: ref.ModernHopfield(1.0).update(np.zeros(3)), ValueError, "nothing is stored yet"),
    (lambda: ref.ModernHopfield(1.0).store(np.ones(4)), ValueError, r"patterns must be \(P, N\).*got \(4,\).*p\[None, :\]"),
    (lambda: ref.ModernHopfield(1.0).store(np.ones((2, 4))).update(np.ones(3)), ValueError,
     r"state must be \(4,\) or \(batch, 4\); got \(3,\)"),
    (lambda: ref.ModernHopfield(1.0).store(np.ones((2, 4))).update(np.full(4, np.nan)), ValueError, "state must be finite"),
    (lambda: ref.ModernHopfield(1.0).store(np.ones((2, 4))).retrieve(np.ones(4), steps=0), ValueError, "steps must be >= 1"),
    (lambda: compare_capacity(16, [0, 4], [1.0]), ValueError, "n_patterns must be a non-empty 1-D list of ints >= 1"),
    (lambda: compare_capacity(16, [4], [1.0], flip_fraction=1.5), ValueError, "flip_fraction must be in"),
])
def test_bad_input_says_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_capacity_classical_collapses_where_the_modern_network_still_retrieves():
    P = [2, 4, 8, 16, 32, 64]
    r = compare_capacity(32, P, betas=[0.01, 1.0], trials=3, flip_fraction=0.15, queries=40, steps=3, seed=0)
    assert r.recall.shape == (2, 3, len(P)) and r.classical_recall.shape == (len(P),)
    assert r.classical_recall[0] == 1.0 and r.classical_recall[-1] < 0.1      # 64 patterns = 2 N: gone
    assert np.all(r.recall[1, 0] >= 0.95)                                       # beta = 1: every load, one update
    assert r.breakdown() < 16 and math.isnan(r.breakdown(beta=1.0))
    # beta small: an average of many patterns (participation near P), never one pattern
    assert np.all(r.recall[0] == 0.0) and r.participation[0, 0, -1] > 0.9 * 64
    assert np.all(r.participation[1] < 1.05)
    # the same cues: with one pattern stored both networks must retrieve it
    one = compare_capacity(32, [1], betas=[1.0], trials=2, flip_fraction=0.15, queries=1, seed=1)
    assert one.classical_recall[0] == 1.0 and one.recall[0, 0, 0] == 1.0
    with pytest.raises(ValueError, match="beta must be one of the measured betas"):
        r.breakdown(beta=0.5)


def test_compare_capacity_is_deterministic_given_the_seed():
    a, b = (compare_capacity(16, [4, 8], [1.0], trials=2, queries=8, seed=7) for _ in range(2))
    np.testing.assert_array_equal(a.recall, b.recall)
    np.testing.assert_array_equal(a.classical_overlap, b.classical_overlap)


def test_classical_side_matches_the_hopfield_class_on_a_fixed_point():
    """A cue with no flips at a tiny load: both recalls are the stored pattern itself."""
    X = random_patterns(2, 40, seed=9)
    assert np.array_equal(Hopfield(40).store(X).recall(X[0], seed=0), X[0])
    r = compare_capacity(40, [2], [1.0], trials=1, flip_fraction=0.0, queries=2, seed=9)
    assert r.classical_recall[0] == 1.0 and r.classical_overlap[0] == 1.0
