"""``python -m course_lib.bench ref``: forward + backward time of ``course_lib.ref`` layers vs ``torch.nn``.

Both run on the CPU in float64 with the same weights and inputs; the two are timed alternately in one
run, so the printed ratio ref / torch is fair even on a busy machine. The figure reported is the best
(minimum) of ``--repeats`` timings of each, which is the least disturbed by other processes.
Default shape: batch 32, time 100, input 64, hidden 128 (target for the LSTM: ratio <= 2).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

CELLS = ("LSTM", "RNN", "GRU")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m course_lib.bench ref", description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--time", type=int, default=100)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeats", type=int, default=10, help="timings of each (best is reported)")
    p.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    return p.parse_args(argv)


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_cell(name, batch, steps, input_size, hidden, repeats):
    """Best fwd+bwd seconds of ref.<name> and torch.nn.<name> (alternated), and their max |difference|."""
    import torch

    from course_lib import ref

    torch.manual_seed(0)
    tmod = getattr(torch.nn, name)(input_size, hidden, batch_first=True, dtype=torch.float64)
    rmod = getattr(ref, name).from_torch(tmod)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, input_size))
    d_out = rng.standard_normal((batch, steps, hidden))
    xt, d_out_t = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(d_out)

    def run_ref():
        rmod.forward(x)
        return rmod.backward(d_out)

    def run_torch():
        tmod.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = tmod(xt)
        out.backward(d_out_t)

    run_ref(), run_torch()  # warm-up (allocations, thread pools)
    t_ref, t_torch = [], []
    for _ in range(repeats):
        t_ref.append(_time(run_ref))
        t_torch.append(_time(run_torch))
    grads = run_ref()
    run_torch()
    diff = max(float(np.max(np.abs(grads[n] - p.grad.numpy()))) for n, p in tmod.named_parameters())
    return min(t_ref), min(t_torch), diff


def main(argv=None) -> int:
    args = _parse([] if argv is None else argv)
    import torch

    print(f"course_lib.ref vs torch.nn: forward + backward, float64, CPU ({torch.get_num_threads()} torch threads), "
          f"batch {args.batch}, time {args.time}, input {args.input}, hidden {args.hidden}, "
          f"best of {args.repeats}")
    print(f"{'layer':<6} {'ref ms':>9} {'torch ms':>9} {'ref/torch':>10} {'max|grad diff|':>15}")
    for name in args.cells:
        t_ref, t_torch, diff = bench_cell(name, args.batch, args.time, args.input, args.hidden, args.repeats)
        print(f"{name:<6} {1e3 * t_ref:9.1f} {1e3 * t_torch:9.1f} {t_ref / t_torch:9.2f}x {diff:15.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
