"""The progress bar is a widget in a live kernel and plain text in the static book."""
import tqdm.std

from course_lib import progress
from course_lib.viz import widgets


def test_static_book_uses_the_text_bar(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    bar = progress.tqdm(range(3), disable=True)
    assert type(bar) is tqdm.std.tqdm


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
