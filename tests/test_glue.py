"""course_lib.core.glue: measured numbers reach the prose through myst-nb, and Colab (no myst-nb) is unharmed."""
import sys

import numpy as np
import pytest

from course_lib.core import glue


def test_glue_hands_the_value_to_myst_nb_without_displaying_it(monkeypatch):
    import myst_nb.ext.glue as mg

    shown = []
    monkeypatch.setattr(mg, "ipy_display", lambda bundle, **kw: shown.append((bundle, kw)))
    assert glue("capacity_n64", 0.25) is None
    glue("as_python", np.float64(52.5))
    (bundle, kw), (bundle2, _) = shown
    assert kw["metadata"]["scrapbook"]["name"] == "capacity_n64"
    # display=False: only the prefixed mime types, which the book renders where {glue:text} asks for them
    assert list(bundle) == ["application/papermill.record/text/plain"]
    assert bundle["application/papermill.record/text/plain"] == "0.25"
    assert bundle2["application/papermill.record/text/plain"] == "52.5"      # not np.float64(52.5)


def test_glue_is_a_no_op_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)           # import myst_nb now raises ImportError
    assert glue("x", 3) is None


@pytest.mark.parametrize("bad", ["two words", "", 3])
def test_glue_names_must_be_identifiers(bad):
    with pytest.raises(ValueError, match="name must be an identifier-like string"):
        glue(bad, 1)
