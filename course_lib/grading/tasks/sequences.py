"""Whole-sequence forward and backward (BPTT) tasks for gated cells, shared by chapters 05 (LSTM) and 06 (GRU).

A task gives the learner the inputs of one layer -- ``x`` (batch, time, input), the initial state(s)
and torch-layout weights -- and compares with :class:`course_lib.ref.LSTM` / :class:`course_lib.ref.GRU`
loaded with the same weights. The backward tasks also pass the gradient reaching the final state(s),
so a learner who forgets that ``h_n`` (and ``c_n``) are outputs too loses the test that uses it.
"""
from __future__ import annotations

import numpy as np

from ... import ref
from ..compare import call_learner, expect_array, expect_tuple
from ..registry import Task, Test
from .common import cell_weights, check_callable, normal, sizes

__all__ = ["forward_task", "backward_task"]

_KINDS = {"lstm": (4, ref.LSTM, ("h0", "c0")), "gru": (3, ref.GRU, ("h0",))}


def _case(kind, rng, time=None, zero_state=False):
    n_gates, cls, states = _KINDS[kind]
    batch, n_in, hidden = sizes(rng)
    time = int(rng.integers(3, 7)) if time is None else time
    x = normal(rng, batch, time, n_in)
    s0 = [np.zeros((batch, hidden)) if zero_state else normal(rng, batch, hidden, scale=0.8) for _ in states]
    w = cell_weights(rng, n_gates, n_in, hidden)
    model = cls(n_in, hidden)
    model.load_state_dict({"weight_ih_l0": w["W_ih"], "weight_hh_l0": w["W_hh"],
                           "bias_ih_l0": w["b_ih"], "bias_hh_l0": w["b_hh"]})
    state = (s0[0][None], s0[1][None]) if kind == "lstm" else s0[0][None]
    out, final = model.forward(x, state)
    final = tuple(f[0] for f in final) if kind == "lstm" else (final[0],)
    return model, x, s0, (w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"]), out, final


def forward_task(kind: str, name: str, notebook: str, description: str) -> Task:
    """``name(x, *states0, W_ih, W_hh, b_ih, b_hh) -> (out, final)``: ``final`` is ``(h_n, c_n)`` for the
    LSTM, ``h_n`` for the GRU (each (batch, hidden))."""
    _, _, states = _KINDS[kind]
    sig = f"{name}(x, {', '.join(states)}, W_ih, W_hh, b_ih, b_hh)"
    final_names = ("h_n", "c_n") if kind == "lstm" else ("h_n",)
    returns = f"(out, ({', '.join(final_names)}))" if kind == "lstm" else "(out, h_n)"

    def run(fn, rng, **case):
        check_callable(fn, sig)
        _, x, s0, w, out, final = _case(kind, rng, **case)
        got = expect_tuple(call_learner(fn, x, *s0, *w, name=name), 2, name, returns)
        got_final = expect_tuple(got[1], 2, name, returns + " -- its second item") if kind == "lstm" else (got[1],)
        return got[0], got_final, out, final

    def shapes(fn, rng):
        g_out, g_final, out, final = run(fn, rng)
        for g, e, n in zip((g_out,) + tuple(g_final), (out,) + final, ("out",) + final_names):
            if not isinstance(g, np.ndarray) or g.shape != e.shape:
                expect_array(g, e, n)

    def zero_state(fn, rng):
        g_out, _, out, _ = run(fn, rng, zero_state=True)
        expect_array(g_out, out, "out (zero initial state)")

    def random_state(fn, rng):
        g_out, _, out, _ = run(fn, rng)
        expect_array(g_out, out, "out (random initial state)")

    def finals(fn, rng):
        _, g_final, _, final = run(fn, rng)
        for g, e, n in zip(g_final, final, final_names):
            expect_array(g, e, f"{n} (the state after the last step)")

    return Task(name, notebook, description, (
        Test(f"returns {returns} shaped (batch, time, hidden) and (batch, hidden)", 1, shapes),
        Test("out is right from a zero initial state", 1, zero_state),
        Test("out is right from a random initial state (the recurrence)", 1, random_state),
        Test(f"{' and '.join(final_names)} are right", 1, finals),
    ))


def backward_task(kind: str, name: str, notebook: str, description: str) -> Task:
    """``name(d_out, d_final, x, *states0, W_ih, W_hh, b_ih, b_hh) -> (dx, d_states0..., dW_ih, dW_hh,
    db_ih, db_hh)``; ``d_final`` is ``(dh_n, dc_n)`` for the LSTM, ``dh_n`` for the GRU."""
    _, _, states = _KINDS[kind]
    grads = ("dx",) + tuple("d" + s for s in states) + ("dW_ih", "dW_hh", "db_ih", "db_hh")
    sig = f"{name}(d_out, d_final, x, {', '.join(states)}, W_ih, W_hh, b_ih, b_hh)"
    returns = "(" + ", ".join(grads) + ")"

    def run(fn, rng, time=None, with_final=True, with_out=True):
        check_callable(fn, sig)
        model, x, s0, w, out, final = _case(kind, rng, time=time)
        d_out = normal(rng, *out.shape) if with_out else np.zeros_like(out)
        d_final = [normal(rng, *f.shape) if with_final else np.zeros_like(f) for f in final]
        d_state = (d_final[0][None], d_final[1][None]) if kind == "lstm" else d_final[0][None]
        g = model.backward(d_out, d_state)
        expected = (g["x"],) + tuple(g[s][0] for s in states) + (
            g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"])
        passed = tuple(d_final) if kind == "lstm" else d_final[0]
        got = expect_tuple(call_learner(fn, d_out, passed, x, *s0, *w, name=name), len(grads), name, returns)
        return got, expected, x.shape[1]

    def compare(got, expected, which, note):
        for g, e, n in zip(got, expected, grads):
            if n in which:
                expect_array(g, e, f"{n} ({note})", kind="gradient")

    def shapes(fn, rng):
        got, expected, _ = run(fn, rng)
        for g, e, n in zip(got, expected, grads):
            if not isinstance(g, np.ndarray) or g.shape != e.shape:
                expect_array(g, e, n)

    def one_step(fn, rng):
        got, expected, _ = run(fn, rng, time=1)
        compare(got, expected, grads, "time = 1: the cell backward")

    def through_time(fn, rng):
        got, expected, t = run(fn, rng, with_final=False)
        compare(got, expected, grads[: 1 + len(states)], f"time = {t}, gradient from out only")

    def weights(fn, rng):
        got, expected, t = run(fn, rng, with_final=False)
        compare(got, expected, grads[1 + len(states):], f"time = {t}: summed over every step")

    def final_state(fn, rng):
        got, expected, t = run(fn, rng, with_out=False)
        compare(got, expected, grads, f"time = {t}, gradient from the final state only")

    return Task(name, notebook, description, (
        Test(f"returns {len(grads)} gradients shaped like x, {', '.join(states)} and the weights", 1, shapes),
        Test("a sequence of one step", 1, one_step),
        Test(f"dx and {', '.join('d' + s for s in states)}: the gradient carried back through time", 2, through_time),
        Test("weight and bias gradients summed over all steps", 1, weights),
        Test("a gradient reaching only the final state (d_final) flows back through every step", 1, final_state),
    ))
