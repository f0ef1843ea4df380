"""The operator window, offscreen, on the simulator."""

from __future__ import annotations

import gc
import html
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from sim.faults import Fault
from tests.gui.conftest import LLZO, sim_output_on, wait_done, wait_running
from ufs_control.core.profile import load_profile, plan, setpoint_at
from ufs_control.runner.engine import RunState


def test_simulation_is_said_in_the_title_and_a_banner(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert "SIMULATION" in window.windowTitle()
    assert "SIMULATION" in window.banner.text() and window.banner.isVisible()


def test_profile_preview_matches_the_profile(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.load_profile(LLZO)
    laid = plan(load_profile(LLZO))
    assert window.segments.rowCount() == len(laid.segments)
    assert window.segments.item(0, 1).text() == "ramp"
    assert window.segments.item(1, 3).text() == "1150 → 1150 °C"
    t, y = window.planned_points()
    for i in (0, 100, 250, 400):
        expected = setpoint_at(laid, float(t[i]))[0]
        assert y[i] == pytest.approx(expected) if expected is not None else y[i] != y[i]
    xs, _ys = window.planned_curve.getData()
    assert len(xs) == len(t)
    assert "feasible on this rig" in window.profile_messages.text()
    assert window.start_button.isEnabled()


def test_invalid_profile_shows_the_message_and_blocks_start(make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    bad = tmp_path / "bad.toml"
    bad.write_text('[[segment]]\ntype = "ramp"\ntarget_c = 900\nrate_c_per_s = -5\n')
    assert not window.load_profile(bad)
    assert html.escape(f"{bad}: segment 1 (ramp): rate_c_per_s must be > 0, got -5") in window.profile_messages.text()
    assert not window.start_button.isEnabled()
    assert window.start() is False


def test_infeasible_profile_is_flagged_and_blocked(make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    path = tmp_path / "hot.toml"
    path.write_text(
        'max_temperature_c = 1600\n[[segment]]\ntype = "ramp"\ntarget_c = 1500\nrate_c_per_s = 50\n'
        '[[segment]]\ntype = "hold"\nduration_s = 10\n'
    )
    assert not window.load_profile(path)
    assert "infeasible on this rig" in window.profile_messages.text()
    assert not window.start_button.isEnabled()


def test_a_profile_started_from_the_window_completes(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0)
    window.load_profile(LLZO)
    window.operator_edit.setText("ana")
    window.sample_edit.setText("LLZO-1")
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, window)
    result = window.runner.last_result
    assert result.outcome.value == "finished"
    assert "finished" in window.card_title.text()
    assert window.card_values["ramp_rms_k"].text() != "—"
    assert window.state_label.text() == "FINISHED"
    assert window.history.count() == 1
    assert '"operator": "ana"' in (result.run_dir / "run.json").read_text()
    assert len(window.temp_curve.getData()[0]) > 100
    assert not sim_output_on(window)
    # a second run needs no acknowledgement after a normal end
    window.backend.session.sim.clock.sleep(20.0)  # let the felt cool
    assert window.start()
    wait_done(qtbot, window)


def test_abort_ends_the_run_with_the_output_off(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    assert window.start()
    wait_running(qtbot, window, 2.0)
    assert sim_output_on(window)
    qtbot.mouseClick(window.abort_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, window)
    assert window.runner.last_result.outcome.value == "aborted"
    assert not sim_output_on(window)
    assert window.runner.latch.tripped is None and window.start_button.isEnabled()


def test_emergency_stop_switches_off_at_once_and_latches(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    assert window.start()
    wait_running(qtbot, window, 2.0)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not sim_output_on(window)  # off before the shortcut returned
    wait_done(qtbot, window)
    assert window.runner.last_result.trip_name == "emergency_stop"
    assert window.lamps["emergency_stop"].state == "tripped"
    assert "Emergency stop" in window.trip_label.text()
    assert not window.start_button.isEnabled() and window.start() is False
    qtbot.mouseClick(window.ack_button, Qt.MouseButton.LeftButton)
    assert window.runner.latch.tripped is None
    window.refresh()
    assert window.start_button.isEnabled()


def test_injected_fault_shows_its_lamp_and_reason_and_blocks_the_next_start(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 15.0)])
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    assert window.runner.last_result.trip_name == "felt_open"
    assert window.lamps["felt_open"].state == "tripped"
    assert all(lamp.state == "ok" for name, lamp in window.lamps.items() if name != "felt_open")
    assert "Felt open circuit" in window.trip_label.text() and "A measured where" in window.trip_label.text()
    assert not window.start_button.isEnabled()
    assert window.start() is False
    assert window.ack_button.isEnabled()
    window.acknowledge()
    window.refresh()
    assert window.start_button.isEnabled()
    assert window.lamps["felt_open"].state == "ok"


def test_a_past_run_opens_with_its_metrics(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0)
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    folder = window.runner.last_result.run_dir
    window.card_title.setText("")
    window.history.setCurrentRow(0)
    metrics = window.open_past_run()
    assert metrics["ramp_rms_k"] == pytest.approx(window.runner.last_result.metrics["ramp_rms_k"])
    assert folder.name in window.card_title.text()
    assert window.card_values["overshoot_k"].text().endswith("K")
    assert len(window.overlay_curve.getData()[0]) > 100


def test_export_png_and_resistance_curve(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0)
    window.load_profile(LLZO)
    window.start()
    wait_done(qtbot, window)
    window.show_resistance.setChecked(True)
    window.refresh()
    window._seen_appended = -1
    window.refresh()
    assert len(window.res_curve.getData()[0]) > 100
    out = window.export_png(tmp_path / "plot.png")
    assert out.stat().st_size > 5_000


def test_closing_during_a_run_asks_then_ends_it_safely(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    assert window.start()
    wait_running(qtbot, window, 2.0)
    runner, psu = window.runner, window.backend.session.sim.rig.psu
    window.close()
    box = window.dialogs["close"]
    assert box.isVisible() and window.isVisible()
    assert box.windowModality() is Qt.WindowModality.NonModal
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
    assert not box.isVisible() and window.isVisible()
    assert runner.state is RunState.RUNNING and sim_output_on(window)  # "No": the run goes on
    window.close()
    assert box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert runner.last_result.outcome.value == "aborted"
    assert runner.last_result.reason == "window closed during the run"
    assert not runner.active
    assert not psu.channels[0].on


def test_connection_test_shows_both_identities(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    ids = window.test_connection()
    assert "CPX400DP" in ids["psu"] and "KTRD" in ids["pyrometer"]
    assert "CPX400DP" in window.identity_label.text()


def test_screenshot_command(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ufs_control",
            "gui",
            "--sim",
            "--run",
            str(LLZO),
            "--speed",
            "0",
            "--screenshot",
            str(shot),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    assert shot.stat().st_size > 20_000
    assert len([p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]) == 1  # .ufs-index.sqlite
    # the picture shows the run: count pixels of the temperature curve's colour (#d32f2f)
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    red = sum(
        1
        for x in range(0, image.width(), 2)
        for y in range(0, image.height() // 2, 2)
        if (c := image.pixelColor(x, y)).red() > 190 and c.green() < 70 and c.blue() < 70
    )
    assert red > 200, f"only {red} temperature-curve pixels in the screenshot"


def test_reference_cycles_are_collected_in_the_gui_thread_only(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """A collection in the control loop's thread would destroy Qt objects there and can deadlock it
    against the GUI thread; while the window is open every collection runs in the GUI thread."""
    threads: list[str] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    window = make_window(speed=0.0)
    window.load_profile(LLZO)
    gc.callbacks.append(note)
    try:
        assert window.start()
        wait_done(qtbot, window)  # the run and its plot.png allocate plenty in the runner's thread
        qtbot.waitUntil(lambda: len(threads) > 0, timeout=10_000)
    finally:
        gc.callbacks.remove(note)
    assert set(threads) == {threading.main_thread().name}
    window.close()
    assert gc.isenabled()  # restored when the window closes
