"""The public API: the README's example runs as written; built profiles fail like files; Ctrl-C ends a run
safely; the notify command gets the summary and cannot hurt a run; run folders load back."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ufs_control as ufs
from ufs_control.core.errors import ConfigError, ProfileError
from ufs_control.core.profile import load_profile, parse_profile
from ufs_control.core.rig import NotifyConfig, RigConfig
from ufs_control.core.tomlfile import parse_toml

ROOT = Path(__file__).resolve().parents[1]


def short_profile(name: str = "short_900C_2s") -> ufs.Profile:
    """About 15 simulated seconds: up to 900 °C, a 2 s hold, output off to 700 °C."""
    return ufs.build_profile(name, [ufs.ramp(900, rate_c_per_s=100), ufs.hold(2), ufs.cool(below_c=700)])


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(readme_block("Scripts and notebooks (Python API)"), scope)
    result = scope["result"]
    run = scope["run"]
    assert isinstance(result, ufs.RunResult) and isinstance(run, ufs.RunData)
    assert result.outcome is ufs.Outcome.FINISHED
    assert set(result.metrics) == set(run.record["metrics"])  # the same keys as run.json's metrics
    assert run.samples["temperature_c"].max() == pytest.approx(result.metrics["peak_c"], abs=0.06)
    assert len(run.samples) == run.record["samples"]
    # the built profile's TOML is kept, so the record holds it and `ufs report` can draw the plan
    assert parse_profile(parse_toml(run.record["profile_toml"], "x", ProfileError), "x").segments == (
        scope["custom"].segments  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize(
    "segments, toml",
    [
        ([ufs.ramp(1200), ufs.hold(10)], "[[segment]]\ntype='ramp'\ntarget_c=1200\n[[segment]]\ntype='hold'\n"
         "duration_s=10\n"),
        ([ufs.hold(10)], "[[segment]]\ntype='hold'\nduration_s=10\n"),
        ([ufs.ramp(3000, rate_c_per_s=50)], "[[segment]]\ntype='ramp'\ntarget_c=3000\nrate_c_per_s=50\n"),
        ([ufs.ramp(900, duration_s=-1)], "[[segment]]\ntype='ramp'\ntarget_c=900\nduration_s=-1\n"),
        ([ufs.ramp(900, rate_c_per_s=50), ufs.cool(target_c=950, rate_c_per_s=5)],
         "[[segment]]\ntype='ramp'\ntarget_c=900\nrate_c_per_s=50\n[[segment]]\ntype='cool'\ntarget_c=950\n"
         "rate_c_per_s=5\n"),
        ([{"type": "soak", "duration_s": 3}], "[[segment]]\ntype='soak'\nduration_s=3\n"),
        ([], ""),
    ],
)  # fmt: skip
def test_build_profile_fails_exactly_like_the_loader(tmp_path: Path, segments: list[object], toml: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f"name = 'p'\n{toml}", encoding="utf-8")
    with pytest.raises(ProfileError) as from_file:
        load_profile(path)
    with pytest.raises(ProfileError) as built:
        ufs.build_profile("p", segments)  # type: ignore[arg-type]
    assert (built.value.where, built.value.message) == (from_file.value.where, from_file.value.message)
    assert "\n" not in str(built.value) and str(built.value).startswith("build_profile('p')")


def test_every_shipped_profile_survives_a_round_trip_through_its_toml() -> None:
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        profile = load_profile(path)
        again = parse_profile(parse_toml(ufs.profile_toml(profile), "again", ProfileError), "again")
        assert again == profile.__class__(**{**profile.__dict__, "source": "again"}), path.name


def test_ctrl_c_ends_the_run_safely_and_raises(tmp_path: Path) -> None:
    def on_sample(sample: ufs.Sample) -> None:
        if sample.profile_t_s > 6.0 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # what a terminal's Ctrl-C or a notebook's interrupt sends

    sent: list[bool] = []
    before = signal.getsignal(signal.SIGINT)
    with ufs.open_rig(sim=True, plot=False) as rig, pytest.raises(ufs.RunInterrupted) as info:
        rig.run(short_profile(), runs_dir=tmp_path, on_sample=on_sample)
    assert isinstance(info.value, KeyboardInterrupt)
    result = info.value.result
    assert result.outcome is ufs.Outcome.ABORTED and "SIGINT" in result.reason
    assert result.output_off_confirmed
    assert result.run_dir is not None
    record = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "aborted" and record["output_off_confirmed"] is True
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "output_off" and e["confirmed"] for e in events)
    assert signal.getsignal(signal.SIGINT) is before  # the notebook's own handler is back


def test_a_keyboard_interrupt_raised_inside_the_loop_also_ends_the_run_with_the_output_off(tmp_path: Path) -> None:
    def on_sample(sample: ufs.Sample) -> None:
        if sample.profile_t_s > 6.0:
            raise KeyboardInterrupt

    with ufs.open_rig(sim=True, plot=False) as rig:
        result = rig.run(short_profile(), runs_dir=tmp_path, on_sample=on_sample)
    assert result.outcome is ufs.Outcome.ABORTED and result.output_off_confirmed


def test_notify_gets_the_summary_and_its_failure_never_touches_the_run(tmp_path: Path) -> None:
    out = tmp_path / "notified.jsonl"
    config = RigConfig(notify=NotifyConfig(command=f"cat >> '{out}'"))
    with ufs.open_rig(config, sim=True, plot=False) as rig:
        result = rig.run(short_profile(), operator="ana", sample_id="S-07", runs_dir=tmp_path / "runs")
    (summary,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["event"] == "run_end" and summary["outcome"] == "finished" and summary["sample_id"] == "S-07"
    assert summary["metrics"]["peak_c"] == result.metrics["peak_c"]
    assert summary["run_dir"] == str(result.run_dir)
    assert result.run_dir is not None
    assert json.loads((result.run_dir / "run.json").read_text())["rig"]["notify"]["command"] is None  # a token?

    warnings: list[str] = []
    failing = RigConfig(notify=NotifyConfig(command="echo no mail server >&2; exit 7"))
    rig = ufs.open_rig(failing, sim=True, plot=False)
    rig.log = warnings.append
    result = rig.run(short_profile(), runs_dir=tmp_path / "runs")
    assert result.outcome is ufs.Outcome.FINISHED
    assert warnings == ["notify command failed: exit status 7: no mail server"]
    assert result.run_dir is not None
    last = json.loads((result.run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "notify_failed" and "exit status 7" in last["message"]


def test_a_tripped_run_notifies_a_trip(tmp_path: Path) -> None:
    out = tmp_path / "notified.jsonl"
    config = RigConfig(notify=NotifyConfig(command=f"cat >> '{out}'"))
    with ufs.open_rig(config, sim=True, plot=False, faults=["felt-open@8"]) as rig:
        result = rig.run(short_profile(), runs_dir=tmp_path / "runs")
    assert result.outcome is ufs.Outcome.TRIPPED
    summary = json.loads(out.read_text())
    assert summary["event"] == "trip" and summary["trip"] == result.trip_name


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only apply to the simulator"):
        ufs.open_rig(RigConfig(psu=RigConfig().psu.__class__(resource="TCPIP::x::9221::SOCKET")), faults=["x@1"])
    with pytest.raises(ConfigError, match="faults"):
        ufs.open_rig(sim=True, faults=["nonsense"])
    with pytest.raises(ConfigError, match="no such file"):
        ufs.open_rig(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"run\.json: no such file"):
        ufs.load_run(tmp_path)


def test_importing_the_package_loads_no_instruments_qt_or_pandas() -> None:
    code = (
        "import sys, ufs_control as ufs; ufs.load_profile; ufs.build_profile;"
        "heavy = [m for m in ('pandas', 'PySide6', 'pyvisa', 'serial', 'drivers', 'sim', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_rig_run_takes_the_learning_path_of_ufs_run(tmp_path: Path) -> None:
    """`[controller] learn = true` in the rig is honoured by rig.run, as by `ufs run` (prepare_run)."""
    config = RigConfig(controller=dataclasses.replace(RigConfig().controller, learn=True))
    lines: list[str] = []
    rig = ufs.open_rig(config, sim=True, plot=False)
    rig.log = lines.append
    result = rig.run(short_profile(), runs_dir=tmp_path / "runs")
    assert result.run_dir is not None
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["learning"]["enabled"] is True
    assert any(line.startswith("learning: no correction yet") for line in lines), lines
    assert sum(line.startswith("learning:") for line in lines) == 2, lines  # before and after the run


def test_an_unconfirmed_output_off_warns_clearly(tmp_path: Path) -> None:
    lines: list[str] = []
    rig = ufs.open_rig(sim=True, plot=False, faults=["psu-no-reply@3"])
    rig.log = lines.append
    with pytest.warns(ufs.OutputNotConfirmedWarning, match="Switch it off at its front panel now"):
        result = rig.run(short_profile(), runs_dir=tmp_path / "runs")
    assert result.output_off_confirmed is False
    assert any(line.startswith("WARNING: the supply did not confirm OUTPUT OFF") for line in lines), lines


def test_the_sweep_example_stops_at_a_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import sweep
    finally:
        sys.path.remove(str(ROOT / "examples"))
    real_open = ufs.open_rig
    monkeypatch.setattr(ufs, "open_rig", lambda **kw: real_open(**kw, faults=["felt-open@3"], plot=False))
    results = sweep.main(["--hold-c", "900", "950", "--hold-s", "2", "--runs-dir", str(tmp_path / "runs")])
    assert [r.outcome for r in results] == [ufs.Outcome.TRIPPED]  # the second sample never heated
