"""``check(task, fn_or_answer)``: instant feedback in an exercise notebook.

Runs every test of the task on fresh random inputs (a new seed per call, printed so a failure can be
repeated with ``seed=``), compares with :mod:`course_lib.ref`, prints one line per test -- what
passed, what failed and why -- and the points earned. It never raises because of the learner's
code: exceptions, wrong types and shapes, NaNs and endless loops (stopped by a time limit) all score
0 for that test, with the reason. While the learner's function runs, the course's reference
implementations refuse to run (:mod:`course_lib.grading.guard`): a function that calls them scores 0
and is told why.

Answers to questions (a letter, a number) may be retried; every attempt is counted and printed
(``attempt 3``), and the batch grader reports the counts it finds in a submitted notebook.

Inside the batch grader's sandbox (:mod:`course_lib.grading.worker`) ``check`` only records which
object a task was given; the grader runs the tests itself, in its own process.
"""
from __future__ import annotations

import secrets

import numpy as np

from .compare import LearnerError, Mismatch, WorkerLost
from .registry import get_task
from .result import CheckResult, TestOutcome
from .timelimit import TimeLimitExceeded, run_with_time_limit

__all__ = ["check", "evaluate", "attempts", "set_batch_recorder", "TIME_LIMIT_S"]

TIME_LIMIT_S = 10.0
SKIPPED_AFTER_TIMEOUT = "skipped: an earlier test ran out of time"

_ATTEMPTS: dict = {}
_RECORDER = None


def set_batch_recorder(recorder) -> None:
    """Inside the batch grader's worker: ``check`` calls ``recorder(task, obj)`` instead of grading."""
    global _RECORDER
    _RECORDER = recorder


def attempts(task: str) -> int:
    """How many times this kernel has checked an answer to ``task``."""
    return _ATTEMPTS.get(task, 0)


def outcome_of(run, time_limit):
    """(passed, reason, skip_the_rest) of ``run()``, one test of a task, however it ends."""
    try:
        run()
        return True, "", ""
    except (Mismatch, LearnerError) as err:
        return False, str(err), ""
    except TimeLimitExceeded:
        return False, (f"stopped after {time_limit:g} s (the time limit): does your code loop forever "
                       "or run far too long?"), SKIPPED_AFTER_TIMEOUT
    except WorkerLost as err:
        return False, str(err), "skipped: the process running your code had stopped"
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # the learner's result broke the comparison itself
        return False, f"could not check your result ({type(err).__name__}: {str(err)[:200]})", ""


def _run_test(test, answer, rng, time_limit):
    """One test, in this process with an interrupting time limit."""
    return outcome_of(lambda: run_with_time_limit(lambda: test.run(answer, rng), time_limit), time_limit)


def evaluate(spec, answer, seed: int, run_test) -> CheckResult:
    """Run every test of the task ``spec`` on ``answer``; ``run_test(test, answer, rng)`` returns
    ``(passed, reason, skip_reason)`` (a non-empty ``skip_reason`` skips the tests after it)."""
    outcomes, skip = [], ""
    for index, test in enumerate(spec.tests):
        if skip:
            outcomes.append(TestOutcome(test.name, 0, test.points, False, skip))
            continue
        rng = np.random.default_rng([seed, index])
        passed, reason, skip = run_test(test, answer, rng)
        outcomes.append(TestOutcome(test.name, test.points if passed else 0, test.points, passed, reason))
    return CheckResult(spec.name, sum(o.points for o in outcomes), spec.max_points, outcomes, seed, kind=spec.kind)


def check(task: str, fn_or_answer, *, seed: int | None = None, time_limit: float | None = None,
          quiet: bool = False) -> CheckResult:
    """Grade ``fn_or_answer`` on the task called ``task`` and print what passed and failed.

    fn_or_answer: the learner's function (for implementation tasks) or answer (a letter, a number).
    seed: the seed of the random inputs; ``None`` draws a fresh one (printed in the report).
    time_limit: seconds each test may take before it is stopped and scored 0 (default: the task's
    own limit, else ``TIME_LIMIT_S``); after a time-out the remaining tests are skipped (they would
    only wait for the same loop). quiet: do not print. Returns a
    :class:`~course_lib.grading.result.CheckResult`.
    """
    if _RECORDER is not None:
        _RECORDER(task, fn_or_answer)
        result = CheckResult(str(task), 0, 0, [], None, error="recorded: the batch grader runs this check itself")
        if not quiet:
            print(result.report())
        return result
    try:
        spec = get_task(task)
    except (KeyError, TypeError) as err:
        result = CheckResult(str(task), 0, 0, [], seed, error=str(err).strip("'\""))
        if not quiet:
            print(result.report())
        return result

    seed = secrets.randbits(32) if seed is None else int(seed)
    limit = time_limit if time_limit is not None else (spec.time_limit or TIME_LIMIT_S)
    result = evaluate(spec, fn_or_answer, seed, lambda test, answer, rng: _run_test(test, answer, rng, limit))
    if spec.kind == "answer":
        _ATTEMPTS[spec.name] = _ATTEMPTS.get(spec.name, 0) + 1
        result.attempt = _ATTEMPTS[spec.name]
    if not quiet:
        print(result.report())
    return result
