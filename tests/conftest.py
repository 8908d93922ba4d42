"""Shared pytest fixtures: the devices every torch test runs on (CPU, plus CUDA when present)."""
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
