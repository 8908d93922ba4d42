"""Greedy decoding and beam search over any next-token model, written for reading (book ch. 09).

The model is a function ``step(prefix) -> log_probs``: ``prefix`` a tuple of token ids starting with ``bos``,
``log_probs`` a 1-D array over the vocabulary, the model's ``log p(next token | prefix)``. A hypothesis is a
prefix and its score, the sum of the log-probabilities of its tokens (eq. `eq-seq-logprob`).

Beam search (eq. `eq-length-norm`) keeps the ``beam_width`` best hypotheses:

1. extend every live hypothesis by every token (``score + log_probs[token]``);
2. keep the ``beam_width`` best extensions by score (ties: the earlier hypothesis, then the smaller token);
3. an extension that ends in ``eos`` is *finished*: it leaves the beam and is never extended again;
4. stop when no hypothesis is live, or after ``max_len`` tokens (live ones then count as finished);
5. return the finished hypothesis with the best **length-normalised** score ``score / length ** alpha``
   (``length`` = the tokens after ``bos``, ``eos`` included; ``alpha = 0``: the raw log-probability).

With ``beam_width = 1`` this is greedy decoding, token for token.
"""
from __future__ import annotations

import numpy as np

from ..core.checks import positive_int

__all__ = ["beam_search", "greedy_decode", "normalised_score"]


def normalised_score(score, length, alpha):
    """``score / length ** alpha``: the log-probability per token when ``alpha = 1``, raw when ``alpha = 0``."""
    return score / (length ** alpha)


def _log_probs(step, prefix):
    logp = np.asarray(step(prefix), dtype=np.float64)
    if logp.ndim != 1:
        raise ValueError(f"step(prefix) must return a 1-D array of log-probabilities; got shape {logp.shape}")
    return logp


def beam_search(step, bos, eos, beam_width=4, max_len=20, alpha=0.75):
    """Beam search (see the module docstring). Returns ``(tokens, score)``: ``tokens`` the best hypothesis
    after ``bos`` (a tuple of ids, ending with ``eos`` unless cut at ``max_len``), ``score`` its
    log-probability (not normalised)."""
    beam_width = positive_int(beam_width, "beam_width")
    max_len = positive_int(max_len, "max_len")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0; got {alpha!r}")
    live, finished = [((bos,), 0.0)], []
    for _ in range(max_len):
        candidates = []
        for prefix, score in live:
            logp = _log_probs(step, prefix)
            candidates += [(prefix + (tok,), score + float(logp[tok])) for tok in range(len(logp))]
        candidates.sort(key=lambda c: -c[1])                 # stable: ties keep the earlier hypothesis
        live = []
        for prefix, score in candidates[:beam_width]:
            (finished if prefix[-1] == eos else live).append((prefix, score))
        if not live:
            break
    pool = finished + live
    best = max(pool, key=lambda c: normalised_score(c[1], len(c[0]) - 1, alpha))
    return best[0][1:], best[1]


def greedy_decode(step, bos, eos, max_len=20):
    """Always take the most probable next token until ``eos`` or ``max_len`` tokens. Returns ``(tokens, score)``."""
    max_len = positive_int(max_len, "max_len")
    prefix, score = (bos,), 0.0
    for _ in range(max_len):
        logp = _log_probs(step, prefix)
        tok = int(np.argmax(logp))
        prefix, score = prefix + (tok,), score + float(logp[tok])
        if tok == eos:
            break
    return prefix[1:], score
