"""Accessible figures: every matplotlib figure a chapter shows carries alt text built from its titles and labels.

myst-nb renders a notebook's PNG outputs as ``<img>`` tags whose alt text is just the file name. After
:func:`enable_alt_text` (called by :func:`course_lib.setup` inside IPython), every displayed figure also carries a
``text/html`` representation: the same PNG in an ``<img>`` whose ``alt`` describes the figure (its suptitle, each
panel's title and axis labels). The book renders that HTML, so a screen reader gets a description, and the
browser test can check that no figure lacks one.
"""
from __future__ import annotations

import base64
import html
import io
import re

__all__ = ["describe", "figure_html", "enable_alt_text"]


def _plain(text: str) -> str:
    """Strip mathtext markup: '$h_t[0]$' -> 'h_t[0]'."""
    text = re.sub(r"\\(mathrm|mathbf|mathit|operatorname)\{([^}]*)\}", r"\2", text or "")
    return " ".join(text.replace("$", "").replace("\\", "").split())


def describe(fig) -> str:
    """A one-paragraph description of a matplotlib figure from its titles and axis labels.

    A figure whose label is set (``fig.set_label("...")``, as the diagrams do) is described by that label.
    """
    if fig.get_label():
        return f"Figure: {_plain(fig.get_label())}"
    parts = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        parts.append(_plain(sup.get_text()))
    panels = []
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        bits = [_plain(ax.get_title())] if ax.get_title().strip() else []
        xl, yl = _plain(ax.get_xlabel()), _plain(ax.get_ylabel())
        if xl or yl:
            bits.append("axes: " + ", ".join(b for b in (f"x = {xl}" if xl else "", f"y = {yl}" if yl else "") if b))
        if bits:
            panels.append(" (".join(bits) + (")" if len(bits) > 1 else ""))
    if panels:
        parts.append("; ".join(panels))
    text = ". ".join(p for p in parts if p)
    return f"Figure: {text}" if text else "Figure (see the text around it)"


def figure_html(fig, dpi: int | None = None) -> str:
    """The figure as an ``<img>`` with a data-URI PNG and alt text from :func:`describe`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=dpi or fig.dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = html.escape(describe(fig), quote=True)
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width: 100%; height: auto;"/>'


def enable_alt_text(ip=None) -> bool:
    """Register :func:`figure_html` as the ``text/html`` formatter of matplotlib figures in IPython."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return False
        ip = get_ipython()
    if ip is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # IPython drops every Figure formatter when the inline backend is (lazily) activated, so activate it
    # first, register, and re-register before each cell in case a later cell switches backends again.
    plt.close(plt.figure())
    html_formatter = ip.display_formatter.formatters["text/html"]

    def register(*_):
        html_formatter.for_type(Figure, figure_html)

    register()
    if not getattr(ip, "_course_alt_text", False):
        ip.events.register("pre_run_cell", register)
        ip._course_alt_text = True
    return True
