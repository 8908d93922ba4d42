"""Sequence data generated from a seed, and the two small data files shipped with the package.

- :mod:`.tasks`: adding problem, copy memory (+ its baseline), future-context tagging,
  frequency classification.
- :mod:`.series`: noisy sine, Mackey–Glass, the yearly sunspot numbers, :func:`make_windows`.
- :mod:`.corpus`: Shakespeare character corpus, :class:`Vocab`, :func:`train_val_split`,
  :func:`stream_batches` (contiguous streams for truncated BPTT).
- :mod:`.echo`: the delayed echo (ch. 01, 03).
- :mod:`.elman`: Elman's temporal XOR and letter sequences.
- :mod:`.tokenize`: characters, words and byte-pair encoding (:class:`BPE`); :mod:`.vocab`: :class:`TokenVocab`
  with ``<pad> <bos> <eos> <unk>``, :func:`pad_batch`, :func:`length_mask`.
- :mod:`.sentiment`: sentences whose sentiment depends on word order, :func:`bag_of_words_ceiling`.
- :mod:`.dates`: written dates -> ISO dates, a translation task with reordering (:func:`date_pairs`).

Nothing here downloads anything.
"""
from .echo import delayed_echo
from .corpus import PLAYS, StreamBatches, Vocab, load_corpus, stream_batches, train_val_split
from .series import mackey_glass, make_windows, noisy_sine, sunspots
from .tasks import adding_problem, copy_memory, copy_memory_baseline, frequency_classification, future_tagging
from .tokenize import BPE, char_tokens, word_tokens
from .vocab import BOS, EOS, PAD, SPECIALS, UNK, TokenVocab, length_mask, pad_batch
from .sentiment import KINDS as SENTIMENT_KINDS, bag_of_words_ceiling, sentiment_sentences
from .dates import date_pairs, date_words
from . import elman
from .elman import *  # noqa: F403 -- elman.__all__: the temporal XOR and letter-sequence generators

__all__ = [
    "delayed_echo",
    "PLAYS", "StreamBatches", "Vocab", "load_corpus", "stream_batches", "train_val_split",
    "mackey_glass", "make_windows", "noisy_sine", "sunspots",
    "adding_problem", "copy_memory", "copy_memory_baseline", "frequency_classification", "future_tagging",
    "BPE", "char_tokens", "word_tokens",
    "BOS", "EOS", "PAD", "SPECIALS", "UNK", "TokenVocab", "length_mask", "pad_batch",
    "SENTIMENT_KINDS", "bag_of_words_ceiling", "sentiment_sentences",
    "date_pairs", "date_words",
    "elman",
    *elman.__all__,
]
