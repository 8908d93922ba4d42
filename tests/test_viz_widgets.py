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


def test_a_factory_is_not_even_called_in_the_static_book(monkeypatch):
    monkeypatch.setenv(viz.widgets.STATIC_ENV, "1")
    calls = []
    viz.show_widget(lambda **kw: calls.append(kw))
    assert calls == []


def test_a_factory_is_called_with_its_arguments_in_a_live_kernel(monkeypatch):
    monkeypatch.delenv(viz.widgets.STATIC_ENV, raising=False)
    monkeypatch.setattr("IPython.display.display", lambda w: None)
    w = viz.show_widget(lambda value: ipywidgets.IntSlider(value=value), value=7)
    assert isinstance(w, ipywidgets.IntSlider) and w.value == 7
