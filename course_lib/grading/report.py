"""The batch grader's output: ``scores.csv`` (one row per student per task) and ``report.md``.

Every string that came from a submission -- a student's folder name, an exception message, a type
name -- is untrusted. :func:`clean` makes it one printable line (lone surrogates and bytes that were
not UTF-8 become ``\\udcff``-style escapes; control, format and bidirectional characters become
``\\x..``/``\\u....`` escapes; length bounded). :func:`csv_cell` also defuses spreadsheet formulas (a
cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``), :func:`md_cell` escapes
Markdown and HTML so that a name cannot become a link, a table column or a script.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

__all__ = ["CSV_COLUMNS", "clean", "csv_cell", "md_cell", "totals", "write_csv", "write_markdown"]

CSV_COLUMNS = ("student", "notebook", "task", "points", "max_points", "reason")

_STATUS = {"ok": "ran", "timeout": "timed out", "died": "process died", "invalid": "invalid notebook",
           "error": "could not run", "missing": "not submitted", "refused": "refused"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_MD_SPECIAL = set("\\`*_[]|~")


def clean(text, limit: int = 600) -> str:
    """``text`` as one printable line of at most ``limit`` characters (see the module docstring)."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # a value whose __str__ fails is still reported
            text = f"<{type(text).__name__}>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    out = []
    for ch in text[: limit * 2]:
        if ch in "\n\r\t":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    text = " ".join("".join(out).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def csv_cell(text) -> str:
    """A cleaned string that a spreadsheet shows as text, never evaluates."""
    text = clean(text)
    return "'" + text if text.startswith(_FORMULA) else text


def md_cell(text) -> str:
    """A cleaned string safe inside a Markdown table cell or heading (no markup, no HTML)."""
    text = clean(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def totals(scores) -> dict:
    """student -> (points, max_points), students in order."""
    out = {}
    for s in scores:
        p, m = out.get(s.student, (0, 0))
        out[s.student] = (p + s.points, m + s.max_points)
    return dict(sorted(out.items()))


def _atomic_write(path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_csv(path, scores) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for s in scores:
        writer.writerow([csv_cell(s.student), csv_cell(s.notebook), csv_cell(s.task), int(s.points),
                         int(s.max_points), csv_cell(s.reason)])
    _atomic_write(path, buffer.getvalue())


def write_markdown(path, scores, runs, ignored, timeout, header_notes=()) -> None:
    exercises = sorted({s.notebook for s in scores})
    by = {}
    for s in scores:
        by.setdefault((s.student, s.notebook), []).append(s)
    total = totals(scores)
    lines = ["# Grading report", ""]
    max_per = {e: max((sum(r.max_points for r in rows) for (st, nb), rows in by.items() if nb == e), default=0)
               for e in exercises}
    lines.append(f"{len(total)} student(s); exercises: "
                 + ", ".join(f"{e} ({max_per[e]} points)" for e in exercises)
                 + f"; time limit {timeout:g} s per notebook.")
    lines += [""] + [f"- {md_cell(n)}" for n in header_notes]
    lines += ["", "| student | " + " | ".join(exercises) + " | total |",
              "|---|" + "---:|" * (len(exercises) + 1)]
    for student, (points, max_points) in total.items():
        cells = []
        for e in exercises:
            rows = by.get((student, e), [])
            run = runs.get((student, e))
            note = "" if run is None or run.status == "ok" else f" ({_STATUS.get(run.status, run.status)})"
            cells.append(f"{sum(r.points for r in rows)}/{sum(r.max_points for r in rows)}{note}")
        lines.append(f"| {md_cell(student)} | " + " | ".join(cells) + f" | **{points}/{max_points}** |")
    for student in total:
        lines += ["", f"## {md_cell(student)}"]
        for e in exercises:
            rows = by.get((student, e), [])
            run = runs.get((student, e))
            status = _STATUS.get(run.status, run.status) if run else "not submitted"
            head = f"**{e}**: {sum(r.points for r in rows)}/{sum(r.max_points for r in rows)} points, {status}"
            if run is not None and run.status != "ok" and run.message:
                head += f": {md_cell(run.message)}"
            lines += ["", head]
            for note in getattr(run, "notes", []) or []:
                lines.append(f"- note: {md_cell(note)}")
            lines += ["", "| task | points | max | reason |", "|---|---:|---:|---|"]
            for r in rows:
                lines.append(f"| {md_cell(r.task)} | {r.points} | {r.max_points} | {md_cell(r.reason) or 'full marks'} |")
    if ignored:
        lines += ["", "## Ignored files", ""] + [f"- {md_cell(line)}" for line in ignored]
    _atomic_write(path, "\n".join(lines) + "\n")
