"""The task registry: task name -> chapter, description and tests (each worth some points).

A :class:`Task` holds :class:`Test` objects; a test is a function ``run(answer, rng)`` that draws
fresh inputs from ``rng``, runs the learner's function (or looks at the learner's answer), compares
with :mod:`course_lib.ref`, and raises :class:`~course_lib.grading.compare.Mismatch` (or lets a
:class:`~course_lib.grading.compare.LearnerError` through) when something is wrong. Returning
normally means the test passed.

Tasks live in :mod:`course_lib.grading.tasks`, one module per exercise notebook; they are loaded on
first use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Test", "Task", "get_task", "all_tasks", "tasks_for", "notebooks", "register"]

KINDS = ("function", "answer")


@dataclass(frozen=True)
class Test:
    """One graded test: a description (shown to the learner), its points and the function that runs it."""

    name: str
    points: int
    run: Callable


@dataclass(frozen=True)
class Task:
    """A graded task of an exercise notebook.

    ``kind="function"``: the learner passes a function, run on fresh random inputs.
    ``kind="answer"``: the learner passes an answer (a letter, a number) to a conceptual question.
    """

    name: str
    notebook: str
    description: str
    tests: tuple = field(default_factory=tuple)
    kind: str = "function"
    time_limit: float | None = None  # seconds per test; None: checker.TIME_LIMIT_S (training tasks need more)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {self.kind!r}")
        if not self.tests:
            raise ValueError(f"task {self.name!r} has no tests")

    @property
    def max_points(self) -> int:
        return sum(t.points for t in self.tests)


_TASKS: dict[str, Task] = {}


def register(*tasks: Task) -> None:
    """Add tasks to the registry (a name may be registered only once)."""
    for task in tasks:
        if task.name in _TASKS and _TASKS[task.name] is not task:
            raise ValueError(f"task {task.name!r} is registered twice")
        _TASKS[task.name] = task


def _load() -> dict[str, Task]:
    from . import tasks  # noqa: F401  (importing registers every task)

    return _TASKS


def get_task(name: str) -> Task:
    """The task called ``name``; ``KeyError`` with the list of known tasks otherwise."""
    tasks = _load()
    if name not in tasks:
        raise KeyError(f"unknown task {name!r}; the tasks are: {', '.join(sorted(tasks))}")
    return tasks[name]


def all_tasks() -> list[Task]:
    """Every task, in notebook order (and in order of definition within a notebook)."""
    return sorted(_load().values(), key=lambda t: t.notebook)


def tasks_for(notebook: str) -> list[Task]:
    """The tasks of one exercise notebook, e.g. ``tasks_for("01_sequences")``."""
    return [t for t in all_tasks() if t.notebook == notebook]


def notebooks() -> list[str]:
    """The exercise notebooks that have tasks, e.g. ``["01_sequences", ...]``."""
    return sorted({t.notebook for t in _load().values()})
