"""The `# NBVAL_CHECK_OUTPUT` marker really checks: nbval fails when a marked cell's output differs from the
expectation stored in its metadata, and passes when it matches (through the repository's conftest.py)."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import nbcheck

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path, expected_text):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(f"{nbcheck.MARKER}\nprint(6 * 7)")
    cell.metadata[nbcheck.KEY] = [{"output_type": "stream", "name": "stdout", "text": expected_text}]
    nb.cells = [cell, nbformat.v4.new_code_cell("print('unchecked', 1 / 3)")]
    nbformat.write(nb, str(path))


def _nbval(path):
    env = dict(os.environ, JUPYTER_PATH=str(ROOT / ".venv" / "share" / "jupyter"))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "--nbval-lax", "--nbval-current-env", "--rootdir", str(ROOT), "-c",
                           str(ROOT / "pyproject.toml"), str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def nbdir():
    # inside the repository so that its conftest.py applies; removed afterwards
    d = ROOT / "_build" / "nbcheck-test"
    d.mkdir(parents=True, exist_ok=True)
    yield d
    for p in d.glob("*.ipynb"):
        p.unlink()


def test_matching_expectation_passes_and_wrong_one_fails(nbdir):
    good, bad = nbdir / "good.ipynb", nbdir / "bad.ipynb"
    _notebook(good, "42\n")
    _notebook(bad, "41\n")
    r_good, r_bad = _nbval(good), _nbval(bad)
    assert r_good.returncode == 0, r_good.stdout[-2000:]
    assert r_bad.returncode != 0 and "Cell outputs differ" in r_bad.stdout, r_bad.stdout[-2000:]


def test_text_outputs_keep_text_and_drop_figures():
    outs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
            nbformat.v4.new_output("display_data", data={"image/png": "xx", "text/plain": "<Figure>"}),
            nbformat.v4.new_output("execute_result", data={"text/plain": "3"}, execution_count=4)]
    kept = nbcheck.text_outputs(outs)
    assert [o["output_type"] for o in kept] == ["stream", "execute_result"]
    assert kept[1]["data"] == {"text/plain": "3"}
