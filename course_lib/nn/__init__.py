"""PyTorch modules that run on CPU or GPU: the course's own twins of ``torch.nn`` layers.

- :class:`RNN`, :class:`LSTM`, :class:`GRU` (:mod:`.rnn`): torch's constructor arguments and
  state_dict keys, an extra ``lengths=`` keyword, ``impl="fused"`` (hand-written backward,
  :mod:`.fused`) or ``impl="loop"`` (the readable time loop over :mod:`.cells`).
- :class:`MinGRU`, :class:`MinLSTM` (:mod:`.mingru`): Feng et al. 2024, sequential or parallel scan.
- :func:`scaled_dot_product_attention`, :class:`MultiheadSelfAttention`, :class:`KVCache` (:mod:`.attention`).
- :func:`linear_attention_parallel`, :func:`linear_attention_recurrent`, :class:`LinearSelfAttention`,
  :class:`LinearAttentionState` (:mod:`.linear_attention`): causal linear attention, parallel or as an RNN.
- :class:`TransformerEncoderLayer`, :class:`TransformerEncoder`,
  :func:`sinusoidal_positional_encoding` (:mod:`.transformer`).
- :class:`Seq2Seq`, :class:`AdditiveAttention`, :class:`DotProductAttention` (:mod:`.seq2seq`): the GRU
  encoder-decoder with Bahdanau or Luong attention; :func:`greedy_decode`, :func:`beam_search` (:mod:`.beam`).
"""
from .attention import KVCache, MultiheadSelfAttention, causal_mask, scaled_dot_product_attention
from .cells import gru_step, lstm_step, rnn_step
from .linear_attention import (LinearAttentionState, LinearSelfAttention, linear_attention_parallel,
                               linear_attention_recurrent)
from .mingru import MinGRU, MinLSTM, linear_recurrence_scan, linear_recurrence_sequential
from .rnn import GRU, LSTM, RNN, RNNBase
from .beam import Decoded, beam_search, greedy_decode, reorder_state, repeat_state
from .seq2seq import AdditiveAttention, DotProductAttention, Seq2Seq
from .transformer import TransformerEncoder, TransformerEncoderLayer, sinusoidal_positional_encoding

__all__ = [
    "RNN", "LSTM", "GRU", "RNNBase", "rnn_step", "lstm_step", "gru_step",
    "MinGRU", "MinLSTM", "linear_recurrence_scan", "linear_recurrence_sequential",
    "scaled_dot_product_attention", "causal_mask", "MultiheadSelfAttention", "KVCache",
    "linear_attention_parallel", "linear_attention_recurrent", "LinearSelfAttention", "LinearAttentionState",
    "TransformerEncoderLayer", "TransformerEncoder", "sinusoidal_positional_encoding",
    "Seq2Seq", "AdditiveAttention", "DotProductAttention",
    "Decoded", "greedy_decode", "beam_search", "reorder_state", "repeat_state",
]
