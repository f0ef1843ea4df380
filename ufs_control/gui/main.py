"""Start the window; optionally run a profile and save a screenshot (documentation and tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ufs_control.core.rig import RigConfig
from ufs_control.gui.backend import Backend
from ufs_control.runner.engine import RunState

DONE = (RunState.FINISHED, RunState.ABORTED, RunState.TRIPPED, RunState.FAILED)
EXIT_NO_DISPLAY = 4
PLATFORM_HINT = """\
error: the window cannot open: Qt could not load its platform plugin ({plugin}).
On Debian/Ubuntu the xcb plugin needs these system packages:
    sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \\
        libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3
Then check that a display is there (echo $DISPLAY); on Wayland try QT_QPA_PLATFORM=wayland, and with no
display at all use QT_QPA_PLATFORM=offscreen (screenshots only). QT_DEBUG_PLUGINS=1 names the library that is
missing. Qt said: {message}"""


def platform_hint(message: str) -> str | None:
    """Our hint for a Qt message that says no platform plugin could be loaded (None for any other message)."""
    lowered = message.lower()
    if "platform plugin" not in lowered or not ("could not" in lowered or "failed to start" in lowered):
        return None
    plugin = os.environ.get("QT_QPA_PLATFORM") or "xcb"
    return PLATFORM_HINT.format(plugin=plugin, message=" ".join(message.split()))


def _install_platform_hint() -> None:
    """Print :data:`PLATFORM_HINT` instead of Qt's bare message when no platform plugin loads, then exit."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    previous: list[Any] = []

    def handler(kind: QtMsgType, context: Any, message: str) -> None:
        hint = platform_hint(message) if kind == QtMsgType.QtFatalMsg else None
        if hint is not None:
            print(hint, file=sys.stderr, flush=True)
            os._exit(EXIT_NO_DISPLAY)  # Qt would abort() next, with a core dump and no word of why
        if kind != QtMsgType.QtFatalMsg and "Could not find the Qt platform plugin" in message:
            return  # said again, better, in the fatal message's hint
        if previous and previous[0] is not None:
            previous[0](kind, context, message)
        else:
            print(message, file=sys.stderr, flush=True)

    previous.append(qInstallMessageHandler(handler))


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
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from ufs_control.gui.window import MainWindow

    if QApplication.instance() is None:
        _install_platform_hint()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # A documentation run (--screenshot) neither reads nor changes what the operator's window remembers.
    settings = None if screenshot is not None else QSettings("ufs-control", "ufs-gui")
    window = MainWindow(backend, rig, simulate, settings=settings)
    if operator:
        window.operator_edit.setText(operator)
    if sample_id:
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
