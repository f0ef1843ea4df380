"""Synthetic runs for the GUI tests: samples and run folders as the runner writes them, without simulating."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.gui.conftest import LLZO
from tests.runner.test_run_files import sample as record_sample
from ufs_control.runner.records import Sample


def synthetic_run(
    segments: list[tuple[int, float]], hz: float = 20.0, kinds: tuple[str, ...] = (), rate: float = 50.0
) -> list[Sample]:
    """Samples of a run through ``segments`` (index, seconds; of ``kinds``, ramp by default), heating by
    ``rate`` °C/s from 25 °C and holding in a hold."""
    out: list[Sample] = []
    t, temp = 0.0, 25.0
    for index, seconds in segments:
        kind = kinds[index] if index < len(kinds) else "ramp"
        for _ in range(max(1, int(seconds * hz))):
            if kind == "ramp":
                temp += rate / hz
            out.append(
                replace(
                    record_sample(0),
                    t_s=t,
                    profile_t_s=t,
                    setpoint_c=temp,
                    temperature_c=temp if temp > 600 else None,
                    pyrometer_status="OK" if temp > 600 else "BELOW_RANGE",
                    segment=f"{index + 1} ({kind})",
                    segment_index=index,
                    segment_kind=kind,
                    engaged=temp > 660,
                )
            )
            t += 1.0 / hz
    return out


def write_past_run(runs: Path, sample_id: str, rate: float, outcome: str = "finished") -> Path:
    """A run folder as the runner leaves it (samples.csv and run.json), from synthetic samples: LLZO-like,
    ramping at ``rate`` °C/s into a 10 s hold."""
    from datetime import UTC, datetime, timedelta

    from ufs_control.runner.metrics import compute
    from ufs_control.runner.records import RunRecorder, jsonable

    ramp_s = (1150.0 - 25.0) / rate
    samples = synthetic_run([(0, ramp_s), (1, 10.0)], kinds=("ramp", "hold"), rate=rate)
    started = datetime(2026, 1, 5, 10, 0, tzinfo=UTC) + timedelta(
        minutes=len(list(runs.glob("*"))) if runs.exists() else 0
    )
    recorder = RunRecorder(runs, "llzo_membrane_1150C_20s", started)
    for s in samples:
        recorder.sample(s)
    record = {
        "profile": {"name": "llzo_membrane_1150C_20s"},
        "profile_toml": LLZO.read_text(encoding="utf-8"),
        "operator": "ana",
        "sample_id": sample_id,
        "started_utc": started.isoformat(timespec="seconds"),
        "outcome": outcome,
        "reason": "profile completed",
        "metrics": jsonable(compute(samples)),
    }
    recorder.write_run_json(record)
    recorder.close()
    return recorder.dir
