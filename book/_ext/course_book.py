"""Small Sphinx fixes for the rendered book (a local extension, loaded from _config.yml).

- sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) is registered twice under
  Jupyter Book 1.0.4, which makes every page log "Identifier 'THEBE_JS_URL' has already been declared".
  Scripts are de-duplicated per page, keeping the first occurrence and the order.
"""


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
