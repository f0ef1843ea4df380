"""Build simulated runs for the runner tests."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim.faults import Fault
from ufs_control.app import RigSession, open_session
from ufs_control.core.profile import Profile, load_profile
from ufs_control.core.rig import RigConfig
from ufs_control.runner.records import RunResult

LLZO = Path(__file__).resolve().parents[2] / "profiles" / "llzo_membrane_1150C_20s.toml"


def llzo() -> Profile:
    return load_profile(LLZO)


def session(tmp_path: Path, faults: list[Fault] | None = None, plot: bool = True, **limits: Any) -> RigSession:
    rig = RigConfig()
    if limits:
        rig = replace(rig, limits=replace(rig.limits, **limits))
    return open_session(rig, simulate=True, runs_dir=tmp_path, faults=faults or [], plot=plot)


def run(tmp_path: Path, faults: list[Fault] | None = None, profile: Profile | None = None, **limits: Any) -> RunResult:
    s = session(tmp_path, faults, **limits)
    try:
        return s.runner.run(profile or llzo(), operator="tester", sample_id="S-1")
    finally:
        s.close()


def events(result: RunResult) -> list[dict[str, Any]]:
    assert result.run_dir is not None
    lines = (result.run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def run_json(result: RunResult) -> dict[str, Any]:
    assert result.run_dir is not None
    data: dict[str, Any] = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    return data
