"""Batch grading of untrusted submissions: every score is computed outside the submission's reach.

``python -m course_lib.grading grade DIR [--out DIR] [--timeout S] [--jobs N] [--memory MB] [--require-sandbox]``

Two layouts of ``DIR`` are understood (both may be mixed):

* one folder per student: ``DIR/<student>/<NN_topic>.ipynb`` -- the file name must contain an
  exercise name, so ``Copy of 01_sequences.ipynb`` is fine;
* flat: ``DIR/<student>_<NN_topic>.ipynb``, e.g. ``DIR/ada_lovelace_01_sequences.ipynb``.

Names starting with ``.`` or ``_`` are skipped. Symbolic links, hard links (a file with more than one
name), special files and files over 50 MB are **refused**, with the reason in the report; every file is
read into memory before any submission runs, so nothing a submission does on disk changes what is graded.

How one notebook is graded (see :mod:`.submission`, :mod:`.remote`, :mod:`.sandbox`, :mod:`.worker`):

1. it is read tolerantly (a byte-order mark or a stray non-UTF-8 byte is noted, not fatal) and its
   code cells are turned into Python; graded cells that import or name ``course_lib.ref``/``nn``/
   ``train``/``experiments`` are rejected without running (score 0, with the reason);
2. a fresh run folder gets a copy of ``course_lib`` without the reference implementations, checked
   against the hashes taken when the batch started; a supervisor starts a worker confined to that
   folder (Landlock: no access to other submissions, the instructor's files, the output folder or any
   installed ``course_lib``; no signals to processes outside; limits on memory, processes, output size
   and CPU time; killed with everything it started when the notebook is done);
3. the worker runs the cells (``--timeout`` seconds for all of them) and records which object each
   ``check(task, obj)`` named; it does not grade anything;
4. the grader then runs each task's tests **in its own process**, calling the learner's functions in
   the worker through a value-only wire format and comparing with the reference here. Nothing the
   worker writes (results files, stdout, fake replies) can raise a score.

A notebook whose process dies or overruns is restarted without the cell that stopped it, so checks
before that cell still count (noted in their reason); every task not reached scores 0 with the reason.
One bad submission never stops the batch: every student found gets a row per task, with a reason
for every lost point. The output folder gets ``scores.csv``, ``report.md`` and ``executed/`` (each
notebook with the output its cells printed in the sandbox), written only after every worker is gone.
"""
from __future__ import annotations

import copy
import hashlib
import os
import secrets
import shutil
import site
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .checker import TIME_LIMIT_S, evaluate, outcome_of
from .compare import Mismatch, WorkerLost
from .registry import notebooks, tasks_for

__all__ = ["Submission", "NotebookRun", "TaskScore", "discover", "score", "grade", "main", "Sandbox"]

MAX_BYTES = 50 * 2**20
MAX_RESTARTS = 3
LIB_EXCLUDED = ("ref", "nn", "train.py", "experiments", "viz", "bench", os.path.join("grading", "tasks"))


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: str  # the exercise, e.g. "01_sequences"
    path: Path
    data: bytes = field(default=b"", repr=False, compare=False)


@dataclass
class NotebookRun:
    status: str  # ok | timeout | died | invalid | error | missing | refused
    message: str = ""
    results: list = field(default_factory=list)  # CheckResult per task graded
    seconds: float = 0.0
    notes: list = field(default_factory=list)


@dataclass
class TaskScore:
    student: str
    notebook: str
    task: str
    points: int
    max_points: int
    reason: str


# ----------------------------------------------------------------------------- discovery
def _display(name: str) -> str:
    from .report import clean

    return clean(name, 120) or "(unnamed)"


def _exercise_in(name: str, exercises) -> str | None:
    """The exercise whose name occurs in the file name ``name`` (the longest if several do)."""
    found = [e for e in exercises if e in name]
    return max(found, key=len) if found else None


def _read_file(path: str, st) -> tuple[bytes | None, str]:
    """The bytes of a regular file, read without following links; ``(None, why)`` when refused."""
    if stat.S_ISLNK(st.st_mode):
        return None, "a symbolic link: refused (submit the notebook itself)"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file: refused"
    if st.st_nlink > 1:
        return None, "a hard link to another file: refused (submit the notebook itself)"
    if st.st_size > MAX_BYTES:
        return None, f"larger than {MAX_BYTES // 2**20} MB: refused"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return None, f"could not be opened ({err.strerror}): refused"
    try:
        again = os.fstat(fd)
        if not stat.S_ISREG(again.st_mode) or again.st_nlink > 1 or (again.st_ino, again.st_dev) != (st.st_ino, st.st_dev):
            return None, "changed while it was read: refused"
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            return None, f"larger than {MAX_BYTES // 2**20} MB: refused"
        return b"".join(chunks), ""
    finally:
        os.close(fd)


def discover(root):
    """``(submissions, ignored, refused)`` in ``root``: see the module docstring for the layouts.

    ``ignored``: one line ``"PATH: why"`` per file that is not graded; ``refused``: student -> reasons,
    for every student whose files were refused (so that they still get a report row).
    Every submission's bytes are read here, before anything runs.
    """
    root = Path(root)
    try:
        st_root = os.lstat(root)
    except OSError:
        raise ValueError(f"submissions folder {root} does not exist") from None
    if stat.S_ISLNK(st_root.st_mode) or not stat.S_ISDIR(st_root.st_mode):
        raise ValueError(f"submissions folder {root} is not a folder (a symbolic link is not accepted)")
    exercises = notebooks()
    found, ignored, refused, used_names = {}, [], {}, {}

    def student_name(raw: str) -> str:
        shown = _display(raw)
        owner = used_names.setdefault(shown, raw)
        if owner != raw:  # two raw names that look alike once cleaned: keep them apart
            shown = f"{shown} ({hashlib.sha256(os.fsencode(raw)).hexdigest()[:6]})"
            used_names.setdefault(shown, raw)
        return shown

    def add(student, exercise, path, st):
        data, why = _read_file(str(path), st)
        if data is None:
            refused.setdefault(student, []).append(f"{_display(path.name)}: {why}")
            ignored.append(f"{_display(str(path))}: {why}")
            return
        key = (student, exercise)
        if key in found:
            ignored.append(f"{_display(str(path))}: {student} already has {_display(found[key].path.name)} for {exercise}")
        else:
            found[key] = Submission(student, exercise, path, data)

    for entry in sorted(os.scandir(root), key=lambda e: os.fsencode(e.name)):
        if entry.name.startswith((".", "_")):
            continue
        st = entry.stat(follow_symlinks=False)
        path = Path(entry.path)
        if stat.S_ISDIR(st.st_mode):
            student = student_name(entry.name)
            try:
                inner = sorted(os.scandir(entry.path), key=lambda e: os.fsencode(e.name))
            except OSError as err:
                refused.setdefault(student, []).append(f"the folder could not be read ({err.strerror})")
                continue
            for item in inner:
                if item.name.startswith((".", "_")):
                    continue
                ist = item.stat(follow_symlinks=False)
                ipath = Path(item.path)
                if stat.S_ISDIR(ist.st_mode):
                    ignored.append(f"{_display(str(ipath))}: a folder inside a student's folder (not graded)")
                    continue
                exercise = _exercise_in(item.name, exercises) if item.name.endswith(".ipynb") else None
                if exercise is None:
                    if stat.S_ISLNK(ist.st_mode):
                        refused.setdefault(student, []).append(f"{_display(item.name)}: a symbolic link: refused")
                    ignored.append(f"{_display(str(ipath))}: not a notebook named after an exercise "
                                   f"({', '.join(exercises)})")
                else:
                    add(student, exercise, ipath, ist)
            if not any(s == student for s, _ in found) and student not in refused:
                refused.setdefault(student, []).append("no notebook named after an exercise in the folder")
        elif stat.S_ISLNK(st.st_mode) and not entry.name.endswith(".ipynb"):
            student = student_name(entry.name)
            refused.setdefault(student, []).append("a symbolic link instead of a folder: refused")
            ignored.append(f"{_display(str(path))}: a symbolic link: refused")
        elif entry.name.endswith(".ipynb"):
            stem = entry.name[:-len(".ipynb")]
            exercise = next((e for e in sorted(exercises, key=len, reverse=True)
                             if stem.endswith("_" + e) and len(stem) > len(e) + 1), None)
            if exercise is None:
                ignored.append(f"{_display(str(path))}: a flat submission must be named <student>_<exercise>.ipynb")
            else:
                add(student_name(stem[:-len(exercise) - 1]), exercise, path, st)
        else:
            ignored.append(f"{_display(str(path))}: not a notebook")
    return sorted(found.values(), key=lambda s: (s.student, s.notebook)), ignored, refused


# ----------------------------------------------------------------------------- the sandbox of a batch
def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _manifest(root: Path) -> dict:
    """relative path -> sha256 of every file of the worker's copy of course_lib under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                             and os.path.normpath(os.path.join(rel_dir, d)) not in LIB_EXCLUDED)
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if name.endswith((".pyc", ".pyo")) or rel in LIB_EXCLUDED:
                continue
            with open(os.path.join(dirpath, name), "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


class Sandbox:
    """What every submission of one batch shares: the pristine course_lib copy and its hashes, the
    paths a worker may read, the limits. ``hidden``: more paths no worker may read."""

    def __init__(self, limits: dict, hidden=(), require: bool = False):
        from . import sandbox as sb

        self.probe = sb.probe()
        if require and not self.probe["filesystem"]:
            raise ValueError("--require-sandbox: this kernel offers no Landlock, so submissions could read and "
                             "change this user's files; run on Linux >= 5.13 with Landlock enabled")
        self.limits = limits
        self.staging = Path(tempfile.mkdtemp(prefix="course-grade-lib-"))
        self.runs = Path(tempfile.mkdtemp(prefix="course-grade-runs-"))
        os.chmod(self.staging, 0o700)
        os.chmod(self.runs, 0o711)
        package = _package_dir()
        self.manifest = _manifest(package)
        lib = self.staging / "course_lib"
        for rel in self.manifest:
            target = lib / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package / rel, target)
        if _manifest(lib) != self.manifest:
            raise RuntimeError("course_lib changed while it was being copied for grading")
        self.site_dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
        python_dirs = sorted({sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
                             | set(self.site_dirs))
        self.hidden = sorted({str(package), str(self.staging), str(self.runs)} | {str(h) for h in hidden}
                             | set(_installed_course_libs(self.site_dirs + [str(package.parent)])))
        if (package.parent / "exercises").is_dir() or (package.parent / ".git").exists() \
                or (package.parent / "pyproject.toml").exists():
            self.hidden.append(str(package.parent))  # the instructor's repository: solutions, tests
        self.read_paths = [[p, r] for p, r in sb.allowed_read_paths(python_dirs, self.hidden)]
        self.lock = threading.Lock()

    def notes(self) -> list[str]:
        p = self.probe
        if p["filesystem"]:
            fs = (f"isolation: Landlock ABI {p['landlock_abi']} (each worker reads only system and Python files, "
                  f"writes only its run folder{'; no signals or abstract sockets beyond it' if p['signals_scoped'] else ''}"
                  f"{'; no TCP' if p['tcp_blocked'] else ''})")
        else:
            fs = ("isolation: NO Landlock on this kernel -- workers run with this user's file access; "
                  "grade untrusted work only in a throw-away container")
        procs = "RLIMIT_NPROC" if p["nproc_limit"] else "a pids cgroup where one can be created (uid 0)"
        return [fs, f"limits: memory {self.limits['memory_bytes'] // 2**20} MB, output files "
                    f"{self.limits['file_bytes'] // 2**20} MB, processes by {procs}; every process a "
                    "worker starts is killed when its notebook is done"]

    def prepare_run(self) -> Path:
        """A fresh run folder with a verified copy of the staged course_lib in ``lib/``."""
        run = Path(tempfile.mkdtemp(prefix="run-", dir=self.runs))
        shutil.copytree(self.staging / "course_lib", run / "lib" / "course_lib")
        if _manifest(run / "lib" / "course_lib") != self.manifest:
            raise RuntimeError("the copy of course_lib for this run does not match the hashes taken at the start")
        return run

    def session(self, run: Path):
        from .remote import Session

        return Session(run, lib_dir=run / "lib", site_dirs=self.site_dirs, read_paths=self.read_paths,
                       limits=self.limits, landlock=self.probe["filesystem"],
                       max_processes=self.limits.get("processes", 128))

    def source_unchanged(self) -> bool:
        return _manifest(_package_dir()) == self.manifest

    def cleanup(self) -> None:
        for d in (self.staging, self.runs):
            shutil.rmtree(d, ignore_errors=True)


def _installed_course_libs(dirs) -> list[str]:
    out = []
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if name == "course_lib" or name.startswith(("course_lib-", "__editable__.course_lib",
                                                        "__editable___course_lib")):
                out.append(os.path.join(d, name))
    return out


# ----------------------------------------------------------------------------- one notebook
def _remote_runner(session, limit):
    def run_test(test, answer, rng):
        session.test_deadline = time.monotonic() + limit
        return outcome_of(lambda: test.run(answer, rng), limit)
    return run_test


def _executed_copy(nb, cells_info) -> dict:
    """The submitted notebook with the output each cell printed in the sandbox (cleaned, bounded)."""
    import nbformat

    out = copy.deepcopy(nb)
    info = {c.get("index"): c for c in cells_info if isinstance(c, dict) and isinstance(c.get("index"), int)}
    for index, cell in enumerate(out.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        c = info.get(index)
        if c is None:
            continue
        text = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd"
                       for ch in str(c.get("output", ""))[:20_000].encode("utf-8", "replace").decode("utf-8"))
        if text:
            cell["outputs"].append(nbformat.v4.new_output("stream", name="stdout", text=text))
        if c.get("error"):
            cell["outputs"].append(nbformat.v4.new_output("stream", name="stderr",
                                                          text=f"[grader] {str(c['error'])[:500]}\n"))
    return out


def grade_notebook(sub: Submission, box: Sandbox, timeout: float):
    """``(NotebookRun, executed_notebook_or_None)`` for one submission."""
    from .submission import InvalidNotebook, answer_attempts, check_calls, code_cells, forbidden_uses

    start = time.monotonic()
    try:
        nb, notes = read_notebook_bytes(sub.data)
    except InvalidNotebook as err:
        return NotebookRun("invalid", str(err), [], time.monotonic() - start), None
    cells = code_cells(nb)
    calls = check_calls(cells)
    rejected = forbidden_uses(cells, calls)
    attempts = answer_attempts(nb)
    tasks = tasks_for(sub.notebook)
    for task in tasks:
        if task.kind == "answer" and attempts.get(task.name, 0) > 1:
            notes.append(f"{task.name}: {attempts[task.name]} attempts at the answer (self-reported in the saved outputs)")
    run_dir = box.prepare_run()
    status, message, results, executed = "ok", "", [], None
    sessions = []
    try:
        session = box.session(run_dir)
        sessions.append(session)
        session.start()
        report = session.run_cells(cells, timeout)
        good_cells = cells
        if report.status != "ok":
            n = len(nb.cells)
            where = f"cell {report.stopped_at + 1} of {n}" if report.stopped_at is not None else "start-up"
            if report.status == "timeout":
                status, message = "timeout", (f"the notebook did not finish within {timeout:g} s ({where} was still "
                                              "running: an endless loop outside a check?)")
            else:
                status, message = "died", f"the notebook's process died while running {where} ({report.message})"
            session.close()
            good_cells = [(i, s) for i, s in cells if report.stopped_at is not None and i < report.stopped_at]
            session = box.session(run_dir)
            sessions.append(session)
            session.start()
            report = session.run_cells(good_cells, timeout)
        elif any(isinstance(c, dict) and "the notebook's time ran out" in str(c.get("error", "")) for c in report.cells):
            first = next(c for c in report.cells if "the notebook's time ran out" in str(c.get("error", "")))
            where = f"cell {int(first.get('index', -1)) + 1} of {len(nb.cells)}"
            status, message = "timeout", (f"the notebook did not finish within {timeout:g} s ({where} was still "
                                          "running: an endless loop outside a check?)")
        executed = _executed_copy(nb, report.cells)
        restarts = 0
        for task in tasks:
            if task.name in rejected:
                results.append((task, None, rejected[task.name]))
                continue
            if session.dead:
                if restarts >= MAX_RESTARTS:
                    results.append((task, None, "not graded: the process running this notebook stopped too often"))
                    continue
                restarts += 1
                session.close()
                session = box.session(run_dir)
                sessions.append(session)
                session.start()
                session.run_cells(good_cells, timeout)
            try:
                answer = session.get(task.name)
            except (WorkerLost, Mismatch) as err:
                results.append((task, None, str(err)))
                continue
            from .remote import MISSING

            if answer is MISSING:
                reason = message if status != "ok" else f'not checked: no check("{task.name}", ...) ran in the notebook'
                results.append((task, None, reason))
                continue
            limit = task.time_limit or TIME_LIMIT_S
            result = evaluate(task, answer, secrets.randbits(32), _remote_runner(session, limit))
            results.append((task, result, ""))
    except WorkerLost as err:
        status, message = "error", f"could not run the notebook ({err})"
    finally:
        for s in sessions:
            s.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    return NotebookRun(status, message, results, time.monotonic() - start, notes), executed


def read_notebook_bytes(data: bytes):
    from .submission import read_notebook

    return read_notebook(data)


# ----------------------------------------------------------------------------- scoring
def _reason(result) -> str:
    failed = [t.reason for t in result.tests if not t.passed]
    unique = [r for r in dict.fromkeys(failed) if r and not r.startswith("skipped:")]
    return "; ".join(unique) or ("" if result.passed else result.error or "")


def score(student: str, notebook: str, run: NotebookRun) -> list[TaskScore]:
    """One :class:`TaskScore` per task of ``notebook``, with a reason for every point lost."""
    from .report import clean

    graded = {task.name: (result, why) for task, result, why in run.results}
    scores = []
    for task in tasks_for(notebook):
        result, why = graded.get(task.name, (None, ""))
        if result is None:
            reason = why or run.message or "not graded"
            scores.append(TaskScore(student, notebook, task.name, 0, task.max_points, clean(reason)))
            continue
        points = max(0, min(int(result.points), task.max_points))
        reason = _reason(result)
        if run.status != "ok":  # checked before the run stopped: the check counts, the stop is noted
            reason = "; ".join(r for r in (reason, f"checked before the run stopped ({run.message})") if r)
        scores.append(TaskScore(student, notebook, task.name, points, task.max_points, clean(reason)))
    return scores


# ----------------------------------------------------------------------------- the whole folder
DEFAULT_LIMITS = {"memory_bytes": 6 * 2**30, "file_bytes": 64 * 2**20, "open_files": 256, "processes": 64}


def grade(root, out, timeout: float = 120.0, jobs: int = 2, progress=None, memory_mb: int | None = None,
          hidden=(), require_sandbox: bool = False):
    """Grade every submission in ``root``; write ``scores.csv``, ``report.md`` and ``executed/`` to ``out``.

    Returns ``(scores, runs, ignored)``: all :class:`TaskScore` rows, ``{(student, notebook): NotebookRun}``
    and the ignored files. ``progress``: optional callable receiving one line per finished notebook.
    ``hidden``: more paths no submission may read (the instructor's files outside the repository).
    """
    import nbformat

    from .report import write_csv, write_markdown

    if not timeout > 0:
        raise ValueError(f"timeout must be positive; got {timeout}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1; got {jobs!r}")
    root, out = Path(root), Path(out)
    root_real, out_real = os.path.realpath(root), os.path.realpath(out)
    if out_real == root_real or out_real.startswith(root_real + os.sep) or root_real.startswith(out_real + os.sep):
        raise ValueError(f"the output folder {out} must not be inside the submissions folder {root} (or contain it)")
    if out.is_symlink():
        raise ValueError(f"the output folder {out} is a symbolic link")
    submissions, ignored, refused = discover(root)
    limits = dict(DEFAULT_LIMITS)
    if memory_mb is not None:
        limits["memory_bytes"] = int(memory_mb) * 2**20
    limits["cpu_seconds"] = int(timeout * 2 + 600)
    box = Sandbox(limits, hidden=[root_real, out_real] + [str(h) for h in hidden], require=require_sandbox)
    executed = {}

    def one(sub):
        try:
            run, nb = grade_notebook(sub, box, timeout)
        except Exception as err:  # one bad submission never stops the batch
            run, nb = NotebookRun("error", f"the grader failed on this notebook ({type(err).__name__}: "
                                  f"{str(err)[:200]})"), None
        if nb is not None:
            executed[(sub.student, sub.notebook)] = nb
        if progress is not None:
            progress(f"{sub.student} / {sub.notebook}: {run.status} ({run.seconds:.1f} s)")
        return sub, run

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(one, submissions))
        source_ok = box.source_unchanged()
        header = box.notes()
    finally:
        box.cleanup()
    if not source_ok:
        header.append("WARNING: course_lib changed on disk while grading; re-check the scores")
    runs = {(s.student, s.notebook): r for s, r in done}
    students = sorted({s.student for s in submissions} | set(refused))
    exercises = sorted({s.notebook for s in submissions}) or sorted(notebooks())
    scores = []
    for student in students:
        for exercise in exercises:
            run = runs.get((student, exercise))
            if run is None:
                why = "; ".join(refused.get(student, [])) or "no submission for this exercise"
                run = runs[(student, exercise)] = NotebookRun(
                    "refused" if student in refused else "missing", f"not submitted ({why})")
            scores.extend(score(student, exercise, run))
    out.mkdir(parents=True, exist_ok=True)
    (out / "executed").mkdir(exist_ok=True)
    for (student, exercise), nb in executed.items():
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{student}__{exercise}")[:150]
        try:
            nbformat.write(nbformat.from_dict(nb), str(out / "executed" / f"{safe}.ipynb"))
        except Exception:  # the executed copy is a convenience
            pass
    write_csv(out / "scores.csv", scores)
    write_markdown(out / "report.md", scores, runs, ignored, timeout, header)
    return scores, runs, ignored


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_lib.grading grade",
                                     description="Grade a folder of submitted exercise notebooks.")
    parser.add_argument("submissions", help="DIR/<student>/<NN_topic>.ipynb or DIR/<student>_<NN_topic>.ipynb")
    parser.add_argument("--out", default="grading-report", help="output folder (default: grading-report)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for a notebook's cells (default: 120)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default: 2)")
    parser.add_argument("--memory", type=int, default=None, help="memory limit per notebook in MB (default: 6144)")
    parser.add_argument("--hide", action="append", default=[], help="a path no submission may read (repeatable)")
    parser.add_argument("--require-sandbox", action="store_true",
                        help="refuse to grade when the kernel offers no Landlock file-system isolation")
    args = parser.parse_args(argv)
    try:
        scores, runs, ignored = grade(args.submissions, args.out, args.timeout, args.jobs,
                                      progress=lambda line: print(line, flush=True), memory_mb=args.memory,
                                      hidden=args.hide, require_sandbox=args.require_sandbox)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from .report import clean, totals

    for student, (points, max_points) in totals(scores).items():
        print(f"{clean(student)}: {points}/{max_points}")
    for line in ignored:
        print(f"ignored: {clean(line)}")
    print(f"wrote {Path(args.out) / 'scores.csv'} and {Path(args.out) / 'report.md'}")
    return 0
