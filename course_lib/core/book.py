"""Is the static book being built? ``make book`` sets ``COURSE_STATIC_BOOK=1``: no live kernel for the reader."""
from __future__ import annotations

import os

STATIC_ENV = "COURSE_STATIC_BOOK"


def static_book() -> bool:
    """True while the book is being built (no live kernel for the reader, so no widgets, no live bars)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


def glue(name: str, value, fmt: str | None = None):
    """Hand ``value`` to the prose as ``{glue:text}`name``` (myst-nb's ``glue``, not displayed in the cell).

    Every number the text quotes from a run goes through here, so the text can never disagree with the run.
    NumPy scalars are glued as plain Python numbers (``52.5``, not ``np.float64(52.5)``), so that format specs
    such as ``{glue:text}`name:.1f``` apply; with ``fmt`` (e.g. ``"{:,d}"``) the formatted text is glued instead.
    Where myst-nb is not installed (Colab, a plain Jupyter) it does nothing. Returns ``None``, so a cell that
    ends with ``glue(...)`` shows no output.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string such as 'mhn_gap'; got {name!r}")
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if fmt is not None:
        value = fmt.format(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    myst_glue(name, value, display=False)
    return None
