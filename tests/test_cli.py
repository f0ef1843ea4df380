"""The ``ufs`` command line: exit codes, one-line errors without tracebacks, run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ufs_control.cli import main

LLZO = "profiles/llzo_membrane_1150C_20s.toml"
ROOT = Path(__file__).resolve().parents[1]


def ufs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ufs_control", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_run_on_the_simulator_says_so_and_leaves_a_complete_run_folder(tmp_path: Path) -> None:
    out = ufs("run", LLZO, "--runs-dir", str(tmp_path), "--operator", "ana", "--sample", "LLZO-7")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SIMULATION:")
    assert any(line.startswith("segment 2 (hold)") for line in lines)  # progress
    assert "finished: profile completed" in out.stdout
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1
    for name in ("samples.csv", "events.jsonl", "run.json", "plot.png"):
        assert (folders[0] / name).is_file()
    record = json.loads((folders[0] / "run.json").read_text())
    assert record["operator"] == "ana" and record["sample_id"] == "LLZO-7"
    assert "simulator" in record


def test_injected_fault_trips_with_exit_1(tmp_path: Path) -> None:
    code = main(["run", LLZO, "--runs-dir", str(tmp_path), "--fault", "felt-open@15"])
    assert code == 1
    record = json.loads(next(tmp_path.iterdir()).joinpath("run.json").read_text())
    assert record["outcome"] == "tripped" and record["trip"] == "felt_open"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "profiles/nope.toml"], "profiles/nope.toml: no such file"),
        (["run", LLZO, "--fault", "gremlin@3"], "unknown fault"),
        (["run", LLZO, "--speed", "-1"], "--speed: -1 is out of range"),
        (["run", LLZO, "--rig", "nope.toml"], "nope.toml: no such file"),
        (["run", LLZO, "--psu", "TCPIP::127.0.0.1::1::SOCKET"], "give both instrument addresses"),
        (["run", LLZO, "--pyrometer-protocol", "maurer", "--sim"], "--pyrometer-protocol"),
        (["check", "README.md"], "README.md"),
        (["report", "profiles"], "not a run folder"),
        (["bench", "--plants", "0"], "--plants"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    out = ufs(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert fragment in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_profile_value_names_file_segment_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text('[[segment]]\ntype = "ramp"\ntarget_c = 900\nrate_c_per_s = -5\n')
    out = ufs("run", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {bad}: segment 1 (ramp): rate_c_per_s must be > 0, got -5"
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_unreachable_supply_exits_3(tmp_path: Path) -> None:
    out = ufs(
        "run",
        LLZO,
        "--psu",
        "TCPIP::127.0.0.1::1::SOCKET",
        "--pyrometer",
        "socket://127.0.0.1:1",
        "--runs-dir",
        str(tmp_path),
    )
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_check_reports_segments_and_feasibility() -> None:
    out = ufs("check", LLZO)
    assert out.returncode == 0, out.stderr
    assert "duration 52.5 s, peak 1150 °C" in out.stdout
    assert "feasible on this rig" in out.stdout


def test_check_flags_an_infeasible_profile(tmp_path: Path) -> None:
    path = tmp_path / "fast.toml"
    path.write_text(
        'max_temperature_c = 1600\n[[segment]]\ntype = "ramp"\ntarget_c = 1500\nrate_c_per_s = 50\n'
        '[[segment]]\ntype = "hold"\nduration_s = 10\n'
    )
    out = ufs("check", str(path))
    assert out.returncode == 2
    assert f"error: {path}: segment 2 (hold): holding 1500 °C needs" in out.stdout
    assert "infeasible" in out.stdout


def test_run_refuses_an_infeasible_profile_before_heating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plant file 15x too heavy (a typo): ufs check says infeasible, and so does ufs run, before anything
    heats (no run folder)."""
    plant = tmp_path / "plant.toml"
    plant.write_text('[plant]\npreset = "A"\nfelt_density_kg_m3 = 1500\n', encoding="utf-8")
    runs = tmp_path / "runs"
    code = main(["run", LLZO, "--sim", "--plant", str(plant), "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {LLZO}: segment 1 (ramp): infeasible on this rig" in err and len(err.strip().splitlines()) == 1
    assert not any(p.is_dir() for p in runs.iterdir())


def test_the_banner_says_which_plant_is_simulated_and_which_model_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = tmp_path / "plant.toml"
    plant.write_text('[plant]\npreset = "A"\n', encoding="utf-8")
    runs = str(tmp_path / "runs")
    assert main(["run", LLZO, "--sim", "--runs-dir", runs]) == 0
    head = capsys.readouterr().out.splitlines()[:2]
    assert "(plant preset A)" in head[0] and head[1] == "model: preset (identify this rig: ufs identify)"
    assert main(["run", LLZO, "--sim", "--sim-plant", str(plant), "--plant", str(plant), "--runs-dir", runs]) == 0
    head = capsys.readouterr().out.splitlines()[:2]
    assert "(a plant of its own (--sim-plant))" in head[0]
    assert head[1] == f"model: identified plant {plant.resolve()}"


def test_a_plant_file_whose_felt_does_not_match_is_named_after_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = tmp_path / "plant.toml"  # "identified" on a rig whose felts have 1.5x the resistivity
    plant.write_text('[plant]\npreset = "A"\nrho_el_ohm_m = 0.0045\n', encoding="utf-8")
    assert main(["run", LLZO, "--sim", "--plant", str(plant), "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "warning: cold resistance" in out and "0.67 x the identified model's" in out and "still warm" in out


def test_report_recomputes_metrics_and_rewrites_the_plot(tmp_path: Path) -> None:
    assert main(["run", LLZO, "--runs-dir", str(tmp_path)]) == 0
    folder = next(tmp_path.iterdir())
    (folder / "plot.png").unlink()
    out = ufs("report", str(folder))
    assert out.returncode == 0, out.stderr
    assert "Ramp tracking RMS (M1)" in out.stdout
    assert (folder / "plot.png").stat().st_size > 10_000


def test_sigterm_during_a_real_time_run_ends_with_output_off(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        # Real time: at 10x a 25 ms pause of a loaded machine is a 0.25 s stall to the guardian's watchdog.
        [sys.executable, "-m", "ufs_control", "run", LLZO, "--speed", "1", "--runs-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(tmp_path.glob("*/samples.csv")):
        time.sleep(0.05)
    time.sleep(1.0)  # a second into the ramp
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stdout + stderr
    assert "aborted: SIGTERM received" in stdout
    folder = next(tmp_path.iterdir())
    record = json.loads((folder / "run.json").read_text())
    assert record["outcome"] == "aborted"
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    off = [e for e in events if e["type"] == "output_off"]
    assert off and off[-1]["confirmed"] is True
