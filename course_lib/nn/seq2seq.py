"""A GRU encoder-decoder with optional attention, and the two attention modules (book ch. 09).

- :class:`AdditiveAttention` (Bahdanau et al. 2015): ``e_j = v^T tanh(W_q q + W_k k_j)``, eq.
  `eq-additive-attention`; parameters ``W_q.weight`` (d_a, d_q), ``W_k.weight`` (d_a, d_k), ``v.weight``
  (1, d_a), the arrays of :func:`course_lib.ref.additive_attention_forward`.
- :class:`DotProductAttention` (Luong et al. 2015, "dot"): ``e_j = q . k_j`` (``scaled=True``: divided by
  ``sqrt(d)``, then it is :func:`torch.nn.functional.scaled_dot_product_attention`), eq. `eq-dot-attention`.
- :class:`Seq2Seq`: an embedding and a :class:`course_lib.nn.GRU` encoder, and a GRU decoder in one of three
  forms, chosen by ``attention=``:

  ======================  =====================================================================================
  ``None`` (Cho 2014)     ``c = h_S`` (the encoder's last state) for every step: ``s_0 = c``,
                          ``s_i = GRU(s_{i-1}, [E y_{i-1}; c])``
  ``"dot"`` (Luong 2015)  ``s_i = GRU(s_{i-1}, E y_{i-1})``, then ``c_i = attention(s_i, h_1..h_S)``
  ``"additive"``          ``c_i = attention(s_{i-1}, h_1..h_S)``, then ``s_i = GRU(s_{i-1}, [E y_{i-1}; c_i])``
  (Bahdanau 2015)
  ======================  =====================================================================================

  and the same read-out for all three: ``logits_i = W_o tanh(W_c [s_i; c_i] + b_c) + b_o``. So the three
  differ only in the context ``c_i``: one fixed vector, or a fresh weighted average of the encoder states at
  every step.

Shapes: ``src`` ``(batch, S)`` int64 padded with ``pad_id``, ``src_lengths`` ``(batch,)``; ``tgt_in``
``(batch, T)`` the decoder's inputs (``<bos>`` then the target shifted right: *teacher forcing*). ``forward``
returns logits ``(batch, T, vocab)`` and the attention weights ``(batch, T, S)`` (``None`` without attention).
For free-running decoding, :meth:`Seq2Seq.encode` gives a decoder state (a dict of tensors, batch first) and
:meth:`Seq2Seq.step` advances it by one token; :mod:`course_lib.nn.beam` drives them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checks import positive_int
from ..core.errors import DTypeError, ShapeError
from .cells import gru_step
from .rnn import GRU

__all__ = ["AdditiveAttention", "DotProductAttention", "Seq2Seq", "ATTENTIONS"]

ATTENTIONS = (None, "dot", "additive")


def _masked_softmax(scores, mask):
    """softmax over the last axis; ``mask`` (batch, S) bool, True = may attend (False -> weight exactly 0)."""
    if mask is not None:
        if mask.dtype != torch.bool:
            raise DTypeError(f"mask must be a bool tensor (True = may attend); got {mask.dtype}")
        if tuple(mask.shape) != (scores.shape[0], scores.shape[-1]):
            raise ShapeError(f"mask must be (batch, S) = ({scores.shape[0]}, {scores.shape[-1]}); "
                             f"got {tuple(mask.shape)}")
        shape = (mask.shape[0],) + (1,) * (scores.dim() - 2) + (mask.shape[1],)
        scores = scores.masked_fill(~mask.view(shape), float("-inf"))
    return torch.softmax(scores, dim=-1)


def _check_qk(query, keys, d_q=None, d_k=None):
    for name, t in (("query", query), ("keys", keys)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if keys.dim() != 3:
        raise ShapeError(f"keys must be (batch, S, d_k); got {tuple(keys.shape)}")
    if query.dim() not in (2, 3) or query.shape[0] != keys.shape[0]:
        raise ShapeError(f"query must be (batch, d_q) or (batch, T, d_q) with keys' batch {keys.shape[0]}; "
                         f"got {tuple(query.shape)}")
    if d_q is not None and query.shape[-1] != d_q:
        raise ShapeError(f"query must have {d_q} features; got {tuple(query.shape)}")
    if d_k is not None and keys.shape[-1] != d_k:
        raise ShapeError(f"keys must have {d_k} features; got {tuple(keys.shape)}")


class AdditiveAttention(nn.Module):
    """Bahdanau attention. ``forward(query, keys, mask=None, projected_keys=None) -> (context, weights)``.

    query ``(batch, d_q)`` (one decoder state) or ``(batch, T, d_q)``; keys ``(batch, S, d_k)`` (the encoder
    states, also the values); mask ``(batch, S)`` bool. context ``(batch, [T,] d_k)``, weights
    ``(batch, [T,] S)``. ``projected_keys`` = :meth:`project_keys` (keys) may be passed to reuse ``W_k k_j``
    across decoder steps (it does not depend on the step).
    """

    def __init__(self, query_size, key_size, attn_size, device=None, dtype=None):
        super().__init__()
        self.query_size, self.key_size = positive_int(query_size, "query_size"), positive_int(key_size, "key_size")
        self.attn_size = positive_int(attn_size, "attn_size")
        factory = {"device": device, "dtype": dtype}
        self.W_q = nn.Linear(query_size, attn_size, bias=False, **factory)
        self.W_k = nn.Linear(key_size, attn_size, bias=False, **factory)
        self.v = nn.Linear(attn_size, 1, bias=False, **factory)

    def project_keys(self, keys):
        """``W_k k_j`` for every key: ``(batch, S, d_a)``."""
        return self.W_k(keys)

    def forward(self, query, keys, mask=None, projected_keys=None):
        _check_qk(query, keys, self.query_size, self.key_size)
        single = query.dim() == 2
        q = query[:, None] if single else query                               # (B, T, d_q)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        scores = self.v(torch.tanh(self.W_q(q)[:, :, None, :] + pk[:, None])).squeeze(-1)   # (B, T, S)
        weights = _masked_softmax(scores, mask)
        context = weights @ keys                                              # (B, T, d_k)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


class DotProductAttention(nn.Module):
    """Luong's "dot" attention (no parameters). ``forward(query, keys, values=None, mask=None)``.

    query ``(batch, [T,] d)``, keys ``(batch, S, d)``, values ``(batch, S, d_v)`` (default: the keys).
    ``scaled=True`` divides the scores by ``sqrt(d)`` (Vaswani et al. 2017).
    """

    def __init__(self, scaled=False):
        super().__init__()
        if not isinstance(scaled, bool):
            raise TypeError(f"scaled should be of type bool, got: {type(scaled).__name__}")
        self.scaled = scaled

    def forward(self, query, keys, values=None, mask=None):
        _check_qk(query, keys, d_q=keys.shape[-1] if isinstance(keys, torch.Tensor) and keys.dim() == 3 else None)
        values = keys if values is None else values
        single = query.dim() == 2
        q = query[:, None] if single else query
        scores = q @ keys.transpose(1, 2)
        if self.scaled:
            scores = scores / math.sqrt(q.shape[-1])
        weights = _masked_softmax(scores, mask)
        context = weights @ values
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


class Seq2Seq(nn.Module):
    """GRU encoder-decoder, with ``attention=None``, ``"dot"`` or ``"additive"`` (see the module docstring).

    ``Seq2Seq(src_vocab, tgt_vocab, embed_size=32, hidden_size=64, attention=None, attn_size=None, pad_id=0)``.
    """

    def __init__(self, src_vocab, tgt_vocab, embed_size=32, hidden_size=64, attention=None, attn_size=None,
                 pad_id=0, device=None, dtype=None):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}; got {attention!r}")
        src_vocab, tgt_vocab = positive_int(src_vocab, "src_vocab"), positive_int(tgt_vocab, "tgt_vocab")
        E, H = positive_int(embed_size, "embed_size"), positive_int(hidden_size, "hidden_size")
        self.attention_kind, self.pad_id, self.hidden_size = attention, pad_id, H
        factory = {"device": device, "dtype": dtype}
        self.src_embed = nn.Embedding(src_vocab, E, padding_idx=pad_id, **factory)
        self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=pad_id, **factory)
        self.encoder = GRU(E, H, batch_first=True, **factory)
        self.decoder = GRU(E + (0 if attention == "dot" else H), H, batch_first=True, **factory)
        if attention == "additive":
            self.attention = AdditiveAttention(H, H, positive_int(attn_size or H, "attn_size"), **factory)
        elif attention == "dot":
            self.attention = DotProductAttention()
        else:
            self.attention = None
        self.combine = nn.Linear(2 * H, H, **factory)
        self.out = nn.Linear(H, tgt_vocab, **factory)

    # ----------------------------------------------------------------------------------------------- pieces
    def _check_ids(self, ids, name, embed):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.dim() != 2:
            got = (f"{ids.dtype} tensor of shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor)
                   else type(ids).__name__)
            raise TypeError(f"{name} must be an int64 tensor (batch, time) of token ids; got {got}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= embed.num_embeddings):
            raise ValueError(f"{name} must hold ids in [0, {embed.num_embeddings}); got values in "
                             f"[{int(ids.min())}, {int(ids.max())}]")

    def _gru_step(self, x, h):
        d = self.decoder
        return gru_step(F.linear(x, d.weight_ih_l0, d.bias_ih_l0), h, d.weight_hh_l0, d.bias_hh_l0)

    def _readout(self, s, c):
        return self.out(torch.tanh(self.combine(torch.cat([s, c], dim=-1))))

    def encode(self, src, src_lengths):
        """Run the encoder; returns the decoder's initial state, a dict of batch-first tensors:
        ``enc`` (B, S, H), ``mask`` (B, S), ``h`` (B, H) (= the encoder's last state), and ``keys`` (the
        projected keys, additive attention) or ``c`` (the fixed context, no attention)."""
        self._check_ids(src, "src", self.src_embed)
        src_lengths = torch.as_tensor(src_lengths, device=src.device)
        if tuple(src_lengths.shape) != (src.shape[0],):
            raise ShapeError(f"src_lengths must be ({src.shape[0]},), one per sequence; got {tuple(src_lengths.shape)}")
        enc, h_n = self.encoder(self.src_embed(src), lengths=src_lengths)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths[:, None]
        state = {"enc": enc, "mask": mask, "h": h_n[-1]}
        if self.attention_kind == "additive":
            state["keys"] = self.attention.project_keys(enc)
        elif self.attention_kind is None:
            state["c"] = h_n[-1]
        return state

    def step(self, tokens, state):
        """One decoder step from the previous tokens ``(N,)``: returns ``(log_probs (N, vocab), new state)``;
        the new state holds this step's attention weights as ``"weights"`` (N, S) (when there is attention)."""
        e = self.tgt_embed(tokens)
        new = dict(state)
        if self.attention_kind is None:
            s = self._gru_step(torch.cat([e, state["c"]], dim=-1), state["h"])
            c = state["c"]
        elif self.attention_kind == "dot":
            s = self._gru_step(e, state["h"])
            c, new["weights"] = self.attention(s, state["enc"], mask=state["mask"])
        else:
            c, new["weights"] = self.attention(state["h"], state["enc"], mask=state["mask"],
                                               projected_keys=state["keys"])
            s = self._gru_step(torch.cat([e, c], dim=-1), state["h"])
        new["h"] = s
        return torch.log_softmax(self._readout(s, c), dim=-1), new

    # ----------------------------------------------------------------------------------------------- training
    def forward(self, src, src_lengths, tgt_in):
        """Teacher forcing: the decoder reads the true previous tokens ``tgt_in`` (B, T).
        Returns ``(logits (B, T, vocab), weights (B, T, S) or None)``."""
        self._check_ids(tgt_in, "tgt_in", self.tgt_embed)
        if tgt_in.shape[0] != src.shape[0]:
            raise ShapeError(f"tgt_in must have src's batch {src.shape[0]}; got {tuple(tgt_in.shape)}")
        state = self.encode(src, src_lengths)
        e = self.tgt_embed(tgt_in)                                            # (B, T, E)
        h0 = state["h"][None]
        if self.attention_kind is None:                                       # the whole sequence at once
            c = state["c"][:, None].expand(-1, e.shape[1], -1)
            s, _ = self.decoder(torch.cat([e, c], dim=-1), h0)
            return self._readout(s, c), None
        if self.attention_kind == "dot":                                      # also at once: c_i needs only s_i
            s, _ = self.decoder(e, h0)
            c, weights = self.attention(s, state["enc"], mask=state["mask"])
            return self._readout(s, c), weights
        h, states, contexts, weights = state["h"], [], [], []                  # additive: c_i needs s_{i-1}
        for e_t in e.unbind(1):
            c, w = self.attention(h, state["enc"], mask=state["mask"], projected_keys=state["keys"])
            h = self._gru_step(torch.cat([e_t, c], dim=-1), h)
            states.append(h)
            contexts.append(c)
            weights.append(w)
        s, c = torch.stack(states, 1), torch.stack(contexts, 1)
        return self._readout(s, c), torch.stack(weights, 1)
