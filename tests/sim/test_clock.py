"""The simulator's clocks and waits: only the control loop's own deadline spins on a real-time clock."""

from __future__ import annotations

import time

import pytest

import ufs_control.core.clock as core_clock
from sim.clock import FastForwardClock, VirtualClock
from sim.rig import SimOptions
from ufs_control.app import build_simulator
from ufs_control.core.clock import sleep_coarse
from ufs_control.core.thermal import preset


def test_simulated_instrument_io_does_not_spin_on_a_real_time_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    spun: list[float] = []
    monkeypatch.setattr(core_clock, "precise_sleep", lambda seconds, spin_s=0.0: spun.append(seconds))
    sim = build_simulator(preset("A"), SimOptions(), speed=20.0)
    start = time.perf_counter()
    sim.pyrometer.read_temperature()
    sim.psu.set_voltage_and_current(1, 5.0, 1.0)
    assert spun == []  # each I/O slept io_time_s / speed without a spin
    assert time.perf_counter() - start >= 2 * SimOptions().io_time_s / 20.0
    sim.clock.sleep(0.01)  # what the loop does for its deadline: that one spins
    assert spun == [pytest.approx(0.01 / 20.0)]


def test_coarse_sleep_on_virtual_clocks_advances_time_at_once() -> None:
    clock = VirtualClock()
    sleep_coarse(clock, 2.5)
    assert clock.now() == 2.5
    ff = FastForwardClock(real_after_s=1.0)
    start = time.perf_counter()
    sleep_coarse(ff, 5.0)  # virtual up to the mark
    assert ff.now() == pytest.approx(1.0, abs=1e-3) and ff.real_time
    sleep_coarse(ff, 0.02)  # real from there on
    assert ff.now() >= 1.02
    assert time.perf_counter() - start < 1.0
