"""``check(task, fn_or_answer)``: instant feedback in an exercise notebook.

Runs every test of the task on fresh random inputs (a new seed per call, printed so a failure can be
repeated with ``seed=``), compares with :mod:`course_lib.ref`, prints one line per test -- what
passed, what failed and why -- and the points earned. It never raises because of the learner's
code: exceptions, wrong types and shapes, NaNs and endless loops (stopped by a time limit) all score
0 for that test, with the reason.
"""
from __future__ import annotations

import secrets

import numpy as np

from .compare import LearnerError, Mismatch
from .registry import get_task
from .result import CheckResult, TestOutcome, record
from .timelimit import TimeLimitExceeded, run_with_time_limit

__all__ = ["check", "TIME_LIMIT_S"]

TIME_LIMIT_S = 10.0


def _run_test(test, answer, rng, time_limit):
    """(passed, reason, skip_the_rest) for one test."""
    try:
        run_with_time_limit(lambda: test.run(answer, rng), time_limit)
        return True, "", ""
    except (Mismatch, LearnerError) as err:
        return False, str(err), ""
    except TimeLimitExceeded:
        return False, (f"stopped after {time_limit:g} s (the time limit): does your code loop forever "
                       "or run far too long?"), "skipped: an earlier test ran out of time"
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # the learner's result broke the comparison itself
        return False, f"could not check your result ({type(err).__name__}: {str(err)[:200]})", ""


def check(task: str, fn_or_answer, *, seed: int | None = None, time_limit: float = TIME_LIMIT_S,
          quiet: bool = False) -> CheckResult:
    """Grade ``fn_or_answer`` on the task called ``task`` and print what passed and failed.

    fn_or_answer: the learner's function (for implementation tasks) or answer (a letter, a number).
    seed: the seed of the random inputs; ``None`` draws a fresh one (printed in the report).
    time_limit: seconds each test may take before it is stopped and scored 0; after a time-out the
    remaining tests are skipped (they would only wait for the same loop).
    quiet: do not print. Returns a :class:`~course_lib.grading.result.CheckResult`; when the
    environment variable ``COURSE_GRADING_RESULTS`` names a file, the result is also appended to it
    as a JSON line (that is how the batch grader collects scores).
    """
    try:
        spec = get_task(task)
    except (KeyError, TypeError) as err:
        result = CheckResult(str(task), 0, 0, [], seed, error=str(err).strip("'\""))
        record(result)
        if not quiet:
            print(result.report())
        return result

    seed = secrets.randbits(32) if seed is None else int(seed)
    outcomes, skip = [], ""
    for index, test in enumerate(spec.tests):
        if skip:
            outcomes.append(TestOutcome(test.name, 0, test.points, False, skip))
            continue
        rng = np.random.default_rng([seed, index])
        passed, reason, skip = _run_test(test, fn_or_answer, rng, time_limit)
        outcomes.append(TestOutcome(test.name, test.points if passed else 0, test.points, passed, reason))
    result = CheckResult(spec.name, sum(o.points for o in outcomes), spec.max_points, outcomes, seed,
                         kind=spec.kind)
    record(result)
    if not quiet:
        print(result.report())
    return result
