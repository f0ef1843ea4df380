"""Every interlock, triggered through the simulator's fault injection: output off within two control
periods of detection, the latched reason in events.jsonl and run.json, and the next start refused until
an operator acknowledges."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sim.faults import Fault
from tests.runner.helpers import events, llzo, run_json, session
from ufs_control.core.interlocks import INTERLOCKS
from ufs_control.runner.engine import PreflightError
from ufs_control.runner.records import Outcome, RunRecorder, Sample

PERIOD_S = 0.05

CASES: list[tuple[str, str, list[Fault], dict[str, Any]]] = [
    ("felt open", "felt_open", [Fault("felt-open", 15.0)], {}),
    ("felt short", "felt_short", [Fault("felt-short", 15.0)], {}),
    ("contact degrading", "resistance_drift", [Fault("contact-rising", 14.0)], {}),
    ("ovp trip", "supply_trip", [Fault("psu-ovp-trip", 15.0)], {}),
    ("ocp trip", "supply_trip", [Fault("psu-ocp-trip", 15.0)], {}),
    ("otp trip", "supply_trip", [Fault("psu-otp-trip", 15.0)], {}),
    ("read-only interface", "supply_error", [Fault("psu-read-only", 15.0)], {}),
    ("supply silent", "supply_link", [Fault("psu-no-reply", 15.0)], {}),
    ("supply connection dropped", "supply_link", [Fault("psu-disconnect", 15.0)], {}),
    ("supply rebooted", "supply_link", [Fault("psu-reboot", 15.0)], {}),
    ("supply garbage", "supply_silent", [Fault("psu-garbage", 15.0)], {}),
    ("pyrometer silent", "pyrometer_fault", [Fault("pyro-silent", 30.0)], {}),
    ("pyrometer garbled", "pyrometer_fault", [Fault("pyro-garbled", 30.0)], {}),
    ("pyrometer stuck", "pyrometer_stale", [Fault("pyro-stuck", 30.0)], {}),
    ("pyrometer never in range", "loop_break", [Fault("pyro-under-range", 0.0)], {}),
    ("supply runaway", "over_temperature", [Fault("psu-runaway", 30.0)], {}),
    (
        "heat sink, saturated",
        "tracking_error",
        [Fault("extra-cooling", 30.0)],
        {"max_power_w": 300.0, "loop_break_s": 100.0},
    ),
    (
        "heat sink in the hold",
        "holdback_timeout",
        [Fault("extra-cooling", 23.0)],
        {"max_power_w": 330.0, "loop_break_s": 100.0, "tracking_band_k": 100.0},
    ),
    ("run too long", "max_run_time", [], {"max_run_s": 10.0}),
]


@pytest.mark.parametrize("label, interlock, faults, limits", CASES, ids=[c[0] for c in CASES])
def test_fault_trips_its_interlock(
    tmp_path: Path, label: str, interlock: str, faults: list[Fault], limits: dict[str, Any]
) -> None:
    s = session(tmp_path, faults, **limits)
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.TRIPPED, result.reason
        assert result.trip_name == interlock, result.reason
        # output off within two control periods of detection
        assert result.metrics["trip_to_output_off_s"] is not None
        assert result.metrics["trip_to_output_off_s"] <= 2 * PERIOD_S
        assert s.sim is not None
        s.sim.clock.sleep(0.1)
        truth = s.sim.rig.truth()
        if label == "read-only interface":
            # The supply refuses every write (EER 200), our off command included. The run says so;
            # the supply's own OVP/OCP, set in preflight, still bound the power.
            off = [e for e in events(result) if e["type"] == "output_off"]
            assert off[0]["confirmed"] is False
            assert s.sim.psu.read_ovp(1) == pytest.approx(47.0)
        else:
            assert truth.felt_power_w < 1e-6
        # latched reason in both records
        trip_events = [e for e in events(result) if e["type"] == "trip"]
        assert len(trip_events) == 1
        assert trip_events[0]["interlock"] == interlock
        assert trip_events[0]["reason"] == result.reason
        record = run_json(result)
        assert record["outcome"] == "tripped"
        assert record["trip"] == interlock and record["reason"] == result.reason
        off = [e for e in events(result) if e["type"] == "output_off"]
        assert off and off[0]["t_s"] >= trip_events[0]["detected_t_s"]
        # latched: no new start until acknowledged
        assert s.runner.latch.tripped is not None
        assert s.runner.request_start(llzo()) is False
        with pytest.raises(PreflightError, match="acknowledge"):
            s.runner.run(llzo())
        assert s.runner.acknowledge() is not None
        assert s.runner.latch.tripped is None
    finally:
        s.close()


def test_every_interlock_is_exercised_here_or_below() -> None:
    """sensor_disagreement: tests/runner/test_thermometry.py."""
    covered = {c[1] for c in CASES} | {"emergency_stop", "watchdog", "record_failure", "sensor_disagreement"}
    assert covered == set(INTERLOCKS)


def test_supply_that_stops_answering_is_still_switched_off(tmp_path: Path) -> None:
    """A silent supply still takes OPALL 0 written blind; the felt stops heating; the run names the supply."""
    s = session(tmp_path, [Fault("psu-no-reply", 15.0)])
    try:
        result = s.runner.run(llzo())
        assert result.trip_name == "supply_link"
        assert "supply" in result.reason and "stopped answering" in result.reason
        assert result.instrument_failure  # the CLI exits 3
        assert s.sim is not None
        s.sim.clock.sleep(0.2)
        assert s.sim.rig.truth().felt_power_w < 1e-6
        off = [e for e in events(result) if e["type"] == "output_off"]
        assert off[0]["confirmed"] is False  # it could not confirm, and says so
    finally:
        s.close()


def test_emergency_stop_switches_off_at_once_and_latches(tmp_path: Path) -> None:
    s = session(tmp_path)
    seen: dict[str, float] = {}

    def press(p: Sample) -> None:
        if p.t_s >= 20.0 and "t" not in seen:
            seen["t"] = p.t_s
            s.runner.emergency_stop()
            assert s.sim is not None
            seen["power_after"] = s.sim.rig.truth().felt_power_w
            seen["output"] = float(s.sim.psu.read_output_state(1))

    s.runner.on_sample = press
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.TRIPPED and result.trip_name == "emergency_stop"
        assert seen["output"] == 0.0
        samples_after = [e for e in events(result) if e["type"] == "trip"]
        assert samples_after[0]["detected_t_s"] - seen["t"] <= 2 * PERIOD_S
    finally:
        s.close()


def test_operator_abort_is_a_controlled_end_not_a_trip(tmp_path: Path) -> None:
    s = session(tmp_path)

    def abort(p: Sample) -> None:
        if p.t_s >= 25.0:
            s.runner.request_abort("operator abort")

    s.runner.on_sample = abort
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.ABORTED and result.reason == "operator abort"
        assert s.runner.latch.tripped is None
        assert run_json(result)["outcome"] == "aborted"
        assert s.sim is not None and s.sim.psu.read_output_state(1) is False
        s.sim.clock.sleep(15.0)  # let the felt cool below the hot-start limit
        s.runner.on_sample = None
        assert s.runner.run(llzo()).outcome is Outcome.FINISHED  # no acknowledgement needed
    finally:
        s.close()


def test_preflight_refuses_an_open_felt(tmp_path: Path) -> None:
    s = session(tmp_path, [Fault("felt-open", 0.0)])
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.FAILED and result.preflight_failed
        assert "open circuit" in result.reason
        assert s.sim is not None and s.sim.rig.truth().felt_c < 30.0
    finally:
        s.close()


def test_preflight_refuses_a_hot_felt(tmp_path: Path) -> None:
    s = session(tmp_path)
    assert s.sim is not None
    s.sim.clock.sleep(1.0)
    s.sim.rig.set_temperatures_c(900.0)
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.FAILED and "already hot" in result.reason
    finally:
        s.close()


def test_a_failed_preflight_does_not_report_the_previous_runs_figures(tmp_path: Path) -> None:
    s = session(tmp_path, [Fault("psu-runaway", 30.0)], over_setpoint_margin_k=300.0)
    try:
        # the runaway output goes outside the 420 W envelope (UNREG); the profile's own 1200 °C limit, an
        # interlock too, would end it first
        first = s.runner.run(dataclasses.replace(llzo(), max_temperature_c=1600.0))
        assert first.outcome is Outcome.TRIPPED and first.metrics["unreg_events"] > 0
        s.runner.acknowledge()
        second = s.runner.run(llzo())  # the felt is still hot: preflight refuses
        assert second.preflight_failed and "already hot" in second.reason
        assert "trip_to_output_off_s" not in second.metrics
        assert second.metrics["unreg_events"] == 0.0
    finally:
        s.close()


def test_a_stalled_loop_is_switched_off_by_the_guardian_and_ends_tripped(tmp_path: Path) -> None:
    """The loop stops for a second during the hold (suspended, blocked): the guardian's watchdog switches the
    output off, records why, and the run ends tripped, never completed."""
    s = session(tmp_path)
    stalled: list[float] = []

    def stall(p: Sample) -> None:
        if p.t_s >= 30.0 and not stalled:
            assert s.sim is not None
            stalled.append(p.t_s)
            s.sim.clock.sleep(1.0)  # the loop does nothing for 1 s of (virtual) time

    s.runner.on_sample = stall
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.TRIPPED and result.trip_name == "watchdog"
        assert "control loop stalled" in result.reason
        guardian = [e for e in events(result) if e["type"] == "guardian"]
        assert guardian and guardian[0]["action"] == "output_off" and guardian[0]["confirmed"] is True
        assert "stalled" in guardian[0]["reason"]
        assert run_json(result)["outcome"] == "tripped"
    finally:
        s.close()


def test_a_run_record_that_cannot_be_written_trips_with_the_output_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = RunRecorder.sample

    def full_disk(self: RunRecorder, sample: Sample) -> None:
        if sample.t_s >= 25.0:
            raise OSError(28, "No space left on device")
        original(self, sample)

    monkeypatch.setattr(RunRecorder, "sample", full_disk)
    s = session(tmp_path)
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.TRIPPED and result.trip_name == "record_failure"
        assert "No space left on device" in result.reason
        assert s.sim is not None and s.sim.psu.read_output_state(1) is False
        assert result.metrics["trip_to_output_off_s"] is not None
        assert result.metrics["trip_to_output_off_s"] <= 2 * PERIOD_S
    finally:
        s.close()


def test_another_client_cannot_take_the_supply_during_a_run(tmp_path: Path) -> None:
    """The run holds the interface lock: a second client's IFLOCK and OPALL 0 are refused, the run goes on."""
    s = session(tmp_path, [Fault("psu-lock-stolen", 20.0)])
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.FINISHED, result.reason
        assert result.metrics["soak_s"] is not None and result.metrics["soak_s"] > 18.0
    finally:
        s.close()


def test_the_profiles_own_maximum_is_an_over_temperature_limit(tmp_path: Path) -> None:
    """A runaway supply on the LLZO recipe (max_temperature_c 1200) with the over-setpoint check opened wide:
    the rig's limit is 1600 °C, but the run trips at the profile's 1200 °C."""
    s = session(tmp_path, [Fault("psu-runaway", 30.0)], over_setpoint_margin_k=300.0)
    try:
        result = s.runner.run(llzo())
    finally:
        s.close()
    assert result.outcome is Outcome.TRIPPED and result.output_off_confirmed
    assert result.reason is not None and "above the limit 1200 °C" in result.reason
