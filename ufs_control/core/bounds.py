"""Allowed ranges of numbers from the outside world (configuration files, command-line options), each with
the physical or instrument reason for its ends, and the one wording of a refusal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def show(value: float) -> str:
    """``value`` for a message: floats as ``%g``, integers in full up to 24 digits."""
    if not isinstance(value, int):
        return f"{value:g}"
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``low < value`` when ``low_open``); ``why_low``/``why_high`` say why each end
    is where it is and appear in the refusal of a value beyond that end."""

    low: float
    high: float
    why_low: str
    why_high: str
    low_open: bool = False

    def describe(self) -> str:
        """The range as an inequality, e.g. ``600 < value <= 2000``."""
        return f"{show(self.low)} {'<' if self.low_open else '<='} value <= {show(self.high)}"

    def refusal(self, value: float, note: str = "") -> str | None:
        """Return why ``value`` is refused, in one line, or None when it is allowed; ``note`` follows the value
        (e.g. `` (the default)``)."""
        if math.isnan(value):
            why = "not a number"
        elif value < self.low or (self.low_open and value == self.low):
            why = self.why_low
        elif value > self.high:
            why = self.why_high
        else:
            return None
        return f"{show(value)}{note} is out of range: allowed {self.describe()} ({why})"
