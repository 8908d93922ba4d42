"""course_lib.grading: checks, student versions, batch grading.

Both directions are proven: the solutions in the source notebooks score full marks (in-process and
executed by the batch grader), while the released student versions and a catalogue of known wrong
answers (``tests/grading_fixtures/wrong.py``) score less. Learner errors -- exceptions, endless loops,
invalid notebooks, dying kernels -- are reported and never crash a check or the grader.
"""
from __future__ import annotations

import csv
import importlib.util
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.grading import all_tasks, check, get_task, notebooks, tasks_for
from course_lib.grading.batch import NotebookRun, discover, grade, score
from course_lib.grading.compare import Mismatch, expect_array
from course_lib.grading.release import ReleaseError, release, strip_source, student_version

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
STUDENT = EXERCISES / "student"
SOURCES = sorted(EXERCISES.glob("*.ipynb"))
CHAPTERS = ["01_sequences", "02_hopfield_elman", "03_bptt", "04_gradients", "05_lstm", "06_gru",
            "07_bidirectional_deep", "08_applications", "09_seq2seq_attention", "10_transformers",
            "11_modern_rnns"]
CHECK_CALL = re.compile(r'check\("(\w+)",\s*(\w+)\)')


def _load_wrong():
    spec = importlib.util.spec_from_file_location("grading_wrong", ROOT / "tests" / "grading_fixtures" / "wrong.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


WRONG = _load_wrong()


@lru_cache(maxsize=None)
def _solutions(stem: str) -> dict:
    """task -> the object the source notebook's check cell passes, after running its other code cells.

    The set-up cell (torch, Colab) and the check cells are skipped: only the solutions are needed.
    """
    nb = nbformat.read(str(EXERCISES / f"{stem}.ipynb"), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"][1:]
    namespace: dict = {}
    for source in code:
        if not CHECK_CALL.search(source):
            exec(compile(source, f"{stem}.ipynb", "exec"), namespace)  # our own notebooks
    return {task: namespace[name] for source in code for task, name in CHECK_CALL.findall(source)}


def _make_notebook(path: Path, sources) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# ----------------------------------------------------------------------------- registry and notebooks
def test_every_chapter_has_an_exercise_notebook_with_tasks():
    stems = [p.stem for p in SOURCES]
    assert set(CHAPTERS) <= set(stems), f"missing exercise notebooks: {sorted(set(CHAPTERS) - set(stems))}"
    assert notebooks() == stems, "every exercise notebook needs graded tasks, and every task a notebook"
    for stem in stems:
        assert all(t.max_points > 0 for t in tasks_for(stem))


@pytest.mark.parametrize("stem", CHAPTERS)
def test_each_notebook_checks_exactly_its_tasks(stem):
    nb = nbformat.read(str(EXERCISES / f"{stem}.ipynb"), as_version=4)
    checked = [task for c in nb.cells if c.cell_type == "code" for task, _ in CHECK_CALL.findall(c.source)]
    assert checked == [t.name for t in tasks_for(stem)], f"{stem}: check cells {checked}"
    text = "\n".join(c.source for c in nb.cells)
    assert f"../book/{stem}.ipynb" in text, f"{stem}: no link to its chapter"
    assert "# BEGIN SOLUTION" in text or "# SOLUTION" in text


# ----------------------------------------------------------------------------- in-process checks
@pytest.mark.parametrize("task", [t.name for t in all_tasks()])
def test_the_notebook_solution_scores_full_marks(task):
    solution = _solutions(get_task(task).notebook)[task]
    result = check(task, solution, seed=12345, quiet=True)
    assert result.passed, result.report()


def test_every_task_has_at_least_two_known_wrong_answers():
    names = {t.name for t in all_tasks()}
    assert set(WRONG) == names
    assert all(len(v) >= 2 for v in WRONG.values())


@pytest.mark.parametrize("task,label,answer,fragment",
                         [(task, *item) for task, items in WRONG.items() for item in items],
                         ids=[f"{task}-{item[0]}" for task, items in WRONG.items() for item in items])
def test_known_wrong_answers_score_less_with_the_right_reason(task, label, answer, fragment):
    result = check(task, answer, seed=777, quiet=True)
    assert result.points < result.max_points, f"{label} scored full marks on {task}"
    assert any(fragment in reason for reason in result.reasons), (label, result.reasons)


def test_a_fresh_seed_per_check_and_repeatable_with_seed():
    solution = _solutions("01_sequences")["rnn_cell_forward"]
    seeds = {check("rnn_cell_forward", solution, quiet=True).seed for _ in range(3)}
    assert len(seeds) == 3
    wrong = WRONG["rnn_cell_forward"][0][1]
    first, again = (check("rnn_cell_forward", wrong, seed=99, quiet=True) for _ in range(2))
    assert first.reasons == again.reasons


def test_check_prints_each_test_and_the_points(capsys):
    wrong = WRONG["rnn_cell_forward"][0][1]  # b_hh missing: 2 of 4
    result = check("rnn_cell_forward", wrong, seed=3)
    out = capsys.readouterr().out
    assert out.strip().endswith("rnn_cell_forward: 2/4 points")
    assert out.count("[PASS]") == 2 and out.count("[FAIL]") == 2
    assert "h_next (with h = 0): wrong values: max abs error" in out
    # the feedback names shapes and errors, never the reference's code or arrays
    for leak in ("def ", "np.", "tanh(", "[[", "array("):
        assert leak not in out
    assert len(out.splitlines()) == 1 + 4 + 2 + 1
    assert (result.points, result.max_points) == (2, 4)


def test_a_function_that_raises_is_reported_with_its_message():
    def boom(x, h, W_ih, W_hh, b_ih, b_hh):
        raise ValueError("shapes do not match")

    result = check("rnn_cell_forward", boom, seed=1, quiet=True)
    assert result.points == 0
    assert result.reasons[0].startswith("rnn_cell_forward raised ValueError: shapes do not match (line ")
    assert "of boom)" in result.reasons[0]


def test_wrong_types_nan_and_exit_are_reported_not_raised():
    def torch_tensor(x, h, W_ih, W_hh, b_ih, b_hh):
        import torch

        return torch.zeros(h.shape), {}

    def nan(x, h, W_ih, W_hh, b_ih, b_hh):
        return np.full(h.shape, np.nan), {}

    def exits(x, h, W_ih, W_hh, b_ih, b_hh):
        raise SystemExit(3)

    assert "got a torch.Tensor" in check("rnn_cell_forward", torch_tensor, seed=1, quiet=True).reasons[0]
    assert "contains NaN or inf" in check("rnn_cell_forward", nan, seed=1, quiet=True).reasons[1]
    assert "raised SystemExit: 3" in check("rnn_cell_forward", exits, seed=1, quiet=True).reasons[0]
    assert "expected the function" in check("rnn_cell_forward", None, seed=1, quiet=True).reasons[0]


def test_comparison_messages_name_expected_and_given():
    with pytest.raises(Mismatch, match=r"^h: wrong shape: expected \(4, 8\), got \(8, 4\) \(transposed\?\)$"):
        expect_array(np.zeros((8, 4)), np.zeros((4, 8)), "h")
    with pytest.raises(Mismatch, match=r"wrong dtype: expected float64 \(the inputs' dtype\), got float32"):
        expect_array(np.zeros(3, dtype=np.float32), np.zeros(3), "h")
    with pytest.raises(Mismatch, match=r"max abs error 0\.5 at index \(1,\)"):
        expect_array(np.array([0.0, 0.5, 0.1]), np.zeros(3) + [0, 0, 0.1], "h")
    with pytest.raises(Mismatch, match="expected a NumPy array of shape \\(3,\\), got list"):
        expect_array([0.0, 0.0, 0.0], np.zeros(3), "h")


def test_an_endless_loop_is_stopped_by_the_time_limit():
    def forever(x, h, W_ih, W_hh, b_ih, b_hh):
        while True:
            try:
                sum(range(1000))
            except Exception:  # a learner's catch-all must not swallow the time limit
                pass

    start = time.monotonic()
    result = check("rnn_cell_forward", forever, seed=1, time_limit=0.3, quiet=True)
    assert time.monotonic() - start < 3.0
    assert result.points == 0
    assert "the time limit" in result.reasons[0]
    assert all(r == "skipped: an earlier test ran out of time" for r in result.reasons[1:])


def test_the_time_limit_also_works_outside_the_main_thread():
    stop = threading.Event()

    def until_stopped(x, h, W_ih, W_hh, b_ih, b_hh):
        while not stop.is_set():
            time.sleep(0.01)

    box = {}
    worker = threading.Thread(target=lambda: box.update(
        result=check("rnn_cell_forward", until_stopped, seed=1, time_limit=0.3, quiet=True)))
    worker.start()
    worker.join(10)
    stop.set()
    assert not worker.is_alive()
    assert box["result"].points == 0 and "the time limit" in box["result"].reasons[0]


def test_a_running_alarm_timer_and_its_handler_are_given_back():
    """pytest-timeout and others use SIGALRM too: a check must hand back their handler and timer."""
    import signal

    def handler(signum, frame):  # pragma: no cover - never fires in this test
        raise AssertionError("the outer timer fired")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        check("rnn_types", "c", quiet=True)
        assert signal.getsignal(signal.SIGALRM) is handler
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_unknown_task_is_reported_not_raised(capsys):
    result = check("rnn_cel_forward", lambda: None)
    assert (result.points, result.max_points) == (0, 0)
    assert "unknown task 'rnn_cel_forward'" in capsys.readouterr().out


def test_inside_the_batch_worker_check_only_records(capsys):
    from course_lib.grading import checker

    seen = {}
    checker.set_batch_recorder(lambda task, obj: seen.__setitem__(task, obj))
    try:
        result = check("rnn_types", "c", quiet=True)
    finally:
        checker.set_batch_recorder(None)
    assert seen == {"rnn_types": "c"} and result.points == 0 and "recorded" in result.error
    assert check("rnn_types", "c", quiet=True).passed


def test_the_reference_is_locked_while_the_learners_function_runs():
    from course_lib import ref

    def calls_ref(x, h, W_ih, W_hh, b_ih, b_hh):
        return ref.rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)

    def catches_and_retries(x, h, W_ih, W_hh, b_ih, b_hh):
        try:
            return ref.rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)
        except BaseException:
            return ref.rnn_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh)

    for fn in (calls_ref, catches_and_retries):
        result = check("rnn_cell_forward", fn, seed=2, quiet=True)
        assert result.points == 0
        assert all("course_lib.ref" in r and "reference implementation" in r for r in result.reasons)
    # the guard is gone afterwards: the reference (and the task's own use of it) work normally
    assert ref.rnn_cell_forward(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((3, 2)), np.zeros((3, 3)),
                                np.zeros(3), np.zeros(3))[0].shape == (1, 3)
    assert check("rnn_cell_forward", _solutions("01_sequences")["rnn_cell_forward"], seed=2, quiet=True).passed


def test_answer_keys_are_not_in_plain_text_and_attempts_are_counted(capsys):
    from course_lib.grading.tasks.common import answer_key

    for path in sorted((ROOT / "course_lib" / "grading" / "tasks").glob("ch*.py")):
        assert "correct=" not in path.read_text(encoding="utf-8"), f"{path.name} stores a letter in plain text"
    assert answer_key("rnn_types", "c") != answer_key("truncated_bptt", "c")  # salted per task
    first = check("truncated_bptt", "a", quiet=True).attempt
    second = check("truncated_bptt", "b").attempt
    assert second == first + 1
    assert f"truncated_bptt: checking your answer (attempt {second})" in capsys.readouterr().out


def test_answers_are_normalised_and_range_checked():
    assert check("rnn_types", " (C) ", quiet=True).passed
    assert check("rnn_types", "e", quiet=True).reasons == ['expected one of "a", "b", "c", "d"; got \'e\'']
    assert check("hopfield_capacity", "138", quiet=True).passed
    assert check("gru_parameters", 1920.0, quiet=True).passed
    reasons = check("gru_parameters", 1921, quiet=True).reasons
    assert reasons[0].startswith("1921 is not accepted") and "too low" not in reasons[0] and "too high" not in reasons[0]
    assert check("spectral_radius", 0.1433457, quiet=True).passed
    assert not check("spectral_radius", 0.9 ** 50, quiet=True).passed


# ----------------------------------------------------------------------------- release
def test_strip_source_replaces_solutions_keeping_indentation():
    source = "\n".join([
        "def f(x):",
        '    """Doc."""',
        "    # BEGIN SOLUTION",
        "    y = x + 1",
        "    return y",
        "    # END SOLUTION",
        "",
        "answer = 'b'  # SOLUTION",
        "keep = 1  # a normal comment",
    ])
    assert strip_source(source) == "\n".join([
        "def f(x):",
        '    """Doc."""',
        "    # YOUR CODE HERE",
        "    raise NotImplementedError",
        "",
        "answer = None  # YOUR ANSWER HERE",
        "keep = 1  # a normal comment",
    ])


@pytest.mark.parametrize("source,message", [
    ("# BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n# END SOLUTION", "without a '# BEGIN SOLUTION'"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside the block"),
    ("x = 1 # BEGIN SOLUTION", "unrecognised solution marker"),
])
def test_malformed_markers_are_errors(source, message):
    with pytest.raises(ReleaseError, match=re.escape(message)):
        strip_source(source, "nb, cell 3")


def test_student_version_clears_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 4
    nb.cells = [nbformat.v4.new_markdown_cell("# BEGIN SOLUTION in prose stays"), cell]
    out = student_version(nb)
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert "return 1" not in out.cells[1].source and out.cells[0].source == nb.cells[0].source
    assert nb.cells[1].execution_count == 4  # the source notebook is not modified


def test_release_writes_checks_and_removes_stale(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _make_notebook(src / "01_sequences.ipynb", ["x = 2  # SOLUTION"])
    _make_notebook(out / "99_gone.ipynb", ["pass"])
    assert release(src, out, check=True) == [f"wrote {out / '01_sequences.ipynb'}", f"removed {out / '99_gone.ipynb'}"]
    assert (out / "99_gone.ipynb").exists()
    release(src, out)
    assert release(src, out, check=True) == []
    assert nbformat.read(str(out / "01_sequences.ipynb"), 4).cells[0].source == "x = None  # YOUR ANSWER HERE"
    with pytest.raises(ValueError, match="--out must differ from --src"):
        release(src, src)


def test_committed_student_versions_are_up_to_date():
    stale = release(EXERCISES, STUDENT, check=True)
    assert stale == [], f"{stale}: run `python -m course_lib.grading release`"
    for path in sorted(STUDENT.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert "SOLUTION" not in text and "raise NotImplementedError" in text


# ----------------------------------------------------------------------------- batch grading: units
def test_discover_understands_both_layouts(tmp_path):
    for name in ["ada/01_sequences.ipynb", "ada/Copy of 03_bptt.ipynb", "ada/notes.txt",
                 "grace_hopper_01_sequences.ipynb", "random.ipynb", ".hidden/01_sequences.ipynb",
                 "ada/01_sequences (1).ipynb"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "linked_01_sequences.ipynb").symlink_to(tmp_path / "ada" / "notes.txt")
    subs, ignored, refused = discover(tmp_path)
    assert [(s.student, s.notebook, s.path.name) for s in subs] == [
        ("ada", "01_sequences", "01_sequences (1).ipynb"),
        ("ada", "03_bptt", "Copy of 03_bptt.ipynb"),
        ("grace_hopper", "01_sequences", "grace_hopper_01_sequences.ipynb"),
    ]
    assert len(ignored) == 4 and any("ada already has" in line for line in ignored)
    assert refused == {"linked": ["linked_01_sequences.ipynb: a symbolic link: refused (submit the notebook itself)"]}
    assert subs[0].data == b"{}"  # read before anything runs


def test_score_gives_a_reason_for_every_lost_point():
    from course_lib.grading import CheckResult, TestOutcome

    tasks = {t.name: t for t in tasks_for("01_sequences")}
    partial = CheckResult("rnn_cell_forward", 3, 4, [TestOutcome("a", 1, 1, True), TestOutcome("b", 0, 1, False, "wrong")])
    results = [(tasks["rnn_cell_forward"], partial, ""), (tasks["rnn_types"], None, "rejected: uses course_lib.ref")]
    rows = score("ada", "01_sequences", NotebookRun("ok", "", results))
    assert [(r.task, r.points, r.max_points, r.reason) for r in rows] == [
        ("rnn_cell_forward", 3, 4, "wrong"), ("rnn_forward", 0, 3, "not graded"),
        ("rnn_types", 0, 1, "rejected: uses course_lib.ref")]
    crashed = score("ada", "01_sequences", NotebookRun("died", "the process died", results))
    assert crashed[0].reason == "wrong; checked before the run stopped (the process died)"
    assert crashed[1].reason == "the process died"


# ----------------------------------------------------------------------------- batch grading: end to end
def test_sources_score_full_marks_and_student_versions_zero(tmp_path):
    """Every exercise notebook, executed by the batch grader: the sources as one student, the
    released student versions as another."""
    subs = tmp_path / "submissions"
    for path in SOURCES:
        (subs / "solutions").mkdir(parents=True, exist_ok=True)
        (subs / "solutions" / path.name).write_bytes(path.read_bytes())
        (subs / "stubs").mkdir(parents=True, exist_ok=True)
        (subs / "stubs" / path.name).write_bytes((STUDENT / path.name).read_bytes())
    scores, runs, ignored = grade(subs, tmp_path / "report", timeout=120, jobs=2)
    assert ignored == []
    assert {key: (run.status, run.message) for key, run in runs.items()} == {
        (student, stem): ("ok", "") for student in ("solutions", "stubs") for stem in CHAPTERS}
    total = sum(t.max_points for t in all_tasks())
    solved = [s for s in scores if s.student == "solutions"]
    assert [(s.task, s.points) for s in solved if s.points != s.max_points] == []
    assert sum(s.points for s in solved) == total
    assert sum(s.points for s in scores if s.student == "stubs") == 0
    with open(tmp_path / "report" / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(all_tasks())
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| solutions | " in report and f"**{total}/{total}**" in report and f"**0/{total}**" in report


def _three_submissions(folder: Path) -> None:
    """good: the source; partial: a bias forgotten and a wrong letter; broken: not JSON; crash: kills its kernel."""
    source = nbformat.read(str(EXERCISES / "01_sequences.ipynb"), as_version=4)
    nbformat.write(source, str(folder / "good_01_sequences.ipynb"))
    partial = nbformat.read(str(EXERCISES / "01_sequences.ipynb"), as_version=4)
    for cell in partial.cells:
        cell.source = cell.source.replace("h @ W_hh.T + b_hh)", "h @ W_hh.T)").replace('"c"  # SOLUTION', '"d"')
    nbformat.write(partial, str(folder / "partial_01_sequences.ipynb"))
    (folder / "broken_01_sequences.ipynb").write_text('{"cells": [', encoding="utf-8")
    crash = nbformat.read(str(EXERCISES / "01_sequences.ipynb"), as_version=4)
    crash.cells.insert(6, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    nbformat.write(crash, str(folder / "crash_01_sequences.ipynb"))


def test_batch_report_of_good_partial_and_broken_submissions(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    _three_submissions(subs)
    scores, runs, _ = grade(subs, tmp_path / "report", timeout=90, jobs=2)
    points = {}
    for s in scores:
        points.setdefault(s.student, []).append((s.task, s.points, s.max_points))
    assert points == {
        "broken": [("rnn_cell_forward", 0, 4), ("rnn_forward", 0, 3), ("rnn_types", 0, 1)],
        "crash": [("rnn_cell_forward", 4, 4), ("rnn_forward", 0, 3), ("rnn_types", 0, 1)],  # task 1 ran
        "good": [("rnn_cell_forward", 4, 4), ("rnn_forward", 3, 3), ("rnn_types", 1, 1)],
        "partial": [("rnn_cell_forward", 2, 4), ("rnn_forward", 1, 3), ("rnn_types", 0, 1)],
    }
    assert runs[("broken", "01_sequences")].status == "invalid"
    assert runs[("crash", "01_sequences")].status == "died"
    report = (tmp_path / "report" / "report.md").read_text()
    for line in ("| broken | 0/8 (invalid notebook) | **0/8** |", "| crash | 4/8 (process died) | **4/8** |",
                 "| good | 8/8 | **8/8** |", "| partial | 3/8 | **3/8** |"):
        assert line in report
    assert "not a valid notebook" in report and "process died while running cell 7 of 13" in report
    assert '"d" is not the right answer' in report and "h\\_next (with h = 0): wrong values" in report
    with open(tmp_path / "report" / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(int(r["points"]) for r in rows) == 15 and sum(int(r["max_points"]) for r in rows) == 32


def test_a_notebook_that_never_finishes_is_stopped_keeping_the_checks_it_ran(tmp_path):
    subs = tmp_path / "submissions"
    _make_notebook(subs / "loop" / "01_sequences.ipynb",
                   ["from course_lib.grading import check\ncheck('rnn_types', 'c');", "while True:\n    pass"])
    start = time.monotonic()
    scores, runs, _ = grade(subs, tmp_path / "report", timeout=5, jobs=1)
    assert time.monotonic() - start < 40
    assert runs[("loop", "01_sequences")].status == "timeout", runs
    assert [s.points for s in scores] == [0, 0, 1]             # rnn_types was checked before the loop
    assert all("did not finish within 5 s" in s.reason for s in scores)
    assert scores[2].reason.startswith("checked before the run stopped")


# ----------------------------------------------------------------------------- the untrusting grader's parts
def test_the_wire_carries_values_and_refuses_everything_else():
    import struct

    from course_lib.grading import wire

    gen = np.random.default_rng(5)
    value = {"a": np.arange(6.0).reshape(2, 3), "b": (1, 2.5, float("nan"), "s\udcff", None, True),
             "c": [np.int64(3), np.float32(1.5), np.zeros(0, dtype=bool)], 7: gen}
    gens = []
    back = wire.decode(wire.encode(value, generators=gens))
    assert gens == [gen] and back["a"].dtype == np.float64 and np.array_equal(back["a"], value["a"])
    assert back["b"][:2] == (1, 2.5) and np.isnan(back["b"][2]) and back["b"][3:] == ("s\udcff", None, True)
    assert isinstance(back["c"][0], np.int64) and back[7].integers(10**9) == np.random.default_rng(5).integers(10**9)
    with pytest.raises(wire.WireError, match="cannot be sent"):
        wire.encode(object())
    with pytest.raises(wire.WireError, match="dtype object"):
        wire.encode(np.array([object()]))
    good = wire.encode(np.zeros(3))
    for bad in (b"", good[:-1], good + b"x", struct.pack(">I", 10**9) + good[4:],
                good.replace(b'"nd"', b'"xx"'), good.replace(b"<f8", b"|O8")):
        with pytest.raises(wire.WireError):
            wire.decode(bad)


def test_the_graders_models_cross_as_data_one_way_only():
    """A task's model (beam search's next-token table, the sampling loop's RNN) reaches the worker as
    arrays and is rebuilt there; a reply from the worker that holds one is refused."""
    from course_lib.grading import models, wire

    rng = np.random.default_rng(0)
    table = models.NextTokenTable(np.log(rng.dirichlet(np.ones(4), size=(4, 4))), bos=0)
    rnn = models.TinyCharRNN.random(rng, 5, 3)
    payload = wire.encode({"step": table, "model": rnn}, models=True)
    back = wire.decode(payload, model_of=models.build)
    assert np.array_equal(back["step"]((0, 2, 3)), table((0, 2, 3)))
    h = rnn.initial_state()
    assert np.array_equal(back["model"].step(4, h)[0], rnn.step(4, h)[0])
    with pytest.raises(wire.WireError, match="may not cross"):
        wire.decode(payload)                                      # the grader's default: refused
    with pytest.raises(wire.WireError, match="cannot be sent"):
        wire.encode(table)                                        # without models=True: an object like any other
    forged = wire.encode({"x": models.NextTokenTable(np.zeros((2, 2, 2)))}, models=True)
    with pytest.raises(wire.WireError, match="unknown model"):
        wire.decode(forged.replace(b"next_token_table", b"next_token_tablX"), model_of=models.build)
    with pytest.raises(wire.WireError, match="float64"):
        wire.decode(wire.encode({"x": models.NextTokenTable(np.zeros((2, 2, 2)))}, models=True)
                    .replace(b"<f8", b"<f4").replace(b"[2, 2, 2]", b"[2, 2, 4]"), model_of=models.build)


def test_report_strings_are_cleaned_for_csv_and_markdown():
    from course_lib.grading.report import clean, csv_cell, md_cell

    assert clean("a\udcffb\x00c\u202ed\nnext") == "a\\udcffb\\x00c\\u202ed next"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-1+2") == "'-1+2" and csv_cell("ok") == "ok"
    assert md_cell("| [x](y) <b>*_") == "\\| \\[x\\](y) &lt;b&gt;\\*\\_"
    assert len(clean("x" * 5000)) == 600


def test_notebooks_are_read_tolerantly():
    from course_lib.grading.submission import InvalidNotebook, read_notebook

    data = (EXERCISES / "01_sequences.ipynb").read_bytes()
    nb, notes = read_notebook(b"\xef\xbb\xbf" + data.replace(b"Graded", b"Gr\xe4ded", 1))
    assert len(nb.cells) > 5 and any("byte-order mark" in n for n in notes) and any("not UTF-8" in n for n in notes)
    for bad, why in ((b'{"cells": [', "not JSON"), (b"[1, 2]", "no list of cells"), (b"\xff\xfe\x00", "UTF-16")):
        with pytest.raises(InvalidNotebook, match=why):
            read_notebook(bad)


def test_graded_cells_that_use_the_reference_are_found_statically():
    from course_lib.grading.submission import check_calls, forbidden_uses

    cells = [(0, "import course_lib\nfrom course_lib import nn as N"),
             (1, "def f(x):\n    return course_lib.ref.f(x)"),
             (2, "def g(x):\n    return N.LSTM(1, 1)"),
             (3, "import importlib\ndef h(x):\n    return importlib.import_module('course_lib.train')"),
             (4, "def k(x):\n    return getattr(course_lib, 'experiments')"),
             (5, "def ok(x):\n    split = 'train'\n    return course_lib.data, split"),
             (6, "check('t1', f); check('t2', g); check('t3', h); check('t4', k); check('t5', ok)")]
    found = forbidden_uses(cells, check_calls(cells))
    assert sorted(found) == ["t1", "t2", "t3", "t4"]
    assert "course_lib.ref (line 2)" in found["t1"] and "bound to a reference module" in found["t2"]
    assert "'course_lib.train'" in found["t3"] and "getattr(course_lib, 'experiments')" in found["t4"]


def test_the_grading_benchmark_runs():
    from course_lib.bench.grading import run

    r = run(n=2, jobs=1, timeout=60)
    assert r["statuses"] == {"ok": 2} and r["points"] == 2 * sum(t.max_points for t in tasks_for("01_sequences"))
    assert r["seconds"] > 0 and r["worker_peak_mb"] > 0


def test_the_temporal_affine_reference_passes_a_finite_difference_check():
    from course_lib.grading.tasks.ch03_bptt import temporal_affine_backward_reference, temporal_affine_reference

    rng = np.random.default_rng(3)
    x, W, b, d_out = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=(2, 3, 5))
    grads = temporal_affine_backward_reference(d_out, x, W)
    args = {"x": x, "W": W, "b": b}
    for (name, value), grad in zip(args.items(), grads):
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + 1e-6
            up = np.sum(d_out * temporal_affine_reference(**args))
            value[i] = old - 1e-6
            down = np.sum(d_out * temporal_affine_reference(**args))
            value[i] = old
            numeric[i] = (up - down) / 2e-6
        assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-8), name


@pytest.mark.parametrize("causal", [False, True])
def test_the_multi_head_reference_matches_torch(causal):
    import torch

    from course_lib.grading.tasks.ch10_transformers import multi_head_reference

    torch.manual_seed(0)
    layer = torch.nn.MultiheadAttention(12, 3, batch_first=True, dtype=torch.float64)
    torch.nn.init.normal_(layer.in_proj_bias)
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1) if causal else None
    out, weights = layer(x, x, x, attn_mask=mask, average_attn_weights=False)
    p = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    got = multi_head_reference(x.numpy(), p["in_proj_weight"], p["in_proj_bias"], p["out_proj.weight"],
                               p["out_proj.bias"], 3, causal)
    np.testing.assert_allclose(got[0], out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(got[1], weights.detach().numpy(), rtol=0, atol=1e-10)


def test_the_rnn_lm_loss_reference_passes_a_finite_difference_check():
    from course_lib.grading.tasks.ch03_bptt import _lm_case, rnn_lm_loss_reference

    (x, h0, targets, mask, params), (loss, grads) = _lm_case(np.random.default_rng(4), padded=True)
    assert not mask.all()
    values = {**params, "x": x, "h0": h0}
    for name, value in values.items():
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + 1e-6
            up = rnn_lm_loss_reference(x, h0, targets, mask, params)[0]
            value[i] = old - 1e-6
            down = rnn_lm_loss_reference(x, h0, targets, mask, params)[0]
            value[i] = old
            numeric[i] = (up - down) / 2e-6
        assert np.allclose(grads[name], numeric, rtol=1e-5, atol=1e-8), name


def test_a_venv_inside_the_hidden_repository_stays_readable_but_its_hidden_paths_do_not(tmp_path):
    """The CI layout: the venv lives in the instructor's (hidden) repository, and the editable install of
    course_lib leaves files in its site-packages that are hidden too. Everything else in the venv is readable."""
    from course_lib.grading import sandbox as sb

    repo = tmp_path / "repo"
    site = repo / ".venv" / "lib" / "site-packages"
    for d in (site / "torch", site / "numpy", repo / "exercises"):
        d.mkdir(parents=True)
    editable = site / "__editable__.course_lib.pth"
    editable.write_text(str(repo))
    rules = dict(sb.allowed_read_paths([str(repo / ".venv")], [str(repo), str(editable)]))
    readable = [p for p, r in rules.items() if r == sb.READ_EXEC]
    assert str(site / "torch") in readable and str(site / "numpy") in readable
    assert not any(p == str(editable) or p.startswith(str(repo / "exercises")) for p in rules), rules
    assert rules[str(site)] == sb.FS_READ_DIR                   # listed (imports work), not read whole
