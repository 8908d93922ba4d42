"""The batch grader's output: ``scores.csv`` (one row per student per task) and ``report.md``."""
from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["CSV_COLUMNS", "totals", "write_csv", "write_markdown"]

CSV_COLUMNS = ("student", "notebook", "task", "points", "max_points", "reason")

_STATUS = {"ok": "ran", "timeout": "timed out", "kernel_died": "kernel died", "invalid": "invalid notebook",
           "error": "could not run", "missing": "not submitted"}


def totals(scores) -> dict:
    """student -> (points, max_points), students in order."""
    out = {}
    for s in scores:
        p, m = out.get(s.student, (0, 0))
        out[s.student] = (p + s.points, m + s.max_points)
    return dict(sorted(out.items()))


def write_csv(path, scores) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for s in scores:
            writer.writerow([s.student, s.notebook, s.task, s.points, s.max_points, s.reason])


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def write_markdown(path, scores, runs, ignored, timeout) -> None:
    exercises = sorted({s.notebook for s in scores})
    by = {}
    for s in scores:
        by.setdefault((s.student, s.notebook), []).append(s)
    total = totals(scores)
    lines = ["# Grading report", ""]
    max_per = {e: sum(s.max_points for s in scores if s.notebook == e) // max(1, len(total)) for e in exercises}
    lines.append(f"{len(total)} student(s); exercises: "
                 + ", ".join(f"{e} ({max_per[e]} points)" for e in exercises)
                 + f"; time limit {timeout:g} s per notebook.")
    lines += ["", "| student | " + " | ".join(exercises) + " | total |",
              "|---|" + "---:|" * (len(exercises) + 1)]
    for student, (points, max_points) in total.items():
        cells = []
        for e in exercises:
            rows = by.get((student, e), [])
            run = runs.get((student, e))
            note = "" if run is None or run.status == "ok" else f" ({_STATUS.get(run.status, run.status)})"
            cells.append(f"{sum(r.points for r in rows)}/{sum(r.max_points for r in rows)}{note}")
        lines.append(f"| {_cell(student)} | " + " | ".join(cells) + f" | **{points}/{max_points}** |")
    for student in total:
        lines += ["", f"## {student}"]
        for e in exercises:
            rows = by.get((student, e), [])
            run = runs.get((student, e))
            status = _STATUS.get(run.status, run.status) if run else "not submitted"
            head = f"**{e}**: {sum(r.points for r in rows)}/{sum(r.max_points for r in rows)} points, {status}"
            if run is not None and run.status != "ok" and run.message:
                head += f": {_cell(run.message)}"
            lines += ["", head, "", "| task | points | max | reason |", "|---|---:|---:|---|"]
            for r in rows:
                lines.append(f"| {r.task} | {r.points} | {r.max_points} | {_cell(r.reason) or 'full marks'} |")
    if ignored:
        lines += ["", "## Ignored files", ""] + [f"- {_cell(line)}" for line in ignored]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
