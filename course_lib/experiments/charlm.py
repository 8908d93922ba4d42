"""Chapter 08 (a): a character-level language model on the shipped Shakespeare corpus.

A many-to-many network: at every step it reads one character and outputs logits for the next one
(book eq. `eq-lm-chain`).
Trained with truncated BPTT over contiguous streams (:func:`course_lib.data.stream_batches`): the
state is carried from one batch to the next and **detached** at the boundary (book chapter 03).

- :class:`CharLM`: embedding -> ``course_lib.nn.LSTM`` or ``GRU`` (batch first) -> linear read-out.
- :func:`unigram_bits`, :func:`bigram_bits`: count-based baselines, in bits per character on held-out text.
- :func:`bits_per_char`: a model's cross-entropy on a held-out stream, in bits per character.
- :func:`train_charlm`: the whole pipeline with :func:`course_lib.train.fit`; returns a :class:`CharLMRun`.
- :func:`sample_from_logits`: draw one index from ``softmax(logits / temperature)`` (0: argmax).
- :func:`sample`: generate text from a trained model, character by character.
- :func:`corpus_words`, :func:`real_word_fraction`: how many generated words are real ones.

Shapes are batch first: ids ``(batch, time)`` int64 -> logits ``(batch, time, vocab)``.
Bits per character = cross-entropy in nats / ln 2; perplexity = 2 ** bits per character.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn as cnn
from ..data.corpus import Vocab, load_corpus, stream_batches, train_val_split
from ..train import fit
from .tasks import unigram_bits_per_char

__all__ = ["CharLM", "detach_state", "unigram_bits", "bigram_bits", "bits_per_char", "CharLMRun",
           "train_charlm", "sample_from_logits", "sample", "real_word_fraction", "corpus_words"]

LN2 = math.log(2.0)
_WORD = re.compile(r"[a-z']+")
KINDS = {"lstm": cnn.LSTM, "gru": cnn.GRU}


class CharLM(torch.nn.Module):
    """Embedding ``(vocab, embed)`` -> ``course_lib.nn.LSTM``/``GRU`` ``(embed, hidden)`` -> ``Linear(hidden, vocab)``.

    ``forward(ids, state=None)``: ids ``(batch, time)`` int64 -> ``(logits (batch, time, vocab), state)``,
    where ``state`` is what the recurrent layer returns (LSTM: ``(h_n, c_n)``, GRU: ``h_n``, each
    ``(num_layers, batch, hidden)``) and may be passed back in to continue the same streams.
    The LSTM/GRU cells are book eqs. `eq-lstm-gates`-`eq-lstm-h` / `eq-gru-r`-`eq-gru-h`.
    """

    def __init__(self, vocab_size, hidden=128, embed=32, kind="gru", num_layers=1):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2; got {vocab_size!r}")
        self.vocab_size, self.kind = vocab_size, kind
        self.embed = torch.nn.Embedding(vocab_size, embed)
        self.rnn = KINDS[kind](embed, hidden, num_layers=num_layers, batch_first=True)
        self.out = torch.nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.int64:
            got = (f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__)
            raise ValueError(f"ids must be an int64 tensor (batch, time); got {got}")
        h, state = self.rnn(self.embed(ids), state)
        return self.out(h), state


def detach_state(state):
    """Cut the graph behind a carried state (a tensor or a tuple of tensors): the truncation of BPTT."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


unigram_bits = unigram_bits_per_char       # the context-free baseline, shared with chapter 06


def bigram_bits(train_ids, val_ids, vocab_size):
    """Cross-entropy (bits/char) on ``val_ids`` of p(next | current character) counted on ``train_ids``
    (add-one smoothing): a model with exactly one character of context. The first val character is skipped."""
    tr, va = torch.as_tensor(train_ids).cpu(), torch.as_tensor(val_ids).cpu()
    pairs = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    pairs.index_put_((tr[:-1], tr[1:]), torch.ones(len(tr) - 1, dtype=torch.float64), accumulate=True)
    p = (pairs + 1) / (pairs.sum(1, keepdim=True) + vocab_size)
    return float(-torch.log2(p[va[:-1], va[1:]]).mean())


@torch.no_grad()
def bits_per_char(model, ids, batch_size=16, seq_len=256):
    """A model's cross-entropy on the id stream ``ids`` in bits per character (book eq. `eq-bpc`).

    ``ids`` is cut into ``batch_size`` contiguous streams, read ``seq_len`` characters at a time with the
    state carried across (so every prediction after the first few sees a long context).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for x, y in stream_batches(ids, batch_size, seq_len):
        logits, state = model(x.to(device), state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1),
                                 reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count / LN2


@dataclass
class CharLMRun:
    """What :func:`train_charlm` returns: the trained ``model``, its ``vocab``, the ``train``/``val`` id
    streams, the baselines and final validation bits/char, and fit's ``history`` (its metric ``val_bpc``)."""
    model: CharLM
    vocab: Vocab
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    unigram_bpc: float
    bigram_bpc: float
    val_bpc: float
    history: object = None
    settings: dict = field(default_factory=dict)

    @property
    def perplexity(self):
        """Validation perplexity per character, 2 ** bits per character."""
        return 2.0 ** self.val_bpc


def train_charlm(text=None, *, kind="gru", hidden=128, embed=32, batch_size=32, seq_len=64, steps=1000,
                 lr=5e-3, clip=1.0, val_fraction=0.1, evals=6, val_batch_size=16, val_seq_len=256, seed=0,
                 device=None, progress=True):
    """Train a :class:`CharLM` on ``text`` (default: :func:`course_lib.data.load_corpus`) with truncated BPTT.

    Each epoch cuts the training ids into ``batch_size`` contiguous streams at a fresh random offset
    (:func:`course_lib.data.stream_batches`); batch ``k + 1`` continues batch ``k`` row by row, the state
    is carried across and detached (BPTT(seq_len, seq_len)), and restarts from zero each epoch.
    Validation bits/char (:func:`bits_per_char` on the last ``val_fraction`` of the text, read as
    ``val_batch_size`` streams of ``val_seq_len`` characters) is measured ``evals`` times.
    Returns a :class:`CharLMRun`.
    """
    text = load_corpus() if text is None else text
    vocab = Vocab(text)
    ids = vocab.encode(text)
    train_ids, val_ids = train_val_split(ids, val_fraction)
    torch.manual_seed(seed)
    model = CharLM(len(vocab), hidden=hidden, embed=embed, kind=kind)
    carry = {"state": None, "epoch": 0}

    def epoch_batches():                       # a new epoch: new cut, state from zero
        carry["state"], carry["epoch"] = None, carry["epoch"] + 1
        return stream_batches(train_ids, batch_size, seq_len, seed=seed * 1000 + carry["epoch"])

    def loss_fn(model, batch):
        x, y = batch
        logits, state = model(x, carry["state"])
        carry["state"] = detach_state(state)   # truncated BPTT: no gradient into the previous batch
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    history = fit(model, loss_fn, epoch_batches, lr=lr, steps=steps, clip=clip,
                  eval_fn=lambda m: {"val_bpc": bits_per_char(m, val_ids, val_batch_size, val_seq_len)},
                  eval_every=max(1, steps // evals), device=device, progress=progress, desc=f"char {kind}")
    settings = dict(kind=kind, hidden=hidden, embed=embed, batch_size=batch_size, seq_len=seq_len,
                    steps=steps, lr=lr, clip=clip, val_batch_size=val_batch_size, val_seq_len=val_seq_len, seed=seed)
    return CharLMRun(model, vocab, train_ids, val_ids, unigram_bits(train_ids, val_ids, len(vocab)),
                     bigram_bits(train_ids, val_ids, len(vocab)), history.metrics["val_bpc"][-1], history,
                     settings)


def sample_from_logits(logits, temperature, generator):
    """Draw the index of the next token from ``softmax(logits / temperature)`` (book eq. `eq-temperature`); an ``int``.

    ``logits``: 1-D ``(vocab,)`` tensor or array. ``temperature``: ``0`` gives greedy decoding
    (``argmax``); ``< 1`` sharpens the distribution, ``> 1`` flattens it. ``generator``: a
    ``numpy.random.Generator`` (drawn with ``generator.choice``, as in the exercise) or a CPU
    ``torch.Generator`` (``torch.multinomial``); all randomness comes from it. The maximum is
    subtracted before ``exp``, so logits of any size are safe.
    """
    if isinstance(logits, torch.Tensor):
        logits = logits.detach().to("cpu", torch.float64).numpy()
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0 or not np.all(np.isfinite(z)):
        raise ValueError(f"logits must be a finite 1-D (vocab,) array; got shape {z.shape}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0; got {temperature!r}")
    if not isinstance(generator, (np.random.Generator, torch.Generator)):
        raise TypeError(f"generator must be a numpy.random.Generator or torch.Generator; "
                        f"got {type(generator).__name__}")
    if temperature == 0:
        return int(np.argmax(z))
    z = z / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    if isinstance(generator, torch.Generator):
        return int(torch.multinomial(torch.from_numpy(p), 1, generator=generator))
    return int(generator.choice(len(p), p=p))


@torch.no_grad()
def sample(model, vocab, prompt, n, temperature=1.0, generator=None):
    """Generate ``n`` characters after ``prompt`` with a trained :class:`CharLM`; returns them (without the prompt).

    The prompt is read in one pass to set the state; then, ``n`` times, the last logits give the next
    character (:func:`sample_from_logits`), which is fed back in. ``generator`` defaults to
    ``numpy.random.default_rng(0)``, so a call is reproducible.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty string; got {prompt!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0; got {n!r}")
    generator = np.random.default_rng(0) if generator is None else generator
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(vocab.encode(prompt).unsqueeze(0).to(device))
    out = []
    for _ in range(n):
        k = sample_from_logits(logits[0, -1], temperature, generator)
        out.append(k)
        logits, state = model(torch.tensor([[k]], device=device), state)
    model.train(was_training)
    return vocab.decode(out)


def real_word_fraction(text, vocabulary):
    """Fraction of the words in ``text`` (runs of letters and apostrophes) that occur in ``vocabulary``
    (a set of words, e.g. :func:`corpus_words` of the training text); ``nan`` when ``text`` has no word.

    A crude measure of how word-like a sample is: 1.0 means every generated word is a real one.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return float("nan")
    return sum(w in vocabulary for w in words) / len(words)


def corpus_words(text):
    """The set of lower-cased words (runs of letters and apostrophes) of ``text``."""
    return set(_WORD.findall(text.lower()))
