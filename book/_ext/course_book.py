r"""Small Sphinx fixes for the rendered book (a local extension, loaded from _config.yml).

- sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) is registered twice under
  Jupyter Book 1.0.4, which makes every page log "Identifier 'THEBE_JS_URL' has already been declared".
  Scripts are de-duplicated per page, keeping the first occurrence and the order.
- Sphinx's own warnings (after ``suppress_warnings``, exactly the ones it counts) are written to
  ``_build/sphinx-warnings-<builder>.txt``, one per line, when the build ends, so that tests read the build's
  warnings and not every line of a log that also holds pip's and the kernels' output.
- A page that an earlier build wrote for a chapter since renamed or removed is deleted from the HTML output
  when the build ends (Sphinx only ever adds pages), so a warm ``_build/html`` holds what a clean build would:
  no stale page to publish, or to link to.
- The PDF (``make pdf``): sphinx-jupyterbook-latex's ``jupyterBook.cls`` loads ``bbm.sty`` for its ``\RR``-style
  macros; in Debian that file is only in texlive-fonts-extra (500 MB to download, 1.4 GB installed). The
  class copied into the LaTeX output is given ``\mathbb`` (amssymb, which it loads anyway) instead.
"""
import logging
from pathlib import Path


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # the same inline script is registered once with filename None and once with '': compare the body
        key = (getattr(js, "filename", None) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


class _Recorder(logging.Filter):
    """Last filter of Sphinx's warning handler: a record that reaches it is a warning Sphinx prints."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def filter(self, record):
        self.lines.append(" ".join(record.getMessage().split()))
        return True


def _record_warnings(app):
    from sphinx.util.logging import NAMESPACE, WarningStreamHandler

    handlers = [h for h in logging.getLogger(NAMESPACE).handlers if isinstance(h, WarningStreamHandler)]
    if not handlers:
        raise RuntimeError("course_book: Sphinx's warning handler not found (Sphinx changed?)")
    recorder = _Recorder()
    handlers[0].addFilter(recorder)
    app.connect("build-finished", lambda app, exc: _write_warnings(app, recorder))


def _write_warnings(app, recorder):
    out = Path(app.outdir).parent / f"sphinx-warnings-{app.builder.name}.txt"
    out.write_text("".join(line + "\n" for line in recorder.lines), encoding="utf-8")


def _remove_stale_pages(app, exc):
    """Delete ``<dir>/<name>.html`` for every directory of documents when ``<dir>/<name>`` is no document."""
    if exc is not None or app.builder.format != "html":
        return
    docs = set(app.env.all_docs)
    out = Path(app.outdir)
    for folder in sorted({Path(d).parent for d in docs} - {Path(".")}):   # the top level also holds search etc.
        for page in (out / folder).glob("*.html"):
            if (folder / page.stem).as_posix() not in docs:
                page.unlink()


def _class_without_bbm(app):
    if app.builder.format != "latex":
        return
    cls = Path(app.outdir) / "jupyterBook.cls"
    if not cls.exists():
        raise RuntimeError(f"course_book: {cls} not found (sphinx-jupyterbook-latex changed?)")
    text = cls.read_text(encoding="utf-8")
    cls.write_text(text.replace("\\RequirePackage{bbm}\n", "").replace("\\mathbbm", "\\mathbb"), encoding="utf-8")


def setup(app):
    _record_warnings(app)
    app.connect("builder-inited", _class_without_bbm, priority=900)   # after sphinx-jupyterbook-latex copied it
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    app.connect("build-finished", _remove_stale_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
