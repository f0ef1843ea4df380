"""GUI tests drive the real window offscreen against the embedded simulator."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sim.faults import Fault
from ufs_control.app import GuiBackend
from ufs_control.core.rig import RigConfig
from ufs_control.gui.window import MainWindow
from ufs_control.runner.engine import RunState

LLZO = Path(__file__).resolve().parents[2] / "profiles" / "llzo_membrane_1150C_20s.toml"
TERMINAL = (RunState.FINISHED, RunState.ABORTED, RunState.TRIPPED, RunState.FAILED)


def wait_done(qtbot, window: MainWindow, timeout: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the run has ended, its thread is gone and the window shows its result."""

    def done() -> None:
        runner = window.runner
        assert runner is not None and runner.state in TERMINAL
        assert not runner.active
        assert window._shown_result is runner.last_result

    qtbot.waitUntil(done, timeout=timeout)


def wait_running(qtbot, window: MainWindow, t_s: float) -> None:  # type: ignore[no-untyped-def]
    """Wait until the run is RUNNING and has reached ``t_s`` seconds."""

    def running() -> None:
        runner = window.runner
        assert runner is not None
        latest = runner.buffer.latest()
        assert latest is not None and latest.t_s >= t_s and runner.state is RunState.RUNNING

    qtbot.waitUntil(running, timeout=30_000)


def sim_output_on(window: MainWindow) -> bool:
    """The simulated supply's own output state (not what the runner believes)."""
    session = window.backend.session  # type: ignore[attr-defined]  # the GuiBackend of make_window
    return bool(session.sim.rig.psu.channels[0].on)


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:  # type: ignore[no-untyped-def]
    windows: list[MainWindow] = []

    def factory(speed: float = 0.0, faults: list[Fault] | None = None, settings: QSettings | None = None) -> MainWindow:
        backend = GuiBackend(tmp_path / "runs", speed=speed, faults=faults)
        backend.runs_dir.mkdir(exist_ok=True)
        window = MainWindow(backend, RigConfig(), simulate=True, settings=settings)
        qtbot.addWidget(window)
        # The window fits itself to the screen it opens on; the offscreen screen is 800x800, the tests want the
        # layout of a desktop (the 1024x700 glovebox panel has tests of its own).
        window.resize(1480, 920)
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        if window.idle is not None:
            window.idle.stop()
        if window.runner is not None:
            window.runner.request_abort("test teardown")
            window.runner.join(10.0)
        window.timer.stop()
        window.backend.close()
    assert not [t for t in threading.enumerate() if t.name in ("ufs-runner", "ufs-idle") and t.is_alive()]
