"""Small NumPy models that tasks hand to a learner's function: a next-token table for beam search and a
tiny character RNN for a sampling loop.

They are *inputs* of a task, not references: the learner's code calls them (``step(prefix)``,
``model.step(token, state)``) and the grader computes the expected answer from the same model. In batch
grading the learner's function runs in the sandboxed worker, so a model crosses the wire as data
(:class:`course_lib.grading.wire.Model`: its name and arrays) and is rebuilt there by :func:`build`; only
the classes registered here can be rebuilt, from arrays checked for shape and dtype.
"""
from __future__ import annotations

import numpy as np

from .wire import Model, WireError

__all__ = ["NextTokenTable", "TinyCharRNN", "build", "MODELS"]


def _float_array(state: dict, key: str, ndim: int) -> np.ndarray:
    a = state.get(key)
    if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.ndim != ndim or a.size > 10**6:
        raise WireError(f"model state {key!r} must be a float64 array with {ndim} dimensions")
    return a


class NextTokenTable(Model):
    """A next-token model whose log-probabilities depend on the last two tokens.

    ``logp`` ``(vocab, vocab, vocab)``: ``logp[a, b]`` are the log-probabilities of the token after
    ``... a b``; a one-token prefix ``(b,)`` uses ``a = bos``. Calling it, ``model(prefix)`` returns
    ``(vocab,)`` log-probabilities (a copy: the learner may modify it).
    """

    wire_name = "next_token_table"

    def __init__(self, logp, bos=0):
        self.logp = np.asarray(logp, dtype=np.float64)
        if self.logp.ndim != 3 or len(set(self.logp.shape)) != 1:
            raise ValueError(f"logp must be (vocab, vocab, vocab); got {self.logp.shape}")
        self.bos = int(bos)

    def __call__(self, prefix):
        prefix = tuple(int(t) for t in prefix)
        if not prefix:
            raise ValueError("the prefix must hold at least one token (start with <bos>)")
        vocab = self.logp.shape[0]
        if not all(0 <= t < vocab for t in prefix):
            raise ValueError(f"tokens must be in [0, {vocab}); got the prefix {prefix}")
        return self.logp[prefix[-2] if len(prefix) > 1 else self.bos, prefix[-1]].copy()

    def wire_state(self) -> dict:
        return {"logp": self.logp, "bos": self.bos}

    @classmethod
    def from_state(cls, state):
        logp = _float_array(state, "logp", 3)
        if not isinstance(state.get("bos"), int):
            raise WireError("model state 'bos' must be an int")
        return cls(logp, state["bos"])


class TinyCharRNN(Model):
    """A trained-looking character model with an Elman recurrence::

        h_t = tanh(E[x_t] + W h_{t-1} + b),    logits_t = V h_t + c

    ``model.initial_state()`` -> ``h0`` ``(hidden,)``; ``model.step(token, state)`` -> ``(logits (vocab,),
    next_state)``. ``vocab_size`` and ``hidden_size`` are attributes.
    """

    wire_name = "tiny_char_rnn"

    def __init__(self, E, W, b, V, c, h0):
        self.E, self.W, self.b = (np.asarray(a, dtype=np.float64) for a in (E, W, b))
        self.V, self.c, self.h0 = (np.asarray(a, dtype=np.float64) for a in (V, c, h0))
        vocab, hidden = self.E.shape
        if (self.W.shape, self.b.shape, self.V.shape, self.c.shape, self.h0.shape) != \
                ((hidden, hidden), (hidden,), (vocab, hidden), (vocab,), (hidden,)):
            raise ValueError("inconsistent TinyCharRNN shapes")
        self.vocab_size, self.hidden_size = vocab, hidden

    @classmethod
    def random(cls, rng, vocab, hidden, scale=2.5):
        """Random weights with a strong recurrence, so that the next token depends on the past."""
        return cls(rng.normal(0, 1.0, (vocab, hidden)), rng.normal(0, scale / np.sqrt(hidden), (hidden, hidden)),
                   rng.normal(0, 0.3, hidden), rng.normal(0, 2.0, (vocab, hidden)), rng.normal(0, 0.5, vocab),
                   np.tanh(rng.normal(0, 1.0, hidden)))

    def initial_state(self):
        return self.h0.copy()

    def step(self, token, state):
        token = int(token)
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token must be in [0, {self.vocab_size}); got {token}")
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.hidden_size,):
            raise ValueError(f"state must be ({self.hidden_size},); got {state.shape}")
        h = np.tanh(self.E[token] + self.W @ state + self.b)
        return self.V @ h + self.c, h

    def wire_state(self) -> dict:
        return {k: getattr(self, k) for k in ("E", "W", "b", "V", "c", "h0")}

    @classmethod
    def from_state(cls, state):
        arrays = {k: _float_array(state, k, 1 if k in ("b", "c", "h0") else 2) for k in ("E", "W", "b", "V", "c", "h0")}
        try:
            return cls(**arrays)
        except ValueError as err:
            raise WireError(str(err)) from None


MODELS = {cls.wire_name: cls for cls in (NextTokenTable, TinyCharRNN)}


def build(name: str, state: dict) -> Model:
    """The model called ``name`` rebuilt from ``state`` (``WireError`` for any other name or a bad state)."""
    if name not in MODELS:
        raise WireError(f"unknown model {name[:40]!r}")
    return MODELS[name].from_state(state)
