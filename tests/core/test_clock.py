"""Clocks: the real-time ones wake on time; a bounded real-time check (a few tens of milliseconds)."""

from __future__ import annotations

import time

import pytest

from sim.clock import FastForwardClock, VirtualClock
from ufs_control.core.clock import MonotonicClock, ScaledClock, precise_sleep


def test_precise_sleep_wakes_at_the_deadline_not_before() -> None:
    for seconds in (0.001, 0.01, 0.02):
        start = time.perf_counter()
        precise_sleep(seconds)
        elapsed = time.perf_counter() - start
        # not before the deadline; the bound above is loose: a shared CI machine can be late by tens of ms
        assert seconds <= elapsed < seconds + 0.25


def test_scaled_clock_runs_faster() -> None:
    clock = ScaledClock(10.0)
    w0 = time.monotonic()
    t0 = clock.now()
    clock.sleep(0.2)  # 20 ms of wall time
    t1 = clock.now()
    w1 = time.monotonic()
    # it slept the whole scaled time, and its time ran ten times faster than the wall clock (however loaded
    # the machine, the ratio holds; a late wake-up shows in both)
    assert 0.2 <= t1 - t0 <= 10.0 * (w1 - w0) + 1e-6
    assert t1 - t0 >= 5.0 * (w1 - w0)
    with pytest.raises(ValueError):
        ScaledClock(0.0)


def test_virtual_clock_advances_instantly() -> None:
    clock = VirtualClock()
    start = time.perf_counter()
    clock.sleep(3600.0)
    assert clock.now() == 3600.0
    assert time.perf_counter() - start < 0.01
    with pytest.raises(ValueError):
        clock.advance(-1.0)


def test_fast_forward_clock_switches_to_real_time_at_its_mark() -> None:
    clock = FastForwardClock(100.0)
    clock.sleep(60.0)
    assert clock.now() == 60.0 and not clock.real_time
    clock.sleep(60.0)
    assert clock.real_time and clock.now() == pytest.approx(100.0, abs=0.01)
    clock.sleep(0.02)
    assert clock.now() == pytest.approx(100.02, abs=0.01)


def test_monotonic_clock_is_monotonic() -> None:
    clock = MonotonicClock()
    a = clock.now()
    clock.sleep(0.002)
    assert clock.now() > a
