"""The book builds with warnings as errors (`make book`), the rendered pages are whole, and so is the PDF.

The build executes every chapter (through jupyter-cache), so a notebook error, a broken cross-reference
or a missing citation fails this test. The rendered HTML is then checked for what a reader needs.
"""
import os
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import pytest
import yaml

from course_lib import colab

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LATEX = ROOT / "_build" / "latex"


def _toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return pages


@pytest.fixture(scope="module")
def built_book():
    env = dict(os.environ)
    started = time.time()
    stale = HTML / "book" / "00_a_chapter_renamed_away.html"     # left by an earlier build: the build removes it
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("<html><body><a href='gone.html'>a page of an old build</a></body></html>")
    proc = subprocess.run(["make", "book"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "book-build.log").write_text(log)
    assert proc.returncode == 0, "make book failed:\n" + log[-6000:]
    # Sphinx's own warnings, as book/_ext/course_book.py recorded them (not pip's or a kernel's WARNING lines)
    record = ROOT / "_build" / "sphinx-warnings-html.txt"
    assert record.exists() and record.stat().st_mtime >= started - 1, f"{record} was not written by this build"
    warnings = record.read_text(encoding="utf-8").splitlines()
    assert not warnings, "book build printed warnings:\n" + "\n".join(warnings)
    assert not stale.exists(), f"{stale} has no source but was left in the HTML output"
    if os.environ.get("COURSE_EXPECT_CACHED_BOOK") == "1":
        # `make test` ran every chapter under nbval first and stored it: the build must not run one again
        check_no_chapter_executed(log)
    return HTML


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check_no_chapter_executed(log: str) -> None:
    """The build executed no chapter: it took each from the cache, or Sphinx re-read nothing at all.

    Sphinx colours its log (``updating environment: \\x1b[39;49;00m0 added``), so the colour codes go first.
    """
    log = ANSI.sub("", log)
    executed = sorted(set(re.findall(r"(book/[\w-]+)\.ipynb: Executing notebook", log)))
    assert not executed, f"the book build executed {executed} again, though nbval had just run them"
    cached = set(re.findall(r"(book/[\w-]+)\.ipynb: Using cached notebook", log))
    unchanged = re.search(r"updating environment: (\[[^\]]*\] )?0 added, 0 changed", log)   # Sphinx re-read nothing
    assert cached or unchanged, "the build neither used the cache nor reused its environment:\n" + log[-3000:]


@pytest.mark.parametrize("log, ok", [
    ("\x1b[01mupdating environment: \x1b[39;49;00m0 added, 0 changed, 0 removed\n", True),   # a warm rebuild
    ("updating environment: [new config] 12 added, 0 changed, 0 removed\n"
     "/r/book/01_sequences.ipynb: Using cached notebook: ID=1 [mystnb]\n", True),
    ("updating environment: 10 added, 0 changed, 0 removed\n", False),                      # neither
    ("updating environment: 1 added, 0 changed\n/r/book/03_bptt.ipynb: Executing notebook using local CWD\n", False),
])
def test_the_no_second_execution_check_reads_sphinx_logs(log, ok):
    if ok:
        check_no_chapter_executed(log)
    else:
        with pytest.raises(AssertionError):
            check_no_chapter_executed(log)


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


# ----------------------------------------------------------------------------- links
class _Links(__import__("html.parser").parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.hrefs.append(a["src"])


def test_internal_links_resolve(built_book):
    """Every relative link and image of every page points at an existing file (and anchor)."""
    from urllib.parse import unquote, urlsplit

    parsed = {}

    def parse(path):
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = p
        return parsed[path]

    broken = []
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts:
            continue
        for href in parse(page).hrefs:
            u = urlsplit(href)
            if u.scheme or u.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = page if not u.path else (page.parent / unquote(u.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(built_book)} -> {href}")
            elif u.fragment and target.suffix == ".html" and unquote(u.fragment) not in parse(target).ids:
                broken.append(f"{page.relative_to(built_book)} -> {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


# ----------------------------------------------------------------------------- real browser
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="module")
def browser(built_book):
    """Headless Debian Chromium driven by Selenium, serving the built book on a loopback port."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Debian's chromium/chromium-driver are not installed (`make test` installs them with apt where "
                    "apt-get is available); skipping the browser check")
    import functools
    import http.server
    import threading

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1800", "--hide-scrollbars"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield driver, base
    driver.quit()
    server.shutdown()


def _wait_for_mathjax(driver, timeout=20):
    import time

    end = time.time() + timeout
    while time.time() < end:
        done = driver.execute_script(
            "return !window.MathJax || !MathJax.startup || !MathJax.startup.promise ? 'none' : "
            "(document.querySelectorAll('mjx-container').length > 0 ? 'typeset' : 'pending')")
        if done in ("typeset", "none"):
            return done
        time.sleep(0.25)
    return "pending"


@pytest.mark.parametrize("page", _toc_pages())
def test_page_in_browser(browser, page):
    driver, base = browser
    url, branch = colab.repository(ROOT / "_config.yml")
    driver.get(f"{base}/{page}.html")
    state = _wait_for_mathjax(driver)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors: {errors}"
    assert driver.title.strip(), f"{page}: empty <title>"
    assert driver.find_elements("css selector", "h1"), f"{page}: no <h1>"
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert not broken, f"{page}: images that did not load: {broken}"
    no_alt = driver.execute_script(
        "return Array.from(document.querySelectorAll('main img')).filter(i => !i.alt || /\\.(png|jpe?g|svg)$/.test(i.alt))"
        ".map(i => i.src.slice(0, 80))")
    assert not no_alt, f"{page}: figures without alt text: {no_alt}"
    has_math = driver.execute_script("return document.querySelectorAll('.math').length")
    if has_math:
        assert state == "typeset", f"{page}: {has_math} math elements but MathJax did not typeset them ({state})"
        assert driver.execute_script("return MathJax.version").startswith("3"), "unexpected MathJax"
        text = driver.find_element("css selector", "main").text
        assert "\\[" not in text and "$$" not in text, f"{page}: raw TeX left on the page"
    if (ROOT / f"{page}.ipynb").exists():
        slug = url.replace("https://github.com/", "")
        want = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{page}.ipynb"
        hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.href)")
        assert want in hrefs, f"{page}: no Colab launch button to {want}"


def test_no_page_loads_scripts_from_the_network(built_book):
    """The book works offline: no <script src> points at a CDN (MathJax and everything else ship in _static)."""
    remote = {}
    for page in built_book.rglob("*.html"):
        srcs = re.findall(r'<script[^>]+src="((?:https?:)?//[^"]+)"', page.read_text(encoding="utf-8"))
        if srcs:
            remote[str(page.relative_to(built_book))] = srcs
    assert not remote, f"pages loading scripts from the network: {remote}"


def test_mathjax_is_served_locally(built_book):
    html = (built_book / "book" / "00_setup.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', html, flags=re.I)
    assert srcs and all(not s.startswith(("http:", "https:", "//")) for s in srcs), srcs
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_screenshots(browser):
    """Screenshots of three pages, for a person to look at (kept in _build/screenshots/)."""
    driver, base = browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = [p for p in _toc_pages() if p != "book/references"][:3]
    for page in pages:
        driver.get(f"{base}/{page}.html")
        _wait_for_mathjax(driver)
        out = SCREENSHOTS / (page.replace("/", "_") + ".png")
        driver.save_screenshot(str(out))
        assert out.stat().st_size > 10_000, f"{out} looks empty"


# ----------------------------------------------------------------------------- PDF (make pdf)
def page_count(pdf: Path) -> int:
    """Pages of a PDF: its ``/Type /Page`` objects, also inside compressed object streams (PDF 1.5)."""
    data = pdf.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise ValueError(f"{pdf} is not a PDF (starts with {data[:8]!r})")
    texts = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            texts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass                                  # an image or a font, not an object stream
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", t)) for t in texts)


def _have_latex():
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    return all(shutil.which(t) for t in ("latexmk", "xelatex", "xindy")) and "FreeSerif" in fonts


@pytest.fixture(scope="module")
def pdf(built_book):
    """`make pdf`, after the HTML build (the two share Sphinx's saved environment, so never at once)."""
    if not _have_latex():
        pytest.skip("no LaTeX here (latexmk, xelatex, xindy, the FreeSerif font): `make pdf` installs Debian's "
                    "packages with apt; `make test` does not (about 300 MB)")
    started = time.time()
    proc = subprocess.run(["make", "pdf"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "pdf-build.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, "make pdf failed:\n" + (proc.stdout + proc.stderr)[-6000:]
    out = LATEX / "book.pdf"
    assert out.exists() and out.stat().st_mtime >= started - 1, f"{out} was not written by this build"
    return out


def test_page_count_is_sane(pdf):
    pages = page_count(pdf)
    written = re.search(r"Output written on book\.pdf \((\d+) pages?", (LATEX / "book.log").read_text(errors="replace"))
    assert written and int(written.group(1)) == pages, "the PDF and LaTeX's log disagree on the page count"
    chapters = len(yaml.safe_load((ROOT / "_toc.yml").read_text())["chapters"])
    assert 5 * chapters <= pages <= 1000, f"{pages} pages for {chapters} chapters"


def test_every_chapter_is_in_the_pdf(pdf):
    tex = (LATEX / "book.tex").read_text(encoding="utf-8")
    for page in _toc_pages():
        assert f"\\label{{\\detokenize{{{page}::doc}}}}" in tex, f"{page} is not in the PDF"
    assert "Traceback (most recent call last)" not in tex
    warnings = (ROOT / "_build" / "sphinx-warnings-latex.txt").read_text(encoding="utf-8").splitlines()
    assert not warnings, "the LaTeX build printed warnings:\n" + "\n".join(warnings)


def test_page_count_reads_compressed_and_plain_pdfs(tmp_path):
    plain = b"%PDF-1.4\n1 0 obj <</Type /Pages /Count 2>> endobj\n2 0 obj <</Type /Page>> endobj\n" \
            b"3 0 obj <</Type/Page /Parent 1 0 R>> endobj\n"
    packed = zlib.compress(b"4 0 obj <</Type /Page>> endobj 5 0 obj <</Type /Pages>> endobj")
    f = tmp_path / "x.pdf"
    f.write_bytes(plain + b"6 0 obj <</Type /ObjStm>>\nstream\n" + packed + b"\nendstream\n")
    assert page_count(f) == 3
    (tmp_path / "y.pdf").write_bytes(b"<html>")
    with pytest.raises(ValueError, match="not a PDF"):
        page_count(tmp_path / "y.pdf")
