"""Is the static book being built? ``make book`` sets ``COURSE_STATIC_BOOK=1``: no live kernel for the reader."""
from __future__ import annotations

import os

STATIC_ENV = "COURSE_STATIC_BOOK"


def static_book() -> bool:
    """True while the book is being built (no live kernel for the reader, so no widgets, no live bars)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


def glue(name: str, value, fmt: str = "{}") -> str:
    """Record a measured number for the prose: ``{glue:text}`name``` in a markdown cell shows it.

    ``value`` is formatted with ``fmt`` (e.g. ``"{:,d}"``, ``"{:.2f}"``) and glued with myst-nb (silently, no
    cell output), so the text quotes the run and cannot drift from it. Where myst-nb is not installed (Colab),
    nothing is recorded. Returns the formatted text.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue name must be an identifier-like str; got {name!r}")
    text = fmt.format(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:          # Colab / plain Jupyter: the prose is not rendered by myst-nb there
        return text
    _glue(name, text, display=False)
    return text
