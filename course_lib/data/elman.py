"""The two small tasks of Elman (1990), "Finding Structure in Time", generated from a seed.

**Temporal XOR.** Two random bits are followed by their XOR, and such triples are concatenated
into one stream (Elman used 1000 triples, 3000 bits). A network reads the stream one bit at a
time and predicts the next bit. Only every third bit (the XOR of the two before it) can be
predicted; the two random bits cannot.

**Letter sequences.** The consonants b, d, g are drawn at random and each is replaced by a
fixed syllable, ``b -> ba``, ``d -> dii``, ``g -> guuu``; every letter is a 6-bit vector of
phonetic features (Elman's Table 1). Which consonant comes is unpredictable; the vowels that
follow it, and the fact that a consonant comes after them, are predictable.

Both are given as one long stream; :func:`next_step` turns a stream into (input, target) pairs.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "temporal_xor",
    "xor_phase",
    "next_step",
    "random_windows",
    "FEATURE_NAMES",
    "LETTER_FEATURES",
    "CONSONANT_RULES",
    "random_consonants",
    "expand_consonants",
    "letters_to_features",
    "elman_letters",
]

#: Elman's six phonetic features (Table 1 of Elman 1990), in column order.
FEATURE_NAMES = ("consonant", "vowel", "interrupted", "high", "back", "voiced")

#: Elman's 6-bit letter vectors (Table 1 of Elman 1990). All consonants share the
#: "consonant" bit but differ in "high"/"back", so which one comes is not predictable.
LETTER_FEATURES = {
    "b": (1, 0, 1, 0, 0, 1),
    "d": (1, 0, 1, 1, 0, 1),
    "g": (1, 0, 1, 0, 1, 1),
    "a": (0, 1, 0, 0, 1, 1),
    "i": (0, 1, 0, 1, 0, 1),
    "u": (0, 1, 0, 1, 1, 1),
}

#: How each consonant is expanded into a syllable.
CONSONANT_RULES = {"b": "ba", "d": "dii", "g": "guuu"}


def _check_count(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1; got {n}")
    return int(n)


def temporal_xor(n_triples: int = 1000, seed=0) -> np.ndarray:
    """Elman's temporal-XOR stream: ``n_triples`` triples ``(a, b, a XOR b)`` of random bits.

    Returns a float32 array of shape ``(3 * n_triples,)`` with values 0 and 1; the bit at
    position ``t`` with ``t % 3 == 2`` is the XOR of the two bits before it.
    """
    n_triples = _check_count(n_triples, "n_triples")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, size=(2, n_triples))
    return np.stack([a, b, a ^ b], axis=1).reshape(-1).astype(np.float32)


def xor_phase(n_steps: int, offset: int = 0) -> np.ndarray:
    """Position within its triple (0, 1 or 2) of stream element ``offset + t``, ``t < n_steps``.

    For next-step targets (``y[t] = stream[t + 1]``) use ``offset=1``: targets with phase 2 are
    the predictable XOR bits.
    """
    n_steps = _check_count(n_steps, "n_steps")
    return (np.arange(n_steps) + int(offset)) % 3


def next_step(stream):
    """Inputs and next-element targets of a stream: ``x = stream[:-1]``, ``y = stream[1:]``.

    ``stream``: ``(time,)`` or ``(time, features)``; returns two arrays of ``time - 1`` steps.
    """
    stream = np.asarray(stream)
    if stream.ndim not in (1, 2) or stream.shape[0] < 2:
        raise ValueError(f"stream must be (time,) or (time, features) with time >= 2; got {stream.shape}")
    return stream[:-1], stream[1:]


def random_windows(stream, n_windows: int, length: int, seed=None):
    """``n_windows`` random stretches of ``length`` (input, next-element target) steps from a stream.

    ``stream``: ``(time,)`` or ``(time, features)``. Returns ``(x, y)``, each float32
    ``(n_windows, length, features)`` (``features = 1`` for a 1-D stream), with ``y[:, t]`` the
    element after ``x[:, t]``. Windows start anywhere, so a model cannot assume it knows where a
    triple or a syllable begins. ``seed`` may be a ``np.random.Generator`` to draw fresh windows
    on every call.
    """
    n_windows, length = _check_count(n_windows, "n_windows"), _check_count(length, "length")
    x, y = next_step(stream)
    if length > len(x):
        raise ValueError(f"length must be <= {len(x)} (the stream has {len(x) + 1} elements); got {length}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x) - length + 1, size=n_windows)[:, None] + np.arange(length)
    as3d = (lambda a: a[..., None]) if x.ndim == 1 else (lambda a: a)
    return as3d(x[idx]).astype(np.float32), as3d(y[idx]).astype(np.float32)


def random_consonants(n_consonants: int = 1000, seed=0) -> str:
    """A string of ``n_consonants`` letters drawn uniformly from ``b``, ``d``, ``g``."""
    n_consonants = _check_count(n_consonants, "n_consonants")
    rng = np.random.default_rng(seed)
    return "".join(np.array(list("bdg"))[rng.integers(0, 3, size=n_consonants)])


def expand_consonants(consonants: str) -> str:
    """Replace every consonant by its syllable: ``"dbg" -> "diibaguuu"`` (:data:`CONSONANT_RULES`)."""
    if not isinstance(consonants, str):
        raise TypeError(f"consonants must be a str of b, d, g; got {type(consonants).__name__}")
    bad = sorted(set(consonants) - set(CONSONANT_RULES))
    if bad:
        raise ValueError(f"consonants must contain only 'b', 'd', 'g'; got {bad}")
    return "".join(CONSONANT_RULES[c] for c in consonants)


def letters_to_features(letters: str) -> np.ndarray:
    """Each letter as its 6-bit feature vector: ``(len(letters), 6)`` float32 (:data:`LETTER_FEATURES`)."""
    if not isinstance(letters, str):
        raise TypeError(f"letters must be a str; got {type(letters).__name__}")
    bad = sorted(set(letters) - set(LETTER_FEATURES))
    if bad:
        raise ValueError(f"letters must be among {''.join(LETTER_FEATURES)}; got {bad}")
    return np.array([LETTER_FEATURES[c] for c in letters], dtype=np.float32).reshape(-1, len(FEATURE_NAMES))


def elman_letters(n_consonants: int = 1000, seed=0) -> tuple[str, np.ndarray]:
    """Elman's letter stream: ``n_consonants`` random consonants, each expanded to its syllable.

    Returns ``(letters, features)``: the string (about ``3 * n_consonants`` letters, e.g.
    ``"diibaguuubadii..."``) and its ``(len(letters), 6)`` float32 feature vectors.
    """
    letters = expand_consonants(random_consonants(n_consonants, seed))
    return letters, letters_to_features(letters)
