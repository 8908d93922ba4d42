"""``python -m course_lib.grading {release,grade,tasks}``: the grading command line."""
from __future__ import annotations

import sys

USAGE = """usage: python -m course_lib.grading COMMAND [options]

commands:
  release [--src exercises] [--out exercises/student] [--check]
                         write the student versions of the exercise notebooks
  grade DIR [--out DIR] [--timeout S] [--jobs N] [--memory MB] [--hide PATH] [--require-sandbox]
                         grade every submitted notebook in a sandbox; write scores.csv and report.md
  tasks                  list the graded tasks and their points
  key TASK LETTER        the salted hash a multiple-choice task stores instead of its answer

`python -m course_lib.grading COMMAND --help` explains each command."""


def _tasks(argv) -> int:
    from .registry import all_tasks

    for task in all_tasks():
        print(f"{task.notebook:<24} {task.name:<26} {task.max_points:>2} points  {task.description}")
    return 0


def _key(argv) -> int:
    from .tasks.common import answer_key

    if len(argv) != 2:
        print("usage: python -m course_lib.grading key TASK LETTER", file=sys.stderr)
        return 2
    print(answer_key(argv[0], argv[1]))
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "release":
        from .release import main as run
    elif command == "grade":
        from .batch import main as run
    elif command == "tasks":
        run = _tasks
    elif command == "key":
        run = _key
    else:
        print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
