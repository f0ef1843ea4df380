"""Interlocks are pure predicates over a snapshot; the latch holds the first trip until acknowledged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ufs_control.core.instruments import LimitStatus, PyrometerReading, PyrometerStatus
from ufs_control.core.interlocks import INTERLOCKS, LABELS, InterlockLatch, Snapshot, Trip, evaluate
from ufs_control.core.rig import Limits

OK = PyrometerReading(PyrometerStatus.OK, 1150.0)
BASE = Snapshot(t_s=10.0, loop_closed=True, setpoint_c=1150.0, reading=OK, max_run_s=200.0)
LIM = Limits()

CASES = {
    "emergency_stop": {"emergency_stop": True},
    "over_temperature": {"reading": PyrometerReading(PyrometerStatus.OK, 1205.0)},
    "supply_trip": {"limit_status": LimitStatus(0x04)},
    "supply_error": {"supply_error": "EER 200"},
    "supply_silent": {"supply_failures": 2},
    "felt_open": {"open_count": 2, "voltage_v": 20.0, "current_a": 0.0, "expected_current_a": 8.0},
    "felt_short": {"resistance_ratio": 0.3},
    "resistance_drift": {"resistance_ratio": 1.6},
    "pyrometer_fault": {"reading": PyrometerReading(PyrometerStatus.TIMEOUT), "invalid_for_s": 0.6},
    "pyrometer_stale": {"unchanged_for_s": 2.0},
    "loop_break": {"high_power_for_s": 2.5, "rise_during_high_power_k": 1.0},
    "tracking_error": {"out_of_band_for_s": 3.5, "tracking_error_k": -40.0},
    "holdback_timeout": {"holdback_wait_s": 6.0, "holdback_max_s": 5.0},
    "max_run_time": {"elapsed_s": 201.0},
    "watchdog": {"stalled_s": 0.4},
    "supply_link": {"guardian": ("supply_link", "supply connection lost; reconnected and switched the output off")},
    "record_failure": {"record_error": "No space left on device"},
    "sensor_disagreement": {"sensor_gap_k": 150.0, "sensor_disagree_s": 2.5, "sensor_band_k": 80.0},
}


def test_every_interlock_has_a_case_and_a_label() -> None:
    assert set(CASES) == set(INTERLOCKS) == set(LABELS)


def test_a_healthy_snapshot_trips_nothing() -> None:
    assert evaluate(BASE, LIM) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_interlock_trips_on_its_condition(name: str) -> None:
    snap = replace(BASE, **CASES[name])  # type: ignore[arg-type]
    assert INTERLOCKS[name](snap, LIM) is not None
    trip = evaluate(snap, LIM)
    assert trip is not None and trip.name == name and trip.t_s == 10.0


def test_margins_are_respected() -> None:
    assert (
        INTERLOCKS["over_temperature"](replace(BASE, reading=PyrometerReading(PyrometerStatus.OK, 1199.0)), LIM) is None
    )
    assert INTERLOCKS["pyrometer_fault"](replace(BASE, invalid_for_s=0.4), LIM) is None
    # an open loop (blind zone) does not judge the pyrometer or the tracking
    blind = replace(BASE, loop_closed=False, invalid_for_s=5.0, out_of_band_for_s=9.0)
    assert INTERLOCKS["pyrometer_fault"](blind, LIM) is None
    assert INTERLOCKS["tracking_error"](blind, LIM) is None
    assert INTERLOCKS["over_temperature"](replace(BASE, reading=PyrometerReading(PyrometerStatus.ABOVE_RANGE)), LIM)


def test_latch_keeps_the_first_trip_until_acknowledged() -> None:
    latch = InterlockLatch()
    first = Trip("felt_open", "open", 1.0)
    assert latch.latch(first) is first
    assert latch.latch(Trip("over_temperature", "hot", 2.0)) is first
    assert latch.tripped is first
    assert latch.acknowledge() is first
    assert latch.tripped is None


def test_a_blind_zone_loop_break_says_where_to_look() -> None:
    snap = replace(BASE, loop_closed=False, blind_for_s=LIM.blind_s + 0.1)
    reason = INTERLOCKS["loop_break"](snap, LIM)
    assert reason is not None and "no valid reading" in reason
    assert "aim" in reason and "ufs identify" in reason and "\n" not in reason
    assert INTERLOCKS["loop_break"](replace(snap, resistance_backup=True), LIM) is None
