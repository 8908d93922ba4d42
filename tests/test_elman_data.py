"""course_lib.data.elman: temporal XOR stream and Elman's letter-sequence task."""
import re

import numpy as np
import pytest

from course_lib.data.elman import (
    CONSONANT_RULES,
    FEATURE_NAMES,
    LETTER_FEATURES,
    elman_letters,
    expand_consonants,
    letters_to_features,
    next_step,
    random_consonants,
    random_windows,
    temporal_xor,
    xor_phase,
)


def test_every_third_bit_is_xor_of_previous_two():
    s = temporal_xor(500, seed=3)
    assert s.shape == (1500,) and s.dtype == np.float32
    assert set(np.unique(s)) == {0.0, 1.0}
    t = s.reshape(-1, 3).astype(int)
    np.testing.assert_array_equal(t[:, 2], t[:, 0] ^ t[:, 1])


def test_random_bits_are_balanced_and_not_predictable():
    t = temporal_xor(4000, seed=0).reshape(-1, 3)
    assert abs(t[:, 0].mean() - 0.5) < 0.03 and abs(t[:, 1].mean() - 0.5) < 0.03
    # the first bit of a triple does not follow from the triple before it
    agree = (t[1:, 0] == (t[:-1, 0].astype(int) ^ t[:-1, 1].astype(int))).mean()
    assert abs(agree - 0.5) < 0.03


def test_next_step_and_phase_line_up():
    s = temporal_xor(10, seed=1)
    x, y = next_step(s)
    np.testing.assert_array_equal(x[1:], y[:-1])
    assert len(x) == len(y) == 29
    phase = xor_phase(len(y), offset=1)
    xor_targets = y[phase == 2]
    np.testing.assert_array_equal(xor_targets, s[2::3])
    with pytest.raises(ValueError, match=r"stream must be \(time,\) or \(time, features\)"):
        next_step(np.zeros((2, 3, 4)))


def test_random_windows_are_next_step_stretches_of_the_stream():
    s = temporal_xor(50, seed=0)
    x, y = random_windows(s, 16, 9, seed=3)
    assert x.shape == y.shape == (16, 9, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    text = "".join(str(int(b)) for b in s)
    for row_x, row_y in zip(x[..., 0], y[..., 0]):
        window = "".join(str(int(b)) for b in np.r_[row_x, row_y[-1]])
        assert window in text
    np.testing.assert_array_equal(x, random_windows(s, 16, 9, seed=3)[0])
    _, feats = elman_letters(40, seed=0)
    xl, yl = random_windows(feats, 4, 12, seed=np.random.default_rng(0))
    assert xl.shape == (4, 12, 6)
    with pytest.raises(ValueError, match=r"length must be <= 149 \(the stream has 150 elements\); got 150"):
        random_windows(s, 1, 150)


def test_letter_expansion():
    assert expand_consonants("dbg") == "diibaguuu"
    assert expand_consonants("") == ""
    assert CONSONANT_RULES == {"b": "ba", "d": "dii", "g": "guuu"}
    cons = random_consonants(300, seed=2)
    letters, feats = elman_letters(300, seed=2)
    assert letters == expand_consonants(cons)
    # parse it back: every syllable is one consonant and its own vowels
    syllables = re.findall(r"ba|dii|guuu", letters)
    assert "".join(syllables) == letters and len(syllables) == 300
    assert "".join(s[0] for s in syllables) == cons
    assert feats.shape == (len(letters), 6) and feats.dtype == np.float32
    assert set(cons) == {"b", "d", "g"}


def test_letter_features_follow_elmans_table():
    assert FEATURE_NAMES == ("consonant", "vowel", "interrupted", "high", "back", "voiced")
    f = letters_to_features("bdgaiu")
    np.testing.assert_array_equal(f[:, 0], [1, 1, 1, 0, 0, 0])  # consonant bit
    np.testing.assert_array_equal(f[:, 1], 1 - f[:, 0])  # vowel bit is its complement
    assert len({tuple(v) for v in LETTER_FEATURES.values()}) == 6  # all letters distinct
    # consonants differ in "high"/"back", which is why the next consonant is not predictable
    assert len({tuple(f[k, 3:5]) for k in range(3)}) == 3


def test_generators_are_deterministic_per_seed():
    np.testing.assert_array_equal(temporal_xor(100, seed=4), temporal_xor(100, seed=4))
    assert not np.array_equal(temporal_xor(100, seed=4), temporal_xor(100, seed=5))
    assert elman_letters(100, seed=4)[0] == elman_letters(100, seed=4)[0]
    assert elman_letters(100, seed=4)[0] != elman_letters(100, seed=5)[0]


@pytest.mark.parametrize("call, exc, match", [
    (lambda: temporal_xor(0), ValueError, r"n_triples must be >= 1; got 0"),
    (lambda: temporal_xor(2.0), TypeError, r"n_triples must be an int; got float"),
    (lambda: expand_consonants("bxd"), ValueError, r"only 'b', 'd', 'g'; got \['x'\]"),
    (lambda: expand_consonants(["b"]), TypeError, r"consonants must be a str"),
    (lambda: letters_to_features("bz"), ValueError, r"letters must be among bdgaiu; got \['z'\]"),
    (lambda: random_consonants(-1), ValueError, r"n_consonants must be >= 1"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
