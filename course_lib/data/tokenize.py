"""Three ways to cut text into tokens (book ch. 09): characters, words, and a learned subword vocabulary.

- :func:`char_tokens`: every character is a token (a tiny vocabulary, long sequences);
- :func:`word_tokens`: lower-cased words and single punctuation marks (short sequences, a large vocabulary
  with a long tail of rare words);
- :class:`BPE`: byte-pair encoding (Sennrich et al. 2016): start from characters and merge the most frequent
  adjacent pair, again and again; each merge adds one token. Frequent words end up as one token, rare words are
  spelt from pieces, and no word is ever unknown. ``BPE.learn(text, n_merges)`` learns the merges,
  ``encode(text)`` applies them. A word's last piece carries the end-of-word marker ``</w>``, so
  ``decode`` can put the spaces back.
"""
from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict

from ..core.checks import positive_int

__all__ = ["char_tokens", "word_tokens", "BPE", "END_OF_WORD"]

END_OF_WORD = "</w>"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[^\sa-z]")


def _text(text, name="text"):
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str; got {type(text).__name__}")
    return text


def char_tokens(text):
    """Every character (spaces and newlines included) is a token."""
    return list(_text(text))


def word_tokens(text):
    """Lower-cased words (an apostrophe inside a word is kept: ``"o'er"``) and single punctuation marks."""
    return _WORD.findall(_text(text).lower())


class BPE:
    """Byte-pair encoding learned on a text (Sennrich et al. 2016, their Algorithm 1).

    Words come from :func:`word_tokens`; each starts as its characters plus ``</w>`` on the last one. Learning
    counts every adjacent pair of symbols over all words (weighted by the word's frequency), merges the most
    frequent pair (ties broken alphabetically, so the result is deterministic) into one new symbol, and repeats
    ``n_merges`` times. ``merges`` is the list of merged pairs in order, ``symbols`` the vocabulary (the
    characters, with and without ``</w>``, plus one symbol per merge).
    """

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self._cache = {}

    @classmethod
    def learn(cls, text, n_merges):
        n_merges = positive_int(n_merges, "n_merges")
        words = Counter(word_tokens(text))
        if not words:
            raise ValueError("BPE.learn needs a text with at least one word")
        spelt = [list(w[:-1]) + [w[-1] + END_OF_WORD] for w in words]
        freq = list(words.values())
        pairs = Counter()                       # pair -> weighted count
        where = defaultdict(set)                # pair -> indices of the words holding it
        for i, sym in enumerate(spelt):
            for pair in zip(sym, sym[1:]):
                pairs[pair] += freq[i]
                where[pair].add(i)
        heap = [(-c, p) for p, c in pairs.items()]   # (-count, pair); stale entries are skipped
        heapq.heapify(heap)
        merges = []
        while len(merges) < n_merges and heap:
            neg, best = heapq.heappop(heap)
            if pairs.get(best, 0) != -neg:                # an old count: the pair changed since
                continue
            if -neg < 1:
                break
            merges.append(best)
            new = best[0] + best[1]
            touched = set()
            for i in list(where[best]):
                sym = spelt[i]
                for pair in zip(sym, sym[1:]):          # remove this word's old pairs ...
                    pairs[pair] -= freq[i]
                    where[pair].discard(i)
                    touched.add(pair)
                out, j = [], 0
                while j < len(sym):
                    if j + 1 < len(sym) and (sym[j], sym[j + 1]) == best:
                        out.append(new)
                        j += 2
                    else:
                        out.append(sym[j])
                        j += 1
                spelt[i] = out
                for pair in zip(out, out[1:]):          # ... and add its new ones
                    pairs[pair] += freq[i]
                    where[pair].add(i)
                    touched.add(pair)
            for pair in touched:
                if pairs[pair] > 0:
                    heapq.heappush(heap, (-pairs[pair], pair))
                else:
                    del pairs[pair]
        bpe = cls(merges)
        chars = {c for w in words for c in w[:-1]} | {w[-1] + END_OF_WORD for w in words}
        bpe.symbols = sorted(chars) + [a + b for a, b in merges]
        return bpe

    def encode_word(self, word):
        """One word -> its pieces, applying the learned merges in the order they were learned."""
        if word in self._cache:
            return self._cache[word]
        sym = list(word[:-1]) + [word[-1] + END_OF_WORD]
        while len(sym) > 1:
            ranked = [(self.ranks.get(p, len(self.ranks)), k) for k, p in enumerate(zip(sym, sym[1:]))]
            rank, k = min(ranked)
            if rank == len(self.ranks):
                break
            sym = sym[:k] + [sym[k] + sym[k + 1]] + sym[k + 2:]
        self._cache[word] = sym
        return sym

    def encode(self, text):
        """A text -> its subword tokens (the words of :func:`word_tokens`, each cut into pieces)."""
        return [piece for w in word_tokens(text) for piece in self.encode_word(w)]

    @staticmethod
    def decode(pieces):
        """Pieces -> text: join them and turn each ``</w>`` into a space."""
        return "".join(pieces).replace(END_OF_WORD, " ").strip()
