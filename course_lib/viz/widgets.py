"""Showing ipywidgets demos in a live kernel, and a note in their place in the static book.

The rendered book has no kernel: a live widget there would need require.js and the widget manager from a
CDN (the book is built to work offline) and could not react anyway. So chapters display every demo through
:func:`show_widget`: in a live kernel (Jupyter, Colab, nbval) it displays the widget; when the book is being
built (``make book`` sets ``COURSE_STATIC_BOOK=1``) it prints a short note instead. Each demo's static figure,
drawn by the same update callback, stands beside it in the chapter.
"""
from __future__ import annotations

from ..core.book import STATIC_ENV, static_book

__all__ = ["STATIC_ENV", "static_book", "show_widget"]

NOTE = "Interactive demo: open this chapter in Colab (rocket icon above) or Jupyter to move the sliders."


def show_widget(widget, *args, note: str = NOTE, **kwargs):
    """Display a demo in a live kernel; print ``note`` instead while building the static book.

    ``widget`` is a widget, or a function building one (called with ``*args, **kwargs`` only in a live
    kernel: in the static book no widget is created at all, so no widget state is saved into the page,
    which would otherwise make the page load require.js and the widget manager from a CDN).
    """
    if static_book():
        print(note)
        return None
    if callable(widget) and not hasattr(widget, "_repr_mimebundle_") and not hasattr(widget, "_ipython_display_"):
        widget = widget(*args, **kwargs)
    from IPython.display import display

    display(widget)
    return widget
