"""Start the window; optionally run a profile and save a screenshot (documentation and tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from ufs_control.core.rig import RigConfig
from ufs_control.gui.backend import Backend
from ufs_control.runner.engine import RunState

DONE = (RunState.FINISHED, RunState.ABORTED, RunState.TRIPPED, RunState.FAILED)


def launch(
    backend: Backend,
    rig: RigConfig,
    simulate: bool,
    profile: Path | None = None,
    run: bool = False,
    screenshot: Path | None = None,
    screenshot_at_s: float | None = None,
    operator: str = "",
    sample_id: str = "",
) -> int:
    """Open the window; with ``run`` start ``profile`` and, with ``screenshot``, save the window when the run
    ends (or at ``screenshot_at_s`` of run time, then end the run) and exit. Returns the exit code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ufs_control.gui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(backend, rig, simulate)
    window.operator_edit.setText(operator)
    window.sample_edit.setText(sample_id)
    window.show()
    if profile is not None and not window.load_profile(profile):
        if run:
            print(f"error: {window.profile_messages.text()}", file=sys.stderr)
            window.close()
            return 2
    if run:
        if not window.start():
            print("error: the run could not be started", file=sys.stderr)
            window.close()
            return 1
        shot = {"taken": False}

        def poll() -> None:
            runner = window.runner
            assert runner is not None
            latest = runner.buffer.latest()
            if (
                screenshot is not None
                and screenshot_at_s is not None
                and not shot["taken"]
                and latest is not None
                and latest.t_s >= screenshot_at_s
            ):
                window.refresh()
                window.screenshot(screenshot)
                shot["taken"] = True
                runner.request_abort("screenshot taken")
            if runner.state in DONE and not runner.active:
                window.refresh()
                app.processEvents()
                if screenshot is not None and not shot["taken"]:
                    window.screenshot(screenshot)
                if screenshot is not None:
                    timer.stop()
                    window.close()

        timer = QTimer()
        timer.setInterval(100)
        timer.timeout.connect(poll)
        timer.start()
    app.exec()
    return 0
