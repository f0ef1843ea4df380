"""The loop never waits on a slow consumer: a terminal that stopped reading, a reader that went away, a disk
that cannot keep up."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from tests.runner.helpers import LLZO, llzo, session
from ufs_control.runner.engine import Progress
from ufs_control.runner.records import Outcome, RunRecorder, Sample, utc_now
from ufs_control.runner.sinks import Mailbox, RecordWriter


def _blank_sample(t_s: float) -> Sample:
    """A sample with nothing measured (only the writer's behaviour matters here)."""
    return Sample(
        t_s,
        0.0,
        None,
        None,
        "BELOW_RANGE",
        0.0,
        0.0,
        0.0,
        None,
        None,
        None,
        0,
        0,
        0,
        "1",
        "r",
        "o",
        False,
        0,
        "ramp",
        None,
    )


def test_a_progress_consumer_that_blocks_never_delays_a_tick(tmp_path: Path) -> None:
    """Ctrl-S on the terminal: the progress printer blocks for the whole run; the run is undisturbed."""
    s = session(tmp_path, plot=False)
    release = threading.Event()
    delivered: list[Progress] = []

    def stuck_terminal(p: Progress) -> None:
        delivered.append(p)
        release.wait(60.0)

    s.runner.progress = stuck_terminal
    try:
        result = s.runner.run(llzo())
    finally:
        release.set()
        s.close()
    assert result.outcome is Outcome.FINISHED, result.reason
    assert 1 <= len(delivered) <= 2  # the first line got through, then the printer was stuck
    assert result.loop_timing["missed_deadlines"] == 0
    assert result.metrics["soak_s"] is not None and result.metrics["soak_s"] > 18.0


def test_the_mailbox_keeps_only_the_latest_item() -> None:
    gate, busy = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow(i: int) -> None:
        seen.append(i)
        busy.set()
        gate.wait(10.0)

    box: Mailbox[int] = Mailbox(slow)
    box.post(1)
    assert busy.wait(10.0)  # the consumer is stuck on the first item
    for i in range(2, 100):
        box.post(i)
    gate.set()
    box.close(5.0)
    assert seen == [1, 99]


def test_a_record_writer_that_cannot_write_reports_it_instead_of_blocking(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path, "p", utc_now())
    writer = RecordWriter(recorder, capacity=16)
    recorder._samples.close()  # the file went away underneath
    sample = _blank_sample(0.0)
    for _ in range(100):  # more than the queue holds: never blocks
        writer.sample(sample)
    writer.close(5.0)
    assert writer.error is not None
    recorder.close()


def test_ufs_run_into_a_closed_pipe_finishes_the_run(tmp_path: Path) -> None:
    """``ufs run … | head -1``: the reader goes away after the first line; the run still ends normally."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ufs_control", "run", str(LLZO), "--runs-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(120)
    assert first.startswith(b"SIMULATION")
    assert code == 0, err
    assert "Traceback" not in err
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1 and '"outcome": "finished"' in (runs[0] / "run.json").read_text()


def test_the_next_run_marks_a_run_left_running_as_interrupted(tmp_path: Path) -> None:
    import json

    dead = tmp_path / "20260101-000000_old"
    dead.mkdir()
    (dead / "run.json").write_text(json.dumps({"outcome": "running", "reason": None}), encoding="utf-8")
    (dead / "events.jsonl").write_text(
        json.dumps({"type": "guardian", "reason": "controller died", "confirmed": True}) + "\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ufs_control", "run", str(LLZO), "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "run 20260101-000000_old was left running by a process that died; marked interrupted" in done.stdout
    record = json.loads((dead / "run.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "interrupted"
    assert "controller died" in record["reason"] and "output off confirmed" in record["reason"]


def test_in_virtual_time_a_full_record_queue_waits_instead_of_failing(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path, "p", utc_now())
    writer = RecordWriter(recorder, capacity=4, wait_when_full=True)
    for i in range(500):  # far more than the queue holds, faster than the file is written
        writer.sample(_blank_sample(i * 0.05))
    writer.close(30.0)
    recorder.close()
    assert writer.error is None
    rows = (recorder.dir / "samples.csv").read_text().splitlines()
    assert len(rows) == 501  # header + every sample
