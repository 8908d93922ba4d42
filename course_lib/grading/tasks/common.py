"""Helpers shared by the task modules: random inputs and the two kinds of conceptual questions."""
from __future__ import annotations

import hashlib

import numpy as np

from ..compare import Mismatch, type_name
from ..registry import Task, Test

__all__ = ["sizes", "normal", "cell_weights", "multiple_choice", "number_question", "check_callable", "answer_key"]


def sizes(rng, n: int = 3, low: int = 2, high: int = 9) -> list[int]:
    """``n`` *distinct* random sizes in ``[low, high]``: with batch != input != hidden a transposed
    weight or a sum over the wrong axis changes the shape and cannot pass by accident."""
    return [int(s) for s in rng.choice(np.arange(low, high + 1), size=n, replace=False)]


def normal(rng, *shape, scale: float = 1.0) -> np.ndarray:
    """Gaussian float64 array."""
    return rng.normal(0.0, scale, size=shape)


def cell_weights(rng, n_gates: int, input_size: int, hidden: int) -> dict:
    """Random ``W_ih (G*hidden, input)``, ``W_hh (G*hidden, hidden)``, ``b_ih``, ``b_hh (G*hidden,)``
    in torch's layout, scaled so that tanh/sigmoid are not saturated."""
    return {
        "W_ih": normal(rng, n_gates * hidden, input_size, scale=1.0 / np.sqrt(input_size)),
        "W_hh": normal(rng, n_gates * hidden, hidden, scale=1.0 / np.sqrt(hidden)),
        "b_ih": normal(rng, n_gates * hidden, scale=0.5),
        "b_hh": normal(rng, n_gates * hidden, scale=0.5),
    }


def check_callable(fn, what: str) -> None:
    if not callable(fn):
        raise Mismatch(f"expected the function {what}; got {type_name(fn)}")


def _normalise_choice(answer) -> str:
    return str(answer).strip().strip("().:").strip().lower()


KEY_SALT = "course_lib multiple-choice key v1"


def answer_key(task: str, letter: str) -> str:
    """The salted SHA-256 of ``letter`` as the answer to ``task``: what a task module stores instead of
    the letter (``python -m course_lib.grading key TASK LETTER`` prints it). It keeps the key out of
    plain sight in the package; with four options it is no secret from a determined reader, which is
    why attempts are counted and reported (see :mod:`course_lib.grading.checker`)."""
    return hashlib.sha256(f"{KEY_SALT}\0{task}\0{_normalise_choice(letter)}".encode()).hexdigest()


def multiple_choice(name: str, notebook: str, description: str, options: str, key: str) -> Task:
    """A one-point multiple-choice task. ``options``: the letters allowed, e.g. ``"abcd"``; ``key``: the
    :func:`answer_key` of the right letter (checked here: exactly one option must match it).

    The learner's answer is a letter (case and surrounding brackets ignored). Feedback says whether
    the answer is right, never which letter would have been.
    """
    matches = [o for o in options if answer_key(name, o) == key]
    if len(matches) != 1:
        raise ValueError(f"the key of {name!r} matches {len(matches)} of the options {options!r}; expected 1 "
                         "(make it with `python -m course_lib.grading key TASK LETTER`)")

    def run(answer, rng):
        if answer is None:
            raise Mismatch("no answer given yet (replace None with the letter of your choice)")
        if not isinstance(answer, str):
            raise Mismatch(f"expected a letter as a string, e.g. \"{options[0]}\"; got {type_name(answer)}")
        choice = _normalise_choice(answer)
        if choice not in options or len(choice) != 1:
            allowed = ", ".join(f'"{o}"' for o in options)
            raise Mismatch(f"expected one of {allowed}; got {answer!r}")
        if answer_key(name, choice) != key:
            raise Mismatch(f"\"{choice}\" is not the right answer; reread the section and try again")

    return Task(name, notebook, description, (Test("the chosen answer", 1, run),), kind="answer")


def _as_number(answer) -> float:
    if answer is None:
        raise Mismatch("no answer given yet (replace None with a number)")
    if isinstance(answer, str):
        try:
            answer = float(answer)
        except ValueError:
            raise Mismatch(f"expected a number; got the string {answer!r}") from None
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise Mismatch(f"expected a number; got {type_name(answer)}")
    value = float(answer)
    if not np.isfinite(value):
        raise Mismatch(f"expected a finite number; got {value}")
    return value


def number_question(name: str, notebook: str, description: str, low: float | None = None,
                    high: float | None = None, points: int = 1, *, expected=None, rel: float = 0.02) -> Task:
    """A numeric-answer task, either a range ``[low, high]`` or ``expected`` (a function computing the
    answer at grading time, so no number sits in the package) within a relative tolerance ``rel``.

    Feedback says only whether the number is accepted -- never "too low"/"too high", which would let
    a learner bisect their way to any answer.
    """
    if expected is None and (low is None or high is None or low > high):
        raise ValueError(f"{name}: give expected= or a range low <= high; got low={low}, high={high}")

    def run(answer, rng):
        value = _as_number(answer)
        if expected is not None:
            target = float(expected())
            ok = abs(value - target) <= rel * abs(target)
        else:
            ok = low <= value <= high
        if not ok:
            allows = ("a small range" if expected is None else "only the exact value" if rel == 0
                      else f"a relative error of {rel:g}")
            raise Mismatch(f"{value:g} is not accepted (the check allows {allows}; "
                           "it does not say in which direction you are off)")

    return Task(name, notebook, description, (Test("the number", points, run),), kind="answer")
