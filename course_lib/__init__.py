"""course_lib: the shared library of "Recurrent Neural Networks, from Hopfield to Transformers".

Submodules (one idea each, see DESIGN.md):

- :mod:`course_lib.ref`     NumPy reference implementations with hand-written backward passes (BPTT).
- :mod:`course_lib.nn`      PyTorch modules that run on CPU or GPU, twins of ``torch.nn``.
- :mod:`course_lib.data`    synthetic sequence tasks generated from a seed, and the shipped corpora.
- :mod:`course_lib.train`   the one training loop every chapter uses.
- :mod:`course_lib.viz`     plotting helpers and ipywidgets demos.
- :mod:`course_lib.grading` exercise checks and batch grading.
- :mod:`course_lib.bench`   benchmarks printing ratios against the library kernels.

Top-level helpers: :func:`seed`, :func:`device`, :func:`setup`.
torch is imported lazily so that ``import course_lib`` (and ``course_lib.ref``) stays light.
"""
from __future__ import annotations

import os
import random
import sys

__version__ = "0.1.0"

__all__ = ["seed", "device", "setup", "in_colab", "__version__"]


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def seed(n: int = 0) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) and make cuDNN deterministic.

    Returns ``n`` so a notebook can print it. Safe to call before torch is installed
    (torch parts are skipped only if torch cannot be imported).
    """
    if not isinstance(n, (int,)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"seed must be a non-negative int; got {n!r}")
    random.seed(n)
    os.environ["PYTHONHASHSEED"] = str(n)
    import numpy as np

    np.random.seed(n)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return n
    torch.manual_seed(n)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(n)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return n


def device(prefer: str | None = None):
    """The device every chapter uses: ``cuda`` when available, else ``cpu``.

    ``prefer="cpu"`` forces the CPU; the environment variable ``COURSE_DEVICE`` does the
    same for a whole run (e.g. ``COURSE_DEVICE=cpu``).
    """
    import torch

    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice is not None:
        if choice not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda'; got {choice!r}")
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but torch.cuda.is_available() is False")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(seed_value: int = 0, verbose: bool = True):
    """What every chapter's set-up cell calls: seed everything, pick the device, print versions.

    Returns the :func:`device`.
    """
    import numpy as np
    import torch

    seed(seed_value)
    dev = device()
    try:  # inside IPython: every figure gets alt text (course_lib.viz.figures)
        from .viz.figures import enable_alt_text

        enable_alt_text()
    except Exception:  # pragma: no cover - a plotting nicety must never break set-up
        pass
    if verbose:
        where = "Colab" if in_colab() else "local"
        gpu = f" ({torch.cuda.get_device_name(0)})" if dev.type == "cuda" else ""
        print(f"course_lib {__version__} | torch {torch.__version__} | numpy {np.__version__} | "
              f"device {dev.type}{gpu} | {where} | seed {seed_value}")
    return dev
