"""The sandboxed side of batch grading: run a submission's cells, then answer the grader's calls.

This module runs inside the confined worker process (see :mod:`course_lib.grading.sandbox`), from
a pristine copy of ``course_lib`` that has no reference implementations in it. It never grades
anything: it executes the notebook's code cells (transformed from IPython syntax by the grader),
remembers which object each ``check(task, obj)`` call named, and then serves requests over two
pipes in the :mod:`~course_lib.grading.wire` format:

``{"op": "get", "task": T}``
    the object the last ``check(T, ...)`` named: a value, or a handle to a function;
``{"op": "call", "id": H, "args": [...], "kwargs": {...}, "limit": S, "name": N}``
    call the function behind handle ``H`` on the grader's inputs (within ``S`` seconds), return
    its result (arrays, numbers, tuples, dicts; anything else stays here as a handle);
``{"op": "bye"}``.

The grader compares the results with the reference in its own process, so nothing this process
writes -- to the pipes, to files, to stdout -- can raise a score: a lying worker only fails its
own tests. ``course_lib.ref``, ``course_lib.nn`` (and the modules built on them) are stubs here:
using them raises :class:`ReferenceUnavailable`, which the learner's feedback quotes.
"""
from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import io
import sys
import time
import types

__all__ = ["ReferenceUnavailable", "BLOCKED", "install_blocker", "main"]

BLOCKED = ("course_lib.ref", "course_lib.nn", "course_lib.train", "course_lib.experiments", "course_lib.viz",
           "course_lib.bench", "course_lib.grading.tasks")
MAX_CELL_OUTPUT = 20_000   # characters of each cell's output kept for the executed copy


class ReferenceUnavailable(ImportError):
    """Raised when graded code uses the course's reference implementations during batch grading."""


def _message(name: str) -> str:
    return (f"{name} is not available while your work is graded: graded code must not use the "
            "course's reference implementations (course_lib.ref, course_lib.nn and what is built on them)")


class _Stub(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise ReferenceUnavailable(_message(self.__name__))


class _Blocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == b or fullname.startswith(b + ".") for b in BLOCKED):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        return None


def install_blocker() -> None:
    """Make the blocked modules stubs (first on ``sys.meta_path``; already imported ones replaced)."""
    for name in list(sys.modules):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            del sys.modules[name]
    sys.meta_path.insert(0, _Blocker())


class _CappedText(io.TextIOBase):
    """stdout/stderr of the learner's code: keeps the first ``MAX_CELL_OUTPUT`` characters, counts the rest."""

    def __init__(self):
        self.parts, self.kept, self.dropped = [], 0, 0

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        room = MAX_CELL_OUTPUT - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def flush(self):
        return None

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not kept]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


class _Shell:
    """A stand-in for ``get_ipython()``: magics and shell escapes do nothing while grading."""

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    getoutput = system

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def main(cfg: dict) -> None:
    from . import checker, models, wire
    from .compare import LearnerError, call_learner
    from .timelimit import TimeLimitExceeded, run_with_time_limit

    fd_in, fd_out = int(cfg["fd_in"]), int(cfg["fd_out"])
    install_blocker()
    recorded: dict = {}
    checker.set_batch_recorder(lambda task, obj: recorded.__setitem__(str(task), obj))
    handles: dict = {}
    by_identity: dict = {}

    def handle_for(obj):
        key = id(obj)
        if key not in by_identity:
            by_identity[key] = len(handles) + 1
            handles[by_identity[key]] = obj
        return by_identity[key], type(obj).__name__, callable(obj)

    def reply(message):
        try:
            payload = wire.encode(message, handles=handle_for)
        except (wire.WireError, RecursionError, ValueError, TypeError, OverflowError) as err:
            payload = wire.encode({"unsendable": f"{type(err).__name__}: {str(err)[:200]}"})
        wire.send(fd_out, payload)

    capture = _CappedText()
    sys.stdout = sys.stderr = capture
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _Shell}

    # ------------------------------------------------------------------ phase 1: the cells
    request = wire.decode(wire.recv(fd_in))
    deadline = time.monotonic() + float(request["budget"])
    ran = []
    for index, source in request["cells"]:
        left = deadline - time.monotonic()
        if left <= 0:
            ran.append({"index": index, "error": "not run: the notebook's time ran out", "output": ""})
            continue
        reply({"op": "cell", "index": index})
        error = ""
        try:
            code = compile(source, f"<cell {index + 1}>", "exec")
            run_with_time_limit(lambda: exec(code, namespace), left)  # sandboxed learner code
        except TimeLimitExceeded:
            error = f"stopped: the notebook's time ran out while this cell ran ({float(request['budget']):g} s in all)"
        except KeyboardInterrupt:
            error = "interrupted"
        except BaseException as err:  # a failing cell is the learner's; the next cells still run
            error = _short(err)
        finally:
            sys.stdout = sys.stderr = capture
        ran.append({"index": index, "error": error, "output": capture.take()})
    reply({"op": "ran", "cells": ran, "recorded": sorted(recorded)})

    # ------------------------------------------------------------------ phase 2: the grader's calls
    missing = object()
    while True:
        generators: list = []

        def make_generator(state, _gens=generators):
            gen = wire._generator(state)
            _gens.append(gen)
            return gen

        try:
            request = wire.decode(wire.recv(fd_in), handle_of=lambda i, n, c: handles.get(i, missing),
                                  model_of=models.build,
                                  generator_of=make_generator)
        except (EOFError, OSError, wire.WireError):
            return
        op = request.get("op") if isinstance(request, dict) else None
        if op == "bye":
            return
        if op == "get":
            task = request.get("task")
            reply({"value": recorded[task]} if task in recorded else {"missing": True})
            capture.take()
            continue
        if op != "call":
            reply({"unsendable": "unknown request"})
            continue
        fn = handles.get(request.get("id"))
        args, kwargs = request.get("args", []), request.get("kwargs", {})
        if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict) \
                or any(a is missing for a in list(args) + list(kwargs.values())):
            reply({"learner_error": "the grader asked for an object this worker does not hold (it was restarted)"})
            continue
        try:
            name = str(request.get("name") or getattr(fn, "__name__", "your function"))
            value = run_with_time_limit(lambda: call_learner(fn, *args, name=name, **kwargs),
                                        float(request.get("limit", 10.0)))
            states = [wire._jsonable(g.bit_generator.state) for g in generators]
            reply({"value": value, "gens": states})
        except TimeLimitExceeded:
            reply({"timeout": True})
        except LearnerError as err:
            reply({"learner_error": str(err)})
        except BaseException as err:  # e.g. a result that cannot be sent
            reply({"learner_error": f"your function's result could not be read ({_short(err)})"})
        finally:
            sys.stdout = sys.stderr = capture
            capture.take()
