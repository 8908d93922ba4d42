"""Progress bars for every long loop of the course: ``from course_lib.progress import tqdm``.

In a live notebook this is tqdm's widget bar (``tqdm.auto``). While the static book is being built
(``COURSE_STATIC_BOOK=1``, set by ``make book``) a widget would pull require.js and the widget manager
from a CDN into an offline book and could not update anyway, so the plain text bar is used instead,
updating rarely: the page shows one tidy final line per loop, not a wall of log lines.
"""
from __future__ import annotations

__all__ = ["tqdm"]


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm`` in a live kernel or terminal; a quiet text bar in the static book."""
    from .viz.widgets import static_book

    if static_book():
        from tqdm.std import tqdm as text_tqdm

        kwargs.setdefault("mininterval", 60.0)
        kwargs.setdefault("ascii", True)
        return text_tqdm(*args, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(*args, **kwargs)
