"""Greedy decoding and beam search for a batch, on any model with a ``step`` (book ch. 09).

The model is a function ``step(tokens, state) -> (log_probs, state)``: ``tokens`` ``(N,)`` the previous token of
each of ``N`` hypotheses, ``state`` a dict of tensors whose first dimension is ``N`` (e.g.
:meth:`course_lib.nn.Seq2Seq.step` with the state of :meth:`~course_lib.nn.Seq2Seq.encode`), ``log_probs``
``(N, vocab)``. :func:`beam_search` runs the algorithm of :mod:`course_lib.ref.beam` (the readable one-sequence
version, with which it agrees hypothesis for hypothesis) on ``batch * beam_width`` hypotheses at once:
finished hypotheses leave the beam, the best finished one by ``score / length ** alpha`` is returned.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import positive_int

__all__ = ["Decoded", "greedy_decode", "beam_search", "reorder_state", "repeat_state"]


@dataclass
class Decoded:
    """``tokens`` ``(batch, L)`` int64 (after ``bos``, up to and including ``eos``, then ``pad``), ``lengths``
    ``(batch,)`` (tokens counted, ``eos`` included), ``log_prob`` ``(batch,)`` the sum of the chosen tokens'
    log-probabilities (eq. `eq-seq-logprob`), ``weights``: greedy only, the attention weights ``(batch, L, S)``
    of every step when the state carries them, else ``None``."""
    tokens: torch.Tensor
    lengths: torch.Tensor
    log_prob: torch.Tensor
    weights: torch.Tensor | None = None

    def sequences(self):
        """The token lists, each cut after its ``lengths`` entries."""
        return [row[:n].tolist() for row, n in zip(self.tokens, self.lengths.tolist())]


def reorder_state(state, index):
    """Pick rows ``index`` ``(M,)`` of every tensor of a state dict (first dimension = hypotheses)."""
    return {k: (v.index_select(0, index) if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def repeat_state(state, k):
    """Repeat every row ``k`` times in place (row ``b`` becomes rows ``b*k .. b*k + k - 1``)."""
    return {key: (v.repeat_interleave(k, dim=0) if isinstance(v, torch.Tensor) else v) for key, v in state.items()}


def _check(bos, eos, max_len):
    for name, v in (("bos", bos), ("eos", eos)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise TypeError(f"{name} must be a token id (int >= 0); got {v!r}")
    return positive_int(max_len, "max_len")


@torch.no_grad()
def greedy_decode(step, state, batch_size, bos, eos, max_len=50, pad=0):
    """Free-running decoding: feed back the most probable token until ``eos`` or ``max_len``.
    Returns :class:`Decoded`."""
    max_len = _check(bos, eos, max_len)
    batch_size = positive_int(batch_size, "batch_size")
    tokens = torch.full((batch_size,), bos, dtype=torch.int64, device=_device(state))
    out, weights = [], []
    done = torch.zeros(batch_size, dtype=torch.bool, device=tokens.device)
    lengths = torch.zeros(batch_size, dtype=torch.int64, device=tokens.device)
    log_prob = torch.zeros(batch_size, dtype=torch.float64, device=tokens.device)
    for _ in range(max_len):
        logp, state = step(tokens, state)
        best, tokens = logp.max(dim=-1)
        log_prob += torch.where(done, 0.0, best.double())
        lengths += (~done).long()
        out.append(torch.where(done, torch.full_like(tokens, pad), tokens))
        if "weights" in state:
            weights.append(state["weights"])
        done = done | (tokens == eos)
        if bool(done.all()):
            break
    w = torch.stack(weights, 1) if weights else None
    return Decoded(torch.stack(out, 1), lengths, log_prob, w)


def _device(state):
    for v in state.values():
        if isinstance(v, torch.Tensor):
            return v.device
    return torch.device("cpu")


@torch.no_grad()
def beam_search(step, state, batch_size, bos, eos, beam_width=4, max_len=50, alpha=0.75, pad=0):
    """Beam search for a batch (the algorithm of :mod:`course_lib.ref.beam`). Returns :class:`Decoded`
    with the best hypothesis of each input by ``log_prob / length ** alpha``."""
    max_len = _check(bos, eos, max_len)
    B, K = positive_int(batch_size, "batch_size"), positive_int(beam_width, "beam_width")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0; got {alpha!r}")
    dev = _device(state)
    state = repeat_state(state, K)
    neg_inf = torch.tensor(float("-inf"), dtype=torch.float64, device=dev)
    scores = torch.full((B, K), float("-inf"), dtype=torch.float64, device=dev)
    scores[:, 0] = 0.0                                          # one live hypothesis: <bos>
    history = torch.full((B * K, 0), pad, dtype=torch.int64, device=dev)
    last = torch.full((B * K,), bos, dtype=torch.int64, device=dev)
    best_norm = torch.full((B,), float("-inf"), dtype=torch.float64, device=dev)
    best_score = torch.zeros(B, dtype=torch.float64, device=dev)
    best_tokens = torch.full((B, max_len), pad, dtype=torch.int64, device=dev)
    best_len = torch.zeros(B, dtype=torch.int64, device=dev)
    rows = torch.arange(B, device=dev)

    def offer(candidate, norm, toks, length):
        """Keep, per input, the better of the best so far and the best of ``norm`` (B, K) (-inf = none)."""
        value, k = norm.max(dim=1)
        better = value > best_norm
        if bool(better.any()):
            pick = (rows * K + k)[better]
            best_norm[better] = value[better]
            best_score[better] = candidate[rows, k][better]
            best_tokens[better] = pad
            best_tokens[better, :length] = toks[pick]
            best_len[better] = length

    length = 0
    for length in range(1, max_len + 1):
        logp, state = step(last, state)
        V = logp.shape[-1]
        cand = (scores[:, :, None] + logp.double().view(B, K, V)).view(B, K * V)
        top, idx = cand.topk(K, dim=1)                          # best first
        beam, tok = idx // V, idx % V
        flat = (rows[:, None] * K + beam).view(-1)
        history = torch.cat([history.index_select(0, flat), tok.view(-1, 1)], dim=1)
        state = reorder_state(state, flat)
        last = tok.view(-1)
        finished = torch.isfinite(top) & (tok == eos)
        offer(top, torch.where(finished, top / length ** alpha, neg_inf), history, length)
        scores = torch.where(finished, neg_inf, top)            # finished hypotheses leave the beam
        if not bool(torch.isfinite(scores).any()):
            break
    live = torch.isfinite(scores)                               # cut at max_len: they count as finished
    if bool(live.any()):
        offer(scores, torch.where(live, scores / length ** alpha, neg_inf), history, length)
    return Decoded(best_tokens[:, : int(best_len.max())], best_len, best_score)
