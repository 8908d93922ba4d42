"""Reading a submitted notebook without trusting it: tolerant decoding, its code, its check calls.

* :func:`read_notebook` accepts what honest editors produce -- a UTF-8 byte-order mark, a stray byte
  that is not UTF-8 (replaced), an older nbformat -- and says so in ``notes``; anything that is not
  a notebook raises :class:`InvalidNotebook` with a short reason.
* :func:`code_cells` turns each code cell into plain Python (IPython's own transformer: magics
  become ``get_ipython()`` calls, which do nothing in the sandbox).
* :func:`check_calls` finds the ``check("task", obj)`` calls statically, and :func:`forbidden_uses`
  finds graded cells that import or name the course's reference implementations
  (``course_lib.ref``, ``course_lib.nn``, ``course_lib.train``, ``course_lib.experiments``): the batch
  grader scores such a task 0 without running it.
* :func:`answer_attempts` reads the attempt counts that instant feedback printed into the saved
  outputs (self-reported: a learner can edit them; the report says so).
"""
from __future__ import annotations

import ast
import json
import re

__all__ = ["InvalidNotebook", "read_notebook", "code_cells", "check_calls", "forbidden_uses", "answer_attempts",
           "FORBIDDEN"]

FORBIDDEN = ("course_lib.ref", "course_lib.nn", "course_lib.train", "course_lib.experiments",
             "course_lib.grading.tasks")
_FORBIDDEN_ATTRS = {"ref", "nn", "train", "experiments"}
MAX_CELL_CHARS = 1_000_000


class InvalidNotebook(ValueError):
    """The file is not a notebook; ``str(err)`` says why, in one line."""


def read_notebook(data: bytes):
    """``(nb, notes)``: the notebook (nbformat 4) in ``data`` and notes about how it was read."""
    import nbformat

    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("the file starts with a UTF-8 byte-order mark (ignored)")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidNotebook("not a notebook: UTF-16 text that cannot be decoded") from None
        data = text.encode("utf-8", "surrogatepass")
        notes.append("the file is UTF-16 encoded (read as such)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
        notes.append(f"{bad} byte(s) that are not UTF-8 were replaced by U+FFFD")
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise InvalidNotebook(f"not a valid notebook (not JSON: {str(err).splitlines()[0][:120]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise InvalidNotebook("not a valid notebook (no list of cells)")
    try:
        nb = nbformat.from_dict(raw)
        major = int(nb.get("nbformat", 4))
        if major != 4:
            nb = nbformat.convert(nb, 4)
            notes.append(f"nbformat {major} converted to 4")
    except Exception as err:  # whatever is wrong with it, it is the submission's
        raise InvalidNotebook(f"not a valid notebook ({type(err).__name__})") from None
    if not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("not a valid notebook (no list of cells)")
    return nb, notes


def _source(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def code_cells(nb) -> list[tuple[int, str]]:
    """``[(index, python_source), ...]`` for every code cell (index counts all cells from 0)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell
    except ImportError:  # pragma: no cover - IPython comes with nbclient/ipykernel
        transform = None
    out = []
    for index, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _source(cell)[:MAX_CELL_CHARS]
        if transform is not None:
            try:
                source = transform(source)
            except Exception:  # left as is: the sandbox reports the SyntaxError
                pass
        out.append((index, source))
    return out


def _parse(source: str):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def check_calls(cells) -> dict:
    """task -> ``[(cell_index, names), ...]``: every ``check("task", expr)`` call and the top-level
    names ``expr`` uses (``check("t", f)`` -> ``["f"]``; ``check("t", (train, predict))`` -> both)."""
    found: dict = {}
    for index, source in cells:
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
                    and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "check"
                    and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                names = sorted({n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)})
                found.setdefault(node.args[0].value, []).append((index, names))
    return found


def _module_uses(tree) -> list[tuple[int, str, set]]:
    """``(line, what, aliases)``: every import of a forbidden module in ``tree`` and the names it binds."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(FORBIDDEN) or alias.name in FORBIDDEN:
                    out.append((node.lineno, f"import {alias.name}", {alias.asname or alias.name.split(".")[0]}))
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if module.startswith(FORBIDDEN) or module in FORBIDDEN or full in FORBIDDEN or \
                        any(full.startswith(f + ".") for f in FORBIDDEN):
                    out.append((node.lineno, f"from {module} import {alias.name}", {alias.asname or alias.name}))
    return out


def _defined(tree) -> set:
    """Top-level names a cell binds (functions, classes, assignments)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def forbidden_uses(cells, calls) -> dict:
    """task -> a reason (one line) when a graded cell uses the reference implementations.

    The graded cells of a task are the last cell before its (last) check call that defines each
    name the call passes, and the check cell itself. A use is an import of a forbidden module, an
    attribute ``course_lib.ref`` (etc.), a name bound anywhere in the notebook to a forbidden module,
    or a string naming one (``importlib.import_module("course_lib.ref")``, ``getattr(course_lib, "nn")``).
    """
    trees = {index: _parse(source) for index, source in cells}
    aliases = set()
    for tree in trees.values():
        if tree is not None:
            for _, _, bound in _module_uses(tree):
                aliases |= bound
    aliases.discard("course_lib")  # `import course_lib.ref` binds course_lib: caught as an attribute below
    out = {}
    for task, uses in calls.items():
        check_index, names = uses[-1]
        graded = {check_index}
        for name in names:
            for index in sorted(trees, reverse=True):
                tree = trees[index]
                if index <= check_index and tree is not None and name in _defined(tree):
                    graded.add(index)
                    break
        for index in sorted(graded):
            reason = _forbidden_in(trees.get(index), aliases)
            if reason:
                out[task] = (f"rejected without running: cell {index + 1} (graded by check(\"{task}\", ...)) "
                             f"uses {reason}, the course's reference implementation; graded work must be your own")
                break
    return out


def _forbidden_in(tree, aliases) -> str:
    if tree is None:
        return ""
    uses = _module_uses(tree)
    if uses:
        line, what, _ = uses[0]
        return f"`{what}` (line {line})"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRS and \
                isinstance(node.value, ast.Name) and node.value.id == "course_lib":
            return f"course_lib.{node.attr} (line {node.lineno})"
        if isinstance(node, ast.Name) and node.id in aliases:
            return f"`{node.id}` (line {node.lineno}), bound to a reference module elsewhere in the notebook"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(f in node.value for f in FORBIDDEN):
            return f"the string {node.value[:40]!r} (line {node.lineno})"
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id == "course_lib"
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in _FORBIDDEN_ATTRS):
            return f"getattr(course_lib, {node.args[1].value!r}) (line {node.lineno})"
    return ""


_ATTEMPT = re.compile(r"^(\w+): checking your answer \(attempt (\d+)\)", re.M)


def answer_attempts(nb) -> dict:
    """task -> the highest attempt number printed by instant feedback in the saved outputs."""
    out: dict = {}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []) or []:
            text = output.get("text", "") if isinstance(output, dict) else ""
            if isinstance(text, list):
                text = "".join(t for t in text if isinstance(t, str))
            if not isinstance(text, str):
                continue
            for task, n in _ATTEMPT.findall(text[:100_000]):
                out[task] = max(out.get(task, 0), min(int(n), 10**6))
    return out
