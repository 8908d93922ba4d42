"""Shared pytest fixtures: the devices every torch test runs on (CPU, plus CUDA when present), and the pinned
command-line tools of the venv."""
import shutil
import sys
from pathlib import Path

import pytest

try:
    import torch

    DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
except ImportError:  # pragma: no cover
    DEVICES = ["cpu"]


@pytest.fixture(params=DEVICES)
def device(request):
    """A torch.device; tests using it run once on CPU and once on CUDA when available."""
    import torch

    return torch.device(request.param)


@pytest.fixture
def venv_tool():
    """``venv_tool(name)``: the path of a command-line tool pinned in requirements.txt (beside this Python,
    else on PATH); fails the test, saying how to install it, when it is missing."""
    def find(name):
        exe = Path(sys.executable).with_name(name)
        found = str(exe) if exe.exists() else shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed: `make setup` installs the pin from requirements.txt")
        return found
    return find
