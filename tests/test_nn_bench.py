"""`python -m course_lib.bench nn` runs and prints its ratios (no timing is asserted)."""
import re

from course_lib.bench import nn as bench_nn


def test_bench_nn_quick_prints_ratios(capsys):
    assert bench_nn.main(["--quick", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for kind in ("LSTM", "GRU"):
        assert re.search(rf"^{kind} .*\d+\.\d\dx\s+\d+\.\d\dx$", out, re.M), out
    assert re.search(r"^\s+64\s.*\d+\.\d\dx$", out, re.M), out
