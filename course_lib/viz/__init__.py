"""Plotting helpers and ipywidgets demos (each demo with a static fallback for the rendered book).

Import the submodule you need, e.g. ``from course_lib.viz import diagrams``.
"""
