"""``course_lib.core``: the leaf helpers every other part of the library may import (it imports none of them).

- :mod:`.errors`  exception classes that serve both Python's and torch's ways of catching errors
- :mod:`.checks`  argument checks with expected-vs-given messages (positive ints, strict bools)
- :mod:`.timing`  :func:`time_interleaved`, the one timer of the course (benchmarks, kernels, chapters)
- :mod:`.book`    :func:`static_book`: is the static book being built (no live kernel)? :func:`glue`: a
  measured number for the prose

Imports run downward only: ``core`` <- ``ref``/``data`` <- ``nn`` <- ``train`` <- ``experiments`` <- ``viz``;
``bench``, ``grading``, ``progress`` sit beside them and also import only from below.
"""
from .book import STATIC_ENV, glue, static_book
from .checks import positive_int, strict_bool
from .errors import DTypeError, ShapeError
from .timing import sync, time_interleaved

__all__ = ["STATIC_ENV", "glue", "static_book", "positive_int", "strict_bool", "DTypeError", "ShapeError",
           "sync", "time_interleaved"]
