"""Chapter 09 (seq2seq), sentiment: a bag-of-words model against a GRU on sentences whose label depends on order.

- :func:`tensors`: a :class:`course_lib.data.sentiment.SentimentData` as padded ids, lengths and labels.
- :class:`BagOfWords`: the mean of the word embeddings (order thrown away) through a small MLP; its input is
  the bag, so its accuracy is bounded by :func:`course_lib.data.bag_of_words_ceiling`.
- :class:`GRUClassifier`: word embeddings read in order by a :class:`course_lib.nn.GRU` (many-to-one, with
  ``lengths=``), a linear read-out of the last state.
- :func:`train_classifier` trains either with :func:`course_lib.train.fit`; :func:`accuracy` scores it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import nn as cnn
from ..data.vocab import length_mask, pad_batch
from ..train import fit

__all__ = ["tensors", "BagOfWords", "GRUClassifier", "train_classifier", "accuracy"]


def tensors(data, vocab):
    """``(ids (n, T) int64 padded with <pad>, lengths (n,), labels (n,))``."""
    ids, lengths = pad_batch([vocab.encode(t) for t in data.tokens], pad_id=vocab.pad_id)
    return ids, lengths, torch.as_tensor(data.labels)


class BagOfWords(nn.Module):
    """Mean of the embeddings of the real tokens -> ``Linear -> ReLU -> Linear(2)``. ``forward(ids, lengths)``.

    Any permutation of a sentence's words gives the same output: the model sees only the bag.
    """

    def __init__(self, vocab_size, embed_size=16, hidden=32, pad_id=0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.mlp = nn.Sequential(nn.Linear(embed_size, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, ids, lengths):
        mask = length_mask(lengths, ids.shape[1]).to(self.embed.weight.dtype)      # (B, T)
        mean = (self.embed(ids) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.mlp(mean)


class GRUClassifier(nn.Module):
    """Embedding -> :class:`course_lib.nn.GRU` (stops at each sentence's length) -> ``Linear(hidden, 2)``."""

    def __init__(self, vocab_size, embed_size=16, hidden=32, pad_id=0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = cnn.GRU(embed_size, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2)

    def forward(self, ids, lengths):
        _, h_n = self.rnn(self.embed(ids), lengths=lengths)
        return self.out(h_n[-1])


def train_classifier(model, ids, lengths, labels, steps=400, batch_size=64, lr=1e-2, seed=0, device=None):
    """Adam on the cross-entropy, minibatches drawn with a seeded generator; returns :func:`fit`'s History."""
    g = torch.Generator().manual_seed(seed)

    def batches():
        perm = torch.randperm(len(ids), generator=g)
        return [(ids[perm[i:i + batch_size]], lengths[perm[i:i + batch_size]], labels[perm[i:i + batch_size]])
                for i in range(0, len(ids) - batch_size + 1, batch_size)]

    def loss_fn(m, batch):
        x, n, y = batch
        return F.cross_entropy(m(x, n), y)

    return fit(model, loss_fn, batches, lr=lr, steps=steps, clip=1.0, device=device, progress=False,
               desc=type(model).__name__)


@torch.no_grad()
def accuracy(model, ids, lengths, labels):
    """``(mean accuracy, correct (n,) bool tensor)``."""
    model.eval()
    dev = next(model.parameters()).device
    correct = (model(ids.to(dev), lengths.to(dev)).argmax(1).cpu() == labels)
    return float(correct.float().mean()), correct
