"""Plotting helpers and ipywidgets demos (each demo with a static fallback for the rendered book).

Import the submodule you need, e.g. ``from course_lib.viz import diagrams``; :func:`show_widget` displays a
demo in a live kernel and a note in the static book (see :mod:`course_lib.viz.widgets`).
"""
from .widgets import show_widget, static_book

__all__ = ["show_widget", "static_book"]
