"""Tasks of ``exercises/08_applications.ipynb``: sampling the next character with a temperature.

Sampling is random, so the tests are statistical: thousands of draws from a generator with a fixed
seed, whose frequencies must match ``softmax(logits / temperature)`` within five standard errors
(a correct sampler fails this about once in a million checks; every wrong one we know of misses it
by far).
"""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_index
from ..registry import Task, Test
from .common import check_callable

NOTEBOOK = "08_applications"
STAT_SEED = 20240601


def _logits(rng, vocab=None, shift=0.0):
    """Random logits whose largest entry leads the second by at least 0.5 (a clear argmax)."""
    vocab = int(rng.integers(4, 8)) if vocab is None else vocab
    logits = rng.normal(0.0, 1.0, size=vocab)
    top = int(np.argmax(logits))
    logits[top] = max(logits[top], np.sort(logits)[-2] + 0.5)
    return logits + shift


def _draw(fn, logits, temperature, n, seed=STAT_SEED):
    check_callable(fn, "sample_with_temperature(logits, temperature, rng)")
    gen = np.random.default_rng(seed)
    draws = np.empty(n, dtype=np.int64)
    for k in range(n):
        draws[k] = expect_index(call_learner(fn, logits.copy(), temperature, gen, name="sample_with_temperature"),
                                len(logits), "the sample")
    return draws


def _expect_frequencies(draws, probs, what):
    n = len(draws)
    freq = np.bincount(draws, minlength=len(probs)) / n
    allowed = 5.0 * np.sqrt(probs * (1 - probs) / n) + 1.0 / n
    worst = int(np.argmax(np.abs(freq - probs) - allowed))
    if abs(freq[worst] - probs[worst]) > allowed[worst]:
        raise Mismatch(f"{what}: over {n} draws, index {worst} came up {freq[worst]:.3f} of the time; "
                       f"softmax(logits / temperature) gives it {probs[worst]:.3f}")


def _returns_index(fn, rng):
    logits = _logits(rng)
    _draw(fn, logits, 1.0, 20)


def _greedy(fn, rng):
    logits = _logits(rng)
    for temperature in (1e-3, 0.0):
        draws = _draw(fn, logits, temperature, 50)
        if np.any(draws != np.argmax(logits)):
            raise Mismatch(f"temperature {temperature:g}: every sample must be argmax(logits) "
                           f"(greedy); {int(np.sum(draws != np.argmax(logits)))} of 50 were not")


def _temperature_one(fn, rng):
    logits = _logits(rng)
    _expect_frequencies(_draw(fn, logits, 1.0, 3000), ref.softmax(logits), "temperature 1")


def _other_temperatures(fn, rng):
    logits = _logits(rng)
    for temperature in (0.5, 2.0):
        _expect_frequencies(_draw(fn, logits, temperature, 3000), ref.softmax(logits / temperature),
                            f"temperature {temperature:g}")


def _large_logits(fn, rng):
    logits = _logits(rng, shift=1000.0)
    _expect_frequencies(_draw(fn, logits, 1.0, 1500), ref.softmax(logits),
                        "logits around 1000 (subtract the maximum before exp)")


def _uses_generator(fn, rng):
    logits = _logits(rng)
    seed = int(rng.integers(2**32))
    first, second = _draw(fn, logits, 1.0, 30, seed), _draw(fn, logits, 1.0, 30, seed)
    if not np.array_equal(first, second):
        raise Mismatch("two runs with generators of the same seed gave different samples: draw the "
                       "randomness from the rng argument (e.g. rng.choice), not from np.random")


SAMPLE = Task(
    "sample_with_temperature", NOTEBOOK,
    "Draw the index of the next token from softmax(logits / temperature); temperature 0 is greedy (argmax).",
    (
        Test("returns an int index into logits", 1, _returns_index),
        Test("temperature 0 (and near 0) picks argmax(logits)", 1, _greedy),
        Test("temperature 1 samples from softmax(logits)", 1, _temperature_one),
        Test("temperatures 0.5 and 2 sample from softmax(logits / temperature)", 1, _other_temperatures),
        Test("large logits (around 1000) do not overflow", 1, _large_logits),
        Test("all randomness comes from the rng argument (reproducible)", 1, _uses_generator),
    ),
)

TASKS = (SAMPLE,)
