"""Notebooks are committed clean (no outputs, no execution counts) and open with the shared set-up cell.

Discovered by glob: a new notebook is checked without anyone registering it.
"""
from pathlib import Path

import nbformat
import pytest

from course_lib import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = colab.notebook_paths(ROOT)
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def _id(p):
    return str(p.relative_to(ROOT))


def test_there_are_notebooks():
    assert CHAPTERS, "no chapter notebooks found in book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{_id(path)}: code cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_opens_with_the_shared_setup_cell(path):
    url, branch = colab.repository(ROOT / "_config.yml")
    nb = nbformat.read(str(path), as_version=4)
    cell = colab.first_code_cell(nb)
    assert cell is not None, f"{_id(path)} has no code cell"
    assert cell.source == colab.setup_cell_source(url, branch), (
        f"{_id(path)}: first code cell is not the shared set-up cell; run `python -m course_lib.colab sync`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_valid_nbformat_and_python_kernel(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{_id(path)}: kernelspec must be python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=_id)
def test_chapter_has_label_objectives_and_summary(path):
    nb = nbformat.read(str(path), as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    first = nb.cells[0].source.lstrip()
    assert first.startswith("(ch-"), f"{_id(path)}: first cell must start with a (ch-...)= label"
    assert "## Learning objectives" in md, f"{_id(path)}: no '## Learning objectives' section"
    assert "## Summary" in md, f"{_id(path)}: no '## Summary' section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_checked_cells_carry_their_expected_output(path):
    """A `# NBVAL_CHECK_OUTPUT` cell without a stored expectation would check nothing (see course_lib.nbcheck)."""
    from course_lib import nbcheck

    nb = nbformat.read(str(path), as_version=4)
    bare = [i for i, c in enumerate(nb.cells) if nbcheck.is_checked(c) and nbcheck.expected_outputs(c) is None]
    assert not bare, (f"{_id(path)}: cells {bare} are marked {nbcheck.MARKER} but have no expected output; "
                      f"run `python -m course_lib.nbcheck record {_id(path)}`")
