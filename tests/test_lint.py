"""`ruff check` (pinned in requirements.txt, rules in pyproject.toml) finds nothing, and it does find a bug."""
import subprocess
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing(venv_tool):
    proc = subprocess.run([venv_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, "ruff findings (fix them, or `# noqa: CODE` with the rule named):\n" + proc.stdout


def test_ruff_uses_the_projects_rules_and_catches_an_undefined_name(tmp_path, venv_tool):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name  # noqa: E731\n")
    proc = subprocess.run([venv_tool("ruff"), "check", "--no-cache", "--output-format", "concise",
                           "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    for code in ("F401", "F821", "RUF100"):       # unused import, undefined name, a marker for a rule not enabled
        assert code in proc.stdout, proc.stdout
