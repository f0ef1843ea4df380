"""The guardian on real processes: ``ufs run`` against ``ufs sim-server`` is killed, hung up on, stopped, or
loses its supply connection; the server's own output state says when the heating stopped.

Bounded real-time tests (a few seconds each), the same trials ``ufs bench-safety`` repeats for its figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ufs_control.safetybench import STALL_S, SimServerProcess, run_trial

WATCHDOG_S = 0.25


@pytest.fixture(scope="module")
def server() -> Iterator[SimServerProcess]:
    srv = SimServerProcess.start()
    try:
        yield srv
    finally:
        srv.stop()


def _guardian_events(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in events if e.get("type") == "guardian"]


@pytest.mark.timeout(90)
def test_kill_9_of_the_controller(server: SimServerProcess, tmp_path: Path) -> None:
    trial = run_trial(server, "kill", tmp_path)
    assert trial.off_after_s is not None and trial.off_after_s <= 0.5
    assert trial.exit_code == -9
    # The guardian recorded why, and marked the run interrupted (the controller could not).
    guardian = _guardian_events(trial.events)
    assert guardian and guardian[-1]["reason"] == "controller died" and guardian[-1]["confirmed"] is True
    assert trial.outcome == "interrupted" and "controller died" in str(trial.reason)


@pytest.mark.timeout(90)
def test_sighup_to_the_process_group_ends_the_run_safely(server: SimServerProcess, tmp_path: Path) -> None:
    trial = run_trial(server, "sighup", tmp_path)
    assert trial.off_after_s is not None and trial.off_after_s <= 0.5
    assert trial.exit_code == 1
    assert trial.outcome == "aborted" and trial.reason == "SIGHUP received"
    assert any(e.get("type") == "output_off" and e.get("confirmed") is True for e in trial.events)


@pytest.mark.timeout(90)
def test_a_stopped_controller_is_switched_off_by_the_watchdog(server: SimServerProcess, tmp_path: Path) -> None:
    trial = run_trial(server, "stall", tmp_path)
    assert trial.off_after_s is not None and trial.off_after_s <= WATCHDOG_S + 0.25
    assert trial.off_after_s >= WATCHDOG_S - 0.05  # the watchdog, not something else, switched it off
    # After SIGCONT the run does not carry on as if nothing happened: it ends tripped.
    assert trial.exit_code == 1
    assert trial.outcome == "tripped" and "stalled" in str(trial.reason)
    stalled_ms = float(str(trial.reason).split("stalled ")[1].split(" ms")[0])
    assert stalled_ms >= 1000 * (STALL_S - 0.2)
    assert any("stalled" in str(e["reason"]) for e in _guardian_events(trial.events))


@pytest.mark.timeout(90)
def test_a_dropped_supply_connection_is_reconnected_and_switched_off(server: SimServerProcess, tmp_path: Path) -> None:
    trial = run_trial(server, "disconnect", tmp_path)
    assert trial.off_after_s is not None and trial.off_after_s <= 0.5
    assert trial.exit_code == 3  # an instrument stopped answering
    assert trial.outcome == "tripped"
    assert str(trial.reason).startswith("supply ") and "connection lost" in str(trial.reason)
    assert "pyrometer" not in str(trial.reason)
    # the guardian answered at once, then reconnected and switched off through the new connection
    guardian = _guardian_events(trial.events)
    assert guardian and "reconnected and switched the output off" in str(guardian[-1]["reason"])
    assert guardian[-1]["confirmed"] is True


@pytest.mark.timeout(90)
def test_a_second_run_on_a_supply_in_use_is_refused_and_the_first_goes_on(
    server: SimServerProcess, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    from ufs_control.safetybench import PROFILE

    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    argv = [sys.executable, "-m", "ufs_control", "run", str(profile), "--psu", server.psu]
    argv += ["--pyrometer", server.pyrometer, "--runs-dir", str(tmp_path / "runs")]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for expected in (True, False, True):  # the cold-resistance probe, then heating
            assert server.wait_output(expected, 30.0) is not None
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: supply ") and "is in use by" in lines[0]
        assert "Traceback" not in second.stderr
        # the first run was not touched: its output stays on, and it is still running
        assert server.wait_output(False, 1.0) is None
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
    assert first.returncode == 1  # SIGTERM ends it safely
    assert server.wait_output(False, 5.0) is not None


@pytest.mark.timeout(90)
@pytest.mark.parametrize("scenario, limit_s", [("guardian-kill", 0.5), ("guardian-stop", 1.5)])
def test_a_dead_or_hung_guardian_trips_the_run_and_the_output_goes_off(
    server: SimServerProcess, tmp_path: Path, scenario: str, limit_s: float
) -> None:
    trial = run_trial(server, scenario, tmp_path)
    assert trial.off_after_s is not None and trial.off_after_s <= limit_s
    assert trial.exit_code == 1
    assert trial.outcome == "tripped" and "guardian process" in str(trial.reason)
    assert "output switched off directly (confirmed)" in str(trial.reason)
