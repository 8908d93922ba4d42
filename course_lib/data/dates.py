"""A small translation task generated from a seed: written dates -> ISO dates (book ch. 09).

The source "language" writes one to ``max_dates`` calendar dates in words, in one of two word orders, joined by
"and"; the target writes them in ISO 8601 form, one character per token, joined by ``;``::

    the third of march 1 9 9 9 and june the twenty first 2 0 0 1   ->   1999-03-03;2001-06-21

The year's digits are separate source tokens (numbers are usually cut into digits by subword tokenizers too).
Translating needs **reordering** (the day comes first in the source and last in the target, the year last and
first), a many-to-one mapping of words to digits ("twenty first" -> "21") and variable lengths on both sides:
7 to 9 source tokens and 10 target tokens per date. Every date is a real calendar date between 1900 and 2099.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np

from ..core.checks import positive_int

__all__ = ["MONTHS", "ORDINALS", "ordinal_words", "date_words", "date_pairs"]

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_TEENS = ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
          "eighteenth", "nineteenth")


def ordinal_words(day):
    """1 -> ["first"], 21 -> ["twenty", "first"], 30 -> ["thirtieth"] (days 1 to 31)."""
    if isinstance(day, bool) or not isinstance(day, (int, np.integer)) or not 1 <= day <= 31:
        raise ValueError(f"day must be an int in [1, 31]; got {day!r}")
    day = int(day)
    if day < 10:
        return [_UNITS[day - 1]]
    if day < 20:
        return [_TEENS[day - 10]]
    if day == 20:
        return ["twentieth"]
    if day == 30:
        return ["thirtieth"]
    return ["twenty" if day < 30 else "thirty", _UNITS[day % 10 - 1]]


ORDINALS = tuple(" ".join(ordinal_words(d)) for d in range(1, 32))


def date_words(date, order=0):
    """A ``datetime.date`` in words: order 0 "the third of march 1 9 9 9", order 1 "march the third 1 9 9 9"."""
    if not isinstance(date, _dt.date):
        raise TypeError(f"date must be a datetime.date; got {type(date).__name__}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (day of month) or 1 (month the day); got {order!r}")
    day, month = ordinal_words(date.day), MONTHS[date.month - 1]
    head = ["the"] + day + ["of", month] if order == 0 else [month, "the"] + day
    return head + list(f"{date.year:04d}")


def date_pairs(n, min_dates=1, max_dates=4, seed=0):
    """``n`` translation pairs ``(source tokens, target tokens)``, deterministic per ``seed``.

    Each pair holds a number of dates drawn uniformly from ``[min_dates, max_dates]``; each date is uniform over
    the days of 1900-2099, its word order uniform over the two of :func:`date_words`. Returns a list of
    ``(list[str], list[str])``; the target's tokens are characters (digits, ``-`` and ``;``).
    """
    n = positive_int(n, "n")
    min_dates = positive_int(min_dates, "min_dates")
    max_dates = positive_int(max_dates, "max_dates")
    if max_dates < min_dates:
        raise ValueError(f"max_dates must be >= min_dates = {min_dates}; got {max_dates}")
    rng = np.random.default_rng(seed)
    first, span = _dt.date(1900, 1, 1).toordinal(), (_dt.date(2099, 12, 31) - _dt.date(1900, 1, 1)).days + 1
    pairs = []
    for _ in range(n):
        k = int(rng.integers(min_dates, max_dates + 1))
        src, tgt = [], []
        for i in range(k):
            date = _dt.date.fromordinal(first + int(rng.integers(span)))
            if i:
                src.append("and")
                tgt.append(";")
            src += date_words(date, int(rng.integers(2)))
            tgt += list(date.isoformat())
        pairs.append((src, tgt))
    return pairs
