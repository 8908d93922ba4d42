"""The progress bar is a widget in a live kernel and plain text in the static book."""
from course_lib import progress
from course_lib.viz import widgets


def test_static_book_uses_the_text_bar(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    bar = progress.tqdm(range(3), disable=True)
    import tqdm.notebook

    assert isinstance(bar, tqdm.std.tqdm) and not isinstance(bar, tqdm.notebook.tqdm)   # text, not a widget


def test_static_book_bar_prints_only_its_final_line(monkeypatch):
    """No stale "0/12" lines on a page: nothing while running, one line at the end (leave=True),
    nothing at all for a leave=False bar."""
    import io

    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    out = io.StringIO()
    bar = progress.tqdm(range(12), desc="runs", file=out, mininterval=0, miniters=1)
    for i in bar:
        bar.set_postfix_str(f"step {i}")          # refreshes a normal bar at once
        bar.set_description("runs")
        assert out.getvalue() == ""
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" not in text.strip("\r"), repr(text)
    assert "runs: 100%" in text and "12/12" in text, repr(text)
    out = io.StringIO()
    with progress.tqdm(total=5, file=out, leave=False, mininterval=0) as bar:
        bar.update(5)
    assert out.getvalue() == ""


def test_live_uses_tqdm_auto(monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV, raising=False)
    import tqdm.auto

    bar = progress.tqdm(range(3), disable=True)
    assert isinstance(bar, tqdm.auto.tqdm)


def test_nothing_bypasses_course_lib_progress():
    """A tqdm.auto bar is a widget: in the static book it would pull the widget manager from a CDN."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [p for p in (root / "course_lib").rglob("*.py") if p.name != "progress.py"]
    files += list((root / "book").glob("*.ipynb")) + list((root / "exercises").glob("*.ipynb"))
    offenders = [str(p.relative_to(root)) for p in files if "tqdm.auto" in p.read_text(encoding="utf-8")
                 or "tqdm.notebook" in p.read_text(encoding="utf-8")]
    assert not offenders, f"use `from course_lib.progress import tqdm` instead of tqdm.auto in: {offenders}"
