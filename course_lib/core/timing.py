"""The course's one timer: interleaved repeats, so a burst of machine noise cannot decide a comparison alone."""
from __future__ import annotations

import statistics
import time


def sync(device):
    """Wait for queued CUDA work on ``device`` (a no-op on the CPU), so a timer measures the work itself."""
    if getattr(device, "type", device) == "cuda":
        import torch

        torch.cuda.synchronize(device)


def time_interleaved(fns, device, repeats=10, warmup=2, stat=statistics.median):
    """``stat`` (median by default) of the seconds of each callable in ``fns`` (a dict ``name -> f()``),
    run in interleaved rounds after ``warmup`` calls each; ``stat=None`` returns every time (lists)."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            sync(device)
            t = time.perf_counter()
            f()
            sync(device)
            times[k].append(time.perf_counter() - t)
    return times if stat is None else {k: stat(v) for k, v in times.items()}
