"""``python -m course_lib.bench gpu``: the GPU measurements, in one run (skips, saying why, without CUDA).

1. ``course_lib.nn.LSTM`` / ``GRU`` (``impl="fused"`` and ``"loop"``) against ``torch.nn`` (cuDNN):
   forward + backward, batch 64, time 100, input = hidden = 512, float32;
2. ``MinGRU`` forward + backward, sequential loop against the parallel scan, T = 256 ... 4096
   (batch 8, hidden 512);
3. the wall time of one chapter notebook executed on the GPU (default ``book/11_modern_rnns.ipynb``).

Times and ratios are printed, never asserted. Options: ``--repeats N``, ``--notebook PATH`` (``""`` skips 3).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from .nn import bench_mingru, bench_rnns


def chapter_seconds(path, timeout=600):
    """Wall time (s) of executing the notebook at ``path`` top to bottom in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m course_lib.bench gpu", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--notebook", default="book/11_modern_rnns.ipynb")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1; got {args.repeats}")
    if not torch.cuda.is_available():
        print("gpu benchmark skipped: torch.cuda.is_available() is False (no CUDA device or a CPU-only torch)")
        return 0
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, GPU {torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")
    print("\nfwd+bwd, batch 64, time 100, input = hidden = 512, float32 (best ms; ratio to torch.nn of best, median)")
    for kind, t in bench_rnns(dev, batch=64, T=100, size=512, repeats=args.repeats):
        best = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        print(f"{kind:5} torch.nn {best['torch'] * 1e3:8.2f}" + "".join(
            f"  {c} {best[c] * 1e3:8.2f} ({best[c] / best['torch']:.2f}x, {med[c] / med['torch']:.2f}x)"
            for c in ("fused", "loop")))
    print("\nMinGRU fwd+bwd, batch 8, hidden 512, float32 (median ms)")
    for T, t in bench_mingru(dev, Ts=(256, 1024, 4096), batch=8, size=512, repeats=max(2, args.repeats // 2)):
        print(f"T = {T:5d}: sequential {t['sequential'] * 1e3:9.2f}  scan {t['scan'] * 1e3:8.2f}  "
              f"sequential/scan {t['sequential'] / t['scan']:6.2f}x")
    if args.notebook:
        print(f"\n{args.notebook}: {chapter_seconds(args.notebook):.1f} s executed on the GPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
