"""Sentences with a sentiment that depends on word order, generated from a small grammar (book ch. 09).

The grammar (every choice uniform)::

    sentence := clause                          (probability 1 - p_but)
              | clause "but" clause             (probability p_but)
    clause   := subject "was" ["not"] adjective     ("not" with probability p_not)
    subject  := "the" (movie | plot | acting | music | ending | cast)
    adjective:= good | great | clever | fun | moving   (positive)
              | bad | dull | boring | awful | silly    (negative)

The label of a clause is its adjective's polarity, flipped by "not" (the scope of "not" is the adjective right
after it). The label of "A but B" is the label of B: "but" hands the verdict to the second clause. Two subjects
of one sentence differ.

So the label depends on order: "the plot was good but the acting was bad" is negative, "the acting was bad but
the plot was good" positive, with the same words. A model that sees only the bag of words cannot tell such a
pair apart; :func:`bag_of_words_ceiling` computes, exactly over the grammar, the best accuracy any function of
the bag can reach (for each bag, predict its more probable label).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from ..core.checks import positive_int

__all__ = ["SUBJECTS", "POSITIVE", "NEGATIVE", "KINDS", "SentimentData", "sentiment_sentences",
           "bag_of_words_ceiling"]

SUBJECTS = ("movie", "plot", "acting", "music", "ending", "cast")
POSITIVE = ("good", "great", "clever", "fun", "moving")
NEGATIVE = ("bad", "dull", "boring", "awful", "silly")
KINDS = ("one clause", "one clause, negated", "but: same verdicts", "but: opposite verdicts")


def _probability(p, name):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1]; got {p!r}")
    return float(p)


def _clause(subject, negated, adjective):
    words = ["the", subject, "was"] + (["not"] if negated else []) + [adjective]
    label = int(adjective in POSITIVE) ^ int(negated)
    return words, label


@dataclass
class SentimentData:
    """``tokens``: list of word lists; ``labels`` ``(n,)`` int64 (1 = positive); ``kinds`` ``(n,)`` int64,
    indices into :data:`KINDS`; ``bag_decides`` ``(n,)`` bool: True where the sentence's bag of words has
    only one possible label under the grammar, False where the same bag also occurs with the other label
    (so no bag-of-words model can be sure of it: the order-dependent sentences)."""
    tokens: list
    labels: np.ndarray
    kinds: np.ndarray
    bag_decides: np.ndarray

    def __len__(self):
        return len(self.tokens)


def sentiment_sentences(n, p_but=0.6, p_not=0.3, seed=0):
    """``n`` sentences from the grammar of the module docstring, deterministic per ``seed``."""
    n = positive_int(n, "n")
    p_but, p_not = _probability(p_but, "p_but"), _probability(p_not, "p_not")
    rng = np.random.default_rng(seed)
    adjectives = POSITIVE + NEGATIVE
    tokens, labels, kinds = [], [], []
    for _ in range(n):
        two = rng.random() < p_but
        subjects = rng.choice(len(SUBJECTS), size=2 if two else 1, replace=False)
        clauses = [_clause(SUBJECTS[s], bool(rng.random() < p_not), adjectives[rng.integers(len(adjectives))])
                   for s in subjects]
        if two:
            (w1, l1), (w2, l2) = clauses
            tokens.append(w1 + ["but"] + w2)
            labels.append(l2)
            kinds.append(2 if l1 == l2 else 3)
        else:
            words, label = clauses[0]
            tokens.append(words)
            labels.append(label)
            kinds.append(1 if "not" in words else 0)
    table = _bag_table(p_but, p_not)
    decides = np.array([min(table[tuple(sorted(t))][0]) == 0 for t in tokens])
    return SentimentData(tokens, np.array(labels, dtype=np.int64), np.array(kinds, dtype=np.int64), decides)


def _bag_table(p_but, p_not):
    """Every sentence of the grammar, grouped by bag: bag -> (probability of label 0 and 1 (2,),
    probability per (label, kind) (2, len(KINDS)))."""
    adjectives = POSITIVE + NEGATIVE
    clauses = []                                   # (subject, words, label, probability given the subject)
    for s, neg, a in product(SUBJECTS, (False, True), adjectives):
        words, label = _clause(s, neg, a)
        clauses.append((s, words, label, (p_not if neg else 1 - p_not) / len(adjectives)))
    table = {}

    def add(words, label, kind, prob):
        mass, per_kind = table.setdefault(tuple(sorted(words)), (np.zeros(2), np.zeros((2, len(KINDS)))))
        mass[label] += prob
        per_kind[label, kind] += prob

    for s, words, label, p in clauses:
        add(words, label, 1 if "not" in words else 0, (1 - p_but) * p / len(SUBJECTS))
    n_pairs = len(SUBJECTS) * (len(SUBJECTS) - 1)   # ordered pairs of distinct subjects
    for (s1, w1, l1, p1), (s2, w2, l2, p2) in product(clauses, clauses):
        if s1 != s2:
            add(w1 + ["but"] + w2, l2, 2 if l1 == l2 else 3, p_but * p1 * p2 / n_pairs)
    return table


def bag_of_words_ceiling(p_but=0.6, p_not=0.3):
    """The best accuracy any bag-of-words classifier can reach on :func:`sentiment_sentences`, exactly.

    Enumerates every sentence of the grammar with its probability, groups them by bag (the multiset of their
    words) and sums, over bags, the probability of the bag's more probable label. Returns a dict with the
    ceiling ``"overall"``, on each kind of :data:`KINDS`, on the sentences whose bag decides the label
    (``"bag decides"``, 1.0 by definition) and on the others (``"bag cannot decide"``), and the probability
    of the latter (``"share the bag cannot decide"``). A kind the settings never produce gets ``nan``.
    """
    p_but, p_not = _probability(p_but, "p_but"), _probability(p_not, "p_not")
    correct, total = np.zeros(len(KINDS)), np.zeros(len(KINDS))
    split = {True: np.zeros(2), False: np.zeros(2)}   # bag decides? -> (correct, total)
    for mass, per_kind in _bag_table(p_but, p_not).values():
        best = int(np.argmax(mass))
        total += per_kind.sum(0)
        correct += per_kind[best]
        split[bool(mass.min() == 0)] += (mass[best], mass.sum())
    out = {"overall": float(correct.sum() / total.sum())}
    ratio = lambda c, t: float(c / t) if t > 0 else float("nan")
    out.update({k: ratio(c, t) for k, c, t in zip(KINDS, correct, total)})
    out["bag decides"] = ratio(*split[True])
    out["bag cannot decide"] = ratio(*split[False])
    out["share the bag cannot decide"] = float(split[False][1] / total.sum())
    return out

