"""Is the static book being built? ``make book`` sets ``COURSE_STATIC_BOOK=1``: no live kernel for the reader."""
from __future__ import annotations

import os

STATIC_ENV = "COURSE_STATIC_BOOK"


def static_book() -> bool:
    """True while the book is being built (no live kernel for the reader, so no widgets, no live bars)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")
