"""Make the README's screenshots of the operator window on the embedded simulator.

    .venv/bin/python docs/images/make_screenshots.py [OUT_DIR]

Run it under a real X server (e.g. ``Xvfb :77 -screen 0 1920x1080x24 & DISPLAY=:77 ...``) to see what an
operator sees, or with ``QT_QPA_PLATFORM=offscreen``. It takes about three minutes: the trip and the
cool-down run in real time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from sim.faults import Fault
from ufs_control.app import GuiBackend
from ufs_control.core.rig import RigConfig
from ufs_control.gui.window import MainWindow
from ufs_control.runner.engine import RunState

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "profiles"
LLZO = PROFILES / "llzo_membrane_1150C_20s.toml"
DONE = (RunState.FINISHED, RunState.ABORTED, RunState.TRIPPED, RunState.FAILED)


def wait(app: QApplication, until: Callable[[], bool], timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def pause(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    wait(app, lambda: time.monotonic() >= end, seconds + 5)


def window(runs: Path, speed: float, size: tuple[int, int], faults: list[Fault] | None = None) -> MainWindow:
    backend = GuiBackend(runs, speed=speed, faults=faults)
    # Grabbing a large window holds the GIL for a few hundred ms on a slow machine: with the default 0.25 s
    # watchdog the picture itself would stall the loop (the README says to raise it on a busy computer).
    rig = replace(RigConfig(), limits=replace(RigConfig().limits, watchdog_s=1.0))
    w = MainWindow(backend, rig, simulate=True)
    w.resize(*size)
    w.show()
    w.operator_edit.setText("ana")
    return w


def run_to_end(app: QApplication, w: MainWindow) -> None:
    assert w.start()
    wait(app, lambda: w.runner is not None and w.runner.state in DONE and not w.runner.active)
    pause(app, 0.3)


def shot(app: QApplication, w: MainWindow, path: Path) -> None:
    app.processEvents()
    w.refresh()
    app.processEvents()
    w.screenshot(path)
    print(f"wrote {path}")


def main(out: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        # A run in progress, in real time: the large readings during the hold.
        w = window(runs, 1.0, (1600, 1000))
        w.sample_edit.setText("LLZO-41")
        w.load_profile(LLZO)
        assert w.start()
        wait(app, lambda: (s := w.runner.buffer.latest()) is not None and s.t_s > 14.0)
        shot(app, w, out / "gui-during-run.png")
        # ... and after it, the felt cooling on the plot, the card and "output OFF — confirmed".
        wait(app, lambda: w.runner.state in DONE and not w.runner.active)
        pause(app, 12.0)
        shot(app, w, out / "gui-after-run.png")
        w.set_dark(True)
        w.dark.setChecked(True)
        shot(app, w, out / "gui-dark.png")
        w.dark.setChecked(False)
        w.close()

        # A felt open circuit in the hold: the banner, the lamp, the cool-down after the trip.
        w = window(runs, 1.0, (1600, 1000), [Fault("felt-open", 32.0)])
        w.sample_edit.setText("LLZO-42")
        w.load_profile(LLZO)
        assert w.start()
        wait(app, lambda: w.runner.state in DONE and not w.runner.active)
        pause(app, 5.0)
        shot(app, w, out / "gui-trip.png")
        w.resize(1024, 700)
        pause(app, 1.0)
        shot(app, w, out / "gui-1024x700-trip.png")
        w.acknowledge()
        w.close()

        # History: three runs of two profiles overlaid, aligned at the hold, metrics side by side.
        w = window(runs, 0.0, (1600, 1000))
        for sample, profile in (("LLZO-43", LLZO), ("SR-1", PROFILES / "slow_ramp_1000C_60s.toml")):
            w.sample_edit.setText(sample)
            w.load_profile(profile)
            w.backend.session.sim.clock.sleep(60.0)  # let the felt cool in virtual time
            run_to_end(app, w)
        panel = w.history_panel
        panel.refresh()
        panel.clear_overlays()
        for row in range(min(3, panel.table.rowCount())):
            panel.table.item(row, 0).setCheckState(Qt.CheckState.Checked)
        panel.align_hold.setChecked(True)
        w.tabs.setCurrentWidget(panel)
        w.left_split.setSizes([380, 520])
        pause(app, 0.5)
        shot(app, w, out / "gui-history.png")

        # The profile editor, with its live preview.
        w.load_profile(PROFILES / "two_step_sinter_900C_1200C.toml")
        editor = w.edit_profile()
        dialog = w.dialogs["editor"]
        dialog.resize(900, 720)
        editor.set_cell(2, "target_c", "1220")  # the second step a little hotter: previewed and checked at once
        pause(app, 0.5)
        dialog.grab().save(str(out / "gui-editor.png"))
        print(f"wrote {out / 'gui-editor.png'}")
        w.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
