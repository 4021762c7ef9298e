"""The one place for command-line validation: a parser whose errors are one line, and argument types
that refuse values the tools cannot use.

Every CLI (``python -m train.*``, ``main.py``) builds its parser with :class:`Parser` and gives each
numeric flag a type from here, so a nonsense value (a zero count, negative minutes, a canvas of
100,000 px) ends the command with one line on stderr and exit status 2 *before* any work: no model
loaded, no folder created, no file written. The bounds are the tools' own limits (what fits in
memory on a desktop, what a run can take), stated next to each flag.

This module imports only the standard library, so ``--help`` and refusals stay quick.
"""
from __future__ import annotations

import argparse
import math
import re
from typing import Callable

# argparse reads "-50" as a number but "-50,-50,10" as an unknown flag; a value that starts with a
# minus sign followed by a digit is a (list of) number(s) here, so `--crop -50,-50,100` works as
# `--crop=-50,-50,100` does. No flag of ours starts with a digit, so nothing is shadowed.
_NEGATIVE_NUMBERS = re.compile(r"^-\d[\d.,eE+-]*$|^-\.\d[\d.,eE+-]*$")


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with one-line errors (no usage block) and negative number lists.

    Sub-command parsers made by ``add_subparsers`` are of this class too.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBERS

    def error(self, message: str):  # noqa: D401 - argparse's hook
        """Print ``PROG: error: MESSAGE (see PROG --help)`` as one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]`` (``unit`` names it in the message)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        value = _number(text, int)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low:,} to {high:,}{suffix}, got {text}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in "invalid <name> value" messages
    return parse


def float_range(low: float, high: float, unit: str = "", low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[low, high]``, or ``(low, high]`` with ``low_open``."""
    suffix = f" {unit}" if unit else ""
    bracket = "more than" if low_open else "from"

    def parse(text: str) -> float:
        value = _number(text, float)
        if value > high or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"expected {bracket} {low:g} to {high:g}{suffix}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def seed(text: str) -> int:
    """An argparse type: a random seed, 0 to 2**32 - 1 (numpy's range)."""
    return int_range(0, 2**32 - 1)(text)


def count(high: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a positive whole number up to ``high``."""
    return int_range(1, high, unit)


def size_pair(low: int, high: int) -> Callable[[str], tuple[int, int]]:
    """An argparse type: ``WIDTHxHEIGHT`` in pixels, each side in ``[low, high]``."""

    def parse(text: str) -> tuple[int, int]:
        try:
            width, height = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, got {text!r}") from None
        if not (low <= width <= high and low <= height <= high):
            raise argparse.ArgumentTypeError(f"expected each side from {low} to {high} pixels, got {text}")
        return width, height

    parse.__name__ = "size"
    return parse


def number_list(names: str, positive_last: bool = False) -> Callable[[str], tuple[float, ...]]:
    """An argparse type: comma-separated finite numbers named by ``names`` (e.g. ``"X,Y,SIDE"``).

    ``positive_last``: the last number (a side, a size) must be above zero.
    """
    fields = names.split(",")

    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != len(fields):
            raise argparse.ArgumentTypeError(f"expected {names} ({len(fields)} numbers), got {text!r}")
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected finite numbers for {names}, got {text!r}")
        if positive_last and values[-1] <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {fields[-1]}, got {text!r}")
        return values

    parse.__name__ = names
    return parse
