"""The window's parts alone: the live plot with synthetic samples, the words it shows, the card's rows, the
editor, the history, the alarm, the theme, the settings, and the readings between runs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from tests.gui.conftest import LLZO, wait_done
from tests.gui.synthetic import synthetic_run, write_past_run
from ufs_control.core.instruments import PyrometerReading, PyrometerStatus
from ufs_control.core.interlocks import Trip
from ufs_control.core.profile import load_profile, plan
from ufs_control.gui.controls import controls
from ufs_control.gui.editor import ProfileEditor, profile_toml
from ufs_control.gui.format import next_sample_id, progress_text, temperature_text, trip_text
from ufs_control.gui.plot import LivePlot
from ufs_control.gui.theme import DARK, LIGHT
from ufs_control.runner.engine import RunState
from ufs_control.runner.idle import IdleReading, MeterReading

# --- the words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("BELOW_RANGE", "< 600 °C (below range)"),
        ("ABOVE_RANGE", "> 3000 °C (above range)"),
        ("NOT_READY", "not ready"),
        ("TIMEOUT", "no reply"),
        ("GARBLED", "garbled reply"),
    ],
)
def test_a_pyrometer_sentinel_is_never_shown_as_a_number(status: str, expected: str) -> None:
    assert temperature_text(status, 1149.4, (600.0, 3000.0)) == expected
    assert temperature_text("OK", 1149.44, (600.0, 3000.0)) == "1149.4 °C"


def test_trip_words_name_the_interlock_once() -> None:
    assert trip_text(Trip("felt_open", "felt open circuit: 0 A", 1.0)) == "Felt open circuit: 0 A"
    assert (
        trip_text(Trip("over_temperature", "1300 °C above 1250 °C", 1.0)) == "Over-temperature: 1300 °C above 1250 °C"
    )


def test_progress_says_segment_and_time_left() -> None:
    laid = plan(load_profile(LLZO))
    assert progress_text(laid, 30.0, 1) == ("segment 2/3 (hold) · 12 s left", "run ends in 22 s")


def test_the_sample_id_counts_up() -> None:
    assert next_sample_id("LLZO-41") == "LLZO-42" and next_sample_id("S009") == "S010"
    assert next_sample_id("S-9b") == "S-10b" and next_sample_id("none") == "none"


def test_start_says_why_it_is_disabled() -> None:
    assert controls(None, False, True).start.hint.startswith("Rig not connected")
    assert controls(RunState.IDLE, False, False, "The profile has errors").start.hint == "The profile has errors"
    assert "record kept" in controls(RunState.RUNNING, False, True).abort.hint
    assert "latched" in controls(RunState.RUNNING, False, True).emergency_stop.hint


# --- the live plot --------------------------------------------------------------------------------------


def test_the_live_plot_follows_the_last_seconds_and_rebuilds_on_a_new_run(qtbot) -> None:  # type: ignore[no-untyped-def]
    live = LivePlot(LIGHT, follow_s=10.0)
    qtbot.addWidget(live)
    samples = synthetic_run([(0, 20.0)])
    live.ingest(samples[:100], full=True)
    live.ingest(samples[100:], full=False)
    live.redraw()
    assert len(live.arrays["t_s"]) == len(samples)
    x0, x1 = live.t_plot.viewRange()[0]
    assert x1 - x0 == pytest.approx(10.0) and x1 >= samples[-1].t_s
    live.follow.setChecked(False)
    assert live.t_plot.viewRange()[0][0] <= 0.0
    live.clear_run()
    assert (not live.arrays and live.temp_curve.getData()[0] is None) or len(live.temp_curve.getData()[0]) == 0


def test_readings_after_the_run_extend_the_plot(qtbot) -> None:  # type: ignore[no-untyped-def]
    live = LivePlot(LIGHT)
    qtbot.addWidget(live)
    live.ingest(synthetic_run([(0, 5.0)]), full=True)
    now = time.monotonic()
    readings = [
        IdleReading(100.0 + t, now, time.time(), PyrometerReading(PyrometerStatus.OK, 300.0 - t), "", None, "")
        for t in (4.0, 6.0, 8.0)
    ] + [IdleReading(109.0, now, time.time(), PyrometerReading(PyrometerStatus.BELOW_RANGE), "", None, "")]
    live.ingest_idle(readings, t0=100.0, after_s=5.0, full=True)
    live.redraw()
    t, y = live.idle_temp_curve.getData()
    assert list(t) == [6.0, 8.0, 9.0] and np.isnan(y[-1])  # below range: a gap, never a number


# --- alarm, theme, settings -----------------------------------------------------------------------------


def test_a_trip_flashes_and_sounds_until_acknowledged_unless_muted(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    beeps: list[float] = []
    window.trip_banner.beep = lambda: beeps.append(time.monotonic())
    window.trip_banner.flash.setInterval(20)  # the test's time: a beep every 4 flashes
    window.runner.latch.latch(Trip("emergency_stop", "EMERGENCY STOP pressed", 0.0))
    window.refresh()
    assert window.trip_banner.isVisible() and "Emergency stop" in window.trip_banner.text()
    assert len(beeps) == 1
    qtbot.waitUntil(lambda: len(beeps) >= 2, timeout=5_000)  # again every 4 flashes (2 s)
    window.run_panel.mute.setChecked(True)
    n = len(beeps)
    qtbot.wait(200)
    assert len(beeps) == n
    window.acknowledge()
    assert not window.trip_banner.isVisible()


def test_the_dark_theme_and_the_operator_are_remembered(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    window = make_window(settings=settings)
    window.dark.setChecked(True)
    assert window.live.plots.backgroundBrush().color().name() == DARK.plot_background
    window.operator_edit.setText("ana")
    window.sample_edit.setText("LLZO-7")
    window.load_profile(LLZO)
    window.close()
    again = make_window(settings=QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    assert again.dark.isChecked() and again.operator_edit.text() == "ana"
    assert again.sample_edit.text() == "LLZO-7" and again.profile_label.text() == "llzo_membrane_1150C_20s"
    again.dark.setChecked(False)


# --- the profile editor ---------------------------------------------------------------------------------


def test_the_editor_previews_validates_and_saves_toml_that_loads(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.load_profile(LLZO)
    editor = window.edit_profile()
    assert not window.dialogs["editor"].isModal()
    assert editor.validate() and "feasible" in editor.messages.text()
    assert len(editor.preview_curve.getData()[0]) == 400
    editor.set_cell(0, "rate_c_per_s", "-5")
    assert editor.error_row == 0 and "rate_c_per_s must be &gt; 0" in editor.messages.text()
    assert not editor.save_button.isEnabled() and editor.table.currentRow() == 0  # jumps to the error
    editor.set_cell(0, "rate_c_per_s", "40")
    editor.set_cell(1, "duration_s", "30")
    assert editor.validate()
    saved = editor.save_to(tmp_path / "edited.toml")
    laid = plan(load_profile(saved))
    assert laid.segments[0].segment.rate_c_per_s == 40.0 and laid.segments[1].end_s - laid.segments[1].start_s == 30.0
    assert window.load_profile(saved)  # what ufs check reads: valid and feasible


def test_profile_toml_round_trips_every_shipped_profile(tmp_path: Path) -> None:
    for path in sorted((LLZO.parent).glob("*.toml")):
        profile = load_profile(path)
        editor_rows = ProfileEditor.__module__  # the editor's own conversion is what is tested
        assert editor_rows
        from ufs_control.gui.editor import profile_dict, rows_of

        data = profile_dict(profile.name, profile.max_temperature_c, profile.end_action, rows_of(profile))
        out = tmp_path / path.name
        out.write_text(profile_toml(data))
        again = load_profile(out)
        assert again.segments == profile.segments


# --- history --------------------------------------------------------------------------------------------


def test_the_history_table_sorts_filters_and_compares(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sample, rate in (("A-1", 50.0), ("B-1", 30.0)):
        write_past_run(tmp_path / "runs", sample, rate)
    window = make_window()
    panel = window.history_panel
    panel.refresh()
    assert panel.table.rowCount() == 2
    panel.filter_edit.setText("b-1")
    hidden = [panel.table.isRowHidden(r) for r in range(2)]
    assert sorted(hidden) == [False, True]
    panel.filter_edit.setText("")
    panel.table.sortItems(7, Qt.SortOrder.AscendingOrder)  # by ramp rate, as numbers
    rates = [panel.table.item(r, 7).data(Qt.ItemDataRole.DisplayRole) for r in range(2)]
    assert rates == sorted(rates) and rates[0] < rates[1]
    for r in range(2):
        panel.table.item(r, 0).setCheckState(Qt.CheckState.Checked)
    assert panel.metrics_table.columnCount() == 2 and panel.metrics_table.rowCount() > 5


# --- readings between runs ------------------------------------------------------------------------------


def test_between_runs_the_supply_is_only_queried_and_the_readings_stop_for_a_run(  # type: ignore[no-untyped-def]
    qtbot, make_window, monkeypatch
) -> None:
    from drivers.cpx400dp import Cpx400dp

    window = make_window(speed=0.0)
    writes: list[str] = []
    for name in ("_write", "_write_checked", "force_outputs_off"):
        monkeypatch.setattr(Cpx400dp, name, lambda self, *a, _n=name: writes.append(_n))
    meters = window.backend.supply_meters()
    assert meters() == MeterReading(0.0, 0.0, False)
    window.refresh()
    qtbot.waitUntil(lambda: window.idle.latest() is not None and window.idle.latest().meters is not None, timeout=5_000)
    assert writes == []
    qtbot.waitUntil(lambda: "Output OFF — confirmed at" in window.status.output_label.text(), timeout=5_000)
    monkeypatch.undo()
    window.load_profile(LLZO)
    assert window.start()
    assert not window.idle.running  # stopped before the run: nothing competes with the guardian
    wait_done(qtbot, window)
    window.refresh()
    assert window.idle.running


def test_an_old_reading_is_greyed_out_with_its_time(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.idle.stop()
    old = IdleReading(0.0, time.monotonic() - 10.0, time.time() - 10.0, PyrometerReading(PyrometerStatus.OK, 812.0))
    window._show_idle_status(old, window.runner.view(), (600.0, 3000.0))
    assert "STALE" in window.status.stamp_label.text()
    assert LIGHT.muted_text in window.values["temperature"].styleSheet()
    failed = IdleReading(0.0, time.monotonic(), time.time(), None, "pyrometer: no reply", None, "supply: no reply")
    window._show_idle_status(failed, window.runner.view(), (600.0, 3000.0))
    assert window.values["temperature"].text() == "no reading"
    assert "no reply" in window.status.stamp_label.text()
