"""A token vocabulary with the four special tokens of every text pipeline, and padded batches with masks.

``TokenVocab(tokens)`` maps tokens (words, subwords, characters: any hashable strings) to ids and back.
Ids 0-3 are reserved (book ch. 09, "The text pipeline"):

- ``<pad>`` (0) fills the end of the shorter sequences of a batch; the loss and attention ignore it (a mask);
- ``<bos>`` (1) starts a sequence the decoder writes (its first input);
- ``<eos>`` (2) ends one (the decoder writes it to say "done");
- ``<unk>`` (3) stands for any token not in the vocabulary.

:func:`pad_batch` turns a list of id sequences into a ``(batch, time)`` tensor plus ``lengths``;
:func:`length_mask` gives the boolean ``(batch, time)`` mask, True on real tokens.
"""
from __future__ import annotations

from collections import Counter

import torch

from ..core.checks import positive_int

__all__ = ["PAD", "BOS", "EOS", "UNK", "SPECIALS", "TokenVocab", "pad_batch", "length_mask"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


class TokenVocab:
    """Tokens <-> ids, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3 first.

    ``tokens``: an iterable of tokens, or of token sequences (lists/tuples), to count. Tokens seen at least
    ``min_freq`` times get an id, most frequent first (ties alphabetically), so the vocabulary does not
    depend on the order of the data. ``max_size`` caps the number of ids (specials included).
    """

    def __init__(self, tokens, min_freq=1, max_size=None):
        counts = Counter()
        for item in tokens:
            if isinstance(item, str):
                counts[item] += 1
            elif isinstance(item, (list, tuple)):
                counts.update(item)
            else:
                raise TypeError(f"TokenVocab counts tokens (str) or sequences of tokens (list/tuple); "
                                f"got an item of type {type(item).__name__}")
        min_freq = positive_int(min_freq, "min_freq")
        if max_size is not None:
            max_size = positive_int(max_size, "max_size", minimum=len(SPECIALS) + 1)
        bad = [s for s in SPECIALS if s in counts]
        if bad:
            raise ValueError(f"the data contains the reserved token(s) {bad}; rename them before building a vocabulary")
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        self.itos = list(SPECIALS) + kept
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.counts = counts
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = range(4)

    def __len__(self):
        return len(self.itos)

    def __repr__(self):
        return f"TokenVocab({len(self)} tokens, 4 of them special)"

    def __contains__(self, token):
        return token in self.stoi

    def encode(self, tokens, bos=False, eos=False):
        """A token sequence -> list of ids; unknown tokens become ``<unk>``; optional ``<bos>``/``<eos>``."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a sequence of tokens (list of str), not a str; tokenize it first")
        ids = [self.stoi.get(t, self.unk_id) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids, strip=True):
        """Ids -> list of tokens. ``strip``: drop ``<bos>``/``<pad>`` and stop at the first ``<eos>``."""
        ids = torch.as_tensor(ids).reshape(-1).tolist()
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids must lie in [0, {len(self)}); got {bad[:5]}")
        out = []
        for i in ids:
            if strip and i == self.eos_id:
                break
            if strip and i in (self.pad_id, self.bos_id):
                continue
            out.append(self.itos[i])
        return out


def pad_batch(seqs, pad_id=0, length=None):
    """A list of id sequences -> ``(ids, lengths)``: ``ids`` ``(batch, time)`` int64 padded with ``pad_id``
    after each sequence's end, ``lengths`` ``(batch,)`` int64. ``time`` = the longest length, or ``length``."""
    seqs = [list(s) for s in seqs]
    if not seqs:
        raise ValueError("pad_batch needs at least one sequence; got an empty list")
    lengths = [len(s) for s in seqs]
    if min(lengths) < 1:
        raise ValueError(f"every sequence needs at least one token; got lengths {sorted(set(lengths))[:5]}")
    time = max(lengths) if length is None else positive_int(length, "length")
    if time < max(lengths):
        raise ValueError(f"length={time} is shorter than the longest sequence ({max(lengths)} tokens)")
    ids = torch.full((len(seqs), time), pad_id, dtype=torch.int64)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s, dtype=torch.int64)
    return ids, torch.tensor(lengths, dtype=torch.int64)


def length_mask(lengths, time=None):
    """Boolean ``(batch, time)`` mask, True where ``t < lengths[b]`` (a real token), False on padding."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (batch,); got shape {tuple(lengths.shape)}")
    time = int(lengths.max()) if time is None else int(time)
    return torch.arange(time, device=lengths.device)[None, :] < lengths[:, None]
