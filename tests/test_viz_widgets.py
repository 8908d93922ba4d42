"""show_widget: the widget in a live kernel, a note in the static book."""
import ipywidgets

from course_lib import viz


def test_static_book_prints_a_note_instead_of_the_widget(monkeypatch, capsys):
    monkeypatch.setenv(viz.widgets.STATIC_ENV, "1")
    assert viz.static_book()
    assert viz.show_widget(ipywidgets.IntSlider()) is None
    assert "open this chapter in Colab" in capsys.readouterr().out


def test_live_kernel_displays_the_widget(monkeypatch):
    monkeypatch.delenv(viz.widgets.STATIC_ENV, raising=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda w: shown.append(w))
    w = ipywidgets.IntSlider()
    assert viz.show_widget(w) is w and shown == [w]
