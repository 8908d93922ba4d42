"""While a learner's function runs under ``check``, the course's reference implementations refuse to run.

Every task compares the learner's result with :mod:`course_lib.ref` (or :mod:`course_lib.nn`), which a
notebook can import as easily as the grader: a function that just calls the reference would pass.
:func:`reference_guard` installs a profile hook (``sys.setprofile``, also for threads the function
starts) for the duration of the call; the first Python frame that starts in ``course_lib/ref``,
``course_lib/nn``, ``course_lib/train.py`` or ``course_lib/experiments`` raises
:class:`ReferenceUsed` (a ``BaseException``, so ``except Exception`` does not hide it), and the call
counts as failed even if the function catches it. This protects instant feedback against honest
shortcuts, not against a learner who switches the hook off; the batch grader does not rely on it (its
sandbox has no reference implementations at all, see :mod:`course_lib.grading.worker`).
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

__all__ = ["ReferenceUsed", "GUARDED", "reference_guard", "guarded_location"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARDED = tuple(os.path.join(_PACKAGE, p) for p in ("ref" + os.sep, "nn" + os.sep, "train.py",
                                                      "experiments" + os.sep))
_NAMES = {"ref": "course_lib.ref", "nn": "course_lib.nn", "train.py": "course_lib.train",
          "experiments": "course_lib.experiments"}


class ReferenceUsed(BaseException):
    """The learner's function called a reference implementation while it was being checked."""


def guarded_location(filename: str) -> str | None:
    """``"course_lib.ref"`` (etc.) when ``filename`` belongs to a guarded module, else ``None``."""
    if not filename or not filename.startswith(GUARDED):
        return None
    rest = filename[len(_PACKAGE) + 1:]
    return _NAMES.get(rest.split(os.sep)[0], "course_lib")


@contextmanager
def reference_guard(name: str = "your function"):
    """Run the ``with`` body with the reference implementations locked; yields a list that holds the
    module used (if any) afterwards. The caller turns a non-empty list into a failure."""
    used: list = []

    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(GUARDED):
            where = guarded_location(frame.f_code.co_filename)
            used.append(where)
            raise ReferenceUsed(f"{name} called {where}.{frame.f_code.co_name}, the course's reference "
                                "implementation: a graded function must compute its result itself")
        return None

    old, old_threads = sys.getprofile(), threading.getprofile() if hasattr(threading, "getprofile") else None
    sys.setprofile(hook)
    threading.setprofile(hook)
    try:
        yield used
    finally:
        sys.setprofile(old)
        threading.setprofile(old_threads)
