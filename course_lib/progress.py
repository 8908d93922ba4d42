"""Progress bars for every long loop of the course: ``from course_lib.progress import tqdm``.

In a live notebook this is tqdm's widget bar (``tqdm.auto``). While the static book is being built
(``COURSE_STATIC_BOOK=1``, set by ``make book``) a widget would pull require.js and the widget manager
from a CDN into an offline book and could not update anyway, and a text bar's intermediate states
stay on the page as stale lines (a page that shows "0/12" under a finished cell), so there a bar
prints nothing while it runs and, if it is a ``leave=True`` bar (tqdm's default), one final line
when it closes (how many steps, how long); a ``leave=False`` bar prints nothing at all.
"""
from __future__ import annotations

__all__ = ["tqdm"]


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm`` in a live kernel or terminal; in the static book, at most its final line."""
    from .viz.widgets import static_book

    if static_book():
        if kwargs.get("leave", True) is False:
            kwargs["disable"] = True
        return _final_line_bar()(*args, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(*args, **kwargs)


_FINAL_LINE_BAR = None


def _final_line_bar():
    """The text bar class of the static book (made on first use: importing tqdm costs time)."""
    global _FINAL_LINE_BAR
    if _FINAL_LINE_BAR is None:
        from tqdm.std import tqdm as text_tqdm

        class FinalLineBar(text_tqdm):
            """A text bar that shows nothing until it closes, then (``leave=True``) its final state."""

            def __init__(self, *args, **kwargs):
                kwargs["delay"] = float("inf")   # tqdm displays nothing before start + delay
                kwargs.setdefault("ascii", True)
                super().__init__(*args, **kwargs)

            def refresh(self, *args, **kwargs):
                """Nothing while running (``set_postfix`` and ``set_description`` refresh directly)."""

            def close(self):
                if not getattr(self, "disable", True):
                    self.delay = 0               # ... and on closing, only what has been displayed
                super().close()

        _FINAL_LINE_BAR = FinalLineBar
    return _FINAL_LINE_BAR
