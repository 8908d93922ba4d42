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
