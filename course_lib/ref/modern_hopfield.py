"""The modern (continuous) Hopfield network of Ramsauer et al. (2021): one update is one attention read-out.

Stored patterns are the rows of ``X`` ``(P, N)`` (real numbers; the book stores random -1/+1 patterns so
that the classical network of :mod:`.hopfield` can store the very same ones). A state ``xi`` is a real
vector ``(N,)``. With an inverse temperature ``beta > 0``:

- Energy (book eq. `eq-mhn-energy`), the log-sum-exp energy of Ramsauer et al.::

      E(xi) = -lse(beta, X xi) + 1/2 xi^T xi + (1/beta) log P + 1/2 M^2,
      lse(beta, z) = (1/beta) log sum_mu exp(beta z_mu),   M = max_mu ||x_mu||

- Update (book eq. `eq-mhn-update`)::

      xi  <-  X^T softmax(beta X xi)          (rows: xi <- softmax(beta xi X^T) X)

  This is scaled dot-product attention (book eq. `eq-attention`) with the state as the query and the stored
  patterns as keys *and* values, at the scale ``beta`` instead of ``1/sqrt(d)``:
  ``update(xi) == ref.attention(beta * sqrt(N) * xi, X, X)[0]`` (:meth:`ModernHopfield.attention_inputs`).

The update is the concave-convex procedure on ``E`` (its first two terms are concave and convex), so the
energy never rises along the dynamics, and it typically lands next to a stored pattern after one update
when the patterns are well separated. Binary predecessors with polynomial (Krotov & Hopfield 2016) and
exponential (Demircigil et al. 2017) interactions already stored far more than the 0.138 N of the
classical network; :func:`compare_capacity` measures both networks on the same patterns and cues.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .functional import softmax
from .hopfield import _async_run, corrupt, first_crossing
from .validate import as_float_array, check_finite, shape_str

__all__ = ["ModernHopfield", "RetrieveInfo", "modern_hopfield_update", "lse_energy",
           "CapacityComparison", "compare_capacity"]


# --------------------------------------------------------------------------- input checks
def _check_beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"beta must be a positive number; got {type(beta).__name__}")
    if not (math.isfinite(float(beta)) and float(beta) > 0):
        raise ValueError(f"beta must be a finite number > 0; got {beta}")
    return float(beta)


def _check_int(value, name, minimum=1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _check_patterns(patterns) -> np.ndarray:
    X = as_float_array(patterns, "patterns")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        hint = " (one pattern p is p[None, :])" if X.ndim == 1 else ""
        raise ValueError(f"patterns must be (P, N) with P, N >= 1; got {shape_str(X.shape)}{hint}")
    check_finite(X, "patterns")
    return X.astype(np.float64)


def _check_state(state, n_units, name="state") -> np.ndarray:
    s = as_float_array(state, name)
    if s.ndim not in (1, 2) or s.shape[-1] != n_units:
        raise ValueError(f"{name} must be ({n_units},) or (batch, {n_units}); got {shape_str(s.shape)}")
    check_finite(s, name)
    return s.astype(np.float64)


# --------------------------------------------------------------------------- the update and the energy
def modern_hopfield_update(patterns, state, beta):
    """One update, book eq. `eq-mhn-update`: ``softmax(beta * state @ patterns^T) @ patterns``.

    ``patterns`` ``(..., P, N)``, ``state`` ``(..., B, N)`` with the same leading dims (or ``(N,)`` with
    ``patterns`` ``(P, N)``). Returns ``(new_state, weights)``: ``new_state`` shaped like ``state``,
    ``weights`` ``(..., B, P)`` the softmax over the stored patterns (rows sum to 1). No input checks:
    the building block of :class:`ModernHopfield` and :func:`compare_capacity`.
    """
    weights = softmax(beta * (state @ np.swapaxes(patterns, -1, -2)), axis=-1)
    return weights @ patterns, weights


def lse_energy(patterns, state, beta):
    """The energy of book eq. `eq-mhn-energy` for ``state`` ``(..., N)``; returns ``(...)``."""
    z = beta * (state @ patterns.T)                                     # (..., P)
    m = np.max(z, axis=-1)
    with np.errstate(under="ignore"):                                   # exp(-1000) = 0 is right
        lse = (m + np.log(np.sum(np.exp(z - m[..., None]), axis=-1))) / beta
    big_m = np.max(np.linalg.norm(patterns, axis=-1))
    return -lse + 0.5 * np.sum(state * state, axis=-1) + np.log(len(patterns)) / beta + 0.5 * big_m ** 2


class RetrieveInfo(NamedTuple):
    """What :meth:`ModernHopfield.retrieve` reports besides the final state.

    ``energy``: ``(steps + 1,)`` or ``(steps + 1, batch)``, entry 0 the query's energy; ``change``:
    ``(steps,)`` or ``(steps, batch)``, the largest ``|xi_new - xi_old|`` of each update (0 at a fixed
    point); ``weights``: the softmax of the last update, ``(P,)`` or ``(batch, P)``.
    """

    energy: np.ndarray
    change: np.ndarray
    weights: np.ndarray


class ModernHopfield:
    """A modern continuous Hopfield network with inverse temperature ``beta`` (Ramsauer et al. 2021).

    >>> net = ModernHopfield(beta=1.0).store([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    >>> net.weights([0.9, -0.7, 1.1, 0.2]).round(3).tolist()
    [0.973, 0.027]
    >>> net.retrieve([0.9, -0.7, 1.1, 0.2]).round(3).tolist()
    [1.0, -0.947, 0.947, -1.0]

    ``store(patterns)`` keeps the ``(P, N)`` patterns themselves (there is no weight matrix: the network
    *is* its memory). Large ``beta``: each update moves a query onto one stored pattern. Small ``beta``:
    onto an average of several (a metastable state); ``beta -> 0``: onto the mean of all patterns.
    """

    def __init__(self, beta: float):
        self.beta = _check_beta(beta)
        self.patterns = None

    def __repr__(self) -> str:
        stored = "nothing" if self.patterns is None else f"{self.patterns.shape[0]} patterns of {self.n_units}"
        return f"ModernHopfield(beta={self.beta:g}, stored={stored})"

    @property
    def n_units(self) -> int:
        return self._stored().shape[1]

    def _stored(self) -> np.ndarray:
        if self.patterns is None:
            raise ValueError("nothing is stored yet: call store(patterns) with patterns (P, N) first")
        return self.patterns

    def store(self, patterns) -> "ModernHopfield":
        """Keep ``patterns`` ``(P, N)`` (rows are patterns; replaces what was stored). Returns ``self``."""
        self.patterns = _check_patterns(patterns).copy()
        return self

    def energy(self, state):
        """E(xi) of book eq. `eq-mhn-energy`: ``(N,)`` -> float, ``(batch, N)`` -> ``(batch,)``."""
        X = self._stored()
        s = _check_state(state, X.shape[1])
        e = lse_energy(X, s, self.beta)
        return float(e) if s.ndim == 1 else e

    def weights(self, state) -> np.ndarray:
        """softmax(beta X xi): how much each stored pattern contributes; ``(P,)`` or ``(batch, P)``."""
        X = self._stored()
        return modern_hopfield_update(X, _check_state(state, X.shape[1]), self.beta)[1]

    def update(self, state) -> np.ndarray:
        """One update ``xi <- X^T softmax(beta X xi)`` (book eq. `eq-mhn-update`); shaped like ``state``."""
        X = self._stored()
        return modern_hopfield_update(X, _check_state(state, X.shape[1]), self.beta)[0]

    def attention_inputs(self, state):
        """``(q, k, v)`` with ``ref.attention(q, k, v)[0] == update(state)``: the query is the state scaled
        by ``beta * sqrt(N)`` (attention divides by ``sqrt(d) = sqrt(N)``), keys and values the patterns.

        ``state`` ``(N,)`` gives ``q`` ``(1, N)``; ``(batch, N)`` gives ``(batch, N)``.
        """
        X = self._stored()
        s = _check_state(state, X.shape[1])
        return (self.beta * math.sqrt(X.shape[1]) * s).reshape(-1, X.shape[1]), X.copy(), X.copy()

    def overlaps(self, state) -> np.ndarray:
        """m_mu = x_mu . xi / N for every stored pattern: ``(P,)`` or ``(batch, P)``."""
        X = self._stored()
        return _check_state(state, X.shape[1]) @ X.T / X.shape[1]

    def retrieve(self, query, steps: int = 1, return_info: bool = False):
        """Run ``steps`` updates from ``query`` ``(N,)`` or ``(batch, N)``; the energy never rises.

        Returns the final state (shaped like ``query``), or ``(state, RetrieveInfo)`` with
        ``return_info=True``.
        """
        X = self._stored()
        s = _check_state(query, X.shape[1])
        steps = _check_int(steps, "steps")
        energies, changes = [lse_energy(X, s, self.beta)], []
        for _ in range(steps):
            new, w = modern_hopfield_update(X, s, self.beta)
            changes.append(np.max(np.abs(new - s), axis=-1))
            s = new
            energies.append(lse_energy(X, s, self.beta))
        if not return_info:
            return s
        return s, RetrieveInfo(energy=np.stack(energies), change=np.stack(changes), weights=w)


# --------------------------------------------------------------------------- capacity: both networks, same patterns
@dataclass
class CapacityComparison:
    """Retrieval of random -1/+1 patterns by the classical and the modern network (:func:`compare_capacity`).

    ``n_patterns`` ``(L,)``. Classical (asynchronous recall to a fixed point): ``classical_recall``,
    ``classical_overlap`` ``(L,)``. Modern, after every update ``s = 1 .. steps``: ``recall``,
    ``overlap``, ``participation`` ``(len(betas), steps, L)``. ``recall``: fraction of cues whose final
    overlap with the cued pattern, ``m = x_mu . xi / N``, is at least ``success_overlap``;
    ``participation``: mean ``1 / sum_mu p_mu^2`` of the update's softmax weights ``p``, the number of
    patterns the new state averages (1: a single pattern; P: all of them equally).
    """

    n_units: int
    n_patterns: np.ndarray
    betas: tuple
    classical_recall: np.ndarray
    classical_overlap: np.ndarray
    recall: np.ndarray
    overlap: np.ndarray
    participation: np.ndarray
    flip_fraction: float
    success_overlap: float
    trials: int
    queries: int

    def breakdown(self, level: float = 0.5, beta=None, step: int = -1) -> float:
        """The number of patterns where recall first falls below ``level``, interpolated in log P.

        ``beta=None``: the classical network; else one of ``betas`` (after update ``step``, 0-based,
        default the last). ``nan`` when recall never falls below ``level`` on the measured grid.
        """
        if beta is None:
            y = self.classical_recall
        else:
            if beta not in self.betas:
                raise ValueError(f"beta must be one of the measured betas {list(self.betas)}; got {beta}")
            y = self.recall[self.betas.index(beta), step]
        return first_crossing(self.n_patterns, y, level, log=True)


def compare_capacity(n_units: int, n_patterns, betas, trials: int = 5, flip_fraction: float = 0.2,
                     queries: int = 100, steps: int = 1, seed=0, max_sweeps: int = 50,
                     success_overlap: float = 0.95) -> CapacityComparison:
    """Store ``P`` random -1/+1 patterns in both networks and cue each with a corrupted copy.

    For each ``P`` in ``n_patterns`` and each of ``trials`` fresh pattern sets: the first
    ``min(P, queries)`` patterns (random patterns: any are as good as others) are corrupted by flipping
    ``flip_fraction`` of their units (:func:`~course_lib.ref.hopfield.corrupt`); the *same* cues go to
    the classical network (Hebbian weights, asynchronous recall to a fixed point, at most
    ``max_sweeps`` sweeps) and to the modern network at every ``beta`` (``steps`` updates, each
    recorded). All trials of one ``P`` run side by side. Returns a :class:`CapacityComparison`.
    """
    n_units = _check_int(n_units, "n_units", 2)
    trials, queries = _check_int(trials, "trials"), _check_int(queries, "queries")
    steps, max_sweeps = _check_int(steps, "steps"), _check_int(max_sweeps, "max_sweeps")
    sizes = np.asarray(n_patterns)
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1:
        raise ValueError(f"n_patterns must be a non-empty 1-D list of ints >= 1; got {np.asarray(n_patterns).tolist()!r}")
    betas = tuple(_check_beta(b) for b in (betas if np.ndim(betas) else [betas]))
    if not 0.0 <= float(flip_fraction) <= 1.0:
        raise ValueError(f"flip_fraction must be in [0, 1]; got {flip_fraction}")
    rng = np.random.default_rng(seed)
    L, nb = len(sizes), len(betas)
    c_recall, c_overlap = np.zeros(L), np.zeros(L)
    recall, overlap, part = (np.zeros((nb, steps, L)) for _ in range(3))
    for j, P in enumerate(sizes.tolist()):
        xi = rng.choice(np.array([-1.0, 1.0]), size=(trials, P, n_units))      # (T, P, N)
        q = min(P, queries)
        target = xi[:, :q]                                                     # (T, Q, N)
        cues = corrupt(target.reshape(-1, n_units), flip_fraction, seed=rng).reshape(target.shape)
        C = np.einsum("tpi,tpj->tij", xi, xi)                                  # N * W, zero diagonal
        C[:, np.arange(n_units), np.arange(n_units)] = 0.0
        S = cues.copy()
        _async_run(C, S, max_sweeps, rng, trace=False)
        m = np.einsum("tqn,tqn->tq", S, target) / n_units
        c_recall[j], c_overlap[j] = np.mean(m >= success_overlap), m.mean()
        for b, beta in enumerate(betas):
            s = cues
            for k in range(steps):
                s, w = modern_hopfield_update(xi, s, beta)
                m = np.einsum("tqn,tqn->tq", s, target) / n_units
                recall[b, k, j], overlap[b, k, j] = np.mean(m >= success_overlap), m.mean()
                part[b, k, j] = np.mean(1.0 / np.sum(w * w, axis=-1))
    return CapacityComparison(
        n_units=n_units, n_patterns=sizes.astype(int), betas=betas, classical_recall=c_recall,
        classical_overlap=c_overlap, recall=recall, overlap=overlap, participation=part,
        flip_fraction=float(flip_fraction), success_overlap=float(success_overlap), trials=trials,
        queries=queries,
    )
