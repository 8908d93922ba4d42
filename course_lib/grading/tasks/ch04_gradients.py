"""Tasks of ``exercises/04_gradients.ipynb``: clipping by global norm, the spectral radius question."""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import Mismatch, call_learner, expect_array, expect_number, expect_tuple, type_name
from ..registry import Task, Test
from .common import check_callable, normal, number_question, sizes

NOTEBOOK = "04_gradients"


def _grads(rng, norms):
    """Gradients shaped like an RNN's (W_ih, W_hh, b), each rescaled to the given norm."""
    n_in, hidden = sizes(rng, 2)
    shapes = [(hidden, n_in), (hidden, hidden), (hidden,)]
    arrays = [normal(rng, *s) for s in shapes]
    return [a * (n / np.linalg.norm(a)) for a, n in zip(arrays, norms)]


def _run_clip(fn, grads, max_norm):
    check_callable(fn, "clip_grad_norm(grads, max_norm)")
    out = call_learner(fn, grads, max_norm, name="clip_grad_norm")
    clipped, total = expect_tuple(out, 2, "clip_grad_norm", "(clipped, total_norm)")
    if not isinstance(clipped, (list, tuple)):
        raise Mismatch(f"clipped must be a list of arrays (one per gradient); got {type_name(clipped)}")
    if len(clipped) != len(grads):
        raise Mismatch(f"clipped must hold {len(grads)} arrays, one per gradient; got {len(clipped)}")
    return list(clipped), total


def _compare(fn, grads, max_norm, what):
    expected, expected_total = ref.clip_grad_norm(grads, max_norm)
    clipped, total = _run_clip(fn, grads, max_norm)
    for k, (c, e) in enumerate(zip(clipped, expected)):
        expect_array(c, e, f"clipped[{k}] ({what})")
    return total, expected_total


def _clip_types(fn, rng):
    grads = _grads(rng, rng.uniform(0.5, 2.0, size=3))
    clipped, total = _run_clip(fn, grads, 1.0)
    for k, (c, g) in enumerate(zip(clipped, grads)):
        if not isinstance(c, np.ndarray) or c.shape != g.shape:
            expect_array(c, g, f"clipped[{k}]")
    if isinstance(total, (bool, np.bool_)) or not isinstance(total, (int, float, np.integer, np.floating)):
        raise Mismatch(f"total_norm must be a number (a float); got {type_name(total)}")


def _clip_norm(fn, rng):
    grads = _grads(rng, rng.uniform(0.5, 3.0, size=3))
    max_norm = float(rng.uniform(0.5, 2.0))
    _, total = _run_clip(fn, grads, max_norm)
    expect_number(total, ref.global_norm(grads), "total_norm (the norm of all gradients as one vector)", rel=1e-6)


def _clip_small(fn, rng):
    max_norm = float(rng.uniform(1.0, 5.0))
    grads = _grads(rng, rng.dirichlet(np.ones(3)) ** 0.5 * max_norm * 0.8)  # total norm 0.8 * max_norm
    _compare(fn, grads, max_norm, "total norm below max_norm: unchanged")


def _clip_large(fn, rng):
    max_norm = float(rng.uniform(0.5, 2.0))
    # every single gradient is below max_norm, but together they are above: only a global norm sees it
    grads = _grads(rng, np.full(3, 0.8 * max_norm))
    _compare(fn, grads, max_norm, "each below max_norm, together above")
    grads = _grads(rng, [0.3 * max_norm, 40.0 * max_norm, 0.1 * max_norm])
    _compare(fn, grads, max_norm, "one gradient 40 times too large")


CLIP = Task(
    "clip_grad_norm", NOTEBOOK,
    "Clip gradients by their global norm (Pascanu et al. 2013), like torch.nn.utils.clip_grad_norm_.",
    (
        Test("returns (clipped, total_norm): a list of arrays shaped like grads and a float", 1, _clip_types),
        Test("total_norm is the norm of all gradients together", 1, _clip_norm),
        Test("gradients with a total norm below max_norm come back unchanged", 1, _clip_small),
        Test("larger gradients are all scaled by one factor to a total norm of max_norm", 1, _clip_large),
    ),
)

def _worst_case_factor() -> float:
    """max ||dL/dh_0|| / ||dL/dh_50|| for h_t = W h_{t-1}, W = [[0.9, 0.5], [0, 0.9]]: the spectral norm
    of (W^T)^50, computed when the answer is checked (far above the spectral radius' 0.9**50)."""
    W = np.array([[0.9, 0.5], [0.0, 0.9]])
    return float(np.linalg.norm(np.linalg.matrix_power(W.T, 50), 2))


SPECTRAL = number_question(
    "spectral_radius", NOTEBOOK,
    "h_t = W h_{t-1} with the non-normal W = [[0.9, 0.5], [0, 0.9]] (spectral radius 0.9): the largest "
    "possible ||dL/dh_0|| / ||dL/dh_50||.",
    expected=_worst_case_factor, rel=1e-3,
)

TASKS = (CLIP, SPECTRAL)
