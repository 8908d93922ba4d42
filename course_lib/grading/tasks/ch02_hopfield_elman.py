"""Tasks of ``exercises/02_hopfield_elman.ipynb``: Hebbian storage, asynchronous recall, capacity, and the
modern (continuous) Hopfield update, which is attention (book eq. eq-mhn-update)."""
from __future__ import annotations

import numpy as np

from ...ref import hopfield as ref_hopfield
from ...ref import modern_hopfield as ref_modern
from ..compare import Mismatch, call_learner, expect_array, expect_pm1, shape_str, type_name
from ..registry import Task, Test
from .common import check_callable, number_question

NOTEBOOK = "02_hopfield_elman"


def _patterns(rng, n_patterns, n_units):
    return rng.choice(np.array([-1.0, 1.0]), size=(n_patterns, n_units))


# ----------------------------------------------------------------------------- hopfield_store
def _store_case(rng):
    n_units, n_patterns = int(rng.integers(12, 40)), int(rng.integers(2, 6))
    patterns = _patterns(rng, n_patterns, n_units)
    return patterns, ref_hopfield.Hopfield(n_units).store(patterns).weights


def _run_store(fn, patterns):
    check_callable(fn, "hopfield_store(patterns)")
    return call_learner(fn, patterns, name="hopfield_store")


def _store_shape(fn, rng):
    patterns, expected = _store_case(rng)
    W = _run_store(fn, patterns)
    if not isinstance(W, np.ndarray) or W.shape != expected.shape:
        expect_array(W, expected, "W")
    if not np.allclose(W, W.T, atol=1e-12, rtol=0):
        raise Mismatch("W must be symmetric (W[i, j] = W[j, i]); it is not")


def _store_values(fn, rng):
    patterns, expected = _store_case(rng)
    expect_array(_run_store(fn, patterns), expected, "W")


def _store_diagonal(fn, rng):
    patterns, expected = _store_case(rng)
    W = _run_store(fn, patterns)
    if not isinstance(W, np.ndarray) or W.shape != expected.shape:
        expect_array(W, expected, "W")
    if np.any(np.diag(W) != 0):
        raise Mismatch(f"W's diagonal must be 0 (no unit drives itself); {int(np.sum(np.diag(W) != 0))} "
                       f"of {len(W)} diagonal entries are not")


HOPFIELD_STORE = Task(
    "hopfield_store", NOTEBOOK,
    "Hebbian weights W = (1/N) sum_mu xi^mu xi^mu^T with a zero diagonal (book eq. eq-hebb).",
    (
        Test("returns a symmetric (N, N) matrix", 1, _store_shape),
        Test("W matches the Hebbian rule", 1, _store_values),
        Test("the diagonal is zero", 1, _store_diagonal),
    ),
)


# ----------------------------------------------------------------------------- hopfield_recall
def _run_recall(fn, W, state, rng):
    check_callable(fn, "hopfield_recall(W, state, max_sweeps=100, rng=None)")
    return call_learner(fn, W, state, 100, np.random.default_rng(rng.integers(2**32)), name="hopfield_recall")


def _is_fixed_point(W, s, tie=1e-9):
    """Every unit agrees with the sign of its field; a field within rounding of 0 is a tie (kept)."""
    h = W @ s
    return bool(np.all((np.abs(h) <= tie) | (np.sign(h) == s)))


def _check_state(out, shape):
    """The learner's final state must be a -1/+1 ndarray of ``shape``."""
    if type(out).__module__.startswith("torch") or not isinstance(out, np.ndarray):
        raise Mismatch(f"the final state: expected a NumPy array of shape {shape_str(shape)}, got {type_name(out)}")
    if out.shape != shape:
        raise Mismatch(f"the final state: wrong shape: expected {shape_str(shape)}, got {shape_str(out.shape)}")
    if np.any((out != 1) & (out != -1)):
        raise Mismatch("the final state must hold only -1 and +1 (np.sign gives 0 for a zero field: "
                       "such a unit must keep its value)")


def _recall_shape(fn, rng):
    n_units = int(rng.integers(20, 40))
    W = ref_hopfield.Hopfield(n_units).store(_patterns(rng, 2, n_units)).weights
    state = _patterns(rng, 1, n_units)[0]
    _check_state(_run_recall(fn, W, state, rng), state.shape)


def _recall_pattern(fn, rng):
    for _ in range(20):  # a cue that the reference recalls exactly (at this load: nearly always the first)
        n_units = int(rng.integers(80, 121))
        patterns = _patterns(rng, 5, n_units)
        net = ref_hopfield.Hopfield(n_units).store(patterns)
        cue = ref_hopfield.corrupt(patterns[0], 0.1, seed=int(rng.integers(2**32)))
        if np.array_equal(net.recall(cue, seed=int(rng.integers(2**32))), patterns[0]):
            break
    expect_pm1(_run_recall(fn, net.weights, cue, rng), patterns[0], "the recalled state (10% of units flipped)")


def _fixed_point_cases(rng):
    """(W, start) pairs: a case where synchronous updates provably cycle, then random starts at load 1/3."""
    n_units = int(rng.integers(10, 21)) * 2
    # all units inhibit each other: from all +1, synchronous updates flip everything back and forth forever
    inhibit = -(np.ones((n_units, n_units)) - np.eye(n_units)) / n_units
    yield "all units inhibiting each other, started from all +1", inhibit, np.ones(n_units)
    n_units = int(rng.integers(50, 71))
    W = ref_hopfield.Hopfield(n_units).store(_patterns(rng, n_units // 3, n_units)).weights
    for k in range(6):
        yield f"random start {k + 1} of 6 at load P/N = 1/3", W, _patterns(rng, 1, n_units)[0]


def _recall_fixed_point(fn, rng):
    for what, W, start in _fixed_point_cases(rng):
        out = _run_recall(fn, W, start, rng)
        _check_state(out, start.shape)
        if not _is_fixed_point(W, out):
            raise Mismatch(f"{what}: the final state is not a fixed point: some unit still disagrees with the "
                           "sign of its field (synchronous updates can cycle; update one unit at a time and "
                           "sweep until nothing changes)")
        e_start, e_out = -0.5 * start @ W @ start, -0.5 * out @ W @ out
        if e_out > e_start + 1e-9:
            raise Mismatch(f"{what}: the energy rose from {e_start:.3g} to {e_out:.3g}; "
                           "asynchronous updates never raise it")


def _recall_ties(fn, rng):
    n_units = int(rng.integers(16, 25))
    half = n_units // 2
    pattern = _patterns(rng, 1, half)[0]
    W = np.zeros((n_units, n_units))  # the second half is disconnected: its fields are exactly 0
    W[:half, :half] = np.outer(pattern, pattern) / n_units
    np.fill_diagonal(W, 0.0)
    start = _patterns(rng, 1, n_units)[0]
    start[:half] = ref_hopfield.corrupt(pattern, 2 / half, seed=int(rng.integers(2**32)))
    expected = np.concatenate([pattern, start[half:]])
    expect_pm1(_run_recall(fn, W, start, rng), expected,
               "the final state (the second half of the units has zero field and must keep its values)")


HOPFIELD_RECALL = Task(
    "hopfield_recall", NOTEBOOK,
    "Asynchronous recall: one unit at a time, s_i <- sign(sum_j W_ij s_j) (ties keep s_i), "
    "sweeps in random order until nothing changes (book eq. eq-hopfield-update).",
    (
        Test("returns a -1/+1 state of shape (N,)", 1, _recall_shape),
        Test("recovers a stored pattern from a cue with 10% of its units flipped", 1, _recall_pattern),
        Test("ends in a fixed point with lower energy, even at a high load", 1, _recall_fixed_point),
        Test("a unit whose field is exactly 0 keeps its value", 1, _recall_ties),
    ),
)

CAPACITY = number_question(
    "hopfield_capacity", NOTEBOOK,
    "About how many random patterns can a Hopfield network of N = 1000 units store and recall?",
    low=128, high=148,
)



# ----------------------------------------------------------------------------- modern_hopfield_update
def _run_modern(fn, patterns, state, beta):
    check_callable(fn, "modern_hopfield_update(patterns, state, beta)")
    return call_learner(fn, patterns, state, beta, name="modern_hopfield_update")


def _modern_expected(patterns, state, beta):
    return ref_modern.modern_hopfield_update(patterns, state, beta)[0]


def _modern_case(rng, beta, pm1=True, flip=0.2):
    n_units, n_patterns = int(rng.integers(20, 40)), int(rng.integers(3, 12))
    patterns = _patterns(rng, n_patterns, n_units) if pm1 else rng.normal(0.0, 1.0, size=(n_patterns, n_units))
    state = ref_hopfield.corrupt(patterns[0], flip, seed=int(rng.integers(2**32))) if pm1 else \
        rng.normal(0.0, 1.0, size=n_units)
    return patterns, state, beta


def _modern_shape(fn, rng):
    patterns, state, beta = _modern_case(rng, 0.1)
    got = _run_modern(fn, patterns, state, beta)
    if not isinstance(got, np.ndarray) or got.shape != state.shape:
        expect_array(got, _modern_expected(patterns, state, beta), "the new state (N,)")


def _modern_betas(fn, rng):
    for beta in (0.02, 0.1, 0.5):   # small betas: the softmax is soft, so beta changes the result a lot
        patterns, state, _ = _modern_case(rng, beta)
        expect_array(_run_modern(fn, patterns, state, beta), _modern_expected(patterns, state, beta),
                     f"the new state (beta = {beta})")


def _modern_real(fn, rng):
    patterns, state, beta = _modern_case(rng, 0.7, pm1=False)
    expect_array(_run_modern(fn, patterns, state, beta), _modern_expected(patterns, state, beta),
                 "the new state (real-valued patterns and state, beta = 0.7)")


def _modern_large_beta(fn, rng):
    patterns, state, beta = _modern_case(rng, 50.0, flip=0.1)
    expect_array(_run_modern(fn, patterns, state, beta), _modern_expected(patterns, state, beta),
                 "the new state (beta = 50: scores in the thousands, subtract the largest before exp)")


MODERN_UPDATE = Task(
    "modern_hopfield_update", NOTEBOOK,
    "One update of a modern Hopfield network, xi <- X^T softmax(beta X xi) (book eq. eq-mhn-update).",
    (
        Test("returns a state of shape (N,)", 1, _modern_shape),
        Test("right for several beta (beta scales the scores)", 1, _modern_betas),
        Test("right for real-valued patterns and states", 1, _modern_real),
        Test("numerically stable for a large beta", 1, _modern_large_beta),
    ),
)

TASKS = (HOPFIELD_STORE, HOPFIELD_RECALL, CAPACITY, MODERN_UPDATE)
