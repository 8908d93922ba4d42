"""Progress bars for every long loop of the course: ``from course_lib.progress import tqdm``.

In a live notebook this is tqdm's widget bar (``tqdm.auto``). While the static book is being built
(``COURSE_STATIC_BOOK=1``, set by ``make book``) a widget would pull require.js and the widget manager
from a CDN into an offline book and could not update anyway, and a text bar's intermediate states
stay on the page as stale lines (a page that shows "0/12" under a finished cell), so there a bar
prints nothing while it runs and, if it is a ``leave=True`` bar (tqdm's default), one final line
when it closes (how many steps, how long); a ``leave=False`` bar prints nothing at all.
"""
from __future__ import annotations

import functools

from .core.book import static_book

__all__ = ["tqdm"]


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm`` in a live kernel or terminal; in the static book, at most its final line."""
    if static_book():
        if kwargs.get("leave", True) is False:
            kwargs["disable"] = True
        return _final_line_bar()(*args, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(*args, **kwargs)


@functools.lru_cache(maxsize=None)
def _final_line_bar():
    """The text bar class of the static book (made on first use: importing tqdm takes ~70 ms)."""
    from tqdm.std import tqdm as text_tqdm

    class FinalLineBar(text_tqdm):
        """A text bar that shows nothing while it runs; ``close`` then displays its final state
        (``leave=True``) by calling ``display`` itself, not ``refresh``."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("ascii", True)
            super().__init__(*args, **kwargs)

        def refresh(self, *args, **kwargs):
            """Nothing while running (``update``, ``set_postfix`` and ``set_description`` all refresh)."""

    return FinalLineBar
