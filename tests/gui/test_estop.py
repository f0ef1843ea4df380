"""The operator's stop is absolute: EMERGENCY STOP, Esc and Ctrl+E work in every state and through every
dialog the window opens, offscreen, on the simulator."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLineEdit, QMessageBox, QWidget

from tests.gui.conftest import LLZO, sim_output_on, wait_done, wait_running
from ufs_control.gui import window as window_module
from ufs_control.gui.window import MainWindow
from ufs_control.runner.engine import RunState

LEFT = Qt.MouseButton.LeftButton


def click(widget: QWidget) -> None:
    """Click ``widget`` the way the window system does: through its window, which Qt refuses while a modal
    dialog blocks it (``qtbot.mouseClick`` hands the click straight to the widget, past any modal dialog)."""
    top = widget.window()
    QTest.mouseClick(
        top.windowHandle(), LEFT, Qt.KeyboardModifier.NoModifier, widget.mapTo(top, widget.rect().center())
    )


def _nothing(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    pass


def _open_profile_chooser(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    click(window.open_button)  # disabled during a run: opened before Start, left open


def _profile_chooser(qtbot, window: MainWindow) -> QDialog:  # type: ignore[no-untyped-def]
    return window.dialogs["profile"]


def _export_chooser(qtbot, window: MainWindow) -> QDialog:  # type: ignore[no-untyped-def]
    click(window.export_button)
    return window.dialogs["export"]


def _close_confirmation(qtbot, window: MainWindow) -> QDialog:  # type: ignore[no-untyped-def]
    window.close()
    return window.dialogs["close"]


def choose_file(qtbot, chooser: QDialog, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Type ``path`` into the chooser's file name field and press Enter, as the operator would."""
    field = chooser.findChild(QLineEdit, "fileNameEdit")
    field.setText(str(path))
    qtbot.keyClick(field, Qt.Key.Key_Return)


def _run_in_progress_notice(qtbot, window: MainWindow) -> QDialog:  # type: ignore[no-untyped-def]
    chooser = window.dialogs["profile"]  # left open from before Start; another profile chosen during the run
    choose_file(qtbot, chooser, LLZO.with_name("slow_ramp_1000C_60s.toml"))
    assert not chooser.isVisible()
    assert window.profile_label.text() == "llzo_membrane_1150C_20s"  # not swapped under the run
    notice = window.dialogs["notice"]
    assert "End the run before loading another profile" in notice.text()
    return notice


# name: (what the operator did before Start, how the dialog comes up during the run)
DIALOGS: dict[str, tuple[Callable[..., None], Callable[..., QDialog]]] = {
    "open profile": (_open_profile_chooser, _profile_chooser),
    "export png": (_nothing, _export_chooser),
    "close confirmation": (_nothing, _close_confirmation),
    "run in progress notice": (_open_profile_chooser, _run_in_progress_notice),
}


def _key_target(dialog: QDialog) -> QWidget:
    """Where the dialog's keys go: its focus widget (the file name field, the default button)."""
    return dialog.focusWidget() or dialog


def press(qtbot, window: MainWindow, dialog: QDialog, how: str) -> None:  # type: ignore[no-untyped-def]
    if how == "Esc in the dialog":
        qtbot.keyClick(_key_target(dialog), Qt.Key.Key_Escape)
    elif how == "Ctrl+E in the dialog":
        qtbot.keyClick(_key_target(dialog), Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    else:
        click(window.estop_button)


def heating(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    wait_running(qtbot, window, 1.0)
    qtbot.waitUntil(lambda: sim_output_on(window), timeout=30_000)


@pytest.mark.parametrize("how", ["Esc in the dialog", "Ctrl+E in the dialog", "click EMERGENCY STOP"])
@pytest.mark.parametrize("name", DIALOGS)
def test_the_emergency_stop_works_while_a_dialog_is_open_during_a_run(qtbot, make_window, name: str, how: str) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)  # real time: the watchdog's 0.25 s, not 50 ms, covers a slow dialog
    assert window.load_profile(LLZO)
    before_start, open_dialog = DIALOGS[name]
    before_start(qtbot, window)
    click(window.start_button)  # a dialog left open does not block the window either
    heating(qtbot, window)
    dialog = open_dialog(qtbot, window)
    assert dialog.isVisible()
    assert dialog.windowModality() is Qt.WindowModality.NonModal and QApplication.activeModalWidget() is None
    if isinstance(dialog, QFileDialog):
        assert dialog.testOption(QFileDialog.Option.DontUseNativeDialog)
    assert window.runner.state is RunState.RUNNING and sim_output_on(window), window.runner.latch.tripped

    press(qtbot, window, dialog, how)

    assert not sim_output_on(window)  # off before the press returned
    trip = window.runner.latch.tripped
    assert trip is not None and trip.name == "emergency_stop"
    wait_done(qtbot, window)
    result = window.runner.last_result
    assert result.outcome.value == "tripped" and result.trip_name == "emergency_stop"
    assert window.runner.state is RunState.TRIPPED
    assert not sim_output_on(window)
    assert window.lamps["emergency_stop"].state == "tripped"
    assert dialog.isVisible()  # the stop was all the press did; the dialog is dismissed as usual afterwards


@pytest.mark.parametrize("modality", [Qt.WindowModality.NonModal, Qt.WindowModality.ApplicationModal])
@pytest.mark.parametrize("key", ["Esc", "Ctrl+E"])
def test_the_keys_stop_from_a_window_the_main_window_does_not_know(qtbot, make_window, modality, key: str) -> None:  # type: ignore[no-untyped-def]
    """Any future dialog, even a modal one that a developer forgot to make non-modal: the filter is on the
    application, not on the main window."""
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    assert window.start()
    heating(qtbot, window)
    stranger = QMessageBox(QMessageBox.Icon.Warning, "Something", "Something to say", QMessageBox.StandardButton.Ok)
    qtbot.addWidget(stranger)
    stranger.setWindowModality(modality)
    stranger.show()
    if key == "Esc":
        qtbot.keyClick(_key_target(stranger), Qt.Key.Key_Escape)
    else:
        qtbot.keyClick(_key_target(stranger), Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert not sim_output_on(window)
    wait_done(qtbot, window)
    assert window.runner.last_result.trip_name == "emergency_stop"
    assert stranger.isVisible()


def test_esc_in_a_dialog_with_no_run_closes_it_and_latches_nothing(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.load_profile(LLZO)
    chooser = window.choose_export()
    assert chooser.isVisible()
    qtbot.keyClick(_key_target(chooser), Qt.Key.Key_Escape)
    assert not chooser.isVisible()
    assert window.runner.latch.tripped is None and window.start_button.isEnabled()


def test_ctrl_e_in_a_dialog_with_no_run_latches_the_stop(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.load_profile(LLZO)
    chooser = window.choose_profile()
    qtbot.keyClick(_key_target(chooser), Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.runner.latch.tripped.name == "emergency_stop"
    assert not window.start_button.isEnabled()


@pytest.mark.parametrize("how", ["click", "Esc", "Ctrl+E"])
def test_an_emergency_stop_while_idle_latches_and_blocks_start_until_acknowledged(
    qtbot, make_window, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.load_profile(LLZO)
    assert window.start_button.isEnabled() and window.runner.state is RunState.IDLE
    if how == "click":
        click(window.estop_button)
    elif how == "Esc":
        qtbot.keyClick(window.operator_edit, Qt.Key.Key_Escape)
    else:
        qtbot.keyClick(window.operator_edit, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    # shown at once, without waiting for the refresh timer
    assert window.lamps["emergency_stop"].state == "tripped"
    assert "Emergency stop" in window.trip_label.text()
    assert not window.start_button.isEnabled()
    assert window.start_button.toolTip() == "Acknowledge the interlock first"
    assert window.start() is False and window.runner.state is RunState.IDLE
    assert not sim_output_on(window)
    assert window.ack_button.isEnabled() and window.ack_hint.text() == ""

    window.operator_edit.setText("ana")
    click(window.ack_button)
    assert window.runner.latch.tripped is None
    assert window.lamps["emergency_stop"].state == "ok"
    assert window.start_button.isEnabled()
    lines = (tmp_path / "runs" / "acknowledgements.jsonl").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["by"] == "ana" and entry["interlock"] == "emergency_stop"


def test_acknowledge_is_refused_during_a_run_and_the_window_says_why(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    window.operator_edit.setText("ana")
    assert window.start()
    assert not window.start()  # a second start while the first is under way is refused
    heating(qtbot, window)
    assert not window.ack_button.isEnabled()
    assert "run is in progress" in window.ack_hint.text() and window.ack_hint.isVisible()
    # E-stop, then Acknowledge at once (mostly before the loop has acted on the stop): the run still trips
    runner = window.runner
    click(window.estop_button)
    window.acknowledge()  # refused if the loop has not ended the run yet; clears the latch if it has
    qtbot.waitUntil(lambda: not runner.active and runner.last_result is not None, timeout=30_000)
    result = runner.last_result
    assert result.outcome.value == "tripped" and result.trip_name == "emergency_stop"
    assert not sim_output_on(window)
    assert len(list((window.backend.runs_dir).glob("*/samples.csv"))) == 1


def test_the_close_confirmation_closes_with_esc_once_the_run_has_ended(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(speed=1.0)
    window.load_profile(LLZO)
    assert window.start()
    heating(qtbot, window)
    box = _close_confirmation(qtbot, window)
    assert box.text().startswith("A run is in progress")
    qtbot.keyClick(_key_target(box), Qt.Key.Key_Escape)  # during the run: the emergency stop
    wait_done(qtbot, window)
    assert box.isVisible()
    assert box.text() == "The run has ended. Close the window?"  # the question follows the run
    qtbot.keyClick(_key_target(box), Qt.Key.Key_Escape)  # no run: "No", the box closes
    assert not box.isVisible() and window.isVisible()


def test_a_profile_and_an_export_are_chosen_in_the_windows_own_choosers(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.profile_label.text() != "llzo_membrane_1150C_20s"
    choose_file(qtbot, window.choose_profile(), LLZO)
    assert window.profile_label.text() == "llzo_membrane_1150C_20s" and window.start_button.isEnabled()
    choose_file(qtbot, window.choose_export(), tmp_path / "figure")
    assert (tmp_path / "figure.png").stat().st_size > 1_000


def test_no_dialog_in_the_window_is_modal_or_waits_in_exec() -> None:
    """A modal dialog (or one run by exec() or a static helper) would block the EMERGENCY STOP button."""
    forbidden = re.compile(
        r"\.exec\(|\.open\(\)|setModal\(|\bApplicationModal\b|\bWindowModal\b|"
        r"QFileDialog\.get\w+\(|QMessageBox\.(question|information|warning|critical|about)\(|QInputDialog\.get"
    )
    gui = Path(window_module.__file__).parent
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted(gui.glob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line) and "app.exec()" not in line
    ]
    assert found == []
