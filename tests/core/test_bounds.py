"""Allowed ranges: which values pass, and the one wording of a refusal."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from ufs_control.core.bounds import Range, show

R = Range(0.05, 1.0, "too short", "too long")
OPEN = Range(600.0, 2000.0, "below the range", "the pyrometer's upper range", low_open=True)


def test_refusal_names_value_range_and_the_reason_for_the_end_it_passes() -> None:
    assert R.refusal(100.0) == "100 is out of range: allowed 0.05 <= value <= 1 (too long)"
    assert R.refusal(0.01) == "0.01 is out of range: allowed 0.05 <= value <= 1 (too short)"
    assert R.refusal(math.inf) == "inf is out of range: allowed 0.05 <= value <= 1 (too long)"
    assert R.refusal(math.nan) == "nan is out of range: allowed 0.05 <= value <= 1 (not a number)"
    assert R.refusal(0.2, " (the default)") is None
    assert R.refusal(2.0, " (the default)") == "2 (the default) is out of range: allowed 0.05 <= value <= 1 (too long)"


def test_ends_are_allowed_unless_the_low_end_is_open() -> None:
    assert R.refusal(0.05) is None and R.refusal(1.0) is None
    assert OPEN.refusal(2000.0) is None
    assert OPEN.refusal(600.0) == "600 is out of range: allowed 600 < value <= 2000 (below the range)"


def test_integers_are_shown_in_full_and_huge_ones_shortened() -> None:
    assert show(2**32 - 1) == "4294967295"
    assert show(10**40) == "100000000000...(41 digits)"
    assert show(1e9) == "1e+09"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_value_is_refused_exactly_when_it_is_outside(value: float) -> None:
    inside = 0.05 <= value <= 1.0
    refusal = R.refusal(value)
    assert (refusal is None) == inside
    if refusal is not None:
        assert "\n" not in refusal and "allowed 0.05 <= value <= 1" in refusal
