"""The text pipeline of ch. 09: tokenizers, BPE, the vocabulary with specials, padding, the sentiment grammar
and its bag-of-words ceiling, and the written-dates translation task."""
import datetime as dt
import re

import numpy as np
import pytest

from course_lib import data
from course_lib.data import dates, sentiment


def test_char_and_word_tokens():
    assert data.char_tokens("ab c") == ["a", "b", " ", "c"]
    assert data.word_tokens("O'er the Sea, my LORD!") == ["o'er", "the", "sea", ",", "my", "lord", "!"]
    with pytest.raises(TypeError, match="text must be a str; got list"):
        data.word_tokens(["a"])


def test_bpe_merges_the_most_frequent_pair_first_and_round_trips():
    text = "low low low low lower lower newest newest newest widest"
    bpe = data.BPE.learn(text, 5)
    # counted by hand: l-o 6 (low x4, lower x2), w-e 5 (lower x2, newest x3), then lo-w</w> 4 and s-t</w> 4
    # (newest x3, widest): a tie, broken alphabetically
    assert bpe.merges[:4] == [("l", "o"), ("w", "e"), ("lo", "w</w>"), ("s", "t</w>")]
    assert len(bpe.symbols) == len(set(bpe.symbols))
    for sentence in ("lowest widest low", "newer slower"):   # unseen words are spelt from pieces, never unknown
        pieces = bpe.encode(sentence)
        assert data.BPE.decode(pieces) == sentence
    assert bpe.encode("low") == ["low</w>"]


def test_bpe_on_the_corpus_trades_vocabulary_for_length():
    text = data.load_corpus("macbeth")
    words = data.word_tokens(text)
    bpe_small, bpe_big = data.BPE.learn(text, 100), data.BPE.learn(text, 1000)
    n_small, n_big = len(bpe_small.encode(text)), len(bpe_big.encode(text))
    assert len(words) < n_big < n_small < len(text)
    assert len(bpe_small.symbols) < len(bpe_big.symbols) < len(set(words))


def test_token_vocab_specials_order_and_unknowns():
    v = data.TokenVocab([["b", "a", "b"], ["c", "b", "a"]])
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert v.itos[4:] == ["b", "a", "c"]                      # by frequency, ties alphabetical
    assert v.encode(["a", "zzz"], bos=True, eos=True) == [1, 5, 3, 2]
    assert v.decode([1, 5, 4, 2, 6, 0]) == ["a", "b"]          # stops at <eos>
    assert v.decode([1, 5, 2, 0], strip=False) == ["<bos>", "a", "<eos>", "<pad>"]
    assert len(data.TokenVocab(["a", "a", "b"], min_freq=2)) == 5
    with pytest.raises(ValueError, match="reserved token"):
        data.TokenVocab([["<pad>", "a"]])
    with pytest.raises(TypeError, match="not a str; tokenize it first"):
        v.encode("ab")


def test_pad_batch_and_length_mask():
    ids, lengths = data.pad_batch([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    assert data.length_mask(lengths).tolist() == [[True, True, True], [True, False, False]]
    with pytest.raises(ValueError, match="shorter than the longest sequence"):
        data.pad_batch([[1, 2, 3]], length=2)
    with pytest.raises(ValueError, match="at least one token"):
        data.pad_batch([[1], []])


def _label_by_rule(words):
    """An independent reading of the grammar: the verdict of the clause after the last 'but'."""
    clause = " ".join(words).split(" but ")[-1].split()
    positive = clause[-1] in sentiment.POSITIVE
    return int(positive != ("not" in clause))


def test_sentiment_labels_follow_the_grammar_and_generation_is_seeded():
    d = data.sentiment_sentences(3000, seed=3)
    assert [_label_by_rule(t) for t in d.tokens] == d.labels.tolist()
    again = data.sentiment_sentences(3000, seed=3)
    assert again.tokens == d.tokens and data.sentiment_sentences(30, seed=4).tokens != d.tokens[:30]
    two = np.array(["but" in t for t in d.tokens])
    assert abs(two.mean() - 0.6) < 0.03
    # every order-dependent sentence's swap has the same bag and the other label
    for t, label, kind in zip(d.tokens[:200], d.labels[:200], d.kinds[:200]):
        if sentiment.KINDS[kind] == "but: opposite verdicts":
            i = t.index("but")
            swapped = t[i + 1:] + ["but"] + t[:i]
            assert sorted(swapped) == sorted(t) and _label_by_rule(swapped) != label
    assert not d.bag_decides[d.kinds == 3].any() and d.bag_decides[d.kinds < 2].all()


@pytest.mark.parametrize("p_but,p_not", [(0.6, 0.3), (0.5, 0.0), (1.0, 0.5)])
def test_the_bag_of_words_ceiling(p_but, p_not):
    c = data.bag_of_words_ceiling(p_but, p_not)
    assert c["but: opposite verdicts"] == pytest.approx(0.5)       # a sentence and its swap: one bag, two labels
    assert c["bag cannot decide"] == pytest.approx(0.5)
    assert c["overall"] == pytest.approx(1 - c["share the bag cannot decide"] / 2)
    if p_but < 1:
        assert c["one clause"] == 1.0
        assert c["one clause, negated"] == 1.0 or (p_not == 0 and np.isnan(c["one clause, negated"]))
    if p_not == 0.0:                      # without negation only the opposite-verdict half of 'but' is lost
        assert c["overall"] == pytest.approx(1 - p_but / 4)
        assert c["but: same verdicts"] == 1.0
    else:                                 # with it, 'A was not good but B was bad' shares a bag with a positive one
        assert c["but: same verdicts"] < 1.0
    d = data.sentiment_sentences(20000, p_but=p_but, p_not=p_not, seed=0)   # the exact share agrees with sampling
    assert abs((~d.bag_decides).mean() - c["share the bag cannot decide"]) < 0.015


def test_the_ceiling_is_nan_for_kinds_that_cannot_occur():
    c = data.bag_of_words_ceiling(0.0, 0.3)
    assert c["overall"] == 1.0 and np.isnan(c["but: same verdicts"])


def test_dates_are_real_dates_and_the_targets_are_their_iso_form():
    pairs = data.date_pairs(400, 1, 3, seed=5)
    ordinal = {w: i + 1 for i, w in enumerate(dates.ORDINALS)}
    for src, tgt in pairs:
        parts = " ".join(src).split(" and ")
        isos = "".join(tgt).split(";")
        assert len(parts) == len(isos)
        for words, iso in zip(parts, isos):
            m = re.fullmatch(r"the (.+) of (\w+) (\d) (\d) (\d) (\d)|(\w+) the (.+) (\d) (\d) (\d) (\d)", words)
            assert m, words
            if m.group(1):
                day, month, year = m.group(1), m.group(2), "".join(m.group(3, 4, 5, 6))
            else:
                day, month, year = m.group(8), m.group(7), "".join(m.group(9, 10, 11, 12))
            date = dt.date(int(year), dates.MONTHS.index(month) + 1, ordinal[day])
            assert date.isoformat() == iso and 1900 <= date.year <= 2099
    counts = [1 + "".join(t).count(";") for _, t in pairs]
    assert set(counts) == {1, 2, 3}
    assert data.date_pairs(5, seed=1) == data.date_pairs(5, seed=1) != data.date_pairs(5, seed=2)


def test_date_words_and_errors():
    assert dates.ordinal_words(21) == ["twenty", "first"] and dates.ordinal_words(30) == ["thirtieth"]
    assert data.date_words(dt.date(1999, 3, 3)) == ["the", "third", "of", "march", "1", "9", "9", "9"]
    assert data.date_words(dt.date(2001, 6, 21), 1) == ["june", "the", "twenty", "first", "2", "0", "0", "1"]
    with pytest.raises(ValueError, match=r"day must be an int in \[1, 31\]; got 32"):
        dates.ordinal_words(32)
    with pytest.raises(ValueError, match="max_dates must be >= min_dates = 3; got 2"):
        data.date_pairs(3, min_dates=3, max_dates=2)
    with pytest.raises(ValueError, match="p_but must be a probability"):
        data.sentiment_sentences(3, p_but=1.5)
