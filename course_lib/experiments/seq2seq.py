"""Chapter 09 (seq2seq): the written-dates translation task as tensors, and the measurements of the chapter.

- :class:`Translation`: vocabularies and padded batches for :func:`course_lib.data.date_pairs`
  (``batch(pairs) -> (src, src_lengths, tgt_in, tgt_out)``, teacher forcing's shifted targets).
- :func:`masked_loss`: the masked cross-entropy of eq. `eq-masked-ce` for a :class:`course_lib.nn.Seq2Seq`.
- :func:`decode`: greedy or beam-search translations of a list of pairs, with exact match and log-probability.
- :func:`accuracy_by_length`: exact-match accuracy in bins of source length (the shape of Bahdanau et al.'s
  figure 2).
- :func:`exposure_bias`: token accuracy with teacher forcing and free running, per position and after the first
  mistake.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.vocab import TokenVocab, pad_batch
from ..nn.beam import beam_search, greedy_decode

__all__ = ["Translation", "masked_loss", "Decodings", "decode", "accuracy_by_length", "ExposureBias",
           "exposure_bias"]


class Translation:
    """Vocabularies (``src_vocab``, ``tgt_vocab``: :class:`~course_lib.data.TokenVocab`) built on ``pairs``
    (a list of ``(source tokens, target tokens)``) and padded batches of any pairs."""

    def __init__(self, pairs):
        if not pairs:
            raise ValueError("Translation needs a non-empty list of (source, target) pairs")
        self.src_vocab = TokenVocab([s for s, _ in pairs])
        self.tgt_vocab = TokenVocab([t for _, t in pairs])

    def batch(self, pairs, device=None):
        """``(src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T))``: ``tgt_in`` = ``<bos>`` + target,
        ``tgt_out`` = target + ``<eos>``, both padded with ``<pad>`` (id 0)."""
        src, src_lengths = pad_batch([self.src_vocab.encode(s) for s, _ in pairs])
        tgt, _ = pad_batch([self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs])
        out = (src, src_lengths, tgt[:, :-1], tgt[:, 1:])
        return tuple(t.to(device) for t in out) if device is not None else out


def masked_loss(model, batch):
    """Mean cross-entropy over the real target tokens of a batch (padding ignored), eq. `eq-masked-ce`."""
    src, src_lengths, tgt_in, tgt_out = batch
    logits, _ = model(src, src_lengths, tgt_in)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=model.pad_id)


@dataclass
class Decodings:
    """What :func:`decode` returns, one entry per pair: ``outputs`` (token lists, without ``<eos>``),
    ``correct`` (bool (n,): exact match), ``log_prob`` (n,) the model's log-probability of its output
    (``<eos>`` included), ``src_lengths`` (n,), ``weights`` (greedy with attention: a list of (L, S) arrays)."""
    outputs: list
    correct: np.ndarray
    log_prob: np.ndarray
    src_lengths: np.ndarray
    weights: list | None = None

    @property
    def accuracy(self):
        return float(self.correct.mean())


@torch.no_grad()
def decode(model, task, pairs, beam_width=None, alpha=0.75, max_len=None, batch_size=500):
    """Translate ``pairs`` free-running: greedy (``beam_width=None``) or beam search. Returns :class:`Decodings`."""
    model.eval()
    device = next(model.parameters()).device
    bos, eos = task.tgt_vocab.bos_id, task.tgt_vocab.eos_id
    max_len = max_len or max(len(t) for _, t in pairs) + 5
    outputs, log_prob, src_len, weights = [], [], [], []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        src, lengths, _, _ = task.batch(chunk, device)
        state = model.encode(src, lengths)
        if beam_width is None:
            d = greedy_decode(model.step, state, len(chunk), bos, eos, max_len=max_len)
            if d.weights is not None:
                weights += [d.weights[b, :n, :s].cpu().numpy()
                            for b, (n, s) in enumerate(zip(d.lengths.tolist(), lengths.tolist()))]
        else:
            d = beam_search(model.step, state, len(chunk), bos, eos, beam_width=beam_width, max_len=max_len,
                            alpha=alpha)
        outputs += [task.tgt_vocab.decode(seq) for seq in d.sequences()]
        log_prob.append(d.log_prob.cpu().numpy())
        src_len.append(lengths.cpu().numpy())
    correct = np.array([out == t for out, (_, t) in zip(outputs, pairs)])
    return Decodings(outputs, correct, np.concatenate(log_prob), np.concatenate(src_len), weights or None)


def accuracy_by_length(decodings, edges):
    """Exact-match accuracy per source-length bin ``[edges[i], edges[i+1])``: list of ``(lo, hi, accuracy, n)``."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (decodings.src_lengths >= lo) & (decodings.src_lengths < hi)
        n = int(sel.sum())
        out.append((lo, hi, float(decodings.correct[sel].mean()) if n else float("nan"), n))
    return out


@dataclass
class ExposureBias:
    """What :func:`exposure_bias` measures on a set of pairs. Per target position (``<eos>`` included):
    ``teacher`` and ``free`` token accuracy (P,), ``counts`` (P,) the pairs long enough to have that position.
    After each pair's first free-running mistake: ``after_error_teacher`` and ``after_error_free``, the accuracy
    of the later tokens when the decoder reads the true prefix and when it reads its own, over ``after_error_n``
    tokens."""
    teacher: np.ndarray
    free: np.ndarray
    counts: np.ndarray
    after_error_teacher: float
    after_error_free: float
    after_error_n: int

    @property
    def teacher_accuracy(self):
        return float((self.teacher * self.counts).sum() / self.counts.sum())

    @property
    def free_accuracy(self):
        return float((self.free * self.counts).sum() / self.counts.sum())


@torch.no_grad()
def exposure_bias(model, task, pairs):
    """Token accuracy with teacher forcing against free running (greedy), per position and after a first mistake.

    Teacher forced: the decoder reads the true previous tokens and its most probable token is compared with the
    target. Free running: it reads its own previous outputs; position ``i`` of its output is compared with
    position ``i`` of the target (a missing token counts as wrong). Returns :class:`ExposureBias`.
    """
    model.eval()
    device = next(model.parameters()).device
    src, lengths, tgt_in, tgt_out = task.batch(pairs, device)
    logits, _ = model(src, lengths, tgt_in)
    real = tgt_out != task.tgt_vocab.pad_id
    tf = (logits.argmax(-1) == tgt_out) & real
    d = greedy_decode(model.step, model.encode(src, lengths), len(pairs), task.tgt_vocab.bos_id,
                      task.tgt_vocab.eos_id, max_len=tgt_out.shape[1])
    free = torch.zeros_like(tgt_out)
    free[:, : d.tokens.shape[1]] = d.tokens[:, : tgt_out.shape[1]]
    fr = (free == tgt_out) & real
    wrong = real & ~fr
    first = torch.where(wrong.any(1), wrong.float().argmax(1), torch.full_like(lengths, tgt_out.shape[1]))
    after = real & (torch.arange(tgt_out.shape[1], device=device)[None] > first[:, None])
    n_after = int(after.sum())
    counts = real.sum(0).cpu().numpy()
    return ExposureBias(tf.sum(0).cpu().numpy() / counts, fr.sum(0).cpu().numpy() / counts, counts,
                        float(tf[after].float().mean()) if n_after else float("nan"),
                        float(fr[after].float().mean()) if n_after else float("nan"), n_after)
