"""Figures carry alt text made from their titles and labels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from course_lib.viz import figures


def test_describe_uses_suptitle_titles_and_labels():
    fig, (a, b) = plt.subplots(1, 2)
    fig.suptitle("Delayed echo")
    a.set(title="RNN $h_t$", xlabel="delay $d$", ylabel="accuracy")
    b.set_title("MLP")
    text = figures.describe(fig)
    assert text == "Figure: Delayed echo. RNN h_t (axes: x = delay d, y = accuracy); MLP"
    plt.close(fig)


def test_untitled_figure_still_gets_a_description():
    fig = plt.figure()
    assert figures.describe(fig).startswith("Figure")
    plt.close(fig)


def test_html_is_an_img_with_alt_and_png_data():
    fig, ax = plt.subplots()
    ax.set_title('a "quoted" <title>')
    html = figures.figure_html(fig)
    assert html.startswith('<img src="data:image/png;base64,iVBOR')
    assert 'alt="Figure: a &quot;quoted&quot; &lt;title&gt;"' in html
    plt.close(fig)


def test_enable_alt_text_registers_the_html_formatter():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    assert figures.enable_alt_text(ip)
    fig, ax = plt.subplots()
    ax.set_title("x")
    data, _ = ip.display_formatter.format(fig)
    assert 'alt="Figure: x"' in data["text/html"]
    plt.close(fig)


def test_a_figure_label_is_its_description():
    from course_lib.viz import diagrams

    fig = diagrams.unrolled(3)
    assert figures.describe(fig).startswith("Figure: diagram of an RNN") and "3 time steps" in figures.describe(fig)
    plt.close(fig)
