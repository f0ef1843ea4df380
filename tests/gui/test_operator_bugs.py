"""The window as an operator found it wanting: one test per bug, offscreen, on the simulator in virtual time
(or on the window's parts with synthetic data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from sim.faults import Fault
from tests.gui.conftest import LLZO, wait_done
from ufs_control.core.interlocks import Trip
from ufs_control.core.profile import load_profile, plan

ROOT = Path(__file__).resolve().parents[2]
TWO_STEP = ROOT / "profiles" / "two_step_sinter_900C_1200C.toml"


def _past_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs at different ramp rates, written as the runner writes them (no simulation needed)."""
    from tests.gui.synthetic import write_past_run

    runs = tmp_path_factory.mktemp("past") / "runs"
    for sample, rate in (("S-01", 50.0), ("S-02", 40.0), ("S-03", 25.0)):
        write_past_run(runs, sample, rate)
    return runs


@pytest.fixture(scope="module")
def past_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _past_runs(tmp_path_factory)


def _with_past_runs(make_window, past_runs: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(past_runs, tmp_path / "runs", dirs_exist_ok=True)
    window = make_window()
    window.refresh_history()
    return window


def _trip_in_the_hold(qtbot, make_window):  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 30.0)])
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    assert window.runner.last_result.trip_name == "felt_open"
    return window


# 1 -------------------------------------------------------------------------------------------------------


def test_1_after_a_trip_the_status_shows_the_felt_cooling_not_the_last_reading(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = _trip_in_the_hold(qtbot, make_window)
    window.refresh()
    at_trip = window.values["temperature"].text()
    assert window.values["setpoint"].text() == "—"  # no run, no setpoint: never the hold's 1150.0 °C
    window.backend.session.sim.clock.sleep(8.0)  # the felt cools, in virtual time
    qtbot.waitUntil(lambda: window.values["temperature"].text() != at_trip, timeout=10_000)
    idle = window.idle.latest()
    assert idle is not None and idle.pyrometer is not None
    # the plot goes on too: the felt read after the trip, on the run's time axis
    t_after = window.live.idle_temp_curve.getData()[0]
    assert t_after is not None and len(t_after) and t_after[0] >= window.runner.last_result.duration_s
    from ufs_control.gui.format import temperature_text

    window.acknowledge()  # and after an acknowledgement the readings go on
    count = window.idle.read_since(0)[0]
    qtbot.waitUntil(lambda: window.idle.read_since(0)[0] > count + 1, timeout=10_000)

    def shows_the_latest() -> None:
        latest = window.idle.latest().pyrometer
        shown = temperature_text(latest.status.value, latest.celsius, window.rig.pyrometer.range_c).partition(" (")[0]
        assert window.values["temperature"].text() == shown != at_trip

    qtbot.waitUntil(shows_the_latest, timeout=10_000)


# 2 -------------------------------------------------------------------------------------------------------


def test_2_the_open_run_button_opens_the_selected_run(qtbot, make_window, past_runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _with_past_runs(make_window, past_runs, tmp_path)
    window.card_title.setText("")
    window.history.setCurrentRow(0)
    qtbot.mouseClick(window.open_run_button, Qt.MouseButton.LeftButton)
    name = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))[-1]  # newest first
    assert name in window.card_title.text()
    assert window.tabs.currentWidget() is window.card  # and shows it: the operator sees what was opened


def test_the_profile_editor_closes_with_its_own_button(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """Esc is the emergency stop, so the editor needs a Close button of its own."""
    window = make_window()
    window.load_profile(LLZO)
    qtbot.mouseClick(window.run_panel.edit_button, Qt.MouseButton.LeftButton)
    dialog = window.dialogs["editor"]
    assert dialog.isVisible()
    qtbot.mouseClick(window.editor.close_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and window.runner.latch.tripped is None


# 3 -------------------------------------------------------------------------------------------------------


def test_3_past_runs_overlay_visibly_at_once_several_and_apart_from_the_live_view(  # type: ignore[no-untyped-def]
    qtbot, make_window, past_runs: Path, tmp_path: Path
) -> None:
    window = _with_past_runs(make_window, past_runs, tmp_path)
    live_range = window.t_plot.viewRange()
    panel = window.history_panel
    for row in range(3):
        panel.table.item(row, 0).setCheckState(Qt.CheckState.Checked)
    assert len(panel.curves) == 3
    (x0, x1), (y0, y1) = panel.compare.getPlotItem().viewRange()
    for curve in panel.curves.values():
        t, y = curve.getData()
        assert x0 <= t.min() and t.max() <= x1  # the axis is the overlay's own: its labels match its curves
        assert y0 <= max(y[y == y]) <= y1 and y1 > 900  # visible, not 0–1
    from tests.gui.synthetic import synthetic_run

    window.live.ingest(synthetic_run([(0, 30.0)]), full=True)  # a live run draws meanwhile
    window.live.redraw()
    window.refresh()
    assert panel.compare.getPlotItem().viewRange() == [[x0, x1], [y0, y1]]  # the live redraws never touch it
    assert window.t_plot.viewRange() != live_range  # (the live view did move meanwhile)
    panel.align_hold.setChecked(True)
    starts = [float(c.getData()[0][0]) for c in panel.curves.values()]
    assert all(s < 0 for s in starts)  # aligned: each hold starts at 0 s


# 4 -------------------------------------------------------------------------------------------------------


def test_4_opening_a_past_run_leaves_follow_on(make_window, past_runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _with_past_runs(make_window, past_runs, tmp_path)
    assert window.follow.isChecked()
    window.history.setCurrentRow(0)
    assert window.open_past_run()
    assert window.follow.isChecked()


# 5 -------------------------------------------------------------------------------------------------------


def test_5_a_loaded_profile_is_drawn_with_the_axes_fitted(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0)
    window.load_profile(LLZO)
    (_x0, x1), (y0, y1) = window.t_plot.viewRange()
    assert x1 >= plan(load_profile(LLZO)).duration_s and y1 >= 1150 and y0 <= 25
    from tests.gui.synthetic import synthetic_run

    window.live.ingest(synthetic_run([(0, 22.5), (1, 20.0)], kinds=("ramp", "hold")), full=True)  # a run ...
    window.live.redraw()
    hot = tmp_path / "hot.toml"
    hot.write_text(
        'max_temperature_c = 1600\n[[segment]]\ntype = "ramp"\ntarget_c = 1500\nrate_c_per_s = 20\n'
        '[[segment]]\ntype = "hold"\nduration_s = 10\n'
    )
    window.load_profile(hot)
    assert window.t_plot.viewRange()[1][1] >= 1500  # after a run too: a 1500 °C plan is not cut at 1150


# 6 -------------------------------------------------------------------------------------------------------


def test_6_long_texts_never_grow_the_window_or_clip_the_panels(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.resize(1024, 700)
    QApplication.processEvents()
    long = "felt open circuit: " + "0.00 A measured where 8.81 A is expected at 25.25 V, " * 6
    window.runner.latch.latch(Trip("felt_open", long, 18.6))
    window.card_title.setText("llzo_membrane_1150C_20s: tripped — " + long)
    window.refresh()
    for _ in range(5):
        QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 700)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700
    assert window.card_title.width() <= window.width()
    caption = window.status.captions["power"]
    assert caption.width() >= caption.sizeHint().width()  # "Power" is never cut
    grid_bottom = max(lamp.geometry().bottom() for lamp in window.lamps.values())
    assert window.trip_label.geometry().top() > grid_bottom  # the reason is below the lamps, not over them
    for lamp in window.lamps.values():
        assert lamp.toolTip().startswith(lamp.caption)  # a lamp's caption, if elided, is whole in its tooltip


# 7 -------------------------------------------------------------------------------------------------------


def _failed_start(qtbot, make_window, fault: str):  # type: ignore[no-untyped-def]
    """A window on the simulator with ``fault`` from the start; Start the LLZO recipe; (window, result)."""
    window = make_window(speed=0.0, faults=[Fault(fault, 0.0)])
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    return window, window.runner.last_result


def test_7_a_failed_start_says_why_where_the_operator_looks(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window, result = _failed_start(qtbot, make_window, "felt-open")
    assert result.outcome.value == "failed" and "open circuit" in result.reason
    assert "open circuit" in window.trip_label.text()
    assert window.trip_banner.isVisible() and "open circuit" in window.trip_banner.text()


def test_7_a_supply_in_use_by_another_client_says_so_too(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """Refused before anything but IFLOCK was sent (no run folder), and the window says why."""
    window, result = _failed_start(qtbot, make_window, "psu-lock-stolen")
    assert result is not None and result.outcome.value == "failed" and "in use" in result.reason
    assert result.run_dir is None and result.instrument_failure
    qtbot.waitUntil(lambda: "in use" in window.trip_banner.text(), timeout=5_000)
    assert "in use" in window.trip_label.text()


# 8 -------------------------------------------------------------------------------------------------------


def test_8_the_run_card_is_cleared_when_a_new_run_starts(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 0.0)])  # each start fails fast, before heating
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    assert "failed" in window.card_title.text()
    assert window.start()
    assert "failed" not in window.card_title.text()
    assert all(v.text() == "—" for v in window.card_values.values())
    wait_done(qtbot, window)


# 9 -------------------------------------------------------------------------------------------------------


def test_9_a_broken_profile_brings_its_error_to_the_front(make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.tabs.setCurrentIndex(2)  # History
    bad = tmp_path / "bad.toml"
    bad.write_text('[[segment]]\ntype = "ramp"\ntarget_c = 900\nrate_c_per_s = 50\n[[segment]]\ntype = "hold"\n')
    assert not window.load_profile(bad)
    assert window.tabs.currentIndex() == 0  # the Profile tab
    assert window.profile_messages.isVisible() and "duration_s is required" in window.profile_messages.text()
    assert "errors" in window.run_panel.start_why.text() and window.run_panel.start_why.isVisible()


# 10 ------------------------------------------------------------------------------------------------------


def test_10_an_injected_fault_counts_from_start_and_is_shown(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 30.0)])
    window.backend.session.sim.clock.sleep(20.0)  # the operator takes 20 s before pressing Start
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    trip = window.runner.last_result
    assert trip.trip_name == "felt_open"
    assert window.runner.latch.tripped.t_s >= 29.0  # 30 s after Start, not 30 s after the window opened
    assert "felt-open at 30 s" in window.banner.text()  # the banner names the armed fault


# 11 ------------------------------------------------------------------------------------------------------


def test_11_trip_marker_segment_labels_and_the_reason_read_clearly(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.runner.latch.latch(Trip("felt_open", "felt open circuit: 0.00 A measured where 8.81 A is expected", 8.0))
    window.refresh()
    assert window.trip_label.text().lower().count("felt open circuit") == 1
    assert window.trip_banner.text().lower().count("felt open circuit") == 1
    live = window.live
    from tests.gui.synthetic import synthetic_run

    live.ingest(synthetic_run([(0, 5.0), (1, 0.3), (2, 5.0)]), full=True)  # a short hold: labels close together
    live.redraw()
    live.mark_trip(8.0)
    assert live.trip_line.pen.color().name() != live.temp_curve.opts["pen"].color().name()
    assert live.trip_line.pen.style() == Qt.PenStyle.DashLine
    positions = [m.label.orthoPos for m in live.markers]
    assert len(positions) == 2 and positions[0] != positions[1]


# 12 ------------------------------------------------------------------------------------------------------


def test_12_a_run_cut_short_shows_no_misleading_ramp_or_handover_figures(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 14.0)])  # mid-ramp, just after the hand-over
    window.load_profile(LLZO)
    assert window.start()
    wait_done(qtbot, window)
    metrics = window.runner.last_result.metrics
    assert metrics["ramp_rate_c_per_s"] is not None  # the raw metric exists ...
    assert window.card_values["ramp_rate_c_per_s"].text() == "—"  # ... but the card does not pass it off
    assert window.card_values["handover_k"].text() == "—"
    assert "before the hold" in window.card_values["ramp_rate_c_per_s"].toolTip()


def test_12_a_two_step_profiles_card_says_which_segment() -> None:
    from ufs_control.gui.format import card_rows

    laid = plan(load_profile(TWO_STEP))
    rows = {
        r.key: r for r in card_rows({"ramp_rate_c_per_s": 40.0, "soak_s": 9.0, "hold_s": 10.0}, "finished", laid, 3)
    }
    assert "segments 1 + 3" in rows["ramp_rate_c_per_s"].label
    assert rows["soak_s"].label == "Soak in segment 4 at 1200 °C"


# 13 ------------------------------------------------------------------------------------------------------


def test_13_without_a_platform_plugin_ufs_gui_says_what_to_install(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ufs_control", "gui", "--sim", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "no-such-plugin"},
    )
    assert out.returncode == 4
    assert "libxcb-icccm4" in out.stderr and "libxcb-keysyms1" in out.stderr and "QT_QPA_PLATFORM" in out.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "libxcb-icccm4" in readme and "platform plugin" in readme


def test_6_the_window_opens_within_the_screen_it_is_on(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """The default 1480x920 on a 1024x700 glovebox panel: the whole window, EMERGENCY STOP included, fits."""
    from PySide6.QtCore import QRect

    window = make_window()
    assert (window.width(), window.height()) != (1024, 700)
    room = QRect(0, 0, 1024, 700)
    window.move(300, 200)  # as if restored from a larger screen
    window.fit_to_screen(room)
    qtbot.wait(50)
    assert room.contains(window.frameGeometry()), window.frameGeometry()
    assert room.contains(window.estop_button.mapTo(window, window.estop_button.rect().bottomRight()))


def test_6_a_trip_banner_does_not_move_the_emergency_stop_or_start(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=0.0, faults=[Fault("felt-open", 15.0)])
    window.load_profile(LLZO)
    qtbot.wait(50)
    where = {b: b.mapTo(window, b.rect().topLeft()) for b in (window.estop_button, window.start_button)}
    assert window.start()
    wait_done(qtbot, window)
    qtbot.waitUntil(lambda: window.trip_banner.isVisible(), timeout=5_000)
    qtbot.wait(50)
    assert {b: b.mapTo(window, b.rect().topLeft()) for b in where} == where
