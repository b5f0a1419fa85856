"""Checks of the results pages: every number on a page comes from its results.

A page's numbers are the digits standing alone in its text (not those inside
a name such as ``block1`` or ``mnist_table1.png``). Each must be one of the
numbers of the results dict (any number in it, or in one of its strings)
written in one of the ways the pages write numbers: as given, rounded, in
percent, or a number of seconds in minutes.
"""

from __future__ import annotations

import re
from typing import Any

#: A number standing alone: not part of a name, a version or a longer number;
#: one in scientific notation (a small p-value: 7.2e-06) is one number.
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.]*\w)")
#: What a page may say without taking it from the results: the paper's
#: figure names and the 255 of an eps written as a fraction of 255.
STATIC = re.compile(r"Figures? \d(?:, \d)?|Tables? I+(?:-I+)?|/255\b")
#: File names and links, whose digits are part of a name.
NAMES = re.compile(r"\S+\.(?:png|json|md)\b")


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)] + list(value)
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def allowed_numbers(results: dict[str, Any]) -> set[str]:
    """Every way a page may write a number of ``results``."""
    out: set[str] = set()
    for leaf in _leaves(results):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, str):
            out.update(NUMBER.findall(NAMES.sub(" ", leaf)))
            continue
        if not isinstance(leaf, int | float):
            continue
        v = abs(float(leaf))  # a page's minus sign is not part of its number
        for x in (v, 100 * v, v / 60, v * 255):
            out.update(
                f"{x:{spec}}" for spec in (".0f", ".1f", ".2f", ".3f", ".4g", "g")
            )
        out.add(str(leaf).lstrip("-"))
    return out


def numbers_not_from(page: str, results: dict[str, Any]) -> list[str]:
    """The numbers on ``page`` that are not numbers of ``results``."""
    text = STATIC.sub(" ", NAMES.sub(" ", page))
    allowed = allowed_numbers(results)
    return [n for n in NUMBER.findall(text) if n not in allowed]
