"""The runner's public API under concurrent use: atomic start, a latching emergency stop in every state,
and acknowledgements that are refused during a run and recorded otherwise."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.runner.helpers import llzo, session
from ufs_control.runner.engine import Runner, RunState
from ufs_control.runner.records import Outcome, Sample


def _start(runner: Runner, barrier: threading.Barrier, accepted: list[bool]) -> None:
    barrier.wait()
    accepted.append(runner.request_start(llzo()))


def test_two_quick_starts_never_both_succeed(tmp_path: Path) -> None:
    for _ in range(20):
        s = session(tmp_path)
        try:
            runner = s.runner
            barrier = threading.Barrier(2)
            accepted: list[bool] = []
            threads = [threading.Thread(target=_start, args=(runner, barrier, accepted)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            runner.request_abort("test over")
            runner.join(30)
            assert sorted(accepted) == [False, True]
        finally:
            s.close()


def test_emergency_stop_latches_while_idle_and_blocks_the_next_start(tmp_path: Path) -> None:
    s = session(tmp_path)
    try:
        runner = s.runner
        runner.emergency_stop()
        assert runner.latch.tripped is not None
        assert runner.latch.tripped.name == "emergency_stop"
        assert runner.request_start(llzo()) is False
        trip = runner.acknowledge(by="ana")
        assert trip is not None and trip.name == "emergency_stop"
        ack_log = [json.loads(line) for line in (tmp_path / "acknowledgements.jsonl").read_text().splitlines()]
        assert ack_log[-1]["by"] == "ana" and ack_log[-1]["interlock"] == "emergency_stop"
        assert runner.request_start(llzo()) is True
        runner.request_abort("test over")
        runner.join(30)
    finally:
        s.close()


def test_acknowledge_is_refused_while_running_and_the_estop_stays_latched(tmp_path: Path) -> None:
    s = session(tmp_path)
    refused: list[object] = []
    try:
        runner = s.runner

        def on_sample(sample: object) -> None:
            if runner.state is RunState.RUNNING and not refused:
                runner.emergency_stop()
                refused.append(runner.acknowledge(by="too quick"))

        runner.on_sample = on_sample
        result = runner.run(llzo())
        assert refused == [None]
        assert result.outcome is Outcome.TRIPPED
        assert result.trip_name == "emergency_stop"
        assert runner.latch.tripped is not None
        trip = runner.acknowledge(by="ana")
        assert trip is not None
        assert result.run_dir is not None
        lines = [json.loads(x) for x in (result.run_dir / "events.jsonl").read_text().splitlines()]
        acks = [e for e in lines if e["type"] == "acknowledge"]
        assert len(acks) == 1 and acks[0]["by"] == "ana" and acks[0]["interlock"] == "emergency_stop"
    finally:
        s.close()


def test_a_second_runner_on_a_supply_in_use_is_refused_before_touching_it(tmp_path: Path) -> None:
    from ufs_control.app import sim_supply
    from ufs_control.core.errors import SupplyInUseError
    from ufs_control.core.rig import RigConfig

    first = session(tmp_path / "first")
    try:
        assert first.sim is not None
        second = Runner(
            sim_supply(first.sim, RigConfig()),
            first.sim.pyrometer,
            first.sim.clock,
            RigConfig(),
            first.runner.controller,
            tmp_path / "second",
        )
        seen: list[str] = []

        def intrude(sample: object) -> None:
            if first.runner.state is RunState.RUNNING and not seen:
                with pytest.raises(SupplyInUseError) as info:
                    second.run(llzo())
                seen.append(str(info.value))

        first.runner.on_sample = intrude
        result = first.runner.run(llzo())
        assert seen and "is in use by another client" in seen[0] and seen[0].startswith("supply ")
        assert result.outcome is Outcome.FINISHED, result.reason  # the first run was left untouched
        assert second.state is RunState.IDLE
        assert not (tmp_path / "second").exists() or not any((tmp_path / "second").iterdir())
    finally:
        first.close()


def test_end_action_hold_holds_the_last_setpoint_until_stopped(tmp_path: Path) -> None:
    from ufs_control.core.profile import parse_profile

    profile = parse_profile(
        {
            "name": "hold_at_end",
            "max_temperature_c": 1000,
            "end_action": "hold",
            "segment": [{"type": "ramp", "target_c": 900, "rate_c_per_s": 50}, {"type": "hold", "duration_s": 5}],
        }
    )
    s = session(tmp_path, plot=False)
    after: list[tuple[float | None, float | None]] = []

    def watch(sample: Sample) -> None:
        assert s.runner.plan is not None
        if sample.t_s > s.runner.plan.duration_s + 3.0:
            after.append((sample.setpoint_c, sample.temperature_c))
        # past twice the profile plus 60 s (the default maximum run time of a profile that ends by itself)
        if sample.t_s > 2 * s.runner.plan.duration_s + 90.0:
            s.runner.request_abort("operator stop")

    s.runner.on_sample = watch
    try:
        result = s.runner.run(profile)
    finally:
        s.close()
    assert result.outcome is Outcome.ABORTED and result.reason == "operator stop"  # held until stopped
    assert len(after) > 2000  # held for well over 100 s past the profile's end
    assert all(sp == 900.0 for sp, _ in after)
    assert all(t is not None and abs(t - 900.0) < 5.0 for _, t in after)


def test_an_emergency_stop_between_runs_switches_off_an_output_left_on(tmp_path: Path) -> None:
    s = session(tmp_path, plot=False)
    try:
        assert s.sim is not None
        s.sim.psu.set_voltage_and_current(1, 5.0, 2.0)  # someone switched it on by other means
        s.sim.psu.set_output(1, True)
        s.runner.emergency_stop()
        assert s.runner.idle_off is not None
        s.runner.idle_off.join(10.0)
        assert s.runner.idle_off_confirmed is True
        assert s.sim.psu.read_output_state(1) is False
        assert s.runner.latch.tripped is not None and s.runner.latch.tripped.name == "emergency_stop"
    finally:
        s.close()


def test_a_held_emergency_stop_key_starts_one_off_between_runs(tmp_path: Path) -> None:
    """A held Esc repeats: while one off between runs is under way, another press starts no second one."""
    import threading

    s = session(tmp_path, plot=False)
    gate = threading.Event()
    calls: list[int] = []
    s.runner._switch_off_idle = lambda: (calls.append(1), gate.wait(10.0))  # type: ignore[method-assign]
    try:
        s.runner.emergency_stop()
        first = s.runner.idle_off
        for _ in range(20):
            s.runner.emergency_stop()
        assert s.runner.idle_off is first and len(calls) == 1
        gate.set()
        assert first is not None
        first.join(10.0)
        s.runner.emergency_stop()  # the off is done: a new press switches off again
        assert s.runner.idle_off is not first
        s.runner.idle_off.join(10.0)
        assert len(calls) == 2
    finally:
        gate.set()
        s.close()


def test_a_stall_in_the_last_ticks_of_a_profile_still_ends_tripped(tmp_path: Path) -> None:
    from ufs_control.core.profile import parse_profile

    profile = parse_profile(
        {
            "name": "ends_on_time",
            "max_temperature_c": 900,
            "segment": [{"type": "ramp", "target_c": 800, "rate_c_per_s": 50}, {"type": "hold", "duration_s": 3}],
        }
    )
    s = session(tmp_path, plot=False)
    stalled: list[float] = []

    def stall(sample: Sample) -> None:
        assert s.runner.plan is not None and s.sim is not None
        if sample.t_s > s.runner.plan.duration_s - 0.3 and not stalled:
            stalled.append(sample.t_s)
            s.sim.clock.sleep(1.0)

    s.runner.on_sample = stall
    try:
        result = s.runner.run(profile)
    finally:
        s.close()
    assert stalled
    assert result.outcome is Outcome.TRIPPED and result.trip_name == "watchdog", result.reason


def test_an_emergency_stop_during_preflight_ends_tripped_before_anything_heats(tmp_path: Path) -> None:
    s = session(tmp_path, plot=False)
    try:
        assert s.sim is not None
        runner = s.runner
        original = runner.pyrometer.identify

        def identify_then_press() -> object:
            runner.emergency_stop()  # pressed while preflight talks to the instruments
            return original()

        runner.pyrometer.identify = identify_then_press  # type: ignore[method-assign]
        result = runner.run(llzo())
        assert result.outcome is Outcome.TRIPPED and result.trip_name == "emergency_stop", result.reason
        assert s.sim.rig.truth().felt_c < 30.0
        assert runner.idle_off is None  # the stop went through the run, not a second session
    finally:
        s.close()


def test_a_full_runs_folder_fails_before_the_supply_is_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    s = session(tmp_path, plot=False)
    try:
        result = s.runner.run(llzo())
        assert result.outcome is Outcome.FAILED and result.preflight_failed
        assert "MB free" in result.reason
        assert s.runner.state is RunState.FAILED
        assert json.loads((result.run_dir / "run.json").read_text())["outcome"] == "failed"  # type: ignore[operator]
        assert s.runner.run(llzo()).outcome is Outcome.FAILED  # not stuck: it can be tried again
    finally:
        s.close()


def test_a_sped_up_simulation_judges_a_stall_in_wall_time() -> None:
    from ufs_control.app import open_session
    from ufs_control.core.rig import RigConfig

    for speed, expected in ((0.0, 0.25), (1.0, 0.25), (10.0, 2.5)):
        s = open_session(RigConfig(), simulate=True, runs_dir=None, speed=speed, plot=False)
        try:
            assert s.runner.rig.limits.watchdog_s == expected
        finally:
            s.close()
