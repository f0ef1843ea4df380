"""Every shipped profile runs to the end on the simulator; preset B (BN plates) with its model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ufs_control.app import open_session
from ufs_control.bench import VARIANTS, run_bench
from ufs_control.core.profile import load_profile
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import preset
from ufs_control.runner.records import Outcome

PROFILES = sorted(Path(__file__).resolve().parents[2].joinpath("profiles").glob("*.toml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_shipped_profile_finishes(tmp_path: Path, path: Path) -> None:
    s = open_session(RigConfig(), simulate=True, runs_dir=None, plot=False)
    try:
        result = s.runner.run(load_profile(path))
    finally:
        s.close()
    assert result.outcome is Outcome.FINISHED, result.reason
    assert result.metrics["hold_max_k"] is not None and result.metrics["hold_max_k"] <= 3.0


def test_bn_plates_with_their_model_meet_the_heavy_fixture_targets() -> None:
    rig = replace(RigConfig(), model=preset("B"), sim_preset="B")
    s = open_session(rig, simulate=True, runs_dir=None, plot=False)
    try:
        result = s.runner.run(load_profile(PROFILES[[p.stem for p in PROFILES].index("llzo_membrane_1150C_20s")]))
    finally:
        s.close()
    m = result.metrics
    assert result.outcome is Outcome.FINISHED
    assert m["overshoot_k"] <= 5.0 and m["settle_s"] <= 4.0  # M3, M4 (heavy fixtures)


def test_bench_writes_its_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ufs_control.bench as bench

    speed = bench.llzo_speed
    monkeypatch.setattr(bench, "LEARNING_RUNS", 1)  # one learned run is enough to see the variants side by side
    monkeypatch.setattr(bench, "llzo_speed", lambda runs=1: speed(runs))
    out = tmp_path / "bench.json"
    summary = run_bench(1, seed=3, out=out, jobs=1)
    data = json.loads(out.read_text())
    assert list(data["variants"]) == list(VARIANTS)
    for stats in data["variants"].values():
        assert set(stats) == {"median", "p90"}
        assert set(stats["p90"]) == {
            "ramp_rms_k",
            "handover_k",
            "overshoot_k",
            "settle_s",
            "hold_max_k",
            "iae_ks",
            "time_in_band_s",
        }
    variants = {r["variant"] for r in data["runs"]}
    assert variants == set(VARIANTS) - {"learning_3", "learning_5"}  # the one plant was identified and learned on
    ident = next(r for r in data["runs"] if r["variant"] == "identified_model")
    assert ident["identification"]["pyro_rms_k"] < 3.0
    assert data["simulator"]["sim_seconds_per_wall_second"] > 1.0
    assert data["simulator"]["llzo_recipe"]["x_real_time_median"] > 1.0
    assert 150.0 <= data["sim_steady_power_w"]["1150"] <= 300.0
    assert summary["targets"].keys() >= {"identified_ramp_rms_k_p90", "learning_3_runs_excess_iae_left"}
