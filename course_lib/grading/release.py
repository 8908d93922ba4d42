"""Student versions of the exercise notebooks: solutions out, prompts in.

``python -m course_lib.grading release [--src exercises] [--out exercises/student] [--check]``

In every code cell of a source notebook:

* a block between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (each alone on its line) becomes
  ``# YOUR CODE HERE`` and ``raise NotImplementedError``, indented like the ``# BEGIN SOLUTION`` line;
* an answer line ``name = <answer>  # SOLUTION`` becomes ``name = None  # YOUR ANSWER HERE``;
* outputs and execution counts are cleared.

Markdown cells and everything else are copied unchanged. A misplaced marker (an ``# END`` without
``# BEGIN``, a block left open, a ``# SOLUTION`` that is not an answer line) is an error naming the
notebook, cell and line, so a solution can never leak by a typo. ``--check`` writes nothing and
exits 1 when the committed student versions differ from what the sources give (a stale copy).
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["ReleaseError", "strip_source", "student_version", "release", "main"]

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
CODE_PROMPT, RAISE = "# YOUR CODE HERE", "raise NotImplementedError"
ANSWER_PROMPT = "# YOUR ANSWER HERE"
_ANSWER = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*\S.*?#\s*SOLUTION\s*$")
_MARKER = re.compile(r"#\s*(BEGIN\s+|END\s+)?SOLUTION\b")


class ReleaseError(ValueError):
    """A source notebook's solution markers are malformed."""


def strip_source(source: str, where: str = "cell") -> str:
    """The student version of one code cell's source (see the module docstring)."""
    out, inside, start = [], False, 0
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ReleaseError(f"{where}, line {number}: {BEGIN!r} inside the block opened on line {start}")
            inside, start = True, number
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + CODE_PROMPT, indent + RAISE]
        elif stripped == END:
            if not inside:
                raise ReleaseError(f"{where}, line {number}: {END!r} without a {BEGIN!r} before it")
            inside = False
        elif inside:
            continue
        elif (match := _ANSWER.match(line)) is not None:
            out.append(f"{match['indent']}{match['name']} = None  {ANSWER_PROMPT}")
        elif _MARKER.search(line):
            raise ReleaseError(f"{where}, line {number}: unrecognised solution marker in {line.strip()!r} "
                               f"(use {BEGIN!r}/{END!r} alone on a line, or 'name = value  # SOLUTION')")
        else:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: the block opened by {BEGIN!r} on line {start} is never closed")
    return "\n".join(out)


def student_version(nb, name: str = "notebook"):
    """A new notebook: ``nb`` with every solution replaced by a prompt and all outputs cleared."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source = strip_source(cell.source, f"{name}, cell {index}")
        cell.outputs = []
        cell.execution_count = None
    return nb


def _render(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return nbformat.writes(student_version(nb, path.name))


def release(src="exercises", out="exercises/student", check: bool = False) -> list[str]:
    """Write the student version of every ``src/*.ipynb`` into ``out``; remove student notebooks
    whose source is gone. Returns what was (or, with ``check=True``, would be) changed, as lines
    ``"wrote PATH"``/``"removed PATH"``; with ``check=True`` nothing is written."""
    src, out = Path(src), Path(out)
    if src.resolve() == out.resolve():
        raise ValueError(f"--out must differ from --src (the sources would be overwritten); got {out}")
    sources = sorted(src.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"no source notebooks (*.ipynb) in {src}")
    changes = []
    for path in sources:
        text, target = _render(path), out / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changes.append(f"wrote {target}")
            if not check:
                out.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    names = {p.name for p in sources}
    for stale in sorted(out.glob("*.ipynb")) if out.exists() else []:
        if stale.name not in names:
            changes.append(f"removed {stale}")
            if not check:
                stale.unlink()
    return changes


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_lib.grading release",
                                     description="Write the student versions of the exercise notebooks.")
    parser.add_argument("--src", default="exercises", help="folder of source notebooks (default: exercises)")
    parser.add_argument("--out", default="exercises/student", help="output folder (default: exercises/student)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output is stale")
    args = parser.parse_args(argv)
    try:
        changes = release(args.src, args.out, check=args.check)
    except (ReleaseError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in changes:
        print(("stale: " if args.check else "") + line)
    if args.check and changes:
        print("the student versions are stale: run `python -m course_lib.grading release`", file=sys.stderr)
        return 1
    if not changes:
        print(f"{args.out} is up to date")
    return 0
