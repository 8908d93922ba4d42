"""A character corpus shipped with the package, a vocabulary, and batches for truncated BPTT.

The corpus is four public-domain Shakespeare plays (~460 KB; origin and licence in
``corpus/SOURCE``). :class:`Vocab` maps characters to ids and back; :func:`train_val_split` cuts
the id sequence in two contiguous parts; :func:`stream_batches` yields ``(x, y)`` batches in which
row ``b`` of batch ``k + 1`` continues row ``b`` of batch ``k``, so a language model can carry its
hidden state from one batch to the next (truncated BPTT, book chapter 03).
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import torch

__all__ = ["PLAYS", "load_corpus", "Vocab", "train_val_split", "stream_batches", "StreamBatches"]

PLAYS = ("macbeth", "julius_caesar", "romeo_and_juliet", "tempest")


def load_corpus(plays=PLAYS):
    """The text of the given plays (names from :data:`PLAYS`), joined by blank lines."""
    if isinstance(plays, str):
        plays = (plays,)
    unknown = [p for p in plays if p not in PLAYS]
    if unknown or not plays:
        raise ValueError(f"plays must be a non-empty selection of {PLAYS}; got {tuple(plays)!r}")
    root = resources.files("course_lib.data").joinpath("corpus")
    return "\n\n".join(root.joinpath(f"{p}.txt").read_text(encoding="ascii").strip() for p in plays) + "\n"


class Vocab:
    """Characters <-> integer ids. ``Vocab(text)`` takes the sorted set of characters of ``text``."""

    def __init__(self, text):
        if not isinstance(text, str) or not text:
            raise ValueError(f"Vocab needs a non-empty string; got {type(text).__name__} of length "
                             f"{len(text) if hasattr(text, '__len__') else '?'}")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"Vocab({len(self)} characters)"

    def encode(self, text):
        """``str`` -> 1-D int64 tensor of ids."""
        missing = sorted(set(text) - self.index.keys())
        if missing:
            raise ValueError(f"text has characters outside the vocabulary: {''.join(missing)!r}")
        return torch.tensor([self.index[c] for c in text], dtype=torch.int64)

    def decode(self, ids):
        """Ids (tensor, array or list) -> ``str``."""
        ids = torch.as_tensor(ids).reshape(-1).tolist()
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids must lie in [0, {len(self)}); got {bad[:5]}")
        return "".join(self.chars[i] for i in ids)


def train_val_split(ids, val_fraction=0.1):
    """Split a 1-D id sequence into contiguous ``(train, val)`` parts, the last ``val_fraction`` for validation."""
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (length,); got {tuple(ids.shape)}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction!r}")
    cut = int(round(len(ids) * (1 - val_fraction)))
    return ids[:cut], ids[cut:]


def stream_batches(ids, batch_size, seq_len, seed=None):
    """Batches ``(x, y)``, each ``(batch_size, seq_len)`` int64, with ``y`` = ``x`` shifted by one character.

    The sequence is cut into ``batch_size`` contiguous streams (one per row); batch ``k`` holds
    characters ``k * seq_len .. (k + 1) * seq_len`` of every stream, so row ``b`` of batch ``k + 1``
    continues row ``b`` of batch ``k``. ``seed`` (optional) starts at a random offset in
    ``[0, seq_len)`` so epochs see different cuts; ``None`` starts at 0. Deterministic per seed.
    """
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (length,); got {tuple(ids.shape)}")
    for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}")
    offset = 0 if seed is None else int(np.random.default_rng(seed).integers(0, seq_len))
    usable = (len(ids) - offset - 1) // batch_size          # characters per stream (targets need +1)
    n_batches = usable // seq_len
    if n_batches < 1:
        raise ValueError(f"ids of length {len(ids)} are too short for batch_size={batch_size}, "
                         f"seq_len={seq_len}: need at least {batch_size * seq_len + 1 + offset}")
    x_all = ids[offset: offset + batch_size * usable].view(batch_size, usable)
    y_all = ids[offset + 1: offset + 1 + batch_size * usable].view(batch_size, usable)
    return StreamBatches(x_all, y_all, seq_len, n_batches)


class StreamBatches:
    """What :func:`stream_batches` returns: re-iterable (one pass = one epoch), with ``len()``."""

    def __init__(self, x_all, y_all, seq_len, n_batches):
        self.x_all, self.y_all, self.seq_len, self.n_batches = x_all, y_all, seq_len, n_batches

    def __len__(self):
        return self.n_batches

    def __iter__(self):
        for k in range(self.n_batches):
            cols = slice(k * self.seq_len, (k + 1) * self.seq_len)
            yield self.x_all[:, cols], self.y_all[:, cols]
