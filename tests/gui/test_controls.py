"""What may be pressed and which keys stop: the window's pure rules, without Qt."""

from __future__ import annotations

import pytest

from ufs_control.gui.controls import RUN_ACTIVE, controls, is_emergency_stop_key
from ufs_control.runner.engine import RunState

STATES: list[RunState | None] = [None, *RunState]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("latched", [False, True])
@pytest.mark.parametrize("profile_ok", [False, True])
def test_the_emergency_stop_is_always_enabled(state: RunState | None, latched: bool, profile_ok: bool) -> None:
    assert controls(state, latched, profile_ok).emergency_stop.enabled


@pytest.mark.parametrize("state", RUN_ACTIVE)
def test_acknowledge_is_refused_during_a_run_and_says_why(state: RunState) -> None:
    ack = controls(state, latched=True, profile_ok=True).acknowledge
    assert not ack.enabled
    assert "run is in progress" in ack.hint


@pytest.mark.parametrize("state", [RunState.IDLE, RunState.TRIPPED, RunState.FINISHED, RunState.ABORTED])
def test_acknowledge_is_offered_when_a_trip_is_latched_and_no_run_is_going(state: RunState) -> None:
    assert controls(state, latched=True, profile_ok=True).acknowledge.enabled
    assert not controls(state, latched=False, profile_ok=True).acknowledge.enabled


@pytest.mark.parametrize("state", STATES)
def test_start_needs_a_connection_no_run_no_latch_and_a_runnable_profile(state: RunState | None) -> None:
    expected = state is not None and state not in RUN_ACTIVE
    assert controls(state, latched=False, profile_ok=True).start.enabled is expected
    assert not controls(state, latched=True, profile_ok=True).start.enabled
    assert not controls(state, latched=False, profile_ok=False).start.enabled


def test_an_emergency_stop_latched_while_idle_blocks_start_with_the_reason() -> None:
    start = controls(RunState.IDLE, latched=True, profile_ok=True).start
    assert not start.enabled and start.hint == "Acknowledge the interlock first"


@pytest.mark.parametrize("state", STATES)
def test_abort_profile_and_connection_follow_the_run(state: RunState | None) -> None:
    now = controls(state, latched=False, profile_ok=True)
    running = state in RUN_ACTIVE
    assert now.abort.enabled is running
    assert now.open_profile.enabled is not running
    assert now.connect.enabled is not running


@pytest.mark.parametrize("key", ["Ctrl+E", "Ctrl+Shift+E", "Ctrl+Alt+E"])
@pytest.mark.parametrize("run_active", [False, True])
@pytest.mark.parametrize("in_main_window", [False, True])
def test_ctrl_e_always_stops(key: str, run_active: bool, in_main_window: bool) -> None:
    assert is_emergency_stop_key(key, run_active, in_main_window)


@pytest.mark.parametrize("key", ["Esc", "Shift+Esc", "Ctrl+Esc"])
@pytest.mark.parametrize("in_main_window", [False, True])
def test_esc_during_a_run_stops_from_any_window(key: str, in_main_window: bool) -> None:
    assert is_emergency_stop_key(key, run_active=True, in_main_window=in_main_window)


def test_esc_with_no_run_stops_in_the_main_window_and_closes_a_dialog() -> None:
    assert is_emergency_stop_key("Esc", run_active=False, in_main_window=True)
    assert not is_emergency_stop_key("Esc", run_active=False, in_main_window=False)


@pytest.mark.parametrize("key", ["E", "Shift+E", "Alt+E", "Ctrl+S", "Ctrl++", "Return", "Space"])
def test_other_keys_never_stop(key: str) -> None:
    assert not is_emergency_stop_key(key, run_active=True, in_main_window=True)
