"""Batch grading: run every submitted notebook in its own process and score the checks it ran.

``python -m course_lib.grading grade DIR [--out DIR] [--timeout S] [--jobs N]``

Two layouts of ``DIR`` are understood (both may be mixed):

* one folder per student: ``DIR/<student>/<NN_topic>.ipynb`` -- the file name must contain an
  exercise name, so ``Copy of 01_sequences.ipynb`` is fine;
* flat: ``DIR/<student>_<NN_topic>.ipynb``, e.g. ``DIR/ada_lovelace_01_sequences.ipynb``.

Names starting with ``.`` or ``_`` are skipped; other files are listed in the report as ignored.
Every notebook runs in a fresh kernel of this Python (see :mod:`course_lib.grading.execute`) with
``--timeout`` seconds for the whole notebook; ``--jobs`` notebooks run at once. A notebook scores
the ``check(...)`` results it produced, the last one per task, counting only the tasks of its own
exercise. A notebook that kills its kernel or runs out of time keeps the checks that ran before
it stopped (each noted in its reason); every task it did not reach scores 0 with the reason. A
notebook that is not valid JSON, or an exercise a student did not submit, scores 0 on every task.
Nothing a submission does can crash the grader.

The output folder gets ``scores.csv`` (one row per student per task: points, max, reason),
``report.md`` (totals, then each student's tasks with the reasons) and ``executed/`` (each notebook
as it ran, for a closer look).

The grader trusts the kernel it starts: it is a convenience for honest submissions, not a sandbox.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .registry import notebooks, tasks_for

__all__ = ["Submission", "NotebookRun", "TaskScore", "discover", "run_notebook", "score", "grade", "main"]

GRACE_S = 30.0  # beyond --timeout, for kernel start-up/shut-down, before the worker is killed


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: str  # the exercise, e.g. "01_sequences"
    path: Path


@dataclass
class NotebookRun:
    status: str  # ok | timeout | kernel_died | invalid | error | missing
    message: str = ""
    results: list = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class TaskScore:
    student: str
    notebook: str
    task: str
    points: int
    max_points: int
    reason: str


# ----------------------------------------------------------------------------- discovery
def _exercise_in(name: str, exercises) -> str | None:
    """The exercise whose name occurs in the file name ``name`` (the longest if several do)."""
    found = [e for e in exercises if e in name]
    return max(found, key=len) if found else None


def discover(root) -> tuple[list[Submission], list[str]]:
    """``(submissions, ignored)`` in ``root``: see the module docstring for the layouts.

    ``ignored`` holds one line ``"PATH: why"`` per file that is not graded.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"submissions folder {root} does not exist or is not a folder")
    exercises = notebooks()
    found, ignored = {}, []

    def add(student, exercise, path):
        key = (student, exercise)
        if key in found:
            ignored.append(f"{path}: {student} already has {found[key].path.name} for {exercise}")
        else:
            found[key] = Submission(student, exercise, path)

    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            for path in sorted(entry.iterdir()):
                if path.name.startswith((".", "_")) or path.is_dir():
                    continue
                exercise = _exercise_in(path.name, exercises) if path.suffix == ".ipynb" else None
                if exercise is None:
                    ignored.append(f"{path}: not a notebook named after an exercise ({', '.join(exercises)})")
                else:
                    add(entry.name, exercise, path)
        elif entry.suffix == ".ipynb":
            stem = entry.name[:-len(".ipynb")]
            exercise = next((e for e in sorted(exercises, key=len, reverse=True)
                             if stem.endswith("_" + e) and len(stem) > len(e) + 1), None)
            if exercise is None:
                ignored.append(f"{entry}: a flat submission must be named <student>_<exercise>.ipynb")
            else:
                add(stem[:-len(exercise) - 1], exercise, entry)
        else:
            ignored.append(f"{entry}: not a notebook")
    return sorted(found.values(), key=lambda s: (s.student, s.notebook)), ignored


# ----------------------------------------------------------------------------- running
def _kill(pid) -> None:
    """Kill a process group (or a process), ignoring one that is already gone."""
    if not pid:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


def _read_results(path: Path) -> list[dict]:
    results = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and isinstance(item.get("task"), str):
                results.append(item)
    return results


def run_notebook(path, timeout: float, executed=None, attempts: int = 2) -> NotebookRun:
    """Execute one notebook in a worker process (see :mod:`course_lib.grading.execute`).

    A run that fails for a reason outside the notebook (status ``"error"``: the kernel would not
    start, the worker failed) is tried again, up to ``attempts`` times in all.
    """
    import nbformat

    try:
        nbformat.read(str(path), as_version=4)
    except Exception as err:  # whatever is wrong with the file, it is the submission's fault
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        return NotebookRun("invalid", f"not a valid notebook ({type(err).__name__}: {first})")
    for _ in range(max(1, attempts)):
        run = _run_once(path, timeout, executed)
        if run.status != "error":
            break
    return run


def _run_once(path, timeout, executed) -> NotebookRun:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp = Path(tmp)
        results, status_path, workdir = tmp / "results.jsonl", tmp / "status.json", tmp / "work"
        workdir.mkdir()
        cmd = [sys.executable, "-m", "course_lib.grading.execute", str(Path(path).resolve()),
               "--results", str(results), "--status", str(status_path), "--timeout", str(timeout),
               "--workdir", str(workdir)]
        if executed is not None:
            cmd += ["--executed", str(Path(executed).resolve())]
        log = tmp / "worker.log"  # a file, not a pipe: a surviving kernel could hold a pipe open forever
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            try:
                proc.wait(timeout=timeout + GRACE_S)
                overran = False
            except subprocess.TimeoutExpired:
                overran = True
                _kill(proc.pid)  # the worker leads its own process group
                proc.wait()
        status = {}
        if status_path.exists():
            try:
                status = json.loads(status_path.read_text(encoding="utf-8"))
            except ValueError:
                status = {}
        seconds = time.monotonic() - start
        if overran:
            _kill(status.get("kernel_pid"))  # the worker could not shut its kernel down: do it here
            return NotebookRun("timeout", f"the notebook did not finish within {timeout:g} s", [], seconds)
        if not status:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            return NotebookRun("error", f"the grading worker failed (exit code {proc.returncode}): {tail[0][:200]}",
                               [], seconds)
        return NotebookRun(status.get("status", "error"), status.get("message", ""), _read_results(results), seconds)


# ----------------------------------------------------------------------------- scoring
def _reason(result: dict) -> str:
    failed = [t.get("reason", "") for t in result.get("tests", []) if not t.get("passed")]
    unique = [r for r in dict.fromkeys(failed) if r and not r.startswith("skipped:")]
    return "; ".join(unique) or ("" if result.get("passed") else result.get("error", ""))


def score(student: str, notebook: str, run: NotebookRun) -> list[TaskScore]:
    """One :class:`TaskScore` per task of ``notebook``: the last check of each task, or 0 with the reason."""
    latest = {r["task"]: r for r in run.results}
    scores = []
    for task in tasks_for(notebook):
        result = latest.get(task.name)
        if result is None:
            reason = (run.message if run.status != "ok"
                      else f'not checked: no check("{task.name}", ...) ran in the notebook')
            scores.append(TaskScore(student, notebook, task.name, 0, task.max_points, reason))
            continue
        try:
            points = int(result.get("points", 0))
        except (TypeError, ValueError):
            points = 0
        points = max(0, min(points, task.max_points))
        reason = _reason(result)
        if run.status != "ok":         # checked before the run stopped: the check counts, the stop is noted
            reason = "; ".join(r for r in (reason, f"checked before the run stopped ({run.message})") if r)
        scores.append(TaskScore(student, notebook, task.name, points, task.max_points, reason))
    return scores


# ----------------------------------------------------------------------------- the whole folder
def grade(root, out, timeout: float = 120.0, jobs: int = 2, progress=None):
    """Grade every submission in ``root``; write ``scores.csv``, ``report.md`` and ``executed/`` to ``out``.

    Returns ``(scores, runs, ignored)``: all :class:`TaskScore` rows, ``{(student, notebook): NotebookRun}``
    and the ignored files. ``progress``: optional callable receiving one line per finished notebook.
    """
    from .report import write_csv, write_markdown

    if timeout <= 0:
        raise ValueError(f"timeout must be positive; got {timeout}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}")
    submissions, ignored = discover(root)
    out = Path(out)
    (out / "executed").mkdir(parents=True, exist_ok=True)

    def one(sub):
        run = run_notebook(sub.path, timeout, out / "executed" / f"{sub.student}__{sub.notebook}.ipynb")
        if progress is not None:
            progress(f"{sub.student} / {sub.notebook}: {run.status} ({run.seconds:.1f} s)")
        return sub, run

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(one, submissions))
    runs = {(s.student, s.notebook): r for s, r in done}
    students = sorted({s.student for s in submissions})
    exercises = sorted({s.notebook for s in submissions})
    scores = []
    for student in students:
        for exercise in exercises:
            run = runs.get((student, exercise))
            if run is None:
                run = runs[(student, exercise)] = NotebookRun("missing", "no submission for this exercise")
            scores.extend(score(student, exercise, run))
    write_csv(out / "scores.csv", scores)
    write_markdown(out / "report.md", scores, runs, ignored, timeout)
    return scores, runs, ignored


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_lib.grading grade",
                                     description="Grade a folder of submitted exercise notebooks.")
    parser.add_argument("submissions", help="DIR/<student>/<NN_topic>.ipynb or DIR/<student>_<NN_topic>.ipynb")
    parser.add_argument("--out", default="grading-report", help="output folder (default: grading-report)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook (default: 120)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default: 2)")
    args = parser.parse_args(argv)
    try:
        scores, runs, ignored = grade(args.submissions, args.out, args.timeout, args.jobs,
                                      progress=lambda line: print(line, flush=True))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from .report import totals

    for student, (points, max_points) in totals(scores).items():
        print(f"{student}: {points}/{max_points}")
    for line in ignored:
        print(f"ignored: {line}")
    print(f"wrote {Path(args.out) / 'scores.csv'} and {Path(args.out) / 'report.md'}")
    return 0
