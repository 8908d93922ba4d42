"""The book builds with warnings as errors (`make book`), and the rendered pages are whole.

The build executes every chapter (through jupyter-cache), so a notebook error, a broken cross-reference
or a missing citation fails this test. The rendered HTML is then checked for what a reader needs.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from course_lib import colab

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def _toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return pages


@pytest.fixture(scope="module")
def built_book():
    env = dict(os.environ)
    proc = subprocess.run(["make", "book"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "book-build.log").write_text(log)
    assert proc.returncode == 0, "make book failed:\n" + log[-6000:]
    # Sphinx's warnings and errors (the kernel's own "[IPKernelApp] WARNING | ..." chatter is not about the book)
    warnings = [line for line in log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and not line.lstrip().startswith("[IPKernelApp]")]
    assert not warnings, "book build printed warnings:\n" + "\n".join(warnings)
    return HTML


def test_index_exists(built_book):
    assert (built_book / "index.html").exists()


@pytest.mark.parametrize("page", _toc_pages())
def test_page_rendered_without_errors(built_book, page):
    html = (built_book / f"{page}.html").read_text(encoding="utf-8")
    assert "<h1>" in html or "<h1 " in html, f"{page}: no title"
    for bad in ("Traceback (most recent call last)", 'class="output traceback', "Exception encountered"):
        assert bad not in html, f"{page}: rendered page contains {bad!r}"


@pytest.mark.parametrize("page", [p for p in _toc_pages() if (ROOT / f"{p}.ipynb").exists()])
def test_notebook_pages_have_a_colab_button_to_their_own_path(built_book, page):
    url, branch = colab.repository(ROOT / "_config.yml")
    slug = url.replace("https://github.com/", "")
    html = (built_book / f"{page}.html").read_text(encoding="utf-8")
    want = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{page}.ipynb"
    assert want in html, f"{page}: no Colab launch button pointing to {want}"


def test_references_page_lists_cited_works(built_book):
    html = (built_book / "book" / "references.html").read_text(encoding="utf-8")
    assert html.count('class="citation') + html.count("<dt") + html.count('role="doc-biblioentry"') > 0 or \
        "id=\"id" in html, "references page has no entries"
