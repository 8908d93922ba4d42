"""``python -m course_lib.bench grading``: time and memory of batch-grading a class of submissions.

Writes ``--n`` submissions of one exercise (default 50 of ``01_sequences``: its source with solutions,
every fifth with a bias forgotten) into a temporary folder, grades them with
:func:`course_lib.grading.batch.grade` exactly as an instructor would (sandbox, restarts, report),
and prints the wall time, the time per notebook, the grader's peak resident memory and the largest
worker's. Nothing is asserted: the numbers depend on the machine (how many cores, how loaded).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

__all__ = ["run", "main"]


def _submissions(folder: Path, source: Path, n: int) -> None:
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    wrong = nbformat.read(str(source), as_version=4)
    for cell in wrong.cells:
        cell.source = cell.source.replace("+ b_hh)", ")")
    for k in range(n):
        target = folder / f"student{k:03d}" / source.name
        target.parent.mkdir(parents=True)
        nbformat.write(wrong if k % 5 == 4 else nb, str(target))


def run(n: int = 50, jobs: int = 2, exercise: str = "01_sequences", timeout: float = 120.0,
        source_dir: str | None = None) -> dict:
    from ..grading.batch import grade

    exercises = Path(source_dir) if source_dir else Path(__file__).resolve().parents[2] / "exercises"
    source = exercises / f"{exercise}.ipynb"
    if not source.is_file():
        raise ValueError(f"no source notebook {source} (pass --exercises DIR)")
    with tempfile.TemporaryDirectory(prefix="course-bench-grading-") as tmp:
        tmp = Path(tmp)
        _submissions(tmp / "subs", source, n)
        start = time.perf_counter()
        scores, runs, _ = grade(tmp / "subs", tmp / "out", timeout=timeout, jobs=jobs)
        seconds = time.perf_counter() - start
    statuses = {}
    for r in runs.values():
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"n": n, "jobs": jobs, "seconds": seconds, "per_notebook": seconds / max(n, 1),
            "grader_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "statuses": statuses, "points": sum(s.points for s in scores)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.bench grading", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="submissions (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--exercise", default="01_sequences", help="which exercise (default 01_sequences)")
    parser.add_argument("--exercises", default=None, help="folder of the source notebooks (default: the repository's)")
    args = parser.parse_args(argv)
    r = run(args.n, args.jobs, args.exercise, source_dir=args.exercises)
    print(f"graded {r['n']} submissions of {args.exercise} with --jobs {r['jobs']} in {r['seconds']:.1f} s "
          f"({r['per_notebook']:.2f} s per notebook); statuses {r['statuses']}")
    print(f"peak resident memory: grader {r['grader_peak_mb']:.0f} MB, largest worker {r['worker_peak_mb']:.0f} MB")
    return 0
