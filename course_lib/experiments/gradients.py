"""Experiments of book chapter 04, vanishing and exploding gradients.

Two halves, one idea each:

**Measuring** ``||dL/dh_k||`` against the distance ``T - k`` in a vanilla tanh RNN
(:class:`course_lib.ref.RNN`, whose backward pass is the hand-written BPTT of chapter 03):

- :func:`recurrent_matrix`: a random ``W_hh`` with a chosen spectral radius;
  :func:`spectral_radius` and :func:`largest_singular_value` say what a matrix is;
- :func:`hidden_gradient_norms`: ``||dL/dh_k||`` for k = 0 .. T of any one-layer ``ref.RNN``;
- :func:`gradient_norm_curve`: the whole measurement for one spectral radius, as a
  :class:`GradientCurve` (what the chapter's figures and its widget plot).

**Training** on the adding problem (:mod:`course_lib.experiments.tasks`) with
:class:`course_lib.nn.RNN`: clipping, initialisations and optimizers compared on the same task:

- :func:`init_recurrent` (``"default"``, ``"xavier"``, ``"orthogonal"``, ``"identity"``, optionally
  rescaled to a spectral radius) and :func:`build_adding_model` (RNN + read-out of the last step);
- :func:`initial_gradient_norms`: the measurement above, on such a model at initialisation;
- :func:`adding_run`: :func:`course_lib.experiments.tasks.train_adding` of such a model, which
  records a run that diverges instead of losing it.

Steps are numbered as in chapter 03: ``h_0`` is the initial state, ``h_1 .. h_T`` the outputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import ref
from ..data.tasks import adding_problem
from ..core.checks import count as _positive_int
from .models import SequenceModel
from .tasks import train_adding

__all__ = [
    "recurrent_matrix", "spectral_radius", "largest_singular_value", "hidden_gradient_norms",
    "GradientCurve", "gradient_norm_curve", "measurement_rnn",
    "INITS", "init_recurrent", "build_adding_model", "initial_gradient_norms", "adding_run",
]


# ----------------------------------------------------------------------------- checks

def _positive_float(value, name, allow_zero=False):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {kind} finite number; got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------- matrices
def spectral_radius(W) -> float:
    """max |eigenvalue| of a square matrix: the per-step growth rate of ``W^n`` as n grows."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix (n, n); got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def largest_singular_value(W) -> float:
    """The largest singular value ``||W||_2``: the most one multiplication by ``W`` can stretch a vector."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix (m, n); got shape {W.shape}")
    return float(np.linalg.norm(W, 2))


def recurrent_matrix(hidden_size, radius, kind="gaussian", seed=0):
    """A random recurrent matrix ``W_hh`` (hidden, hidden) with spectral radius exactly ``radius``.

    ``kind="gaussian"``: entries N(0, 1/hidden), then rescaled; its largest singular value is about
    twice its spectral radius (a non-normal matrix). ``kind="orthogonal"``: ``radius`` times a random
    orthogonal matrix, so every singular value equals ``radius`` (a linear RNN then scales
    gradients by exactly ``radius`` per step).
    """
    H = _positive_int(hidden_size, "hidden_size")
    radius = _positive_float(radius, "radius", allow_zero=True)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((H, H))
    if kind == "gaussian":
        A /= np.sqrt(H)
        return A * (radius / spectral_radius(A))
    if kind == "orthogonal":
        Q, R = np.linalg.qr(A)
        return radius * Q * np.sign(np.diag(R))  # sign fix: Haar-distributed Q
    raise ValueError(f"kind must be 'gaussian' or 'orthogonal'; got {kind!r}")


# ----------------------------------------------------------------------------- measurement
def hidden_gradient_norms(model, x, h0=None, seed=0):
    """``||dL/dh_k||`` for k = 0 .. T (``h_0`` the initial state), one row per sequence.

    ``model``: a one-layer, one-direction :class:`course_lib.ref.RNN`; x (batch, T, input_size);
    h0: optional initial state (1, batch, hidden), zeros if None.
    The loss is ``L = sum_b g_b . h_T^b`` with a random unit vector ``g_b`` per sequence, so
    ``||dL/dh_T|| = 1`` and the rest of the row is how much of that unit gradient reaches each
    earlier step: the Jacobian product of book eq. `eq-bptt-jacobian` applied to ``g_b``.

    How (one forward and one backward pass of ``ref.RNN``): ``ref.RNN.backward`` returns the
    gradient with respect to its *inputs*, not its hidden states. So we run a twin of the model
    with ``hidden`` extra input channels wired straight into the pre-activation (``W_ih`` becomes
    ``[W_ih, I]``) and feed zeros there: the forward pass is unchanged, and the gradient with
    respect to those channels at step k+1 is ``dL/da_{k+1}``. Then ``dL/dh_k = dL/da_{k+1} W_hh``
    (book eq. `eq-bptt-dh`) for k < T, and ``dL/dh_0`` is checked against the ``"h0"`` gradient.
    Returns an ndarray (batch, T + 1); column k is step k.
    """
    if not isinstance(model, ref.RNN) or model.num_layers != 1 or model.bidirectional:
        raise TypeError(f"model must be a one-layer, one-direction course_lib.ref.RNN; got {model!r}")
    x = model._check_x(x)
    B, T, n_in = x.shape
    H = model.hidden_size
    state = model._check_states(h0, B)[0]                     # (1, B, H), zeros if None
    probe = ref.RNN(n_in + H, H, nonlinearity=model.nonlinearity, dtype=model.dtype)
    params = model.state_dict()
    params["weight_ih_l0"] = np.concatenate([params["weight_ih_l0"], np.eye(H, dtype=model.dtype)], axis=1)
    probe.load_state_dict(params)
    out, _ = probe.forward(np.concatenate([x, np.zeros((B, T, H), dtype=model.dtype)], axis=2), state)
    g = np.random.default_rng(seed).standard_normal((1, B, H))
    g /= np.linalg.norm(g, axis=-1, keepdims=True)
    grads = probe.backward(np.zeros_like(out), g.astype(model.dtype))
    da = grads["x"][:, :, n_in:]                                # dL/da_t for t = 1..T
    dh = np.concatenate([da @ params["weight_hh_l0"], g[0][:, None]], axis=1)  # dL/dh_k, k = 0..T
    if not np.allclose(dh[:, 0], grads["h0"][0], rtol=1e-6, atol=1e-300):  # two routes to dL/dh_0
        raise RuntimeError("internal check failed: dL/dh_0 from the probe differs from ref.RNN's h0 gradient")
    return np.linalg.norm(dh, axis=-1)


def measurement_rnn(hidden_size, radius, kind="gaussian", seed=0, nonlinearity="tanh"):
    """The RNN the chapter measures: ``h_t = tanh(x_t + W_hh h_{t-1})`` (book eq. `eq-rnn` with
    ``W_ih = I`` and zero biases), ``W_hh`` from :func:`recurrent_matrix`. Returns a ``ref.RNN``
    whose input size is ``hidden_size`` (the input *is* the drive ``W_ih x_t``)."""
    H = _positive_int(hidden_size, "hidden_size")
    model = ref.RNN(H, H, seed=seed, nonlinearity=nonlinearity)
    model.load_state_dict({
        "weight_ih_l0": np.eye(H),
        "weight_hh_l0": recurrent_matrix(H, radius, kind, seed),
        "bias_ih_l0": np.zeros(H),
        "bias_hh_l0": np.zeros(H),
    })
    return model


@dataclass
class GradientCurve:
    """One measured curve: ``norm[d]`` = geometric mean over the batch of ``||dL/dh_{T-d}||``, d = 0..T.

    ``spectral_radius``/``singular_value``: of the ``W_hh`` used; ``input_scale``: std of the drive;
    ``mean_slope``: the mean of tanh'(a_t) = 1 - h_t^2 over all units and steps (near 0: saturated).
    """
    distance: np.ndarray
    norm: np.ndarray
    spectral_radius: float
    singular_value: float
    input_scale: float
    mean_slope: float

    @property
    def T(self) -> int:
        return int(self.distance[-1])

    @property
    def factor_per_step(self) -> float:
        """Average factor by which the gradient norm changes per step back: ``norm[T] ** (1/T)``."""
        return float(self.norm[-1] ** (1.0 / self.T))

    def at(self, d) -> float:
        """The norm at distance ``d`` (0 <= d <= T)."""
        if not (isinstance(d, (int, np.integer)) and 0 <= d <= self.T):
            raise ValueError(f"d must be an int in [0, {self.T}]; got {d!r}")
        return float(self.norm[d])


def gradient_norm_curve(radius, T, hidden_size=64, batch=16, input_scale=0.1, kind="gaussian", seed=0):
    """Measure ``||dL/dh_k||`` against distance ``T - k`` for a tanh RNN with spectral radius ``radius``.

    The network is :func:`measurement_rnn`; the inputs are white noise of standard deviation
    ``input_scale`` (small: the units stay near tanh's linear range; large: they saturate);
    the initial state is zero. Returns a :class:`GradientCurve` (geometric mean over ``batch`` sequences).
    """
    T = _positive_int(T, "T")
    batch = _positive_int(batch, "batch")
    input_scale = _positive_float(input_scale, "input_scale", allow_zero=True)
    model = measurement_rnn(hidden_size, radius, kind, seed)
    x = input_scale * np.random.default_rng([seed, 1]).standard_normal((batch, T, model.hidden_size))
    norms = hidden_gradient_norms(model, x, seed=seed)
    out, _ = model.forward(x)
    with np.errstate(divide="ignore"):
        geo = np.exp(np.log(norms).mean(axis=0))
    W = model.params["weight_hh_l0"]
    return GradientCurve(distance=np.arange(T + 1), norm=geo[::-1].copy(),
                         spectral_radius=spectral_radius(W), singular_value=largest_singular_value(W),
                         input_scale=input_scale, mean_slope=float((1.0 - out ** 2).mean()))


# ----------------------------------------------------------------------------- training
INITS = ("default", "xavier", "orthogonal", "identity")


@torch.no_grad()
def init_recurrent(rnn, scheme="default", radius=None):
    """Initialise a one-layer ``nn.RNN`` in place and return it.

    - ``"default"``: torch's U(-1/sqrt(H), 1/sqrt(H)) for every parameter (left as built);
    - ``"xavier"``: Glorot & Bengio (2010) uniform for ``W_ih`` and ``W_hh``, zero biases;
    - ``"orthogonal"``: a random orthogonal ``W_hh`` (Saxe et al. 2014), zero biases;
    - ``"identity"``: ``W_hh = I`` and zero biases (Le et al. 2015's IRNN, with ReLU units).

    ``radius``: if given, ``W_hh`` is then rescaled to this spectral radius.
    """
    if scheme not in INITS:
        raise ValueError(f"scheme must be one of {INITS}; got {scheme!r}")
    W_hh, W_ih = rnn.weight_hh_l0, rnn.weight_ih_l0
    if scheme != "default":
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    if scheme == "xavier":
        torch.nn.init.xavier_uniform_(W_ih)
        torch.nn.init.xavier_uniform_(W_hh)
    elif scheme == "orthogonal":
        torch.nn.init.orthogonal_(W_hh)
    elif scheme == "identity":
        W_hh.copy_(torch.eye(W_hh.shape[0]))
    if radius is not None:
        radius = _positive_float(radius, "radius")
        W_hh.mul_(radius / spectral_radius(W_hh.detach().cpu().double().numpy()))
    return rnn


def build_adding_model(init="default", nonlinearity="tanh", radius=None, hidden_size=32, seed=0):
    """A many-to-one :class:`~course_lib.experiments.models.SequenceModel` (one-layer ``course_lib.nn.RNN`` +
    linear read-out of the last step) initialised by :func:`init_recurrent` (same ``seed``, same weights)."""
    import course_lib

    course_lib.seed(seed)
    model = SequenceModel("rnn", 2, hidden_size, 1, per_step=False, nonlinearity=nonlinearity)
    init_recurrent(model.rnn, init, radius)
    return model


def initial_gradient_norms(T, init="default", nonlinearity="tanh", radius=None, hidden_size=32, seed=0,
                           batch=16):
    """``||dL/dh_k||`` at initialisation, measured with ``ref.RNN`` (:func:`hidden_gradient_norms`)
    on ``batch`` adding-problem sequences of length ``T``; geometric mean over the batch.

    Returns an ndarray (T + 1,) indexed by distance d = T - k (entry 0 is 1).
    """
    model = build_adding_model(init, nonlinearity, radius, hidden_size, seed)
    x, _ = adding_problem(_positive_int(batch, "batch"), T, seed=seed + 2000)
    norms = hidden_gradient_norms(ref.RNN.from_torch(model.rnn), x.double().numpy(), seed=seed)
    with np.errstate(divide="ignore"):
        return np.exp(np.log(norms).mean(axis=0))[::-1].copy()


def adding_run(cfg, init="default", nonlinearity="tanh", radius=None, hidden_size=32, device=None,
               progress=False):
    """:func:`~course_lib.experiments.tasks.train_adding` of :func:`build_adding_model` (seeded with
    ``cfg.seed``) under the :class:`~course_lib.experiments.tasks.AddingConfig` ``cfg``: the initialisation,
    optimizer and clipping experiments of the chapter. A diverging run comes back with ``diverged`` True."""
    model = build_adding_model(init, nonlinearity, radius, hidden_size, cfg.seed)
    return train_adding(model, cfg, device=device, progress=progress,
                        desc=f"{init} {cfg.optimizer} clip={cfg.clip}")
