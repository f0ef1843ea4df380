"""GUI tests drive the real window offscreen against the embedded simulator."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sim.faults import Fault
from ufs_control.app import GuiBackend
from ufs_control.core.rig import RigConfig
from ufs_control.gui.window import MainWindow

LLZO = Path(__file__).resolve().parents[2] / "profiles" / "llzo_membrane_1150C_20s.toml"


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:  # type: ignore[no-untyped-def]
    windows: list[MainWindow] = []

    def factory(speed: float = 0.0, faults: list[Fault] | None = None) -> MainWindow:
        backend = GuiBackend(tmp_path / "runs", speed=speed, faults=faults)
        backend.runs_dir.mkdir(exist_ok=True)
        window = MainWindow(backend, RigConfig(), simulate=True)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        if window.runner is not None:
            window.runner.request_abort("test teardown")
            window.runner.join(10.0)
        window.timer.stop()
        window.backend.close()
    assert not [t for t in threading.enumerate() if t.name == "ufs-runner" and t.is_alive()]
