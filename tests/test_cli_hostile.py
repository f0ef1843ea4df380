"""Hostile input at the command line: one line on stderr, exit 2, never a traceback; a damaged run folder
still gives a report (with one line saying what was left out) or one clear error line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ufs_control.cli import main

ROOT = Path(__file__).resolve().parents[1]
LLZO = str(ROOT / "profiles" / "llzo_membrane_1150C_20s.toml")
DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def ufs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ufs_control", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


# --- TOML nested 5000 deep, oversized profiles -------------------------------------------------------


def test_a_deeply_nested_profile_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP)
    assert one_error_line(ufs("check", str(path))) == f"error: {path}: invalid TOML: nested deeper than 32 levels"


def test_a_deeply_nested_rig_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text("[limits]\n" + DEEP)
    out = ufs("check", LLZO, "--rig", str(path))
    assert one_error_line(out) == f"error: {path}: invalid TOML: nested deeper than 32 levels"
    assert out.stdout == ""


def test_a_deeply_nested_plant_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plant.toml"
    path.write_text(DEEP)
    out = ufs("sim-server", "--plant", str(path), "--psu-port", "0", "--pyrometer-port", "0")
    assert one_error_line(out) == f"error: {path}: invalid TOML: nested deeper than 32 levels"
    assert out.stdout == ""


def test_a_profile_with_too_many_segments_says_so(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text('[[segment]]\ntype = "step"\ntarget_c = 900\n' * 1500)
    assert one_error_line(ufs("check", str(path))) == f"error: {path}: has 1500 segments, more than the 1000 allowed"


def test_an_oversized_profile_says_so(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("#" * 1_000_001)
    assert one_error_line(ufs("run", str(path))) == f"error: {path}: too large: more than 1,000,000 bytes"


# --- rig limits at the command line --------------------------------------------------------------------


def test_a_rig_limit_out_of_range_is_one_line_naming_file_key_value_and_range(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text("[limits]\nmax_temperature_c = 5000\nover_setpoint_margin_k = 1e9\n")
    out = ufs("check", LLZO, "--rig", str(path))
    assert one_error_line(out) == (
        f"error: {path}: limits.max_temperature_c: 5000 is out of range: "
        "allowed 600 < value <= 2000 (the pyrometer's upper range)"
    )
    assert "feasible" not in out.stdout


def test_check_calls_a_profile_above_the_rig_limit_infeasible(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text("[limits]\nmax_temperature_c = 1100\n")
    out = ufs("check", LLZO, "--rig", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"error: {LLZO}: segment 1 (ramp): 1150 °C is above the rig limit 1100 °C" in out.stdout
    assert "infeasible on this rig" in out.stdout


# --- numeric options of every subcommand ---------------------------------------------------------------

ABSURD = [
    (["run", LLZO, "--speed", "inf"], "--speed: inf is out of range: allowed 0 <= value <= 100"),
    (["run", LLZO, "--speed", "nan"], "--speed: nan is out of range: allowed 0 <= value <= 100 (not a number)"),
    (["run", LLZO, "--speed", "-1"], "--speed: -1 is out of range: allowed 0 <= value <= 100 (0 runs as fast"),
    (["run", LLZO, "--speed", "1e400"], "--speed: inf is out of range"),
    (["run", LLZO, "--speed", "fast"], "--speed: expected a number, got 'fast'"),
    (["run", LLZO, "--seed", "-1"], "--seed: -1 is out of range: allowed 0 <= value <= 4294967295"),
    (["run", LLZO, "--seed", "9" * 40], "--seed: 999999999999...(40 digits) is out of range"),
    (["run", LLZO, "--seed", "1.5"], "--seed: expected an integer, got '1.5'"),
    (["run", LLZO, "--fault", "felt-open@" + "9" * 400], "--fault: fault time inf is out of range"),
    (["run", LLZO, "--psu-channel", "0"], "--psu-channel: invalid choice: 0"),
    (["gui", "--speed", "inf"], "--speed: inf is out of range"),
    (["gui", "--screenshot-at", "nan"], "--screenshot-at: nan is out of range: allowed 0 <= value <= 172800"),
    (["gui", "--screenshot-at", "-3"], "--screenshot-at: -3 is out of range"),
    (["sim-server", "--speed", "inf"], "--speed: inf is out of range"),
    (["sim-server", "--psu-port", "70000"], "--psu-port: 70000 is out of range: allowed 0 <= value <= 65535"),
    (["sim-server", "--pyrometer-port", "-1"], "--pyrometer-port: -1 is out of range"),
    (["bench", "--plants", "0"], "--plants: 0 is out of range: allowed 1 <= value <= 1000"),
    (["bench", "--plants", "1000000000"], "--plants: 1000000000 is out of range"),
    (["bench", "--jobs", "-5"], "--jobs: -5 is out of range: allowed 1 <= value <= 256"),
    (["bench", "--jobs", "100000"], "--jobs: 100000 is out of range"),
    (["bench", "--seed", "-7"], "--seed: -7 is out of range"),
    (["bench-gui", "--history-s", "inf"], "--history-s: inf is out of range: allowed 0 <= value <= 172800"),
    (["bench-gui", "--history-s", "-1"], "--history-s: -1 is out of range"),
    (["bench-gui", "--tail-s", "1e300"], "--tail-s: 1e+300 is out of range: allowed 5 <= value <= 3600"),
    (["bench-gui", "--tail-s", "nan"], "--tail-s: nan is out of range"),
    (["bench-gui", "--pairs", "0"], "--pairs: 0 is out of range: allowed 1 <= value <= 100"),
    (["bench-gui", "--pairs", "10000000"], "--pairs: 10000000 is out of range"),
]


@pytest.mark.parametrize("args, fragment", ABSURD)
def test_an_absurd_option_value_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: ufs {args[0]}: argument ")
    assert fragment in lines[0]
    assert captured.out == ""


def test_speed_inf_as_the_user_sees_it() -> None:
    line = one_error_line(ufs("run", LLZO, "--speed", "inf"))
    assert line == (
        "error: ufs run: argument --speed: inf is out of range: allowed 0 <= value <= 100 "
        "(the simulated instruments keep up to about 100x real time; 0 runs as fast as possible)"
    )


# --- ufs report on damaged run folders -----------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    assert main(["run", LLZO, "--runs-dir", str(runs)]) == 0
    return next(runs.iterdir())


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / finished_run.name))


def report_with_one_warning(folder: Path) -> str:
    (folder / "plot.png").unlink()
    out = ufs("report", str(folder))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout.startswith(f"run {folder.name}: ")
    assert "Peak temperature" in out.stdout and f"plot: {folder / 'plot.png'}" in out.stdout
    assert (folder / "plot.png").stat().st_size > 10_000
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize(
    "content, problem",
    [
        ({"rig": {"pyrometer": {"range_c": "x"}}}, "rig.pyrometer.range_c: expected [low, high] in °C, got 'x'"),
        ({"outcome": 5}, "outcome: expected a string, got 5"),
        ([1, 2, 3], "expected a JSON object, got an array"),
    ],
)
def test_report_on_a_run_json_with_wrong_types(run_copy: Path, content: object, problem: str) -> None:
    (run_copy / "run.json").write_text(json.dumps(content))
    line = report_with_one_warning(run_copy)
    assert line == f"warning: {run_copy / 'run.json'}: {problem} (left out of the report)"


def test_report_on_a_run_json_that_is_not_json(run_copy: Path) -> None:
    (run_copy / "run.json").write_text('{"outcome": "finished", ')
    line = report_with_one_warning(run_copy)
    assert line.startswith(f"warning: {run_copy / 'run.json'}: not valid JSON: Expecting property name")


def test_report_on_a_run_json_of_binary_junk(run_copy: Path) -> None:
    (run_copy / "run.json").write_bytes(bytes(range(256)) * 16)
    line = report_with_one_warning(run_copy)
    assert line == f"warning: {run_copy / 'run.json'}: not a text file (left out of the report)"


def test_report_keeps_the_record_when_it_is_fine(run_copy: Path) -> None:
    out = ufs("report", str(run_copy))
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith(f"run {run_copy.name}: finished: profile completed\n")


def test_report_skips_a_half_written_last_sample_row_and_says_so(run_copy: Path) -> None:
    path = run_copy / "samples.csv"
    raw = path.read_bytes()
    n_lines = raw.count(b"\n")
    path.write_bytes(raw[:-9])  # killed mid-row: the last row lost its end
    line = report_with_one_warning(run_copy)
    assert line == (
        f"warning: {path}: skipped line {n_lines}, a half-written last row (the run was cut off while writing it)"
    )


def test_report_on_samples_damaged_mid_file_is_one_error_line(run_copy: Path) -> None:
    path = run_copy / "samples.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[10] = b"garbage\r\n"
    path.write_bytes(b"".join(lines))
    assert one_error_line(ufs("report", str(run_copy))) == (
        f"error: {path}: unreadable: line 11: 1 fields, expected {len(lines[0].split(b','))}"
    )
