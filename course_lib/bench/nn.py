"""``python -m course_lib.bench nn``: course_lib.nn against torch.nn, measured in one run.

1. forward + backward time of ``course_lib.nn.LSTM`` / ``GRU`` (``impl="fused"`` and ``"loop"``)
   against ``torch.nn.LSTM`` / ``GRU`` (cuDNN on a GPU, oneDNN/ATen on a CPU):
   batch 32, time 100, input = hidden = 128, float32. On a CPU the fused path is also timed with
   its matrix products on ``torch.mm`` instead of oneDNN (``fused.USE_ONEDNN = False``), column
   ``fused-mm``, to show what the GEMM library alone is worth;
2. ``MinGRU`` forward + backward, sequential loop against the log-space parallel scan,
   for T in {64, 256, 1024, 4096} (batch 8, hidden 128 by default).

Printed as times and ratios, on the CPU and on CUDA when present. On the CPU, the tables are
printed for one thread and for torch's default thread count (when that is more than one): the
element-wise operations of a time step in ``course_lib.nn`` are too small for ATen to split
across threads, while torch's oneDNN LSTM spreads each whole step over all threads, so the
ratio depends on the thread count and both are shown. Timings are interleaved repeats; the
table gives the best (least disturbed) time and the ratio of best times, with the ratio of
medians beside it; nothing is asserted (shared machines are noisy). Options: ``--quick`` (tiny sizes, a smoke test),
``--device cpu|cuda``, ``--repeats N``, ``--threads N`` (repeatable; replaces the default
thread counts).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from ..core.timing import sync as _sync, time_interleaved  # noqa: F401 (re-exported)


def cpu_model() -> str:
    """The CPU's model name (ratios move between machines: print it beside them)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _fwd_bwd(module, x):
    def run():
        out = module(x)[0]
        out.sum().backward()
    return run


def _torch_mm(run):
    """``run`` with the fused recurrences' products on torch.mm instead of oneDNN."""
    from course_lib.nn import fused

    def f():
        old, fused.USE_ONEDNN = fused.USE_ONEDNN, False
        try:
            run()
        finally:
            fused.USE_ONEDNN = old
    return f


def bench_rnns(device, batch=32, T=100, size=128, repeats=10):
    """``[(kind, {column: [seconds, ...]})]``; columns torch, fused, loop, and fused-mm on a CPU."""
    from course_lib import nn as cnn

    rows = []
    for kind in ("LSTM", "GRU"):
        torch.manual_seed(0)
        ref = getattr(torch.nn, kind)(size, size, batch_first=True).to(device)
        fused = getattr(cnn, kind)(size, size, batch_first=True, impl="fused").to(device)
        loop = getattr(cnn, kind)(size, size, batch_first=True, impl="loop").to(device)
        fused.load_state_dict(ref.state_dict())
        loop.load_state_dict(ref.state_dict())
        x = torch.randn(batch, T, size, device=device, requires_grad=True)
        fns = {"torch": _fwd_bwd(ref, x), "fused": _fwd_bwd(fused, x), "loop": _fwd_bwd(loop, x)}
        if device.type == "cpu":
            fns["fused-mm"] = _torch_mm(_fwd_bwd(fused, x))
        t = time_interleaved(fns, device, repeats, stat=None)
        rows.append((kind, t))
    return rows


def bench_mingru(device, Ts=(64, 256, 1024, 4096), batch=8, size=128, repeats=5):
    from course_lib.nn import MinGRU

    rows = []
    for T in Ts:
        torch.manual_seed(0)
        scan = MinGRU(size, size, mode="scan").to(device)
        seq = MinGRU(size, size, mode="sequential").to(device)
        seq.load_state_dict(scan.state_dict())
        x = torch.randn(batch, T, size, device=device, requires_grad=True)
        reps = repeats if T <= 1024 else max(2, repeats // 2)
        rows.append((T, time_interleaved({"sequential": _fwd_bwd(seq, x), "scan": _fwd_bwd(scan, x)},
                                         device, reps, warmup=1)))
    return rows


def _tables(device, n_threads, sizes, Ts, quick):
    dev = device.type
    where = f"{dev}, {n_threads} thread{'s' if n_threads > 1 else ''}" if dev == "cpu" else dev
    b, T, s = sizes.get("batch", 32), sizes.get("T", 100), sizes.get("size", 128)
    print(f"\n[{where}] fwd+bwd, batch {b}, time {T}, input = hidden = {s}, float32 "
          f"(best ms of {sizes['repeats']}; ratio to torch of best, then of medians)")
    cols = ["fused", "loop"] + (["fused-mm"] if dev == "cpu" else [])
    print(f"{'layer':6} {'torch.nn':>9}" + "".join(f" {c:>9}" for c in cols)
          + "".join(f" {c + '/torch best med':>22}" for c in cols))
    for kind, t in bench_rnns(device, b, T, s, sizes["repeats"]):
        best = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        print(f"{kind:6} {best['torch'] * 1e3:9.2f}" + "".join(f" {best[c] * 1e3:9.2f}" for c in cols)
              + "".join(f" {best[c] / best['torch']:15.2f}x {med[c] / med['torch']:5.2f}x" for c in cols))
    mb, ms = (2, 16) if quick else (8, 128)
    print(f"\n[{where}] MinGRU fwd+bwd, batch {mb}, hidden {ms}, float32 (median ms)")
    print(f"{'T':>6} {'sequential':>11} {'scan':>9} {'sequential/scan':>16}")
    for T_, t in bench_mingru(device, Ts, mb, ms, max(2, sizes["repeats"] // 2)):
        print(f"{T_:6d} {t['sequential'] * 1e3:11.2f} {t['scan'] * 1e3:9.2f} {t['sequential'] / t['scan']:15.2f}x")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m course_lib.bench nn", description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), action="append",
                   help="device(s) to run on (default: cpu, plus cuda when available)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: check that the benchmark runs")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, action="append",
                   help="torch CPU thread count(s) to run the CPU tables with (default: 1 and torch's choice)")
    args = p.parse_args(argv)
    default_threads = torch.get_num_threads()
    threads = args.threads or sorted({1, default_threads})
    if any(n < 1 for n in threads):
        p.error(f"--threads must be at least 1; got {threads}")
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if "cuda" in devices and not torch.cuda.is_available():
        print("cuda was asked for but torch.cuda.is_available() is False")
        return 2
    sizes = dict(batch=4, T=8, size=16, repeats=2) if args.quick else dict(repeats=args.repeats)
    Ts = (16, 64) if args.quick else (64, 256, 1024, 4096)
    print(f"torch {torch.__version__}, CPU {cpu_model()}, {default_threads} CPU threads by default"
          + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"))
    try:
        for dev in devices:
            for n in (threads if dev == "cpu" else [default_threads]):
                torch.set_num_threads(n)
                _tables(torch.device(dev), n, sizes, Ts, args.quick)
    finally:
        torch.set_num_threads(default_threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
