"""Expected outputs for ``# NBVAL_CHECK_OUTPUT`` cells, kept in cell metadata.

Notebooks are committed without outputs, but nbval only compares a marked cell's output when the
committed cell *has* an output (an unrun cell is never compared), so the marker alone checks nothing.
The expected text therefore lives in the cell's metadata (``metadata["expected_output"]``), which is not
an output: the notebook stays clean, and the repository's ``conftest.py`` hands it to nbval as the
reference before the cell runs. A test fails when a marked cell has no expected output.

``python -m course_lib.nbcheck record book/01_sequences.ipynb [...]`` executes the notebooks and stores the
text outputs of their marked cells (run it after changing such a cell, and read the diff).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

MARKER = "# NBVAL_CHECK_OUTPUT"
KEY = "expected_output"

__all__ = ["MARKER", "KEY", "is_checked", "expected_outputs", "text_outputs", "record"]


def is_checked(cell) -> bool:
    """True for a code cell whose first line is the ``# NBVAL_CHECK_OUTPUT`` marker."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER)


def text_outputs(outputs) -> list[dict]:
    """The text part of a cell's outputs (streams, and text/plain of results), as plain dicts."""
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream":
            if kept and kept[-1]["output_type"] == "stream" and kept[-1]["name"] == out["name"]:
                kept[-1]["text"] += out["text"]       # one stream, however the kernel flushed it (as nbval reads it)
            else:
                kept.append({"output_type": "stream", "name": out["name"], "text": out["text"]})
        elif out.get("output_type") in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            if "image/png" in out["data"]:          # a figure's repr: not worth checking
                continue
            kept.append({"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"text/plain": out["data"]["text/plain"]}})
    return kept


def expected_outputs(cell):
    """The stored expected outputs of a marked cell as nbformat nodes, or None when there are none."""
    import nbformat

    stored = cell.get("metadata", {}).get(KEY)
    if stored is None:
        return None
    return [nbformat.from_dict(copy.deepcopy(o)) for o in stored]


def record(path, timeout: int = 600) -> int:
    """Execute ``path`` and store the text outputs of its marked cells; returns how many cells were stored."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    run = copy.deepcopy(nb)
    NotebookClient(run, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    count = 0
    for cell, done in zip(nb.cells, run.cells):
        if is_checked(cell):
            cell.metadata[KEY] = text_outputs(done.outputs)
            count += 1
        elif KEY in cell.get("metadata", {}):
            del cell.metadata[KEY]
    nbformat.write(nb, str(path))
    return count


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] != "record":
        print("usage: python -m course_lib.nbcheck record NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for p in argv[1:]:
        print(f"{p}: stored the expected output of {record(p)} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
