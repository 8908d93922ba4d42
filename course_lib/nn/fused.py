"""Whole-sequence recurrences with a hand-written backward pass (``mode="fused"``).

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

Tests check these against the readable loop and against ``torch.nn`` (values and gradients).
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


def _tanh_(t):
    """In-place ``tanh(t) = 2 sigmoid(2 t) - 1``: on a CPU, ATen's sigmoid kernel is vectorised and
    its tanh is several times slower, so four cheap operations beat one ``tanh_``."""
    return t.mul_(2).sigmoid_().mul_(2).sub_(1)


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
        ctx.save_for_backward(hs, w_hh, mask)
        ctx.reverse, ctx.relu = reverse, relu
        return out.contiguous() if reverse or mask is not None else out.clone(), h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, dh_n):
        hs, w_hh, mask = ctx.saved_tensors
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
        dw = da.reshape(T * B, H).t().mm(h_prev.reshape(T * B, H))
        return da, dw, dh, None, None, None


class _FusedLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0, mask, reverse):
        T, B, G = xw.shape
        H = G // 4
        wt = w_hh.t()
        acts = torch.empty_like(xw)              # activated gates i, f, g, o per time step
        hs, cs = xw.new_empty(T + 1, B, H), xw.new_empty(T + 1, B, H)
        tcs = xw.new_empty(T, B, H)              # tanh of the new cell, per time step
        hs[0], cs[0] = h0, c0
        h, c = hs[0], cs[0]
        # per-step views made once (indexing inside the loop costs more than the arithmetic)
        X, A, HS, CS, TC = xw.unbind(0), acts.unbind(0), hs.unbind(0), cs.unbind(0), tcs.unbind(0)
        G, O = acts[..., 2 * H: 3 * H].unbind(0), acts[..., 3 * H:].unbind(0)
        I, Fg = acts[..., :H].unbind(0), acts[..., H: 2 * H].unbind(0)
        M = None if mask is None else mask.unbind(0)
        for k, t in enumerate(_order(T, reverse)):
            torch.addmm(X[t], h, wt, out=A[t])                 # eq-lstm-gates: one product
            G[t].mul_(2)                                         # tanh(a) = 2 sigmoid(2a) - 1:
            A[t].sigmoid_()                                      # one sigmoid for all four gates
            G[t].mul_(2).sub_(1)
            if M is None:
                c = torch.mul(Fg[t], c, out=CS[k + 1]).addcmul_(I[t], G[t])       # eq-lstm-c
                h = torch.mul(O[t], _tanh_(torch.mul(c, 1, out=TC[t])), out=HS[k + 1])  # eq-lstm-h
            else:
                cn = torch.mul(Fg[t], c).addcmul_(I[t], G[t])
                hn = O[t] * _tanh_(torch.mul(cn, 1, out=TC[t]))
                c = torch.lerp(c, cn, M[t], out=CS[k + 1])
                h = torch.lerp(h, hn, M[t], out=HS[k + 1])
        out = _time_major(hs[1:], reverse)
        if mask is not None:
            out = out * mask
        ctx.save_for_backward(acts, hs, cs, tcs, w_hh, mask)
        ctx.reverse = reverse
        return (out.contiguous() if reverse or mask is not None else out.clone()), h.clone(), c.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, dh_n, dc_n):
        acts, hs, cs, tcs, w_hh, mask = ctx.saved_tensors
        T, B, G = acts.shape
        H = G // 4
        h_prev = _time_major(hs[:-1], ctx.reverse)
        c_prev = _time_major(cs[:-1], ctx.reverse)
        i, f, g, o = acts.split(H, dim=2)
        # d loss / d pre-activation = (upstream) * factor; the factors do not depend on the
        # upstream gradient, so they are computed for all steps at once:
        #   i: dc * g * i(1-i)   f: dc * c_prev * f(1-f)   g: dc * i * (1-g^2)   o: dh * tanh(c) * o(1-o)
        fac = torch.empty_like(acts)
        torch.mul(g, i * (1 - i), out=fac[..., :H])
        torch.mul(c_prev, f * (1 - f), out=fac[..., H: 2 * H])
        torch.mul(i, 1 - g * g, out=fac[..., 2 * H: 3 * H])
        torch.mul(tcs, o * (1 - o), out=fac[..., 3 * H:])
        dc_from_h = o * (1 - tcs * tcs)          # d c / from d h through h = o tanh(c)
        fac3 = fac[..., : 3 * H].view(T, B, 3, H).unbind(0)
        fac_o = fac[..., 3 * H:].unbind(0)
        dgates = torch.empty_like(acts)
        dg3 = dgates[..., : 3 * H].view(T, B, 3, H).unbind(0)
        dg_o, DG = dgates[..., 3 * H:].unbind(0), dgates.unbind(0)
        DOUT, DCH, Fg = dout.unbind(0), dc_from_h.unbind(0), f.unbind(0)
        M = None if mask is None else mask.unbind(0)
        NM = None if mask is None else (1 - mask).unbind(0)
        dh, dc = dh_n, dc_n
        for t in reversed(_order(T, ctx.reverse)):
            dht = dh + DOUT[t]
            if M is None:
                dct = torch.addcmul(dc, dht, DCH[t])
            else:
                dht.mul_(M[t])
                dct = torch.addcmul(dc * M[t], dht, DCH[t])
            torch.mul(fac3[t], dct.unsqueeze(1), out=dg3[t])
            torch.mul(fac_o[t], dht, out=dg_o[t])
            if M is None:
                dh = torch.mm(DG[t], w_hh)
                dc = dct * Fg[t]
            else:
                dh = torch.addmm(dh * NM[t], DG[t], w_hh)
                dc = torch.addcmul(dc * NM[t], dct, Fg[t])
        dw = dgates.reshape(T * B, G).t().mm(h_prev.reshape(T * B, H))
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
        ctx.save_for_backward(acts, ghs, hs, w_hh, mask)
        ctx.reverse = reverse
        return (out.contiguous() if reverse or mask is not None else out.clone()), h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, dh_n):
        acts, ghs, hs, w_hh, mask = ctx.saved_tensors
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
        dw = dgh.reshape(T * B, G).t().mm(h_prev.reshape(T * B, H))
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
