"""`ruff check` (pinned in requirements.txt, rules in pyproject.toml) finds nothing, and it does find a bug."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff():
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: `make setup` installs the pin from requirements.txt")
    return found


def test_ruff_finds_nothing():
    proc = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, "ruff findings (fix them, or `# noqa: CODE` with the rule named):\n" + proc.stdout


def test_ruff_uses_the_projects_rules_and_catches_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name  # noqa: E731\n")
    proc = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise",
                           "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    for code in ("F401", "F821", "RUF100"):       # unused import, undefined name, a marker for a rule not enabled
        assert code in proc.stdout, proc.stdout
