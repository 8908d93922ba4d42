"""course_lib.seed / device / setup, and the Colab set-up cell run in a simulated Colab."""
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

import course_lib
from course_lib import colab


def test_seed_sets_every_generator_and_cudnn_flags():
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = True
    course_lib.seed(123)
    a = (np.random.rand(3), torch.rand(3))
    course_lib.seed(123)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # the real attribute names: a misspelt flag would silently do nothing
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        course_lib.seed(bad)


def test_device_picks_cuda_only_when_available(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert course_lib.device().type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert course_lib.device().type == "cuda"
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert course_lib.device().type == "cpu"


def test_device_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'; got 'tpu'"):
        course_lib.device("tpu")
    with pytest.raises(ValueError, match="cuda.is_available"):
        course_lib.device("cuda")


def test_install_spec_and_url_validation():
    assert colab.install_spec("https://github.com/a/b/", "dev") == "course_lib @ git+https://github.com/a/b@dev"
    with pytest.raises(ValueError, match="https://"):
        colab.install_spec("git@github.com:a/b.git")


def _run_setup_cell(monkeypatch, colab_present, cuda_present):
    """Execute the real set-up cell with a fake google.colab module and a recording pip."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check=False: calls.append(cmd))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_present)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU", raising=False)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda n: None)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    if colab_present:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    url, branch = colab.repository()
    ns = {}
    exec(colab.setup_cell_source(url, branch), ns)
    return calls, ns["device"], url, branch


def test_setup_cell_on_colab_installs_from_the_configured_repo_and_picks_gpu(monkeypatch, capsys):
    calls, dev, url, branch = _run_setup_cell(monkeypatch, colab_present=True, cuda_present=True)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", f"course_lib @ git+{url}@{branch}"]]
    assert dev.type == "cuda"
    assert "Colab" in capsys.readouterr().out


def test_setup_cell_locally_installs_nothing(monkeypatch):
    calls, dev, _, _ = _run_setup_cell(monkeypatch, colab_present=False, cuda_present=False)
    assert calls == [] and dev.type == "cpu"


def test_repository_url_lives_in_config_only():
    url, branch = colab.repository()
    assert url.startswith("https://github.com/") and branch == "main"
