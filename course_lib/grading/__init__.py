"""``course_lib.grading``: graded exercises with instant feedback, student versions, batch grading.

In a notebook::

    from course_lib.grading import check
    check("rnn_cell_forward", rnn_cell_forward);     # prints what passed/failed and the points

From the command line (see ``python -m course_lib.grading --help``)::

    python -m course_lib.grading release             # exercises/*.ipynb -> exercises/student/
    python -m course_lib.grading grade SUBMISSIONS/  # scores.csv + report.md
    python -m course_lib.grading tasks               # the tasks and their points

Modules: :mod:`.checker` (``check``), :mod:`.registry` and :mod:`.tasks` (what is graded),
:mod:`.compare` (how results are compared), :mod:`.timelimit`, :mod:`.result`,
:mod:`.release` (student versions), :mod:`.batch` (grading a folder of submissions).
"""
from .checker import TIME_LIMIT_S, check
from .registry import all_tasks, get_task, notebooks, tasks_for
from .result import CheckResult, TestOutcome

__all__ = ["check", "CheckResult", "TestOutcome", "get_task", "all_tasks", "tasks_for", "notebooks",
           "TIME_LIMIT_S"]
