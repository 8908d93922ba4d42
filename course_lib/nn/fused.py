"""Whole-sequence recurrences with a hand-written backward pass (``impl="fused"``).

Why: a plain Python loop over :mod:`course_lib.nn.cells` lets autograd record ~10 small
operations per time step and replay them backwards; on a CPU that bookkeeping, not the
arithmetic, dominates (it measured 2.8x ``torch.nn.LSTM``). Here each recurrence is one
:class:`torch.autograd.Function`: the forward loop runs without autograd, writing into
preallocated buffers, and the backward is BPTT written out (book eqs. `eq-bptt-dh`,
`eq-bptt-da`, `eq-bptt-dW`): the parts of each gate's derivative that do not depend on
the incoming gradient are computed for all steps at once before the backward loop, so a
backward step is one matrix product and three or four element-wise operations, and
``dW_hh`` is a single matrix product over all steps at the end.

Every function here covers one direction of one layer:

- ``xw``: ``(time, batch, G * hidden)`` input projections ``W_ih x_t + b_ih`` (time-major);
  for the RNN and LSTM, ``b_hh`` is already added to it (both biases enter the gates the
  same way); the GRU keeps ``b_hh`` apart because the reset gate multiplies it.
- ``mask``: ``None`` or ``(time, batch, 1)`` with 1 where ``t < lengths[b]``; a masked step
  keeps the state and outputs zero, so the reverse direction starts at each sequence's end.
- returns ``out`` ``(time, batch, hidden)`` in time order and the final state(s) ``(batch, hidden)``.

Matrix products go through :func:`_mm_t` / :func:`_mm_t_add` / :func:`_dweight`: on a CPU with
float32 the products over the whole sequence (input projection, ``dW``, ``dx``) call oneDNN's
matrix product (``torch.ops.mkldnn._linear_pointwise``, the GEMM that torch's own CPU LSTM uses)
instead of ``torch.mm`` (MKL's sgemm), which on AMD CPUs runs its AVX2 code path. The LSTM's
small per-step products use ``torch.mm`` by default (``STEP_GEMM = "mm"``: one fixed code path, so runs
are reproducible bit for bit); ``STEP_GEMM = "auto"`` measures once per shape which library is faster
on this CPU (:func:`_step_onednn`), at the price of results that may differ between runs by rounding. It is only a faster product of two matrices; the
recurrence, the gates and the backward pass are the code below. Everything else (float64, GPU, a
torch built without oneDNN, or ``USE_ONEDNN = False``) uses ``torch.mm``/``addmm``. :func:`linear`
is the input projection ``x W^T + b`` for all steps with the same choice of GEMM. Small weights
(``ONEDNN_MIN_SIZE``) stay on ``torch.mm``.

Tests check these against the readable loop and against ``torch.nn`` (values and gradients).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.timing import time_interleaved
from . import cells

# ------------------------------------------------------------------ matrix products
USE_ONEDNN = True        # set to False to use torch.mm everywhere (tests compare both)
ONEDNN_MIN_SIZE = 96     # oneDNN only for weights whose smaller side is at least this: a oneDNN
                         # call costs ~30 us however small, so hidden <= 64 runs faster on torch.mm
_ONEDNN_WORKS = None     # probed once, on first use


def _onednn_works():
    """Does ``torch.ops.mkldnn._linear_pointwise`` exist and give ``a @ w.T (+ other)``?"""
    global _ONEDNN_WORKS
    if _ONEDNN_WORKS is None:
        try:
            lp = torch.ops.mkldnn._linear_pointwise
            g = torch.Generator().manual_seed(0)
            a, w, o = (torch.randn(*s, generator=g) for s in ((5, 3), (4, 3), (5, 4)))
            ok = (torch.allclose(lp(a, w, None, "none", [], ""), a @ w.t(), atol=1e-5)
                  and torch.allclose(lp.binary(a.t().contiguous().t(), o, w, None, "add"), a @ w.t() + o,
                                     atol=1e-5))
        except Exception:  # any failure means: not usable here
            ok = False
        _ONEDNN_WORKS = bool(ok)
    return _ONEDNN_WORKS


def _fast(t, w):
    """Use oneDNN for products of tensors like ``t`` with the weight ``w`` (CPU, float32, big enough)?"""
    return (USE_ONEDNN and t.device.type == "cpu" and t.dtype == torch.float32 and min(w.shape) >= ONEDNN_MIN_SIZE
            and _onednn_works())


def _mm_t(a, w, fast):
    """``a @ w.T`` for 2-D ``a (n, k)``, ``w (m, k)`` (either may be a transposed view)."""
    return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "") if fast else torch.mm(a, w.t())


def _mm_t_add(a, w, other, fast):
    """``other + a @ w.T``; ``other`` is ``(n, m)``."""
    if fast:
        return torch.ops.mkldnn._linear_pointwise.binary(a, other, w, None, "add")
    return torch.addmm(other, a, w.t())


def _dweight(dy, x, fast):
    """``dy.T @ x`` for ``dy (n, m)``, ``x (n, k)``: the gradient of a weight ``(m, k)``."""
    if fast:  # oneDNN is fastest as (x.T @ dy).T with both operands read transposed
        return _mm_t(x.t(), dy.t(), True).t().contiguous()
    return dy.t().mm(x)


STEP_GEMM = "mm"         # the LSTM's per-step products: "mm" (default), "onednn", or "auto" (measured, below)
_STEP_CHOICE = {}        # (batch, gates, hidden, threads) -> use oneDNN?  decided once per process for "auto"


def _step_onednn(B, w, like):
    """Run an LSTM's per-step products (``(B, H) @ (H, 4H)`` forward, ``(B, 4H) @ (4H, H)``
    backward) in oneDNN rather than ``torch.mm``?

    By default (``STEP_GEMM = "mm"``) never: one fixed code path, so float32 results do not depend on
    which library won a timing race on this machine, and ``course_lib.seed`` makes a run reproducible
    bit for bit. ``STEP_GEMM = "onednn"`` always uses oneDNN (for products big enough, see
    :func:`_fast`). ``STEP_GEMM = "auto"`` is the opt-in autotuner, like ``torch.backends.cudnn.benchmark``:
    which library is faster for these small products depends on the CPU (on one AMD EPYC oneDNN's
    AVX-512 kernels were twice as fast as MKL's; on another MKL won by a third), so the first LSTM of a
    given shape (and thread count) times both, once per process (a few milliseconds), and keeps oneDNN
    only if it is at least 10% faster; results may then differ in the last bits between machines and runs.
    """
    if STEP_GEMM not in ("mm", "onednn", "auto"):
        raise ValueError(f"fused.STEP_GEMM must be 'mm', 'onednn' or 'auto'; got {STEP_GEMM!r}")
    if not _fast(like, w) or STEP_GEMM == "mm":
        return False
    if STEP_GEMM == "onednn":
        return True
    key = (B, *w.shape, torch.get_num_threads())
    if key not in _STEP_CHOICE:
        g = torch.Generator().manual_seed(0)
        G, H = w.shape
        h, dg = torch.randn(B, H, generator=g), torch.randn(B, G, generator=g)
        x, dx = torch.randn(B, G, generator=g), torch.randn(B, H, generator=g)
        wt = w.detach().t()
        lp = torch.ops.mkldnn._linear_pointwise.binary

        def onednn():
            lp(h, x, w, None, "add")
            lp(dg, dx, wt, None, "add")

        def mm():
            torch.addmm(x, h, wt)
            torch.addmm(dx, dg, w)

        with torch.no_grad():            # interleaved: a burst of noise cannot decide alone; best of 15
            t = time_interleaved({"onednn": onednn, "mm": mm}, torch.device("cpu"), repeats=15, stat=min)
        _STEP_CHOICE[key] = t["onednn"] < 0.9 * t["mm"]
    return _STEP_CHOICE[key]


def _loop_backward(ctx, kind, inputs, grads_out, mask, reverse):
    """The backward pass that autograd can differentiate again (double backward).

    Runs when a backward pass itself is recorded (``create_graph=True``: a gradient penalty,
    ``torch.autograd.gradgradcheck``, Hessian-vector products). The recurrence is recomputed with
    the readable loop (:func:`course_lib.nn.cells.run_loop`) from the saved inputs, which still carry
    their own graph, and differentiated by autograd with ``create_graph=True``: the result is a graph
    from the inputs and the incoming gradients to the input gradients, so a second backward through it
    is exact (it is the loop's). The hand-written backward below stays the fast path for everything else.

    ``inputs`` are the differentiable arguments of the Function in ``apply`` order (``None`` allowed);
    returns one gradient per ``apply`` argument (``None`` for the rest).
    """
    need = ctx.needs_input_grad
    if kind == "GRU":
        xw, w_hh, b_hh, h0 = inputs
        c0 = None
    elif kind == "LSTM":
        xw, w_hh, h0, c0 = inputs
        b_hh = None
    else:
        xw, w_hh, h0 = inputs
        b_hh = c0 = None
    with torch.enable_grad():
        outs = cells.run_loop(kind, xw, w_hh, b_hh, h0, c0, mask, reverse)
    wanted = [i for i, t in enumerate(inputs) if t is not None and need[i] and t.requires_grad]
    grads = torch.autograd.grad(outs, [inputs[i] for i in wanted], grads_out, create_graph=True,
                                allow_unused=True) if wanted else ()
    result = [None] * len(need)
    for i, g in zip(wanted, grads):
        result[i] = torch.zeros_like(inputs[i]) if g is None else g
    return tuple(result)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, w)
        ctx.has_bias = b is not None
        y = torch.ops.mkldnn._linear_pointwise(x2, w, b, "none", [], "")
        return y.view(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, dy):
        x2, w = ctx.saved_tensors
        dy2 = dy.reshape(-1, dy.shape[-1])
        if torch.is_grad_enabled():     # double backward: the same products in differentiable ops
            dx = dy2.mm(w).view(*dy.shape[:-1], w.shape[1]) if ctx.needs_input_grad[0] else None
            dw = dy2.t().mm(x2) if ctx.needs_input_grad[1] else None
            db = dy2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
            return dx, dw, db
        dx = _mm_t(dy2, w.t(), True).view(*dy.shape[:-1], w.shape[1]) if ctx.needs_input_grad[0] else None
        dw = _dweight(dy2, x2, True) if ctx.needs_input_grad[1] else None
        db = dy2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


def linear(x, w, b=None):
    """``x W^T + b`` over the last dimension (the input projection of all steps at once).

    ``x (..., in)``, ``w (out, in)``, ``b (out,)`` or ``None``; returns ``(..., out)``.
    Same values as :func:`torch.nn.functional.linear`; on a CPU in float32 the products run
    in oneDNN, forward and backward (see the module docstring).
    """
    return _Linear.apply(x, w, b) if _fast(x, w) else F.linear(x, w, b)


def _tanh_(t):
    """In-place ``tanh(t) = 2 sigmoid(2 t) - 1``: on a CPU, ATen's sigmoid kernel is vectorised and
    its tanh is several times slower, so four cheap operations beat one ``tanh_``.

    Exact in algebra, not in rounding: the doubling and the ``2 s`` are exact, but ``2 s - 1`` cancels
    near ``t = 0``, so the *absolute* error stays about one ulp of 1 (6e-8 in float32, 1e-16 in float64)
    while the *relative* error of a small result grows as ``1 / |t|``; torch's ``tanh`` keeps the relative
    error small. The tests' tolerances (1e-5 float32, 1e-10 float64) are absolute-plus-relative."""
    return t.mul_(2).sigmoid_().mul_(2).sub_(1)


def _tanh_half(t2, out):
    """``tanh(t2 / 2) = 2 sigmoid(t2) - 1`` into ``out``, for ``t2`` that holds a doubled value."""
    return torch.sigmoid(t2, out=out).mul_(2).sub_(1)


def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _time_major(states, reverse):
    """``states`` are stored in processing order; return them in time order."""
    return states.flip(0) if reverse else states


class _FusedRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw, w_hh, h0, mask, reverse, relu):
        T, B, H = xw.shape
        wt = w_hh.t()
        hs = xw.new_empty(T + 1, B, H)          # hs[k + 1]: state after the k-th processed step
        hs[0] = h0
        h = hs[0]
        X, HS = xw.unbind(0), hs.unbind(0)          # per-step views, made once
        M = None if mask is None else mask.unbind(0)
        for k, t in enumerate(_order(T, reverse)):
            if M is None:
                h = torch.addmm(X[t], h, wt, out=HS[k + 1])
                h.relu_() if relu else _tanh_(h)
            else:
                hn = torch.addmm(X[t], h, wt)
                hn.relu_() if relu else _tanh_(hn)
                h = torch.lerp(h, hn, M[t], out=HS[k + 1])
        out = _time_major(hs[1:], reverse)
        if mask is not None:
            out = out * mask
        ctx.save_for_backward(hs, w_hh, mask, xw, h0)
        ctx.reverse, ctx.relu = reverse, relu
        return out.contiguous() if reverse or mask is not None else out.clone(), h.clone()

    @staticmethod
    def backward(ctx, dout, dh_n):
        hs, w_hh, mask, xw, h0 = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _loop_backward(ctx, "RNN_RELU" if ctx.relu else "RNN_TANH", (xw, w_hh, h0), (dout, dh_n),
                                  mask, ctx.reverse)
        T, B, H = dout.shape
        h_time = _time_major(hs[1:], ctx.reverse)
        deriv = (h_time > 0).to(h_time.dtype) if ctx.relu else 1 - h_time * h_time
        da = torch.empty_like(deriv)
        dh = dh_n
        DOUT, DER, DA = dout.unbind(0), deriv.unbind(0), da.unbind(0)
        M = None if mask is None else mask.unbind(0)
        NM = None if mask is None else (1 - mask).unbind(0)
        for t in reversed(_order(T, ctx.reverse)):
            dht = dh + DOUT[t]
            if M is None:
                dh = torch.mm(torch.mul(dht, DER[t], out=DA[t]), w_hh)
            else:
                dht.mul_(M[t])
                dh = torch.addmm(dh * NM[t], torch.mul(dht, DER[t], out=DA[t]), w_hh)
        h_prev = _time_major(hs[:-1], ctx.reverse)
        dw = _dweight(da.reshape(T * B, H), h_prev.reshape(T * B, H), _fast(da, w_hh))      # eq-bptt-dW
        return da, dw, dh, None, None, None


class _FusedLSTM(torch.autograd.Function):
    """LSTM over one direction of one layer (eqs. `eq-lstm-gates`..`eq-lstm-h`), see the module docstring.

    A forward step costs one matrix product and six element-wise operations on (batch, hidden)
    tensors (a direct transcription of the equations needs eleven). Three rewrites of the algebra
    make that possible (the scalings by 2 and -1 are exact in floating point; the cell update sums
    its terms in another order, so results agree with ``torch.nn`` to rounding error):

    - the ``g`` rows of ``W_hh`` and ``g`` columns of ``xw`` are doubled, so one ``sigmoid`` over
      the four gates gives ``i, f, s_g = sigmoid(2 a_g), o``, and ``g = tanh(a_g) = 2 s_g - 1``
      (doubling is exact; ``2 s_g - 1`` loses relative precision near ``a_g = 0``, see :func:`_tanh_`);
    - the cell state is kept doubled, ``cs = 2c``, so ``cs_t = f cs_{t-1} + 4 i s_g - 2 i`` and
      ``tanh(c) = 2 sigmoid(cs) - 1`` (the factors 2 and 4 are exact; ``c = f c + i g`` is summed as
      ``f cs + 4 i s_g - 2 i``, three roundings instead of two: equal to torch's to rounding only);
    - the hidden state is kept negated, ``hs = -h``, so ``-h = o - 2 o sigmoid(cs)`` is one
      ``addcmul``; the step's product uses ``-W_hh`` to compensate (negation is exact; ``o - 2 o s``
      rounds like ``o tanh(c)`` only to within an ulp).

    (On a CPU, ATen's ``tanh`` kernel is several times slower than its ``sigmoid``, and each avoided
    operation saves a few microseconds per step.)
    """

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0, mask, reverse):
        T, B, G = xw.shape
        H = G // 4
        fast, step_onednn = _fast(xw, w_hh), _step_onednn(B, w_hh, xw)
        scale = xw.new_ones(G)                  # 2 for the g gate, 1 for the others
        scale[2 * H: 3 * H] = 2
        w_neg = w_hh * scale.neg().unsqueeze(1)  # -W_hh, g rows doubled: a = xw + (-h)(-W_hh)^T
        w_neg_t = w_neg.t()
        acts = xw * scale                       # becomes i, f, s_g, o (activated) per time step
        hs, cs = xw.new_empty(T + 1, B, H), xw.new_empty(T + 1, B, H)   # -h and 2c, processing order
        scs = xw.new_empty(T, B, H)              # sigmoid(2 c_t), time order
        torch.neg(h0, out=hs[0])
        torch.mul(c0, 2, out=cs[0])
        h, c = hs[0], cs[0]
        # per-step views made once (indexing inside the loop costs more than the arithmetic)
        A, HS, CS, SC = acts.unbind(0), hs.unbind(0), cs.unbind(0), scs.unbind(0)
        I, Fg = acts[..., :H].unbind(0), acts[..., H: 2 * H].unbind(0)
        SG, O = acts[..., 2 * H: 3 * H].unbind(0), acts[..., 3 * H:].unbind(0)
        M = None if mask is None else mask.unbind(0)
        for k, t in enumerate(_order(T, reverse)):
            if step_onednn:                                                  # eq-lstm-gates
                torch.sigmoid(torch.ops.mkldnn._linear_pointwise.binary(h, A[t], w_neg, None, "add"), out=A[t])
            else:
                A[t].addmm_(h, w_neg_t).sigmoid_()
            if M is None:
                c = torch.mul(Fg[t], c, out=CS[k + 1]).addcmul_(I[t], SG[t], value=4).sub_(I[t], alpha=2)
                h = torch.addcmul(O[t], O[t], torch.sigmoid(c, out=SC[t]), value=-2, out=HS[k + 1])
            else:
                cn = torch.mul(Fg[t], c).addcmul_(I[t], SG[t], value=4).sub_(I[t], alpha=2)      # eq-lstm-c
                hn = torch.addcmul(O[t], O[t], torch.sigmoid(cn, out=SC[t]), value=-2)         # eq-lstm-h
                c = torch.lerp(c, cn, M[t], out=CS[k + 1])
                h = torch.lerp(h, hn, M[t], out=HS[k + 1])
        out = _time_major(hs[1:], reverse)
        out = torch.neg(out) if mask is None else torch.mul(out, mask).neg_()
        ctx.save_for_backward(acts, hs, cs, scs, w_hh, mask, xw, h0, c0)
        ctx.reverse, ctx.fast, ctx.step_onednn = reverse, fast, step_onednn
        return out, torch.neg(h), c * 0.5

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        acts, hs, cs, scs, w_hh, mask, xw, h0, c0 = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _loop_backward(ctx, "LSTM", (xw, w_hh, h0, c0), (dout, dh_n, dc_n), mask, ctx.reverse)
        T, B, G = acts.shape
        H = G // 4
        i, f, sg, o = acts.split(H, dim=2)
        g = torch.mul(sg, 2).sub_(1)                              # tanh(a_g)
        tc = torch.mul(scs, 2).sub_(1)                            # tanh(c_t)
        # d loss / d pre-activation = (upstream) * factor; the factors do not depend on the
        # upstream gradient, so they are computed for all steps at once:
        #   i: dc * g * i(1-i)   f: dc * c_prev * f(1-f)   g: dc * i * (1-g^2)   o: dh * tanh(c) * o(1-o)
        fac = torch.addcmul(acts, acts, acts, value=-1)          # s (1 - s) for every gate
        fac[..., :H].mul_(g)
        fac[..., H: 2 * H].mul_(_time_major(cs[:-1], ctx.reverse)).mul_(0.5)      # cs holds 2c
        fac[..., 2 * H: 3 * H].mul_(i).mul_(4)                   # 1 - g^2 = 4 s_g (1 - s_g)
        fac[..., 3 * H:].mul_(tc)
        dc_from_h = torch.addcmul(o, o * tc, tc, value=-1)    # d c from d h through h = o tanh(c)
        # the loop multiplies each step's factors by the upstream gradient in place: fac becomes
        # dgates, d loss / d (W_ih x_t + b + W_hh h_{t-1}) (reading and writing the same memory
        # once is faster than filling a second buffer)
        dgates = fac
        fac3 = fac[..., : 3 * H].view(T, B, 3, H).unbind(0)
        fac_o, DG = fac[..., 3 * H:].unbind(0), dgates.unbind(0)
        DOUT, DCH, Fg = dout.unbind(0), dc_from_h.unbind(0), f.unbind(0)
        order = list(reversed(_order(T, ctx.reverse)))
        step = ctx.step_onednn
        w_hh_t = w_hh.t()
        dc = dc_n
        if mask is None:
            dcts = acts.new_empty(T, B, 1, H)     # d loss / d c_t, as (batch, 1, hidden) to broadcast
            DCT, DCT1 = dcts.squeeze(2).unbind(0), dcts.unbind(0)
            # dht = d loss / d h_t in total; the next (earlier) step's dht comes out of the
            # product directly: dht_prev = dout_prev + dgates_t W_hh (eq-bptt-dh)
            dht = dh_n + DOUT[order[0]]
            for n, t in enumerate(order):
                dct = torch.addcmul(dc, dht, DCH[t], out=DCT[t])
                fac3[t].mul_(DCT1[t])
                fac_o[t].mul_(dht)
                if n + 1 < T:
                    dht = _mm_t_add(DG[t], w_hh_t, DOUT[order[n + 1]], step)
                else:
                    dht = _mm_t(DG[t], w_hh_t, step)
                dc = dct.mul_(Fg[t])
            dh = dht
        else:
            M, NM = mask.unbind(0), (1 - mask).unbind(0)
            dh = dh_n
            for t in order:
                dht = (dh + DOUT[t]).mul_(M[t])
                dct = torch.addcmul(dc * M[t], dht, DCH[t])
                fac3[t].mul_(dct.unsqueeze(1))
                fac_o[t].mul_(dht)
                dh = _mm_t_add(DG[t], w_hh_t, dh * NM[t], step)
                dc = torch.addcmul(dc * NM[t], dct, Fg[t])
        h_neg_prev = _time_major(hs[:-1], ctx.reverse)                                        # hs holds -h
        dw = _dweight(dgates.view(T * B, G), h_neg_prev.reshape(T * B, H), ctx.fast).neg_()  # eq-bptt-dW
        return dgates, dw, dh, dc, None, None


class _FusedGRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw, w_hh, b_hh, h0, mask, reverse):
        T, B, G = xw.shape
        H = G // 3
        wt = w_hh.t()
        acts = torch.empty_like(xw)              # r, z, n per time step
        ghs = torch.empty_like(xw)               # W_hh h + b_hh per time step
        hs = xw.new_empty(T + 1, B, H)
        hs[0] = h0
        h = hs[0]
        # per-step views, made once
        GH, HS = ghs.unbind(0), hs.unbind(0)
        XRZ, XN = xw[..., : 2 * H].unbind(0), xw[..., 2 * H:].unbind(0)
        GRZ, GN = ghs[..., : 2 * H].unbind(0), ghs[..., 2 * H:].unbind(0)
        RZ, R, Z, N = (acts[..., : 2 * H].unbind(0), acts[..., :H].unbind(0),
                       acts[..., H: 2 * H].unbind(0), acts[..., 2 * H:].unbind(0))
        M = None if mask is None else mask.unbind(0)
        for k, t in enumerate(_order(T, reverse)):
            torch.addmm(b_hh, h, wt, out=GH[t])
            torch.add(XRZ[t], GRZ[t], out=RZ[t]).sigmoid_()                  # eq-gru-r, eq-gru-z
            n = _tanh_(torch.addcmul(XN[t], R[t], GN[t], out=N[t]))          # eq-gru-n
            if M is None:
                h = torch.lerp(n, h, Z[t], out=HS[k + 1])                    # eq-gru-h: (1-z) n + z h
            else:
                h = torch.lerp(h, torch.lerp(n, h, Z[t]), M[t], out=HS[k + 1])
        out = _time_major(hs[1:], reverse)
        if mask is not None:
            out = out * mask
        ctx.save_for_backward(acts, ghs, hs, w_hh, mask, xw, b_hh, h0)
        ctx.reverse = reverse
        return (out.contiguous() if reverse or mask is not None else out.clone()), h.clone()

    @staticmethod
    def backward(ctx, dout, dh_n):
        acts, ghs, hs, w_hh, mask, xw, b_hh, h0 = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _loop_backward(ctx, "GRU", (xw, w_hh, b_hh, h0), (dout, dh_n), mask, ctx.reverse)
        T, B, G = acts.shape
        H = G // 3
        h_prev = _time_major(hs[:-1], ctx.reverse)
        r, z, n = acts.split(H, dim=2)
        ghn = ghs[..., 2 * H:]
        # d loss / d pre-activation = dh_t * factor, factors for all steps at once:
        a_n = (1 - z) * (1 - n * n)
        a_z = (h_prev - n) * (z * (1 - z))
        a_r = a_n * ghn * (r * (1 - r))
        fac_i = torch.stack([a_r, a_z, a_n], dim=2)           # for W_ih x + b_ih   (T, B, 3, H)
        fac_h = torch.stack([a_r, a_z, a_n * r], dim=2)       # for W_hh h + b_hh
        dgh = torch.empty_like(acts)
        dgh4 = dgh.view(T, B, 3, H)
        dhs = torch.empty_like(hs[1:])
        dh = dh_n
        DOUT, DHS, FH, DGH4, DGH, Z = (dout.unbind(0), dhs.unbind(0), fac_h.unbind(0), dgh4.unbind(0),
                                       dgh.unbind(0), z.unbind(0))
        M = None if mask is None else mask.unbind(0)
        NM = None if mask is None else (1 - mask).unbind(0)
        for t in reversed(_order(T, ctx.reverse)):
            dht = torch.add(dh, DOUT[t], out=DHS[t])
            if M is None:
                torch.mul(FH[t], dht.unsqueeze(1), out=DGH4[t])
                dh = torch.addmm(dht * Z[t], DGH[t], w_hh)
            else:
                dht.mul_(M[t])
                torch.mul(FH[t], dht.unsqueeze(1), out=DGH4[t])
                dh = torch.addmm(torch.addcmul(dh * NM[t], dht, Z[t]), DGH[t], w_hh)
        dxw = (fac_i * dhs.unsqueeze(2)).reshape(T, B, G)
        dw = _dweight(dgh.reshape(T * B, G), h_prev.reshape(T * B, H), _fast(dgh, w_hh))      # eq-bptt-dW
        db = dgh.sum(dim=(0, 1)) if ctx.needs_input_grad[2] else None
        return dxw, dw, db, dh, None, None


def fused_rnn(xw, w_hh, h0, mask=None, reverse=False, nonlinearity="tanh"):
    """Elman recurrence (book eq. `eq-rnn`) over a whole sequence; returns ``(out, h_n)``."""
    return _FusedRNN.apply(xw, w_hh, h0, mask, reverse, nonlinearity == "relu")


def fused_lstm(xw, w_hh, h0, c0, mask=None, reverse=False):
    """LSTM recurrence (book eqs. `eq-lstm-gates`..`eq-lstm-h`); returns ``(out, h_n, c_n)``."""
    return _FusedLSTM.apply(xw, w_hh, h0, c0, mask, reverse)


def fused_gru(xw, w_hh, b_hh, h0, mask=None, reverse=False):
    """GRU recurrence (book eqs. `eq-gru-r`..`eq-gru-h`); returns ``(out, h_n)``.

    ``b_hh`` may be ``None`` (a module built with ``bias=False``).
    """
    if b_hh is None:
        b_hh = xw.new_zeros(xw.shape[-1])
    return _FusedGRU.apply(xw, w_hh, b_hh, h0, mask, reverse)
