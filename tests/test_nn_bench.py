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


def test_bench_gpu_skips_clearly_without_cuda(capsys, monkeypatch):
    import torch

    from course_lib.bench import __main__ as bench_main
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench_main.main(["gpu"]) == 0
    assert "gpu benchmark skipped: torch.cuda.is_available() is False" in capsys.readouterr().out


def test_bench_nn_names_the_cpu(capsys):
    assert bench_nn.main(["--quick", "--device", "cpu", "--threads", "1"]) == 0
    assert f"CPU {bench_nn.cpu_model()}" in capsys.readouterr().out
