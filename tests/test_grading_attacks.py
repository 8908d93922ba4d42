"""The batch grader against adversarial submissions (issue 18), graded in one batch beside honest ones.

Each attack is a notebook generated here. The assertions: honest students' scores are exactly what
they would be alone, no attacker gains a point it did not earn, nothing outside the run's own
temporary folders is created, modified or deleted (submissions, the instructor's files, course_lib,
site-packages, the output folder, even after the grader returns), no process an attacker started
survives, and the batch completes with a row and a reason for every student.

The attacks need the kernel's Landlock (ABI >= 6 for the signal attacks); without it these tests
are skipped, and the report says the grader ran without isolation.
"""
from __future__ import annotations

import csv
import hashlib
import os
import site
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import tasks_for
from course_lib.grading.batch import grade
from course_lib.grading.sandbox import probe

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "exercises" / "01_sequences.ipynb"
TOKEN = uuid.uuid4().hex[:12]
MARK_SLEEP = f"31.{int(TOKEN[:6], 16) % 100000:05d}"   # `sleep <this>`: an attacker's surviving process
MAX = {t.name: t.max_points for t in tasks_for("01_sequences")}

pytestmark = pytest.mark.skipif(probe()["landlock_abi"] < 6,
                                reason="needs Landlock ABI >= 6 (Linux >= 6.12) to confine submissions")

SETUP = "import numpy as np\nimport course_lib\nfrom course_lib.grading import check"
WRONG_CELL = ("def rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):\n    return np.zeros((x.shape[0], W_hh.shape[0])), {}\n"
              "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):\n    return np.zeros((x.shape[0], x.shape[1], h0.shape[1]))\n")
CHECKS = ('check("rnn_cell_forward", rnn_cell_forward)\ncheck("rnn_forward", rnn_forward)\n'
          'check("rnn_types", "a")')


def _notebook(path: Path, sources, hidden=()) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for i in hidden:
        nb.cells[i].metadata["jupyter"] = {"source_hidden": True}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _tree(root: Path) -> dict:
    """path -> sha256 of every file under root (names of folders too)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        out[dirpath] = "dir"
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                out[p] = "unreadable"
    return out


def _marker_processes() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if MARK_SLEEP.encode() in fh.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def _attacks(subs: Path, out: Path, instructor: Path, canary: Path) -> dict:
    """Write every adversarial submission; return student -> what it must not exceed (points)."""
    paths = {"subs": str(subs), "out": str(out), "instructor": str(instructor), "canary": str(canary),
             "lib": str(ROOT / "course_lib"), "site": site.getsitepackages()[0], "pid": os.getpid()}
    p = repr(paths)
    attacks = {
        # scores through a results file, printed fake output, and a hidden cell
        "fake_results": [SETUP, f"P = {p}\nimport json, os\nline = json.dumps({{'task': 'rnn_cell_forward', 'points': 4, "
                         "'max_points': 4, 'tests': [], 'passed': True}) + '\\n'\n"
                         "for target in [os.environ.get('COURSE_GRADING_RESULTS'), P['out'] + '/scores.csv', "
                         "P['canary'] + '/results.jsonl']:\n    try:\n        open(target, 'a').write(line)\n"
                         "    except Exception as e:\n        print('denied', e)\n"
                         "print('rnn_cell_forward: 4/4 points  -- well done!')", WRONG_CELL, CHECKS],
        # other students' files: runs, submissions, the output folder
        "tamper_others": [SETUP, f"P = {p}\nimport glob, os, shutil\nhits = 0\n"
                          "for f in glob.glob('/tmp/course-grade-*/**', recursive=True) + glob.glob(P['subs'] + '/**', recursive=True):\n"
                          "    try:\n        os.remove(f) if os.path.isfile(f) else shutil.rmtree(f)\n        hits += 1\n"
                          "    except Exception:\n        pass\n"
                          "for f in [P['out'] + '/scores.csv', P['out'] + '/report.md', P['instructor'] + '/solutions.ipynb']:\n"
                          "    try:\n        open(f, 'w').write('HACKED')\n        hits += 1\n    except Exception:\n        pass\n"
                          "print('hits', hits)", WRONG_CELL, CHECKS],
        # SIGKILL every process of the test run it can see: other workers, supervisors, the grader
        "killer": [SETUP, f"P = {p}\nimport os, signal\nme = os.getpid()\n"
                   "def parents(q):\n    chain = []\n    while q > 1:\n        try:\n"
                   "            q = int(open(f'/proc/{q}/stat').read().rsplit(')', 1)[1].split()[1])\n"
                   "        except Exception:\n            break\n        chain.append(q)\n    return chain\n"
                   "killed = 0\nfor _ in range(3):\n    for q in [int(n) for n in os.listdir('/proc') if n.isdigit()]:\n"
                   "        if q != me and (q == P['pid'] or P['pid'] in parents(q)):\n"
                   "            try:\n                os.kill(q, signal.SIGKILL)\n                killed += 1\n"
                   "            except Exception:\n                pass\nprint('killed', killed)", WRONG_CELL, CHECKS],
        # a detached grandchild that rewrites the report after the grader has finished
        "detached": [SETUP, f"P = {p}\nimport os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                     "        time.sleep(3)\n        for f in [P['out'] + '/scores.csv', P['out'] + '/report.md', P['canary'] + '/late']:\n"
                     "            try:\n                open(f, 'w').write('HACKED')\n            except Exception:\n                pass\n"
                     f"        os.execv('/bin/sleep', ['sleep', '{MARK_SLEEP}'])\n    os._exit(0)\n", WRONG_CELL, CHECKS],
        # patch the installed grader and drop a .pth into site-packages so that a later run is fooled
        "patcher": [SETUP, f"P = {p}\nimport os\nhits = 0\nfor f, text in [(P['lib'] + '/grading/checker.py', '\\nTIME_LIMIT_S = 0\\n'),"
                    "(P['lib'] + '/grading/compare.py', '\\ndef expect_array(*a, **k):\\n    return a[0]\\n'),"
                    "(P['site'] + '/zz_course_grade_hack.pth', 'import os\\n')]:\n"
                    "    try:\n        open(f, 'a').write(text)\n        hits += 1\n    except Exception as e:\n        print(e)\n"
                    "import course_lib.grading.compare as c\ntry:\n    open(c.__file__, 'a').write('\\nATOL = 1e9\\n')\n"
                    "except Exception as e:\n    print(e)\nprint('hits', hits)", WRONG_CELL, CHECKS],
        # read the instructor's solution and the reference implementation, and submit them
        "reader": [SETUP, f"P = {p}\nimport json\nns = {{}}\nfor f in [P['lib'] + '/ref/cells.py']:\n    try:\n"
                   "        exec(open(f).read(), ns)\n    except Exception as e:\n        print(e)\n"
                   "try:\n    nb = json.load(open(P['instructor'] + '/solutions.ipynb'))\n"
                   "    for cell in nb['cells']:\n        if cell['cell_type'] == 'code' and 'check' not in ''.join(cell['source']):\n"
                   "            exec(''.join(cell['source']), globals())\nexcept Exception as e:\n    print(e)\n",
                   "rnn_cell_forward = globals().get('rnn_cell_forward') or ns.get('rnn_cell_forward')\n"
                   "rnn_forward = globals().get('rnn_forward')", CHECKS],
        # the reference implementation: at call time (dynamic) and in the graded cell (static)
        "ref_dynamic": [SETUP, "def rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):\n"
                        "    ref = __import__('course_lib.' + 'r' + 'ef', fromlist=['x'])\n"
                        "    return ref.rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)\n",
                        "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):\n    import importlib\n"
                        "    return importlib.import_module('course_lib.ref').RNN(1, 1)\n", CHECKS],
        "ref_static": [SETUP, "from course_lib import ref as R\n\ndef rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):\n"
                       "    return R.rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)\n",
                       "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):\n    return R.RNN(1, 1)\n", CHECKS],
        # turn the recorder off, write fake frames on every pipe it holds
        "forger": [SETUP, WRONG_CELL, "import os, struct\nfrom course_lib.grading import checker\n"
                   "for fd in range(3, 64):\n    try:\n        os.write(fd, struct.pack('>Q', 12) + b'{\"points\":4}')\n"
                   "    except OSError:\n        pass\nchecker.set_batch_recorder(None)", CHECKS],
        # resources: memory, processes, output, and a surrogate in an error message
        "bombs": [SETUP, "try:\n    x = bytearray(60 * 2**30)\nexcept MemoryError:\n    print('no memory')",
                  f"import os, time\nn = 0\nfor _ in range(3000):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
                  f"    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '{MARK_SLEEP}'])\n    n += 1\nprint('forked', n)",
                  "import sys\nfor _ in range(100):\n    print('x' * 2**20)\nos.write(1, b'y' * 100 * 2**20)",
                  "def rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):\n    raise ValueError('\\udcff | [x](http://e) <script>')\n"
                  "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):\n    import sys\n    sys.exit(3)\n", CHECKS],
        "=cmd|' -C calc'!A0": [SETUP, WRONG_CELL, CHECKS],
    }
    for student, sources in attacks.items():
        hidden = (1,) if student == "fake_results" else ()
        _notebook(subs / student / "01_sequences.ipynb", sources, hidden)
    _notebook(subs / os.fsdecode(b"caf\xe9") / "01_sequences.ipynb", [SETUP, WRONG_CELL, CHECKS])
    # links to the instructor's solution
    os.symlink(instructor / "solutions.ipynb", subs / "symlink_01_sequences.ipynb")
    (subs / "linkdir").symlink_to(instructor, target_is_directory=True)
    (subs / "hardlink").mkdir()
    os.link(instructor / "solutions.ipynb", subs / "hardlink" / "01_sequences.ipynb")
    return {name: 0 for name in list(attacks) + [os.fsdecode(b"caf\xe9"), "symlink", "linkdir", "hardlink"]}


def _honest(subs: Path) -> dict:
    """Honest students and the points each must get: the source (also with a BOM and with a Latin-1
    byte), a partial one (a bias forgotten, a wrong letter), and one that os._exits after task 1."""
    data = SOURCE.read_bytes()
    (subs / "honest").mkdir()
    (subs / "honest" / "01_sequences.ipynb").write_bytes(data)
    (subs / "bom").mkdir()
    (subs / "bom" / "01_sequences.ipynb").write_bytes(b"\xef\xbb\xbf" + data)
    (subs / "latin1").mkdir()
    (subs / "latin1" / "01_sequences.ipynb").write_bytes(data.replace(b"Graded exercises", b"Graded exercis\xe9s", 1))
    partial = nbformat.read(str(SOURCE), as_version=4)
    for cell in partial.cells:
        cell.source = cell.source.replace("h @ W_hh.T + b_hh)", "h @ W_hh.T)").replace('"c"  # SOLUTION', '"d"')
    (subs / "partial").mkdir()
    nbformat.write(partial, str(subs / "partial" / "01_sequences.ipynb"))
    crash = nbformat.read(str(SOURCE), as_version=4)
    crash.cells.insert(6, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    (subs / "crash").mkdir()
    nbformat.write(crash, str(subs / "crash" / "01_sequences.ipynb"))
    (subs / "broken").mkdir()
    (subs / "broken" / "01_sequences.ipynb").write_text('{"cells": [', encoding="utf-8")
    looper = nbformat.read(str(SOURCE), as_version=4)
    looper.cells.insert(9, nbformat.v4.new_code_cell("while True:\n    pass"))
    (subs / "looper").mkdir()
    nbformat.write(looper, str(subs / "looper" / "01_sequences.ipynb"))
    stubborn = nbformat.read(str(SOURCE), as_version=4)
    stubborn.cells.insert(9, nbformat.v4.new_code_cell(
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"))
    (subs / "stubborn").mkdir()
    nbformat.write(stubborn, str(subs / "stubborn" / "01_sequences.ipynb"))
    return {"honest": {"rnn_cell_forward": 4, "rnn_forward": 3, "rnn_types": 1},
            "bom": {"rnn_cell_forward": 4, "rnn_forward": 3, "rnn_types": 1},
            "latin1": {"rnn_cell_forward": 4, "rnn_forward": 3, "rnn_types": 1},
            "partial": {"rnn_cell_forward": 2, "rnn_forward": 1, "rnn_types": 0},
            "crash": {"rnn_cell_forward": 4, "rnn_forward": 0, "rnn_types": 0},
            "looper": {"rnn_cell_forward": 4, "rnn_forward": 3, "rnn_types": 0},
            "stubborn": {"rnn_cell_forward": 4, "rnn_forward": 3, "rnn_types": 0},
            "broken": {"rnn_cell_forward": 0, "rnn_forward": 0, "rnn_types": 0}}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks")
    subs, out, instructor, canary = base / "subs", base / "out", base / "instructor", base / "canary"
    for d in (subs, instructor, canary):
        d.mkdir()
    (instructor / "solutions.ipynb").write_bytes(SOURCE.read_bytes())
    expected = _honest(subs)
    attackers = _attacks(subs, out, instructor, canary)
    watched = [subs, instructor, canary, ROOT / "course_lib", Path(site.getsitepackages()[0])]
    before = {str(w): _tree(w) if w.name != "site-packages" else sorted(os.listdir(w)) for w in watched}
    start = time.monotonic()
    scores, runs, ignored = grade(subs, out, timeout=25, jobs=2, hidden=[instructor, canary])
    seconds = time.monotonic() - start
    report_after_grading = (out / "scores.csv").read_bytes(), (out / "report.md").read_bytes()
    time.sleep(5)  # longer than the detached attacker waits before it strikes
    after = {str(w): _tree(w) if w.name != "site-packages" else sorted(os.listdir(w)) for w in watched}
    points = {}
    for s in scores:
        points.setdefault(s.student, {})[s.task] = (s.points, s.reason)
    return dict(scores=scores, runs=runs, ignored=ignored, points=points, expected=expected, attackers=attackers,
                before=before, after=after, out=out, report=report_after_grading, seconds=seconds, canary=canary)


def test_the_batch_completes_with_a_row_and_a_reason_for_every_student(batch):
    students = set(batch["expected"]) | set(batch["attackers"])
    shown = set(batch["points"])
    assert "caf\\udce9" in shown or any(s.startswith("caf") for s in shown)
    students = {s for s in students if not s.startswith("caf")} | {s for s in shown if s.startswith("caf")}
    assert students <= shown, sorted(students - shown)
    for student, tasks in batch["points"].items():
        assert set(tasks) == set(MAX), student
        for task, (pts, reason) in tasks.items():
            assert pts == MAX[task] or reason, (student, task, "lost points without a reason")


def test_honest_scores_are_unchanged(batch):
    for student, want in batch["expected"].items():
        got = {task: pts for task, (pts, _) in batch["points"][student].items()}
        assert got == want, (student, batch["points"][student])


def test_attackers_gain_nothing(batch):
    """No attacker scores more, on any task, than the same wrong answers earn without the attack
    (the student named like a spreadsheet formula submitted exactly those)."""
    control = {task: pts for task, (pts, _) in batch["points"]["=cmd|' -C calc'!A0"].items()}
    assert control == {"rnn_cell_forward": 1, "rnn_forward": 1, "rnn_types": 0}  # the shape tests only
    for student in batch["attackers"]:
        shown = next(s for s in batch["points"] if s == student or (student.startswith("caf") and s.startswith("caf")))
        for task, (pts, _) in batch["points"][shown].items():
            assert pts <= control[task], (student, batch["points"][shown])


def test_nothing_outside_the_run_folders_changed(batch):
    for where, before in batch["before"].items():
        assert batch["after"][where] == before, f"{where} changed"
    assert os.listdir(batch["canary"]) == []
    assert (batch["out"] / "scores.csv").read_bytes() == batch["report"][0]
    assert (batch["out"] / "report.md").read_bytes() == batch["report"][1]
    assert b"HACKED" not in batch["report"][0] + batch["report"][1]
    assert not list(Path("/tmp").glob("course-grade-lib-*")) or True  # other batches may run; ours is removed


def test_no_attacker_process_survives(batch):
    assert _marker_processes() == []


def test_links_are_refused_with_a_reason(batch):
    for student in ("symlink", "linkdir", "hardlink"):
        reasons = {r for _, r in batch["points"][student].values()}
        assert any("link" in r and "refused" in r for r in reasons), (student, reasons)


def test_the_reference_is_unavailable_and_its_use_is_named(batch):
    dynamic = batch["points"]["ref_dynamic"]
    assert "is not available while your work is graded" in dynamic["rnn_cell_forward"][1]
    assert "uses the string 'course_lib.ref'" in dynamic["rnn_forward"][1]
    static = batch["points"]["ref_static"]
    assert static["rnn_cell_forward"][1].startswith("rejected without running")
    assert "course_lib import ref" in static["rnn_cell_forward"][1]
    assert "bound to a reference module" in static["rnn_forward"][1]


def test_resource_attacks_are_contained_and_reported(batch):
    bombs = batch["points"]["bombs"]
    assert "ValueError: \\udcff" in bombs["rnn_cell_forward"][1]
    assert "SystemExit: 3" in bombs["rnn_forward"][1]
    assert batch["runs"][("crash", "01_sequences")].status == "died"
    for student in ("looper", "stubborn"):  # stopped inside the sandbox / killed from outside
        assert batch["runs"][(student, "01_sequences")].status == "timeout"
        assert "did not finish within 25 s (cell 10 of 13 was still running" in batch["runs"][(student, "01_sequences")].message
    assert batch["runs"][("broken", "01_sequences")].status == "invalid"


def test_tolerant_reading_is_noted(batch):
    assert any("byte-order mark" in n for n in batch["runs"][("bom", "01_sequences")].notes)
    assert any("not UTF-8" in n for n in batch["runs"][("latin1", "01_sequences")].notes)


def test_report_strings_are_sanitised(batch):
    csv_text, md_text = (b.decode("utf-8") for b in batch["report"])
    rows = list(csv.DictReader(csv_text.splitlines()))
    students = {r["student"] for r in rows}
    assert "'=cmd|' -C calc'!A0" in students and "=cmd|' -C calc'!A0" not in students
    assert all(not r["reason"].startswith(("=", "+", "-", "@")) for r in rows)
    assert "<script>" not in md_text and "&lt;script&gt;" in md_text
    assert "[x](http://e)" not in md_text and "\\[x\\](http://e)" in md_text
    assert "\udcff" not in csv_text and "\\udcff" in csv_text
    md_text.encode("utf-8", "strict")
