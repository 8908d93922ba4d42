"""``course_lib.ref``: NumPy reference implementations with hand-written backward passes (BPTT).

Every derivation in the book points at a function here, and every exercise is graded against one.
Readable first, vectorised where it does not hurt reading; proven equal to ``torch.nn`` by the tests.

- :mod:`.cells`       ``rnn/lstm/gru_cell_forward/backward`` (and the ``*_step_*`` halves the layers use)
- :mod:`.layers`      ``RNN``, ``LSTM``, ``GRU``: layers, bidirectional, lengths, dropout, full BPTT
- :mod:`.truncated`   ``truncated_bptt``: BPTT(k1, k2) of Williams & Peng (1990)
- :mod:`.attention`   ``attention`` forward/backward, multi-head self-attention, positional encoding,
                      a pre-norm Transformer encoder block
- :mod:`.seq2seq`     embedding, masked temporal softmax loss, additive (Bahdanau) and dot (Luong) attention,
                      each forward and backward
- :mod:`.beam`        greedy decoding and beam search with length normalisation, for any next-token model
- :mod:`.modern_hopfield` ``ModernHopfield``: the continuous Hopfield network whose update is attention
- :mod:`.linear_attention` ``linear_attention`` (parallel, with backward) and ``linear_attention_recurrent``:
                      causal linear attention and its gated variant, the same function as an RNN
- :mod:`.functional`  stable ``sigmoid``, ``softmax``, ``log_softmax``, ``cross_entropy``, ``clip_grad_norm``
- :mod:`.check`       ``numeric_gradient``, ``grad_check``
- :mod:`.validate`    the shared input checks behind the error messages
"""
from .attention import (
    TransformerEncoderBlock,
    attention,
    attention_backward,
    attention_forward,
    causal_mask,
    layer_norm,
    multi_head_self_attention,
    positional_encoding,
)
from .cells import (
    gru_cell_backward,
    gru_cell_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from .beam import beam_search, greedy_decode, normalised_score
from .check import grad_check, numeric_gradient, relative_error
from .functional import (
    clip_grad_norm,
    cross_entropy,
    cross_entropy_backward,
    global_norm,
    log_softmax,
    sigmoid,
    softmax,
)
from .layers import GRU, LSTM, RNN
from .seq2seq import (
    additive_attention_backward,
    additive_attention_forward,
    dot_attention_backward,
    dot_attention_forward,
    embedding_backward,
    embedding_forward,
    temporal_softmax_loss,
)
from .linear_attention import (
    decay_matrix,
    elu_feature_map,
    linear_attention,
    linear_attention_backward,
    linear_attention_forward,
    linear_attention_recurrent,
    linear_attention_step,
)
from .modern_hopfield import ModernHopfield
from .truncated import truncated_bptt, truncation_windows

from .hopfield import Hopfield

__all__ = [
    "RNN", "LSTM", "GRU", "Hopfield", "ModernHopfield",
    "rnn_cell_forward", "rnn_cell_backward", "lstm_cell_forward", "lstm_cell_backward",
    "gru_cell_forward", "gru_cell_backward",
    "rnn_step_forward", "rnn_step_backward", "lstm_step_forward", "lstm_step_backward",
    "gru_step_forward", "gru_step_backward",
    "truncated_bptt", "truncation_windows",
    "attention", "attention_forward", "attention_backward", "causal_mask", "multi_head_self_attention",
    "positional_encoding", "layer_norm", "TransformerEncoderBlock",
    "sigmoid", "softmax", "log_softmax", "cross_entropy", "cross_entropy_backward", "global_norm",
    "clip_grad_norm",
    "elu_feature_map", "decay_matrix", "linear_attention", "linear_attention_forward", "linear_attention_backward",
    "linear_attention_recurrent", "linear_attention_step",
    "numeric_gradient", "relative_error", "grad_check",
    "embedding_forward", "embedding_backward", "temporal_softmax_loss",
    "additive_attention_forward", "additive_attention_backward", "dot_attention_forward", "dot_attention_backward",
    "beam_search", "greedy_decode", "normalised_score",
]
if "Hopfield" in globals():
    __all__.append("Hopfield")
