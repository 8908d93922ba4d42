"""course_lib.core.glue: measured numbers reach the prose through myst-nb, and Colab (no myst-nb) is unharmed."""
import ast
import os
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.core import glue


def test_glue_hands_the_value_to_myst_nb_without_displaying_it(monkeypatch):
    import myst_nb.ext.glue as mg

    shown = []
    monkeypatch.setattr(mg, "ipy_display", lambda bundle, **kw: shown.append((bundle, kw)))
    assert glue("capacity_n64", 0.25) is None
    glue("as_python", np.float64(52.5))
    (bundle, kw), (bundle2, _) = shown
    assert kw["metadata"]["scrapbook"]["name"] == "capacity_n64"
    # display=False: only the prefixed mime types, which the book renders where {glue:text} asks for them
    assert list(bundle) == ["application/papermill.record/text/plain"]
    assert bundle["application/papermill.record/text/plain"] == "0.25"
    assert bundle2["application/papermill.record/text/plain"] == "52.5"      # not np.float64(52.5)


def test_glue_is_a_no_op_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)           # import myst_nb now raises ImportError
    assert glue("x", 3) is None


@pytest.mark.parametrize("bad", ["two words", "", 3])
def test_glue_names_must_be_identifiers(bad):
    with pytest.raises(ValueError, match="name must be an identifier-like string"):
        glue(bad, 1)


# ---------------------------------------------------------------------------------------------------------------
# Every key the prose uses is glued by its own notebook.
#
# Static: a `{glue}`/`{glue:text}`/`{glue:any}`/`{glue:md}`/`{glue:figure}` role (or a ```{glue:figure} key```
# directive) in a markdown cell of book/*.ipynb, or in a book/*.md page, names a key that some `glue("key", ...)`
# call in a code cell of the same notebook makes (`glue(f"cap_{N}", ...)` makes every key of that form). A missing
# key renders as a warning (an error under `make book`'s -W) only after every chapter has run: this finds it in
# milliseconds. Executed: the outputs of a run record each glued key (myst-nb's "scrapbook" metadata), so a glue
# call inside a branch that did not run is found as well.
# ---------------------------------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
ROLE = re.compile(r"\{glue(?::(?P<kind>[a-z]+))?\}`(?P<body>[^`]+)`")
DIRECTIVE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{glue(?::[a-z]+)?\}[ \t]+(?P<body>\S+)", re.M)


def used_keys(markdown):
    """``[(doc or None, key)]`` for every glue role and directive in a markdown text, in order.

    ``{glue:text}`key:.1f``` -> ``(None, "key")`` (the format spec is not part of the key);
    ``{glue:text}`other_page::key``` -> ``("other_page", "key")``.
    """
    found = []
    for m in ROLE.finditer(markdown):
        doc, _, rest = m["body"].rpartition("::")
        key = rest.split(":", 1)[0] if m["kind"] == "text" else rest
        found.append((doc or None, key.strip()))
    for m in DIRECTIVE.finditer(markdown):
        doc, _, key = m["body"].rpartition("::")
        found.append((doc or None, key))
    return found


def _code(source):
    """A code cell's source as Python: IPython magics and shell escapes become blank lines."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def glued_keys(nb):
    """``(literal keys, f-string key patterns)`` that the ``glue(...)`` calls in ``nb``'s code cells make.

    Calls are found in the parsed code (a commented-out call makes nothing). A key that is neither a string
    literal nor an f-string cannot be checked, and raises ``ValueError`` naming the cell.
    """
    literal, patterns = set(), []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_code(cell.source))):
            if not (isinstance(node, ast.Call) and node.args and
                    (getattr(node.func, "id", None) == "glue" or getattr(node.func, "attr", None) == "glue")):
                continue
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                literal.add(name.value)
            elif isinstance(name, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else r".+?" for v in name.values]
                patterns.append(re.compile("".join(parts) + r"\Z"))
            else:
                raise ValueError(f"code cell {i}: glue's key must be a string literal or an f-string, so that the "
                                 f"prose's keys can be checked; got {ast.unparse(name)!r}")
    return literal, patterns


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def missing_keys(page, book=BOOK):
    """Keys that the markdown of ``page`` (a book/*.ipynb or book/*.md path) uses and no notebook glues."""
    page = Path(page)
    if page.suffix == ".ipynb":
        nb = nbformat.read(page, as_version=4)
        text, own = _markdown(nb), glued_keys(nb)
    else:
        text, own = page.read_text(encoding="utf-8"), (set(), [])      # a prose page glues nothing itself
    missing = []
    for doc, key in used_keys(text):
        if doc is None:
            literal, patterns = own
        else:
            other = book / Path(doc).with_suffix(".ipynb").name
            literal, patterns = glued_keys(nbformat.read(other, as_version=4)) if other.exists() else (set(), [])
        if key not in literal and not any(p.match(key) for p in patterns):
            missing.append(key if doc is None else f"{doc}::{key}")
    return missing


PAGES = sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_glue_key_the_prose_uses_is_glued_in_the_same_notebook(page):
    missing = missing_keys(page)
    assert not missing, (f"{page.name}: the prose uses glue keys that no glue(...) call in its code makes: "
                         f"{missing}. Add glue('key', value) in a code cell (course_lib.core.glue).")


def test_the_book_uses_glue():                                      # the check above is not vacuous
    assert sum(len(used_keys(_markdown(nbformat.read(p, as_version=4)))) for p in BOOK.glob("*.ipynb")) > 50


def _planted(tmp_path, markdown, *code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(c) for c in code]
    nbformat.write(nb, tmp_path / "page.ipynb")
    return tmp_path / "page.ipynb"


def test_the_check_finds_a_planted_missing_key(tmp_path):
    page = _planted(tmp_path,
                    "Ours {glue:text}`acc:.1f`%, {glue}`seconds`, {glue:text}`cap_16:.0f`, "
                    "{glue:text}`gone:.2f`, {glue:text}`commented`, {glue:any}`elsewhere`\n\n"
                    "```{glue:figure} fig_loss\n:alt: loss\n```",
                    "%matplotlib inline\nfrom course_lib.core import glue\nglue('acc', 97.5)\nglue(\"seconds\", 3)",
                    "for N in (16, 32):\n    glue(f'cap_{N}', N)\n# glue('commented', 1)\nglue('fig_loss', None)")
    assert missing_keys(page) == ["gone", "commented", "elsewhere"]
    assert used_keys("{glue:text}`ch02::mhn_gap:.1f`") == [("ch02", "mhn_gap")]


def test_the_check_reads_other_pages_keys_with_the_double_colon(tmp_path):
    _planted(tmp_path, "nothing", "glue('here', 1)")
    (tmp_path / "intro.md").write_text("{glue:text}`page::here:.0f` and {glue:text}`page::not_here` and "
                                       "{glue:text}`unqualified`")
    assert missing_keys(tmp_path / "intro.md", book=tmp_path) == ["page::not_here", "unqualified"]


def test_a_key_that_cannot_be_checked_is_an_error(tmp_path):
    page = _planted(tmp_path, "{glue:text}`x`", "name = 'x'\nglue(name, 1)")
    with pytest.raises(ValueError, match="string literal or an f-string"):
        missing_keys(page)


def recorded_keys(executed_nb):
    """``{key: number of times glued}`` from the outputs of an executed notebook (myst-nb's scrapbook records)."""
    counts = {}
    for cell in executed_nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
    return counts


def executed_problems(executed_nb):
    """Keys the prose uses that the run did not glue, and keys the run glued twice (myst-nb warns on both)."""
    recorded = recorded_keys(executed_nb)
    used = {key for doc, key in used_keys(_markdown(executed_nb)) if doc is None}
    return sorted(used - set(recorded)), sorted(k for k, n in recorded.items() if n > 1)


def test_an_executed_notebook_records_each_key_once_and_a_skipped_branch_is_caught(tmp_path):
    from nbclient import NotebookClient

    page = _planted(tmp_path, "{glue:text}`ran:.1f` {glue:text}`skipped` {glue:text}`twice`",
                    "from course_lib.core import glue\nglue('ran', 1.25)\nglue('twice', 1)\nglue('twice', 2)",
                    "if False:\n    glue('skipped', 0)")
    nb = nbformat.read(page, as_version=4)
    assert missing_keys(page) == []                     # statically every key is there ...
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert recorded_keys(nb) == {"ran": 1, "twice": 2}
    assert executed_problems(nb) == (["skipped"], ["twice"])   # ... but the run glued one key never, one twice


@pytest.mark.skipif(os.environ.get("COURSE_EXPECT_CACHED_BOOK") != "1",
                    reason="needs the chapters just executed by `make test`'s nbval run (the book cache)")
def test_every_executed_chapter_glued_each_key_its_prose_uses_once():
    from jupyter_cache import get_cache

    cache = get_cache(str(ROOT / "_build" / ".jupyter_cache"))
    problems = {}
    for page in sorted(BOOK.glob("*.ipynb")):
        try:
            _, executed = cache.merge_match_into_notebook(nbformat.read(page, as_version=4))
        except KeyError:
            problems[page.name] = "not in the book cache (did its nbval run fail?)"
            continue
        missing, duplicated = executed_problems(executed)
        if missing or duplicated:
            problems[page.name] = {"not glued by the run": missing, "glued twice": duplicated}
    assert not problems, problems


def _only_glue(statements) -> bool:
    """Every statement is a ``glue(...)`` call, or a loop/branch made only of them."""
    for node in statements:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", getattr(node.value.func, "attr", None)) == "glue":
            continue
        if isinstance(node, (ast.For, ast.If)) and _only_glue(node.body) and _only_glue(node.orelse):
            continue
        return False
    return True


def glue_only_cells(nb):
    """Indices of the code cells that do nothing but hand numbers to the prose."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if tree.body and _only_glue(tree.body):
            out.append(i)
    return out


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_cells_that_only_glue_are_folded_in_the_book(path):
    """A cell of glue calls shows nothing and reads as noise: the book folds it (``hide-input``, one click
    away, so a reader can still see where each number comes from)."""
    nb = nbformat.read(str(path), as_version=4)
    unfolded = [i for i in glue_only_cells(nb) if "hide-input" not in nb.cells[i].metadata.get("tags", [])]
    assert not unfolded, f"{path.name}: glue-only cells {unfolded} lack the hide-input tag"


def test_glue_only_cells_are_recognised():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (
        'glue("a", 1)\nfor k in ks:\n    glue(f"b_{k}", 2)',      # only glue: folded
        'x = 3\nglue("a", x)',                                     # computes something: shown
        'print(1)',
    )])
    assert glue_only_cells(nb) == [0]
