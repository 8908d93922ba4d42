"""`python -m course_lib.bench ref` runs and prints a ref/torch ratio per layer (tiny shape; no timing asserted)."""
import re

from course_lib.bench import __main__ as bench


def test_bench_ref_prints_a_ratio_per_layer(capsys):
    rc = bench.main(["ref", "--batch", "2", "--time", "3", "--input", "2", "--hidden", "3", "--repeats", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("LSTM", "RNN", "GRU"):
        row = re.search(rf"^{name}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+(\S+)$", out, re.M)
        assert row, out
        assert float(row.group(4)) < 1e-10  # the two computed the same gradients
