"""Tasks of ``exercises/08_applications.ipynb``: sampling the next character with a temperature, a
sampling loop that generates a sequence, and two training tasks -- a character language model trained
with truncated BPTT (graded by held-out bits per character) and a sequence classifier (graded by held-out
accuracy).

Sampling is random, so the tests are statistical: thousands of draws from a generator with a fixed
seed, whose frequencies must match ``softmax(logits / temperature)`` within five standard errors
(a correct sampler fails this about once in a million checks; every wrong one we know of misses it
by far).
"""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_index, type_name
from ..models import TinyCharRNN
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


# ----------------------------------------------------------------------------- the sampling loop
def _sequence(fn, model, start, length, temperature, seed):
    got = call_learner(fn, model, start, length, temperature, np.random.default_rng(seed), name="sample_sequence")
    try:
        seq = np.asarray(got)
    except Exception:  # the learner's object
        seq = None
    if seq is None or seq.dtype.kind not in "iu" or seq.shape != (length,):
        shown = f"shape {seq.shape}, dtype {seq.dtype}" if isinstance(seq, np.ndarray) else type_name(got)
        raise Mismatch(f"expected {length} token ids (ints, the start token not included); got {shown}")
    if np.any((seq < 0) | (seq >= model.vocab_size)):
        raise Mismatch(f"token ids must lie in [0, {model.vocab_size})")
    return [int(t) for t in seq]


def _greedy_reference(model, start, length):
    state, token, out = model.initial_state(), start, []
    for _ in range(length):
        logits, state = model.step(token, state)
        token = int(np.argmax(logits))
        out.append(token)
    return out


def _seq_greedy(fn, rng):
    check_callable(fn, "sample_sequence(model, start, length, temperature, rng)")
    model = TinyCharRNN.random(rng, int(rng.integers(5, 9)), int(rng.integers(4, 8)))
    start, length = int(rng.integers(model.vocab_size)), int(rng.integers(12, 20))
    want = _greedy_reference(model, start, length)
    got = _sequence(fn, model, start, length, 0.0, 0)
    if got != want:
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        raise Mismatch(f"temperature 0 (greedy): the sequence differs from the greedy one first at position "
                       f"{first}: feed each generated token back in and carry the state from step to step")


def _pair_probabilities(model, start, temperature):
    """Exact probabilities of the first two generated tokens ``(vocab, vocab)``."""
    logits, state = model.step(start, model.initial_state())
    p1 = ref.softmax(logits / temperature)
    table = np.empty((model.vocab_size, model.vocab_size))
    for a in range(model.vocab_size):
        logits2, _ = model.step(a, state)
        table[a] = p1[a] * ref.softmax(logits2 / temperature)
    return table


def _seq_distribution(fn, rng, temperature):
    check_callable(fn, "sample_sequence(model, start, length, temperature, rng)")
    model = TinyCharRNN.random(rng, 4, 5, scale=3.0)
    start, n = int(rng.integers(4)), 2000
    seqs = np.array(_many_sequences(fn, model, start, temperature, n, int(rng.integers(2**31))))
    probs = _pair_probabilities(model, start, temperature).ravel()
    _expect_frequencies(seqs[:, 0] * model.vocab_size + seqs[:, 1], probs,
                        f"temperature {temperature:g}, the first two tokens (token 2 depends on token 1 and the state)")


def _many_sequences(fn, model, start, temperature, n, seed):
    """``n`` sequences of length 2 drawn with one generator."""
    gen = np.random.default_rng(seed)
    return [_sequence(fn, model, start, 2, temperature, gen) for _ in range(n)]


def _seq_rng(fn, rng):
    check_callable(fn, "sample_sequence(model, start, length, temperature, rng)")
    model = TinyCharRNN.random(rng, 6, 5)
    seed = int(rng.integers(2**31))
    first, second = (_sequence(fn, model, 0, 25, 1.0, seed) for _ in range(2))
    if first != second:
        raise Mismatch("two runs with generators of the same seed gave different sequences: draw the "
                       "randomness from the rng argument")


SAMPLE_SEQUENCE = Task(
    "sample_sequence", NOTEBOOK,
    "Generate `length` tokens from a character RNN: feed each sampled token back in, carry the state.",
    (
        Test("temperature 0: the greedy sequence", 2, _seq_greedy),
        Test("temperature 1: the joint distribution of two generated tokens", 2,
             lambda fn, rng: _seq_distribution(fn, rng, 1.0)),
        Test("temperature 0.7: the joint distribution of two generated tokens", 1,
             lambda fn, rng: _seq_distribution(fn, rng, 0.7)),
        Test("all randomness comes from the rng argument", 1, _seq_rng),
    ),
)


# ----------------------------------------------------------------------------- training: a character LM
BPC_THRESHOLD = 3.2     # a trigram count model reaches about 3.3 on this split, a bigram 3.7, unigram 4.9
EVAL_STREAMS, EVAL_STEPS = 16, 128


def _permuted_ids(text, table):
    return table[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]


def _char_lm(fn, rng):
    """Train on three plays, measure bits per character on windows of the fourth. The character ids are a
    fresh random permutation each run (nothing can be looked up), and the held-out text is fed one step at
    a time, so the model's prediction of a character can only depend on the characters before it."""
    from ...data.corpus import PLAYS, load_corpus

    check_callable(fn, "train_char_lm(train_ids, vocab_size, seed)")
    chars = sorted(set(load_corpus()))
    table = np.zeros(256, dtype=np.int64)
    table[[ord(c) for c in chars]] = rng.permutation(len(chars))
    train = _permuted_ids(load_corpus(PLAYS[:3]), table)
    held_out = _permuted_ids(load_corpus(PLAYS[3:]), table)
    predict = call_learner(fn, train, len(chars), int(rng.integers(2**31)), name="train_char_lm")
    check_callable(predict, "train_char_lm to return predict(x_t, state) -> (log_probs, state)")
    starts = rng.integers(0, len(held_out) - EVAL_STEPS - 1, size=EVAL_STREAMS)
    windows = np.stack([held_out[s:s + EVAL_STEPS + 1] for s in starts])
    state, nll = None, 0.0
    for t in range(EVAL_STEPS):
        got = call_learner(predict, windows[:, t].copy(), state, name="predict")
        if not isinstance(got, tuple) or len(got) != 2:
            raise Mismatch(f"predict(x_t, state) must return a tuple (log_probs, state); got {type_name(got)}")
        log_probs, state = got
        log_probs = np.asarray(log_probs.numpy() if hasattr(log_probs, "numpy") else log_probs, dtype=np.float64)
        if log_probs.shape != (EVAL_STREAMS, len(chars)):
            raise Mismatch(f"log_probs must be (batch, vocab_size) = ({EVAL_STREAMS}, {len(chars)}); "
                           f"got {log_probs.shape}")
        if not np.all(np.isfinite(log_probs)) or np.max(np.abs(np.logaddexp.reduce(log_probs, axis=1))) > 1e-3:
            raise Mismatch("log_probs must be finite log-probabilities: each row's exp must sum to 1 (log_softmax)")
        nll -= log_probs[np.arange(EVAL_STREAMS), windows[:, t + 1]].sum()
    bpc = nll / (EVAL_STREAMS * EVAL_STEPS) / np.log(2)
    if not bpc < BPC_THRESHOLD:
        raise Mismatch(f"held-out {bpc:.3f} bits per character; the task asks for less than {BPC_THRESHOLD} "
                       "(train longer or bigger, carry the hidden state between batches)")


CHAR_LM = Task(
    "train_char_lm", NOTEBOOK,
    "Write the training loop of a character language model (truncated BPTT, the state carried across "
    f"batches and detached); graded by held-out bits per character (< {BPC_THRESHOLD}).",
    (Test(f"held-out bits per character below {BPC_THRESHOLD}, predicting one step at a time", 6, _char_lm),),
    time_limit=240.0,
)


# ----------------------------------------------------------------------------- training: a sequence classifier
ACCURACY_THRESHOLD = 0.95   # no bag-of-words model can beat 0.787 on this grammar (data.sentiment)


def _encode_sentences(data, index):
    lengths = np.array([len(t) for t in data.tokens], dtype=np.int64)
    ids = np.zeros((len(data.tokens), int(lengths.max())), dtype=np.int64)
    for row, words in enumerate(data.tokens):
        ids[row, :len(words)] = [index[w] for w in words]
    return ids, lengths


def _classifier(fn, rng):
    """Train on 3000 sentences whose label depends on word order, measure accuracy on 1000 others. Word ids
    are a fresh random permutation each run (so no hand-written rule on known ids can stand in for training)."""
    from ...data.sentiment import NEGATIVE, POSITIVE, SUBJECTS, sentiment_sentences

    check_callable(fn, "train_classifier(ids, lengths, labels, vocab_size, seed)")
    words = sorted(set(SUBJECTS + POSITIVE + NEGATIVE + ("the", "was", "not", "but")))
    index = dict(zip(words, 1 + rng.permutation(len(words))))           # 0 is the padding id
    train = sentiment_sentences(3000, seed=int(rng.integers(2**31)))
    test = sentiment_sentences(1000, seed=int(rng.integers(2**31)))
    ids, lengths = _encode_sentences(train, index)
    predict = call_learner(fn, ids, lengths, train.labels.copy(), len(words) + 1, int(rng.integers(2**31)),
                           name="train_classifier")
    check_callable(predict, "train_classifier to return predict(ids, lengths) -> labels")
    test_ids, test_lengths = _encode_sentences(test, index)
    got = call_learner(predict, test_ids, test_lengths, name="predict")
    got = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
    if got.shape != (len(test.labels),) or got.dtype.kind not in "iub":
        raise Mismatch(f"predict must return ({len(test.labels)},) integer labels 0/1; got "
                       f"{type_name(got)} of shape {getattr(got, 'shape', '?')}")
    accuracy = float(np.mean(got == test.labels))
    if not accuracy >= ACCURACY_THRESHOLD:
        order = float(np.mean(got[test.kinds == 3] == test.labels[test.kinds == 3]))
        raise Mismatch(f"held-out accuracy {accuracy:.3f}; the task asks for at least {ACCURACY_THRESHOLD} "
                       f"(on 'A but B' with opposite verdicts: {order:.3f}; a bag of words gets 0.5 there)")


CLASSIFIER = Task(
    "train_classifier", NOTEBOOK,
    "Write the training loop of a many-to-one RNN classifier over padded sentences (lengths given); "
    f"graded by held-out accuracy (>= {ACCURACY_THRESHOLD}).",
    (Test(f"held-out accuracy at least {ACCURACY_THRESHOLD}", 5, _classifier),),
    time_limit=180.0,
)

TASKS = (SAMPLE, SAMPLE_SEQUENCE, CHAR_LM, CLASSIFIER)
