"""The notify command gets the run's summary with an absolute run folder; a hung command goes with all it started."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ufs_control.core.rig import NotifyConfig
from ufs_control.runner.notify import notify, run_summary
from ufs_control.runner.records import Outcome, RunResult


def test_the_summary_names_the_run_folder_absolutely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = RunResult(Outcome.FINISHED, "done", "p", "", "", 1.0, run_dir=Path("runs/r1"))
    assert run_summary(result)["run_dir"] == str(tmp_path / "runs" / "r1")


def test_a_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    warnings: list[str] = []
    command = f"sleep 30 & echo $! > '{pid_file}'; wait"
    assert not notify(NotifyConfig(command=command, timeout_s=0.5), {}, warn=warnings.append)
    assert warnings and "still running after 0.5 s" in warnings[0]
    pid = int(pid_file.read_text())
    for _ in range(50):  # reaped by init shortly after the kill
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the command's child {pid} outlived the timeout")
