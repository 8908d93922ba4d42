"""`python -m course_lib.bench nn` runs and prints its ratios (no timing is asserted)."""
import re

from course_lib.bench import nn as bench_nn


def test_bench_nn_quick_prints_ratios(capsys):
    assert bench_nn.main(["--quick", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for kind in ("LSTM", "GRU"):
        assert re.search(rf"^{kind} .*\d+\.\d\dx\s+\d+\.\d\dx$", out, re.M), out
    assert re.search(r"^\s+64\s.*\d+\.\d\dx$", out, re.M), out


def test_bench_nn_prints_one_table_per_thread_count_and_restores_threads(capsys):
    import torch
    before = torch.get_num_threads()
    assert bench_nn.main(["--quick", "--device", "cpu", "--threads", "1", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert torch.get_num_threads() == before
    for where in ("[cpu, 1 thread]", "[cpu, 2 threads]"):
        assert f"{where} fwd+bwd" in out and f"{where} MinGRU" in out, out
    assert len(re.findall(r"^LSTM ", out, re.M)) == 2
