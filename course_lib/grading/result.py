"""What a check found: one :class:`TestOutcome` per test, gathered in a :class:`CheckResult`.

A result prints as the learner sees it and turns into a JSON-able dict. Nothing a result says is
trusted by the batch grader (:mod:`course_lib.grading.batch`): it runs every check again itself.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["TestOutcome", "CheckResult", "ATTEMPT_LINE"]

ATTEMPT_LINE = "{task}: checking your answer (attempt {attempt})"


@dataclass
class TestOutcome:
    """One test of a task: its description, points earned out of ``max_points``, and why it failed."""

    name: str
    points: int
    max_points: int
    passed: bool
    reason: str = ""


@dataclass
class CheckResult:
    """Everything :func:`course_lib.grading.check` found for one task.

    ``points``/``max_points``: the score; ``tests``: one :class:`TestOutcome` per test; ``seed``: the
    seed of the random inputs (pass it back to ``check(..., seed=...)`` to repeat them); ``error``: set
    when the check itself could not run (e.g. an unknown task name).
    """

    task: str
    points: int
    max_points: int
    tests: list = field(default_factory=list)
    seed: int | None = None
    error: str = ""
    kind: str = "function"
    attempt: int = 0  # answers: how many times this kernel has checked one for this task

    @property
    def passed(self) -> bool:
        """Full marks."""
        return self.max_points > 0 and self.points == self.max_points

    @property
    def reasons(self) -> list[str]:
        """The reasons of the failed tests, in order."""
        return [t.reason for t in self.tests if not t.passed]

    def summary(self) -> str:
        """``rnn_cell_forward: 3/4 points``."""
        return f"{self.task}: {self.points}/{self.max_points} points"

    def report(self) -> str:
        """The text the learner sees: one line per test, then the points."""
        if self.error:
            return f"{self.task}: {self.error}\n{self.summary()}"
        width = max(len(t.name) for t in self.tests) if self.tests else 0
        if self.kind == "answer":
            lines = [ATTEMPT_LINE.format(task=self.task, attempt=self.attempt) if self.attempt
                     else f"{self.task}: checking your answer"]
        else:
            n = len(self.tests)
            lines = [f"{self.task}: {n} test{'s' if n != 1 else ''} on fresh random inputs (seed {self.seed})"]
        previous = None
        for t in self.tests:
            mark = "PASS" if t.passed else "FAIL"
            line = f"  [{mark}] {t.points}/{t.max_points}  {t.name:<{width}}".rstrip()
            if not t.passed:
                line += "\n           -> " + ("(the same)" if t.reason == previous else t.reason)
                previous = t.reason
            lines.append(line)
        lines.append(self.summary() + ("  -- well done!" if self.passed else ""))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """A JSON-able dict (what the batch grader reads)."""
        d = asdict(self)
        d["passed"] = self.passed
        return d

    def __repr__(self) -> str:
        return f"<CheckResult {self.summary()}>"
