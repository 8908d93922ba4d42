"""tools/notebooks.py, the pytest plugin of `make test`'s nbval run: the book cache it fills is what the book
build finds, outputs in the order the kernel sent them; the per-notebook budget stops a slow notebook."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return nb


def _nbval(tmp_path, *args, static=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("COURSE_STATIC_BOOK", None)
    if static:
        env["COURSE_STATIC_BOOK"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tools.notebooks",
                           "--nbval-lax", "--nbval-current-env", "-q", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_book_cache_holds_the_outputs_in_arrival_order_and_matches_the_source(tmp_path):
    from jupyter_cache import get_cache

    nb = _notebook(tmp_path / "page.ipynb",
                   "print('before')\nfrom IPython.display import display, Markdown\ndisplay(Markdown('**shown**'))\n"
                   "print('after')",
                   "x = 6 * 7\nx")
    cache = tmp_path / "cache"
    proc = _nbval(tmp_path, f"--book-cache={cache}", "--notebook-times=times.json", "page.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "slowest notebooks" in proc.stdout and (tmp_path / "times.json").exists()
    _, merged = get_cache(str(cache)).merge_match_into_notebook(nb)       # what myst-nb does with the source
    first, second = [c for c in merged.cells if c.cell_type == "code"]
    kinds = [(o.output_type, o.get("text", "").strip() or sorted(o.get("data", {}))) for o in first.outputs]
    assert kinds == [("stream", "before"), ("display_data", ["text/markdown", "text/plain"]), ("stream", "after")]
    assert second.execution_count == 2 and second.outputs[0]["data"]["text/plain"] == "42"
    assert merged.metadata["language_info"]["name"] == "python"


def test_a_failing_notebook_is_not_cached(tmp_path):
    _notebook(tmp_path / "bad.ipynb", "print(1)", "1 / 0")
    proc = _nbval(tmp_path, f"--book-cache={tmp_path / 'cache'}", "bad.ipynb")
    assert proc.returncode == 1
    from jupyter_cache import get_cache
    assert get_cache(str(tmp_path / "cache")).list_cache_records() == []


def test_the_budget_stops_a_slow_notebook_and_skips_the_rest(tmp_path):
    _notebook(tmp_path / "slow.ipynb", "import time", "time.sleep(60)", "print('never')")
    proc = _nbval(tmp_path, "--notebook-timeout=4", "-rs", "slow.ipynb")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "ran past its time budget of 4 s" in out and "stopped in Cell 1" in out, out
    assert "notebook stopped: over its 4 s budget" in out and "1 failed, 1 passed, 1 skipped" in out, out


def test_book_cache_refuses_the_live_kernel_environment(tmp_path):
    _notebook(tmp_path / "page.ipynb", "1")
    proc = _nbval(tmp_path, f"--book-cache={tmp_path / 'cache'}", "page.ipynb", static=False)
    assert proc.returncode != 0 and "COURSE_STATIC_BOOK=1" in proc.stderr, proc.stderr


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_budget_must_be_positive(tmp_path, bad):
    _notebook(tmp_path / "page.ipynb", "1")
    proc = _nbval(tmp_path, f"--notebook-timeout={bad}", "page.ipynb")
    assert proc.returncode != 0 and "positive number of seconds" in proc.stderr, proc.stderr
