"""``ufs felt`` and ``ufs run --learn`` at the command line: the trend table, the worn-felt warning at the
start of a run, and bad input in one line with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.test_learnstore_felt import fake_run, store, write_version
from ufs_control.app import open_session, prepare_run
from ufs_control.cli import main
from ufs_control.core.profile import load_profile
from ufs_control.core.rig import RigConfig

LLZO = str(Path(__file__).resolve().parents[1] / "profiles" / "llzo_membrane_1150C_20s.toml")


def test_felt_prints_the_trend_and_warns_of_a_worn_felt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i, cold in enumerate([4.00, 4.30, 4.70]):
        fake_run(tmp_path, f"2026010{i}-000000_llzo", cold, f"2026-01-0{i + 1}T00:00:00")
    assert main(["felt", "--runs-dir", str(tmp_path), "--plot", str(tmp_path / "felt.png")]) == 0
    out = capsys.readouterr().out
    assert "rig default-sim: 3 runs" in out
    assert "cold R   R@1150      a    T_c" in out
    assert "2026-01-03T00:00:00  20260102-000000_llzo" in out and "4.700" in out
    assert "WARNING: felt worn: cold resistance 4.700 ohm is +18%" in out
    assert (tmp_path / "felt.png").stat().st_size > 10_000


def test_a_run_on_a_new_felt_notes_it_and_learns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, "20000101-000000_llzo", 3.40, "2000-01-01T00:00:00")  # the simulated felt reads 4.05 ohm
    fake_run(tmp_path, "20000102-000000_llzo", 3.50, "2000-01-02T00:00:00")
    assert main(["run", LLZO, "--sim", "--learn", "--runs-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("WARNING") for line in lines)
    assert any(line.startswith("learning: no correction yet") for line in lines)
    assert any(line.startswith("note: felt replaced (cold resistance 4.054 ohm") for line in lines)
    assert any(line.startswith("learning: version 1 learned from this run") for line in lines)


def test_a_correction_learned_on_the_old_felt_is_said_not_to_have_been_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = str(tmp_path / "runs")
    for seed in ("1", "2"):
        assert main(["run", LLZO, "--sim", "--learn", "--seed", seed, "--runs-dir", runs]) == 0
    capsys.readouterr()
    new_felt = tmp_path / "felt.toml"  # a felt with 1.2x the resistivity: +19 % cold resistance
    new_felt.write_text('[plant]\npreset = "A"\nrho_el_ohm_m = 0.0036\n', encoding="utf-8")
    assert main(["run", LLZO, "--sim", "--learn", "--sim-plant", str(new_felt), "--runs-dir", runs]) == 0
    out = capsys.readouterr().out
    assert "learning: version 2 was not applied in this run: felt replaced (cold resistance +19%" in out
    assert "learning: version 3 learned from this run (run 1 of this correction" in out


def test_a_run_starts_with_the_worn_felt_warning(tmp_path: Path) -> None:
    for i, cold in enumerate([4.00, 4.35, 4.65]):
        fake_run(tmp_path, f"2000010{i}-000000_llzo", cold, f"2000-01-0{i + 1}T00:00:00")
    rig = RigConfig()
    session = open_session(rig, simulate=True, runs_dir=tmp_path, plot=False)
    try:
        companion = prepare_run(session, rig, load_profile(LLZO), tmp_path, learn=False, warn=pytest.fail)
    finally:
        session.close()
    assert companion.before == [
        "WARNING: felt worn: cold resistance 4.650 ohm is +16% from 4.000 ohm at its first run "
        "(20000100-000000_llzo), beyond felt.wear_fraction 15%: replace the felts"
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["felt", "--runs-dir", "/nonexistent/runs"], "error: /nonexistent/runs: --runs-dir: no such folder"),
        (["felt", "--sim"], "--sim: needs --rig RIG.toml"),
    ],
)
def test_bad_felt_input_is_one_line_and_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[controller]\nlearn_gain = 1.5\n", "controller.learn_gain: 1.5 is out of range: allowed 0 < value <= 1"),
        ("[controller]\nlearn = 1\n", "controller.learn: must be true or false, got 1"),
        (
            "[controller]\nlearn_gain = 0.2\nlearn_min_gain = 0.9\n",
            "controller.learn_min_gain: 0.9 is above learn_gain 0.2",
        ),
        ("[controller]\nlearn_noise_sigmas = 9\n", "controller.learn_noise_sigmas: 9 is out of range"),
        ("[felt]\nwear_fraction = 0\n", "felt.wear_fraction: 0 is out of range"),
        ("[felt]\nreplaced = 0.1\n", "felt.replaced: unknown setting"),
    ],
)
def test_bad_learning_and_felt_settings_are_one_line_and_exit_2(
    tmp_path: Path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(text)
    assert main(["check", LLZO, "--rig", str(rig)]) == 2
    err = capsys.readouterr().err
    assert f"{rig}: {fragment}" in err and err.count("\n") == 1


def test_a_damaged_learning_file_is_named_and_not_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = store(tmp_path)
    path = write_version(s)
    path.write_text("garbage")
    assert main(["run", LLZO, "--sim", "--learn", "--runs-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"warning: {path}: not valid JSON" in captured.err and "ignored, not used to heat" in captured.err
    assert "learning: no correction yet" in captured.out
    assert (s.folder / "v0002.json").is_file()  # learned afresh, after the damaged version's number


def test_a_run_without_learning_leaves_only_its_run_folder(tmp_path: Path) -> None:
    assert main(["run", LLZO, "--sim", "--runs-dir", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name != "learning"] == [p.name for p in tmp_path.iterdir()]
