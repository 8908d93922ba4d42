"""Helpers shared by the task modules: random inputs and the two kinds of conceptual questions."""
from __future__ import annotations

import numpy as np

from ..compare import Mismatch, type_name
from ..registry import Task, Test

__all__ = ["sizes", "normal", "cell_weights", "multiple_choice", "number_question", "check_callable"]


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


def multiple_choice(name: str, notebook: str, description: str, options: str, correct: str) -> Task:
    """A one-point multiple-choice task. ``options``: the letters allowed, e.g. ``"abcd"``.

    The learner's answer is a letter (case and surrounding brackets ignored). Feedback says whether
    the answer is right, never which letter would have been.
    """
    if correct not in options:
        raise ValueError(f"correct answer {correct!r} is not among the options {options!r}")

    def run(answer, rng):
        if answer is None:
            raise Mismatch("no answer given yet (replace None with the letter of your choice)")
        if not isinstance(answer, str):
            raise Mismatch(f"expected a letter as a string, e.g. \"{options[0]}\"; got {type_name(answer)}")
        choice = _normalise_choice(answer)
        if choice not in options or len(choice) != 1:
            allowed = ", ".join(f'"{o}"' for o in options)
            raise Mismatch(f"expected one of {allowed}; got {answer!r}")
        if choice != correct:
            raise Mismatch(f"\"{choice}\" is not the right answer; reread the section and try again")

    return Task(name, notebook, description, (Test("the chosen answer", 1, run),), kind="answer")


def number_question(name: str, notebook: str, description: str, low: float, high: float,
                    points: int = 1) -> Task:
    """A numeric-answer task: any number in ``[low, high]`` earns the points.

    Feedback says "too low"/"too high" but never the accepted range.
    """
    def run(answer, rng):
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
        if value < low:
            raise Mismatch(f"{value:g} is too low")
        if value > high:
            raise Mismatch(f"{value:g} is too high")

    return Task(name, notebook, description, (Test("the number", points, run),), kind="answer")
