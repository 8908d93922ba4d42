"""The graded tasks, one module per exercise notebook (``chNN_topic.py`` grades ``exercises/NN_topic.ipynb``).

Importing this package registers every task with :mod:`course_lib.grading.registry`.
"""
from importlib import import_module

from ..registry import register

MODULES = (
    "ch01_sequences",
    "ch02_hopfield_elman",
    "ch03_bptt",
    "ch04_gradients",
    "ch05_lstm",
    "ch06_gru",
    "ch07_bidirectional_deep",
    "ch08_applications",
    "ch09_seq2seq_attention",
    "ch10_transformers",
    "ch11_modern_rnns",
)

for _name in MODULES:
    register(*import_module(f"{__name__}.{_name}").TASKS)
