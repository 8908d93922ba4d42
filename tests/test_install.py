"""What the README says about installing is what the Makefile and pyproject.toml do."""
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make(*args, env=None):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_python_floor_is_the_same_everywhere():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = re.fullmatch(r">=\s*(3\.\d+)", requires).group(1)
    assert re.search(rf"^PYTHON_MIN := {re.escape(floor)}$", (ROOT / "Makefile").read_text(), re.M)
    assert f"Python >= {floor}" in (ROOT / "README.md").read_text()
    assert f"Python {floor} or newer" in (ROOT / "book" / "00_setup.md").read_text()


def test_make_stops_early_on_an_old_python(tmp_path):
    """A stand-in for python3.9: the version check is the first thing `make setup` runs, before any venv or pip."""
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\ncase "$2" in *platform*) echo 3.9.18;; *) exit 1;; esac\n')
    old.chmod(0o755)
    venv = tmp_path / "venv"
    proc = _make("setup", f"PYTHON={old}", f"VENV={venv}")
    assert proc.returncode != 0
    assert "needs Python >= 3.11" in proc.stderr and "3.9.18" in proc.stderr, proc.stderr
    assert not venv.exists()                               # failed before creating anything
    proc = _make("setup", "PYTHON=no-such-python3", f"VENV={venv}")
    assert proc.returncode != 0 and "'no-such-python3' not found" in proc.stderr, proc.stderr


def _setup_commands(tmp_path, *args):
    proc = _make("-n", "-B", "setup", f"VENV={tmp_path / 'venv'}", *args)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if "pip install" in line]


def test_torch_index_installs_torch_alone_from_that_index_first(tmp_path):
    plain = _setup_commands(tmp_path)
    assert plain and not any("--index-url" in c for c in plain)
    cpu = _setup_commands(tmp_path, "TORCH_INDEX=https://download.pytorch.org/whl/cpu")
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu[0] and "torch==" in cpu[0]
    assert "-r requirements.txt" in cpu[1] and "--index-url" not in cpu[1]   # the other pins: the usual index


@pytest.mark.skipif(shutil.which("sha256sum") is None or subprocess.run(["find", "--version"], capture_output=True)
                    .returncode != 0, reason="needs GNU find and sha256sum (the shell version of the key)")
def test_cache_key_equals_the_earlier_shell_pipeline():
    shell = ("find course_lib -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -printf '%P\\n' | "
             "LC_ALL=C sort | (cd course_lib && xargs sha256sum) | sha256sum | cut -c1-16")
    expected = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert _make("-s", "cache-key").stdout.strip() == expected
