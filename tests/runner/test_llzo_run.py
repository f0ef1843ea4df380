"""The LLZO membrane recipe end to end in virtual time on the nominal plant, and its run folder."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tests.runner.helpers import events, llzo, run, run_json
from ufs_control.runner.metrics import compute
from ufs_control.runner.records import SAMPLE_COLUMNS, Outcome, read_samples


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    res = run(tmp_path_factory.mktemp("runs"))
    res.metrics["_wall_s"] = time.perf_counter() - start
    return res


def test_recipe_completes(result) -> None:  # type: ignore[no-untyped-def]
    assert result.outcome is Outcome.FINISHED, result.reason
    # ramp + hold take 42.5 s; the output-off cool ends early once the felt is below 600 °C
    assert 42.5 <= result.duration_s <= llzo_duration()
    assert result.metrics["_wall_s"] < 10.0  # virtual time: ~0.5 s on an idle machine


def llzo_duration() -> float:
    from ufs_control.core.profile import plan

    return plan(llzo()).duration_s


def test_m1_to_m5_meet_their_targets_on_the_nominal_plant(result) -> None:  # type: ignore[no-untyped-def]
    m = result.metrics
    assert m["ramp_rms_k"] <= 5.0  # M1
    assert m["handover_k"] <= 20.0  # M2
    assert m["overshoot_k"] <= 2.0  # M3, shaped corner (measured, pyrometer noise included)
    assert m["settle_s"] <= 1.0  # M4
    assert m["hold_max_k"] <= 3.0 and m["hold_rms_k"] <= 1.5  # M5
    assert m["time_in_band_s"] >= 19.0  # M7
    assert 45.0 <= m["ramp_rate_c_per_s"] <= 55.0
    assert m["cooling_s"] is not None and m["cooling_s"] < 5.0  # M11 to the pyrometer's 600 °C floor


def test_run_folder_holds_samples_events_record_and_plot(result) -> None:  # type: ignore[no-untyped-def]
    folder: Path = result.run_dir
    assert folder.name.endswith("_llzo_membrane_1150C_20s")
    with open(folder / "samples.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == SAMPLE_COLUMNS
    required = "t_s setpoint_c temperature_c pyrometer_status power_w voltage_set_v current_set_a voltage_v current_a"
    for column in [*required.split(), "resistance_ohm", "ff_w", "p_w", "i_w", "segment", "state"]:
        assert column in SAMPLE_COLUMNS
    below = [r for r in rows if r["pyrometer_status"] == "BELOW_RANGE"]
    assert below and all(r["temperature_c"] == "" for r in below)  # no temperature without a valid reading
    assert len(rows) == len(read_samples(folder))
    types = [e["type"] for e in events(result)]
    for kind in ("state", "supply_limits", "cold_resistance", "segment", "rebase", "loop", "output_off"):
        assert kind in types
    record = run_json(result)
    assert record["outcome"] == "finished"
    assert record["operator"] == "tester" and record["sample_id"] == "S-1"
    assert record["instruments"]["psu"]["model"] == "CPX400DP"
    assert record["software"]["name"] == "ufs-control"
    assert record["profile"]["name"] == "llzo_membrane_1150C_20s"
    assert "rate_c_per_s = 50" in record["profile_toml"]
    assert record["loop_timing"]["period_p99_ms"] == pytest.approx(50.0, abs=1.0)
    assert record["metrics"]["ramp_rms_k"] == pytest.approx(result.metrics["ramp_rms_k"])
    assert (folder / "plot.png").stat().st_size > 10_000


def test_metrics_recompute_from_the_csv(result) -> None:  # type: ignore[no-untyped-def]
    again = compute(read_samples(result.run_dir), cooling_to_c=600.0)
    for key in ("ramp_rms_k", "handover_k", "overshoot_k", "hold_max_k", "iae_ks"):
        assert again[key] == pytest.approx(result.metrics[key], rel=1e-3, abs=1e-3)


def test_supply_ends_with_output_off(tmp_path: Path) -> None:
    from tests.runner.helpers import session

    s = session(tmp_path)
    res = s.runner.run(llzo())
    assert res.outcome is Outcome.FINISHED
    assert s.sim is not None
    assert s.sim.psu.read_output_state(1) is False
    assert s.sim.rig.truth().felt_power_w == 0.0
    s.close()
