"""Exception classes of the course's drop-in twins of ``torch.nn``.

The course's messages say what was expected and what was given. torch, for the same mistakes, raises
``RuntimeError`` (a wrong input or state shape) or ``ValueError`` (an input dtype that differs from the
weights'); code written for ``torch.nn`` catches those. Each class here derives from both the class the
course documents and the class torch raises, so ``except ValueError`` and ``except RuntimeError`` both work.
"""
from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape (a ``ValueError`` for the course, a ``RuntimeError`` as in torch)."""


class DTypeError(TypeError, ValueError):
    """A tensor of the wrong dtype or device (``TypeError`` for the course, ``ValueError`` as in torch)."""
