"""Every ``{glue:text}`name``` in a chapter's prose is glued by one of its code cells.

Statically: a key counts as glued when a code cell calls ``glue("name", ...)``, or ``glue(f"...", ...)`` with an
f-string whose literal parts match the name (``glue(f"agree_{claim}", ...)`` covers ``agree_rnn_fails``). So a
renamed or deleted glue call fails here, before the book build would warn about it.
"""
import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
USED = re.compile(r"\{glue(?::[a-z]+)?\}`([^`:]+)(?::[^`]*)?`")
LITERAL = re.compile(r"""glue\(\s*["']([^"']+)["']""")
TEMPLATE = re.compile(r"""glue\(\s*f["']([^"']+)["']""")


def _glued(code):
    names = set(LITERAL.findall(code))
    patterns = [re.compile("^" + "".join(".+" if part.startswith("{") else re.escape(part)
                                         for part in re.split(r"(\{[^}]*\})", t) if part) + "$")
                for t in TEMPLATE.findall(code)]
    return names, patterns


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_glue_key_in_the_prose_is_glued(path):
    nb = nbformat.read(str(path), as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    names, patterns = _glued(code)
    missing = sorted(k for k in set(USED.findall(prose)) if k not in names and not any(p.match(k) for p in patterns))
    assert not missing, f"{path.name}: {{glue}} keys in the prose that no code cell glues: {missing}"


def test_the_check_has_teeth():
    names, patterns = _glued('glue("a_b", 1)\nglue(f"agree_{name}", n)')
    assert names == {"a_b"} and patterns[0].match("agree_rnn_fails") and not patterns[0].match("agreed")
    assert USED.findall("x {glue:text}`a_b:.2f` and {glue}`c`") == ["a_b", "c"]
