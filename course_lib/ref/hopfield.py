"""The binary Hopfield network (Hopfield 1982): Hebbian storage, energy, recall, capacity.

Units take the values -1 and +1. With ``P`` patterns ``xi`` of ``N`` units (an array of shape
``(P, N)``):

- Hebbian storage (book eq. `eq-hebb`): ``W = (1/N) sum_mu xi^mu (xi^mu)^T`` with ``W_ii = 0``.
- Update of unit ``i`` (book eq. `eq-hopfield-update`): ``s_i <- sign(h_i)`` with local field
  ``h_i = sum_j W_ij s_j``; when ``h_i == 0`` the unit keeps its value.
- Energy (book eq. `eq-hopfield-energy`): ``E(s) = -1/2 s^T W s``.

Flipping one unit changes the energy by ``dE = -(s_i_new - s_i_old) * h_i`` (book eq.
`eq-energy-drop`), which is never positive because a unit only flips to agree with the sign of its
field. So asynchronous updates (one unit at a time) can only lower the energy, and since there are
finitely many states, the dynamics must stop in a fixed point. Synchronous updates (all units at
once) have no such guarantee and may end in a two-state cycle.

:func:`capacity_curve` measures how many random patterns can be recalled, the experiment behind
the ``P/N ~ 0.138`` capacity that Amit, Gutfreund and Sompolinsky (1985) computed for ``N -> inf``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .validate import shape_str

__all__ = ["Hopfield", "RecallInfo", "CapacityCurve", "capacity_curve", "corrupt", "random_patterns"]

MODES = ("async", "sync")


# --------------------------------------------------------------------------- input checks
def _check_n_units(n_units) -> int:
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)):
        raise TypeError(f"n_units must be an int; got {type(n_units).__name__}")
    if n_units < 2:
        raise ValueError(f"n_units must be >= 2; got {n_units}")
    return int(n_units)


def _check_pm1(a, name: str, n_units: int | None, batch_ok: bool = True, rows: str = "batch") -> np.ndarray:
    """``a`` as a float64 array of -1/+1 values, shaped ``(N,)`` or ``(rows, N)``.

    ``n_units=None`` accepts any ``N``; ``batch_ok=False`` demands exactly ``(rows, N)``.
    """
    if type(a).__module__.startswith("torch"):
        raise TypeError(f"{name} must be a NumPy array; got a torch tensor (use {name}.detach().cpu().numpy())")
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an array of -1/+1 numbers; got dtype {arr.dtype}")
    n = "N" if n_units is None else n_units
    expected = f"({rows}, {n})" if not batch_ok else f"({n},) or ({rows}, {n})"
    ndims = (1, 2) if batch_ok else (2,)
    if arr.ndim not in ndims or (n_units is not None and arr.shape[-1] != n_units) or arr.shape[-1] == 0:
        hint = " (one pattern p is p[None, :])" if not batch_ok and arr.ndim == 1 else ""
        raise ValueError(f"{name} must be {expected}; got {shape_str(arr.shape)}{hint}")
    if arr.dtype == np.bool_:
        raise TypeError(f"{name} must hold -1 and +1; got booleans (use 2 * {name}.astype(int) - 1)")
    bad = (arr != 1) & (arr != -1)
    if bad.any():
        values = np.unique(arr[bad])
        shown = ", ".join(str(v) for v in values[:5].tolist()) + (", ..." if values.size > 5 else "")
        raise ValueError(
            f"{name} must hold only -1 and +1; got the value(s) {shown} "
            "(a 0/1 image x becomes a -1/+1 pattern with 2 * x - 1)"
        )
    return arr.astype(np.float64)


def _check_fraction(fraction, name="fraction") -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1]; got {type(fraction).__name__}")
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {fraction}")
    return float(fraction)


def _check_positive_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")
    return int(value)


# --------------------------------------------------------------------------- helpers
def random_patterns(n_patterns: int, n_units: int, seed=None) -> np.ndarray:
    """``n_patterns`` independent random -1/+1 patterns, shape ``(n_patterns, n_units)``, float64."""
    n_patterns = _check_positive_int(n_patterns, "n_patterns")
    n_units = _check_n_units(n_units)
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(n_patterns, n_units))


def corrupt(pattern, fraction: float, seed=None) -> np.ndarray:
    """Flip exactly ``round(fraction * N)`` randomly chosen units of each pattern.

    ``pattern``: ``(N,)`` or ``(batch, N)`` with entries in {-1, +1}; each row gets its own
    flipped positions. Returns a new float64 array of the same shape; the input is not changed.
    """
    arr = _check_pm1(pattern, "pattern", None)
    fraction = _check_fraction(fraction)
    rng = np.random.default_rng(seed)
    rows = arr.reshape(-1, arr.shape[-1]).copy()
    n_flip = int(round(fraction * rows.shape[1]))
    # the n_flip smallest of a row of uniform numbers sit at uniformly random positions
    flip = np.argsort(rng.random(rows.shape), axis=1)[:, :n_flip]
    np.put_along_axis(rows, flip, -np.take_along_axis(rows, flip, axis=1), axis=1)
    return rows.reshape(arr.shape)


def _sign_keep(h: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sign(h), except that a unit whose field is exactly 0 keeps its value ``s``."""
    return np.where(h > 0, 1.0, np.where(h < 0, -1.0, s))


def _async_run(C: np.ndarray, S: np.ndarray, max_sweeps: int, rng, trace: bool):
    """Asynchronous dynamics for a stack of networks, in place on ``S``.

    ``C``: ``(T, N, N)`` Hebbian counts ``N * W`` (whole numbers, symmetric, zero diagonal), so
    that every field is computed exactly and a zero field really is zero; ``S``: ``(T, B, N)``
    (``B`` states per network). One sweep visits every unit once, in a fresh random order shared
    by all states. Stops after the first sweep in which no unit flips, or after ``max_sweeps``.

    The fields of all units, ``H = N * h``, are computed once and then kept up to date: when unit
    ``i`` flips by ``delta = +-2``, every field changes by ``delta * C[i, :]``. Near a fixed point
    almost no unit flips, so a sweep costs little more than reading the fields.
    Returns ``(sweeps, changed_in_last_sweep (T, B), energies or None)``; ``energies`` is
    ``(1 + sweeps * N, T, B)``: the energy before any update and after every single-unit update,
    kept by adding ``dE = -(s_new - s_old) * h`` (book eq. `eq-energy-drop`).
    """
    T, B, N = S.shape
    s = np.ascontiguousarray(S.transpose(2, 0, 1))                # (N, T, B): unit-major, s[i] is contiguous
    # (N, T, B): N * field of every unit (C is symmetric). einsum rather than matmul: BLAS worker
    # threads keep spinning after a call and, on a busy 2-core machine, slow the loop below severalfold.
    H = np.ascontiguousarray(np.einsum("tbj,tji->itb", S, C))
    energies = [-0.5 / N * np.einsum("itb,itb->tb", s, H)] if trace else None
    changed = np.zeros((T, B), dtype=bool)
    for sweep in range(1, max_sweeps + 1):
        changed[:] = False
        for i in rng.permutation(N):
            unstable = H[i] * s[i] < 0  # (T, B): unit i disagrees with its field (eq-hopfield-update)
            t, b = np.nonzero(unstable)
            if trace:
                energies.append(energies[-1] - np.where(unstable, -2 * s[i] * H[i], 0.0) / N)
            if t.size:
                delta = -2 * s[i, t, b]  # the change of s_i: +2 or -2
                s[i, t, b] += delta
                H[:, t, b] += delta * C[t, i, :].T
                changed[t, b] = True
        if not changed.any():
            break
    S[...] = s.transpose(1, 2, 0)
    return sweep, changed, (np.stack(energies) if trace else None)


class RecallInfo(NamedTuple):
    """What :meth:`Hopfield.recall` reports besides the final state.

    ``energy``: the energy trace, ``(steps + 1,)`` for one state or ``(steps + 1, batch)``; entry 0
    is the starting energy. Async: one entry per single-unit update (``steps = sweeps * N``);
    sync: one entry per synchronous step.
    ``sweeps``: sweeps (async) or synchronous steps run. ``converged``: ``True`` where the last
    sweep/step changed nothing, i.e. the final state is a fixed point (bool or ``(batch,)``).
    """

    energy: np.ndarray
    sweeps: int
    converged: bool | np.ndarray


class Hopfield:
    """A binary Hopfield network of ``n_units`` units with Hebbian weights (Hopfield 1982).

    >>> net = Hopfield(4).store([[1, -1, 1, -1]])
    >>> net.recall([1, 1, 1, -1]).tolist()
    [1.0, -1.0, 1.0, -1.0]

    Attributes: ``weights`` ``(N, N)`` (symmetric, zero diagonal), ``patterns`` ``(P, N)``.
    Internally the dynamics use the whole-number counts ``N * W``, so a field that is zero is
    exactly zero (no rounding decides a tie).
    """

    def __init__(self, n_units: int):
        self.n_units = _check_n_units(n_units)
        self._counts = np.zeros((self.n_units, self.n_units))  # N * W, whole numbers
        self.patterns = np.zeros((0, self.n_units))

    @property
    def weights(self) -> np.ndarray:
        """W = (1/N) sum_mu xi^mu (xi^mu)^T with zero diagonal (book eq. `eq-hebb`), ``(N, N)``."""
        return self._counts / self.n_units

    def __repr__(self) -> str:
        return f"Hopfield(n_units={self.n_units}, stored={len(self.patterns)})"

    @property
    def load(self) -> float:
        """alpha = P / N, the number of stored patterns per unit."""
        return len(self.patterns) / self.n_units

    def store(self, patterns) -> "Hopfield":
        """Set the weights by the Hebbian rule (book eq. `eq-hebb`); replaces what was stored.

        ``patterns``: ``(P, N)`` with entries in {-1, +1}. ``W = patterns.T @ patterns / N`` with the
        diagonal set to zero (no unit drives itself). Returns ``self`` so calls can be chained.
        """
        xi = _check_pm1(patterns, "patterns", self.n_units, batch_ok=False, rows="P")
        counts = xi.T @ xi  # N * W: sums of +-1 products, exact in float64
        np.fill_diagonal(counts, 0.0)
        self._counts, self.patterns = counts, xi
        return self

    def energy(self, state):
        """E(s) = -1/2 s^T W s (book eq. `eq-hopfield-energy`).

        ``state``: ``(N,)`` -> a float; ``(batch, N)`` -> an array ``(batch,)``.
        """
        s = _check_pm1(state, "state", self.n_units)
        e = -0.5 * np.einsum("...i,ij,...j->...", s, self._counts, s) / self.n_units
        return float(e) if s.ndim == 1 else e

    def overlaps(self, state) -> np.ndarray:
        """m_mu = (1/N) xi^mu . s for every stored pattern: ``(N,)`` -> ``(P,)``, ``(batch, N)`` -> ``(batch, P)``.

        ``m = 1``: the state is pattern ``mu``; ``m = -1``: its mirror image; ``m ~ 0``: unrelated.
        """
        s = _check_pm1(state, "state", self.n_units)
        return s @ self.patterns.T / self.n_units

    def recall(self, state, max_sweeps: int = 100, mode: str = "async", seed=None, return_info: bool = False):
        """Run the dynamics (book eq. `eq-hopfield-update`) from ``state`` until nothing changes.

        ``state``: ``(N,)`` or ``(batch, N)`` in {-1, +1} (a batch is run side by side, each state
        independently). ``mode="async"``: one unit at a time in a random order per sweep (the
        order comes from ``seed``); the energy never rises. ``mode="sync"``: every unit at once
        from the previous state; may oscillate between two states. Stops at a fixed point or
        after ``max_sweeps`` sweeps/steps.

        Returns the final state (float64, the shape of ``state``), or ``(state, RecallInfo)``
        when ``return_info=True``.
        """
        s = _check_pm1(state, "state", self.n_units)
        max_sweeps = _check_positive_int(max_sweeps, "max_sweeps")
        if mode not in MODES:
            raise ValueError(f"mode must be 'async' or 'sync'; got {mode!r}")
        S = s.reshape(1, -1, self.n_units).copy()  # (T=1, B, N)
        if mode == "async":
            rng = np.random.default_rng(seed)
            sweeps, changed, energies = _async_run(self._counts[None], S, max_sweeps, rng, return_info)
        else:
            sweeps, changed, energies = self._sync_run(S, max_sweeps, return_info)
        out = S[0].reshape(s.shape)
        if not return_info:
            return out
        energy = energies[:, 0, :]
        converged = ~changed[0]
        if s.ndim == 1:
            energy, converged = energy[:, 0], bool(converged[0])
        return out, RecallInfo(energy=energy, sweeps=sweeps, converged=converged)

    def _sync_run(self, S: np.ndarray, max_sweeps: int, trace: bool):
        """All units at once: s <- sign(W s). ``S``: ``(1, B, N)``, changed in place."""
        energies = [self.energy(S[0])] if trace else None
        changed = np.ones(S.shape[:2], dtype=bool)
        steps = 0
        while steps < max_sweeps and changed.any():
            steps += 1
            new = _sign_keep(S[0] @ self._counts, S[0])
            changed = (new != S[0]).any(axis=1)[None]
            S[0] = new
            if trace:
                energies.append(self.energy(S[0]))
        return steps, changed, (np.stack(energies)[:, None, :] if trace else None)


# --------------------------------------------------------------------------- capacity
@dataclass
class CapacityCurve:
    """Recall quality of random patterns against the load alpha = P / N (see :func:`capacity_curve`).

    Every array has one entry per load. ``overlap``: mean final overlap ``m`` with the cued
    pattern; ``recall``: fraction of cues whose final overlap is at least ``success_overlap``;
    ``exact``: fraction that end exactly on the pattern (no wrong bit); ``bit_error``: mean
    fraction of wrong bits, ``(1 - m) / 2``.
    """

    n_units: int
    alphas: np.ndarray
    n_patterns: np.ndarray
    overlap: np.ndarray
    recall: np.ndarray
    exact: np.ndarray
    bit_error: np.ndarray
    flip_fraction: float
    success_overlap: float
    trials: int

    def breakdown(self, level: float = 0.5, metric: str = "recall") -> float:
        """The load where ``metric`` first falls below ``level``, linearly interpolated.

        Returns ``nan`` when it never falls below ``level`` over the measured loads.
        """
        if metric not in ("recall", "exact", "overlap"):
            raise ValueError(f"metric must be 'recall', 'exact' or 'overlap'; got {metric!r}")
        return first_crossing(self.alphas, getattr(self, metric), level)


def capacity_curve(n_units: int, alphas, trials: int = 10, flip_fraction: float = 0.0, seed=0,
                   max_sweeps: int = 50, success_overlap: float = 0.95) -> CapacityCurve:
    """Measure recall of random patterns against the load alpha = P / N.

    For each alpha: ``trials`` networks of ``n_units`` units each store ``P = round(alpha * N)``
    fresh random patterns (book eq. `eq-hebb`); every stored pattern, with ``flip_fraction`` of
    its units flipped (:func:`corrupt`), is the start of an asynchronous recall (at most
    ``max_sweeps`` sweeps), and the final state is compared with that pattern. All trials of a
    load run side by side as one stack of networks.

    ``flip_fraction=0`` asks whether a pattern sits near a stable state, which is what the
    ``alpha_c ~ 0.138`` of Amit, Gutfreund and Sompolinsky (1985) is about (there, at alpha_c, a
    retrieval state with ~1.5% wrong bits disappears).
    Returns a :class:`CapacityCurve`; ``alphas`` in it are the realised ``P / N``.
    """
    n_units = _check_n_units(n_units)
    trials = _check_positive_int(trials, "trials")
    max_sweeps = _check_positive_int(max_sweeps, "max_sweeps")
    flip_fraction = _check_fraction(flip_fraction, "flip_fraction")
    success_overlap = float(success_overlap)
    if not -1.0 <= success_overlap <= 1.0:
        raise ValueError(f"success_overlap must be in [-1, 1]; got {success_overlap}")
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas <= 0):
        raise ValueError(f"alphas must be a non-empty 1-D list of loads > 0; got {alphas.tolist()!r}")
    rng = np.random.default_rng(seed)
    n_patterns = np.maximum(1, np.round(alphas * n_units).astype(int))
    rows = {k: [] for k in ("overlap", "recall", "exact")}
    for P in n_patterns:
        xi = rng.choice(np.array([-1.0, 1.0]), size=(trials, P, n_units))  # (T, P, N)
        C = np.einsum("tpi,tpj->tij", xi, xi)  # N * W for each trial, zero diagonal below
        C[:, np.arange(n_units), np.arange(n_units)] = 0.0
        S = corrupt(xi.reshape(-1, n_units), flip_fraction, seed=rng).reshape(xi.shape)
        _async_run(C, S, max_sweeps, rng, trace=False)
        m = np.einsum("tpn,tpn->tp", S, xi) / n_units  # final overlap with the cued pattern
        rows["overlap"].append(m.mean())
        rows["recall"].append(np.mean(m >= success_overlap))
        rows["exact"].append(np.mean(m == 1.0))
    overlap = np.array(rows["overlap"])
    return CapacityCurve(
        n_units=n_units, alphas=n_patterns / n_units, n_patterns=n_patterns, overlap=overlap,
        recall=np.array(rows["recall"]), exact=np.array(rows["exact"]), bit_error=(1 - overlap) / 2,
        flip_fraction=flip_fraction, success_overlap=success_overlap, trials=trials,
    )


def first_crossing(xs, y, level, log=False):
    """The ``x`` where ``y`` (measured at the increasing ``xs``) first falls below ``level``, linearly
    interpolated between the two measurements around it (in ``log x`` when ``log``); ``xs[0]`` if ``y``
    starts below it, ``nan`` if it never falls below it."""
    below = np.flatnonzero(np.asarray(y) < level)
    if below.size == 0:
        return float("nan")
    k = int(below[0])
    if k == 0:
        return float(xs[0])
    x0, x1 = (np.log(xs[k - 1]), np.log(xs[k])) if log else (xs[k - 1], xs[k])
    x = x0 + (y[k - 1] - level) * (x1 - x0) / (y[k - 1] - y[k])
    return float(np.exp(x) if log else x)
