"""Campaigns end to end on real processes (a 3 × 3 sweep, SIGINT during run 4, restart continues at run 4), and
the catalogue, the methods paragraph and the ELN export on the run folders it leaves."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ufs_control.cli import main
from ufs_control.core.errors import ConfigError
from ufs_control.core.rig import RigConfig, load_rig
from ufs_control.runner.campaign import CampaignState, load_campaign, rig_identity, run_campaign
from ufs_control.runner.records import Outcome, RunResult

SHORT = """name = "short"
max_temperature_c = 1000
[[segment]]
type = "ramp"
target_c = 850
rate_c_per_s = 100
[[segment]]
type = "hold"
duration_s = 2
[[segment]]
type = "cool"
below_c = 700
"""
SWEEP = """operator = "ana"
[sweep]
template = "short.toml"
hold_c = [800, 850, 900]
hold_s = [12, 1, 2]
"""


def write_sweep(folder: Path, sweep: str = SWEEP) -> Path:
    (folder / "short.toml").write_text(SHORT, encoding="utf-8")
    path = folder / "sweep.toml"
    path.write_text(sweep, encoding="utf-8")
    return path


def ufs_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ufs_control", *args]


@dataclass
class Done:
    folder: Path
    first: subprocess.CompletedProcess[str]
    first_state: dict[str, Any]
    second: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Done:
    """Run the sweep, SIGINT it during run 4 (after its first progress line), then run the same command again."""
    folder = tmp_path_factory.mktemp("campaign")
    sweep = write_sweep(folder)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # In virtual time (no stall trips on a busy machine); run 4 holds 12 s, about a second of wall time after
    # its first progress line, so the signal lands inside it.
    proc = subprocess.Popen(
        ufs_cmd("campaign", str(sweep), "--sim", "--yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    in_run_4 = False
    for line in proc.stdout:
        lines.append(line)
        in_run_4 = in_run_4 or line.startswith("run 4 (")
        if in_run_4 and line.startswith("segment"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    first = subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, err)
    state = json.loads((folder / "sweep.campaign" / "state.json").read_text(encoding="utf-8"))
    second = subprocess.run(
        ufs_cmd("campaign", str(sweep), "--sim", "--yes"), capture_output=True, text=True, env=env, timeout=120
    )
    return Done(folder, first, state, second)


def test_sigint_during_run_4_stops_the_campaign_safely(done: Done) -> None:
    assert done.first.returncode == 1, done.first.stderr
    assert "continue at run 4" in done.first.stderr
    statuses = [r["status"] for r in done.first_state["runs"]]
    assert statuses == ["done"] * 3 + ["pending"] * 6
    run4 = done.first_state["runs"][3]
    assert run4["outcome"] == "aborted" and "SIGINT" in run4["reason"]
    record = json.loads((Path(run4["run_dir"]) / "run.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "aborted" and record["output_off_confirmed"] is True


def test_the_restart_continues_at_run_4_and_completes(done: Done) -> None:
    assert done.second.returncode == 0, done.second.stderr
    started = [
        line.split(" (")[0]
        for line in done.second.stdout.splitlines()
        if line.endswith(("_hold12", "_hold1", "_hold2"))
    ]
    assert started == [f"run {n}" for n in range(4, 10)], done.second.stdout
    assert "resuming: 3 of 9 runs done" in done.second.stdout
    campaign = done.folder / "sweep.campaign"
    with open(campaign / "summary.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample"], r["hold_c"], r["hold_s"], r["outcome"]) for r in rows] == [
        (f"S-{n:02d}", c, s, "finished") for n, (c, s) in enumerate(
            [(c, s) for c in ("800", "850", "900") for s in ("12", "1", "2")], 1)
    ]  # fmt: skip
    assert all(float(r["peak_c"]) > 780 for r in rows)
    assert (campaign / "overlay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((done.folder / "runs").glob("2*"))) == 10  # nine runs and the interrupted one


def test_the_catalogue_lists_the_campaign_runs(done: Done, capsys: pytest.CaptureFixture[str]) -> None:
    runs = str(done.folder / "runs")
    assert main(["runs", "--runs-dir", runs]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "10 runs"
    out_csv = done.folder / "aborted.csv"
    assert main(["runs", "--runs-dir", runs, "--outcome", "aborted", "--sample", "S-0[4]", "--csv", str(out_csv)]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "1 run"
    with open(out_csv, encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["sample_id"] == "S-04" and row["outcome"] == "aborted" and row["energy_j"] != ""
    (done.folder / "runs" / ".ufs-index.sqlite").unlink()  # the index is rebuilt from the folders
    assert main(["runs", "--runs-dir", runs, "--profile", "short_hold900_hold2"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 run"
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "--runs-dir", runs, "--since", "yesterday"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--since" in err and "'yesterday'" in err and len(err.strip().splitlines()) == 1


def test_methods_paragraph_from_a_run_and_from_the_series(done: Done, capsys: pytest.CaptureFixture[str]) -> None:
    run4 = Path(done.first_state["runs"][0]["run_dir"])
    record = json.loads((run4 / "run.json").read_text(encoding="utf-8"))
    assert main(["report", str(run4), "--methods"]) == 0
    text = capsys.readouterr().out
    assert f"The peak pyrometer reading was {record['metrics']['peak_c']:.0f} °C." in text
    assert f"{record['metrics']['ramp_rate_c_per_s']:.1f} °C/s" in text
    assert "simulator, not from a physical sample" in text
    assert "argon" not in text and "ppm" not in text  # not described, so not claimed
    assert "two-colour" not in text and "(simulated) pyrometer aimed at the felt" in text  # the recorded head
    assert "sample was held" not in text and "During the hold the pyrometer read" in text
    assert "leaving out the hold's first 2 s" in text
    rig = done.folder / "rig.toml"
    rig.write_text('[rig]\natmosphere = "argon glovebox"\no2_ppm = 0.4\npyrometer_model = "Maurer KTRD 4085-1"\n')
    assert main(["report", str(done.folder / "sweep.campaign"), "--methods", "--rig", str(rig)]) == 0
    text = capsys.readouterr().out
    assert "The series comprised 9 runs, 9 of which completed their profile; they used 9 different profiles" in text
    assert "in an atmosphere of: argon glovebox (O₂ 0.4 ppm)" in text and "with a Maurer KTRD 4085-1 pyrometer" in text
    assert "±" not in text.split("The series comprised")[1].split("stayed within")[0]  # no mean over settings
    first = done.first_state["runs"][:3]
    peaks = [json.loads((Path(e["run_dir"]) / "run.json").read_text())["metrics"]["peak_c"] for e in first]
    assert "The peak pyrometer reading was " in text and "samples were held" not in text
    holds = text.split("During the hold the pyrometer read ")[1].split(" on the felt surface")[0]
    low, high = (float(v) for v in holds.removesuffix(" °C").split("–"))
    assert low < 820 and high > 880 and min(peaks) > 780  # the range spans the swept 800 … 900 °C


def test_eln_export_is_an_ro_crate(done: Done, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = Path(done.first_state["runs"][1]["run_dir"])
    out = tmp_path / "run.eln"
    assert main(["export", str(run_dir), "--format", "eln", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert {n.split("/")[0] for n in names} == {"run"}  # exactly one root folder
        meta = json.loads(zf.read("run/ro-crate-metadata.json"))
        contents = {n.removeprefix("run/"): zf.read(n) for n in names}
    assert meta["@context"] == "https://w3id.org/ro/crate/1.1/context"
    graph = {e["@id"]: e for e in meta["@graph"]}
    assert len(graph) == len(meta["@graph"])  # flat, unique ids
    descriptor = graph["ro-crate-metadata.json"]
    assert descriptor["about"] == {"@id": "./"} and descriptor["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    root = graph["./"]
    assert root["@type"] == "Dataset" and root["name"] and root["datePublished"]
    (part,) = root["hasPart"]
    dataset = graph[part["@id"]]
    assert dataset["@type"] == "Dataset" and dataset["dateCreated"]
    assert graph[dataset["author"]["@id"]] == {"@id": "#person-ana", "@type": "Person", "name": "ana"}
    assert graph[dataset["about"]["@id"]]["identifier"] == "S-02"
    files = [graph[f["@id"]] for f in dataset["hasPart"]]
    assert {f["name"] for f in files} == {"run.json", "samples.csv", "events.jsonl", "plot.png"}
    for f in files:  # every file is in the archive with the size and hash the metadata give
        data = contents[f["@id"].removeprefix("./")]
        assert f["@type"] == "File" and f["contentSize"] == str(len(data))
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
    values = {graph[v["@id"]]["propertyID"]: graph[v["@id"]] for v in dataset["variableMeasured"]}
    record = json.loads(contents[f"{part['@id'].removeprefix('./')}run.json"])
    assert values["peak_c"]["value"] == record["metrics"]["peak_c"] and values["peak_c"]["unitText"] == "°C"
    assert values["outcome"]["value"] == "finished"

    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["@id"]] if set(node) == {"@id"} else []
            return own + [r for v in node.values() for r in references(v)]
        return [r for v in node for r in references(v)] if isinstance(node, list) else []

    local = [r for r in references(meta["@graph"]) if not r.startswith("http")]
    assert all(r in graph for r in local)  # every reference resolves inside the crate


# --- without processes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sweep, field, words",
    [
        ('[sweep]\ntemplate = "short.toml"\nhold_c = [800, "hot"]\n', "sweep.hold_c", "'hot'"),
        ('[sweep]\ntemplate = "short.toml"\nhold_c = []\n', "sweep.hold_c", "non-empty"),
        ('[sweep]\ntemplate = "short.toml"\nhold_temp = [800]\n', "sweep.hold_temp", "unknown setting"),
        ('[sweep]\ntemplate = "short.toml"\n', "sweep", "sweeps nothing"),
        ('[sweep]\ntemplate = "missing.toml"\nhold_s = [1]\n', "sweep.template", "no such file"),
        ('[sweep]\ntemplate = "short.toml"\nhold_c = [1100]\n', "run 1 (S-01, hold_c=1100)", "above max_temperature_c"),
        ('[sweep]\ntemplate = "short.toml"\nrate_c_per_s = [2000]\n', "run 1 (S-01, rate_c_per_s=2000)", "infeasible"),
        ('[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2]\nsamples = ["A"]\n', "sweep.samples", "1 ids for 2"),
        ('[[sample]]\nid = "A"\nprofile = "short.toml"\ncolour = 1\n', "sample 1.colour", "unknown setting"),
        ('[[sample]]\nprofile = "short.toml"\n', "sample 1.id", "non-empty"),
        ('speed = 3\n[[sample]]\nid = "A"\nprofile = "short.toml"\n', "speed", "unknown setting"),
        ("name = 'x'\n", "", "either [[sample]] entries or a [sweep]"),
    ],
)
def test_bad_campaign_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sweep: str, field: str, words: str
) -> None:
    path = write_sweep(tmp_path, sweep)
    with pytest.raises(ConfigError) as info:
        load_campaign(path, RigConfig())
    assert info.value.field == field and words in info.value.message, str(info.value)
    assert main(["campaign", str(path), "--sim", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sweep.campaign").exists()  # nothing ran, nothing was written


def result(outcome: Outcome, run_dir: Path | None = None) -> RunResult:
    return RunResult(outcome, outcome.value, "short", "", "", 1.0, run_dir=run_dir)


def test_a_trip_waits_for_acknowledgement_and_an_abort_is_run_again(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2, 3]\n')
    campaign = load_campaign(path, RigConfig())
    state = CampaignState(campaign)
    outcomes = iter([Outcome.FINISHED, Outcome.TRIPPED, Outcome.ABORTED, Outcome.FINISHED])
    ran: list[int] = []

    def run_one(item: Any) -> RunResult:
        ran.append(item.index)
        return result(next(outcomes))

    def no_ack(item: Any, entry: dict[str, Any]) -> str | None:
        return None

    log: list[str] = []
    assert not run_campaign(state, run_one, ready=lambda i: True, acknowledge=no_ack, log=log.append)
    assert ran == [1, 2] and state.unacknowledged_trip() is not None and state.next_item() is None
    again = CampaignState(campaign)  # a restart reads the state: still waiting for the acknowledgement
    assert not run_campaign(again, run_one, ready=lambda i: True, acknowledge=no_ack, log=log.append)
    assert ran == [1, 2]
    assert not run_campaign(again, run_one, ready=lambda i: True, acknowledge=lambda i, e: "ana", log=log.append)
    assert ran == [1, 2, 3] and again.entry(campaign.items[2])["status"] == "pending"  # aborted: run again
    assert run_campaign(again, run_one, ready=lambda i: True, acknowledge=no_ack, log=log.append)
    assert ran == [1, 2, 3, 3] and again.entry(campaign.items[1])["acknowledged_by"] == "ana"
    assert "run 2 (S-02, hold_s=2): trip acknowledged by ana" in log


def test_a_changed_campaign_file_is_not_resumed(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2]\n')
    CampaignState(load_campaign(path, RigConfig())).save()
    path.write_text('[sweep]\ntemplate = "short.toml"\nhold_s = [1, 5]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="changed since this campaign started"):
        CampaignState(load_campaign(path, RigConfig()))


# --- where the state belongs, how it is read, how the campaign ends ------------------------------------

REAL_RIG = '[psu]\nresource = "TCPIP::192.0.2.1::9221::SOCKET"\n[pyrometer]\nurl = "socket://192.0.2.2:1"\n'


def test_a_simulated_campaign_is_not_done_on_the_real_rig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2]\n')
    state = CampaignState(load_campaign(path, RigConfig()), rig_identity(RigConfig(), True))
    for item in state.campaign.items:
        state.record(item, result(Outcome.FINISHED))
    rig = tmp_path / "realrig.toml"
    rig.write_text(REAL_RIG, encoding="utf-8")
    assert main(["campaign", str(path), "--rig", str(rig), "--yes"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {state.path}: "), err
    assert "simulated True then, False now" in err and "192.0.2.1" in err and "rig file content" in err
    assert "start a new campaign folder or delete" in err
    # the same rig file with another content is another rig too
    state.path.unlink()
    state = CampaignState(load_campaign(path, RigConfig()), rig_identity(load_rig(rig), False))
    state.record(state.campaign.items[0], result(Outcome.FINISHED))
    rig.write_text(REAL_RIG + "[wiring]\nmode = 'parallel'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="rig file content"):
        CampaignState(load_campaign(path, RigConfig()), rig_identity(load_rig(rig), False))


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"fingerprint": "x", "runs": [1, 2, 3]}', '"runs" must be a list of objects'),
        ('"just a string"', "a JSON object expected, got str"),
        ("[1, 2]", "a JSON object expected, got list"),
        ('{"runs": [{"status": "weird"}, {"status": "done"}]}', "run 1 has status 'weird'"),
        ('{"runs": []}', 'no "fingerprint"'),
        ("{not json", "unreadable campaign state"),
    ],
)
def test_a_malformed_state_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2]\n')
    state = tmp_path / "sweep.campaign" / "state.json"
    state.parent.mkdir()
    state.write_text(text, encoding="utf-8")
    assert main(["campaign", str(path), "--sim", "--yes"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {state}: "), err
    assert words in err and "changed since" not in err


def test_run_folders_are_found_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1]\n')
    run = tmp_path / "runs" / "20261202T000000_short"
    run.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "runs")
    state = CampaignState(load_campaign(path, RigConfig()), rig_identity(RigConfig(), True))
    state.record(state.campaign.items[0], result(Outcome.FINISHED, Path("20261202T000000_short")))
    assert state.entries[0]["run_dir"] == str(run)  # absolute, whatever the working directory
    state.entries[0]["run_dir"] = "../runs/20261202T000000_short"  # an older state: relative to the folder
    monkeypatch.chdir("/")
    ((_, summary),) = state.finished_runs()
    assert summary.run_dir == run


def fake_runs(monkeypatch: pytest.MonkeyPatch, *results: RunResult) -> list[str]:
    ran: list[str] = []
    queue = iter(results)

    def run(self: Any, profile: Any, **kw: Any) -> RunResult:
        ran.append(kw["sample_id"])
        return next(queue)

    monkeypatch.setattr("ufs_control.api.Rig.run", run)
    return ran


def test_the_end_message_tells_a_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2, 3]\n')
    tripped = RunResult(Outcome.TRIPPED, "felt open circuit", "short", "", "", 1.0)
    ran = fake_runs(monkeypatch, tripped, result(Outcome.FINISHED), result(Outcome.FINISHED))
    assert main(["campaign", str(path), "--sim", "--yes"]) == 1
    out = capsys.readouterr().out
    assert "campaign sweep stopped after run 1 (S-01, hold_s=1) tripped: felt open circuit" in out, out
    assert main(["campaign", str(path), "--sim", "--yes", "--acknowledge", "ana"]) == 1
    out = capsys.readouterr().out
    assert ran == ["S-01", "S-02", "S-03"]
    assert "campaign sweep ended: 2 finished, 1 tripped of 3 runs" in out and "complete" not in out, out


def test_an_unconfirmed_output_off_stops_the_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(tmp_path, '[sweep]\ntemplate = "short.toml"\nhold_s = [1, 2]\n')
    unconfirmed = RunResult(Outcome.FINISHED, "done", "short", "", "", 1.0, output_off_confirmed=False)
    ran = fake_runs(monkeypatch, unconfirmed, result(Outcome.FINISHED))
    assert main(["campaign", str(path), "--sim", "--yes"]) == 1
    captured = capsys.readouterr()
    assert ran == ["S-01"]  # the next sample did not follow
    assert "WARNING: the supply did not confirm OUTPUT OFF. Switch it off at its front panel now" in captured.err
    assert "stopped after the supply did not confirm OUTPUT OFF" in captured.out


def test_a_swept_profile_describes_its_own_settings(tmp_path: Path) -> None:
    (tmp_path / "short.toml").write_text(
        SHORT.replace('name = "short"', 'name = "short"\ndescription = "~100 °C/s to 850 °C, hold 2 s"')
    )
    path = tmp_path / "sweep.toml"
    path.write_text('[sweep]\ntemplate = "short.toml"\nhold_c = [800]\nhold_s = [10]\n', encoding="utf-8")
    (item,) = load_campaign(path, RigConfig()).items
    assert item.profile.description == "sweep of short: hold_c = 800, hold_s = 10"


def test_a_csv_that_cannot_be_written_fails_before_the_table(done: Done, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--runs-dir", str(done.folder / "runs"), "--csv", "/nonexistent/x.csv"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: /nonexistent/x.csv: --csv: cannot write")


def test_an_export_onto_a_folder_leaves_nothing_behind(
    done: Done, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = Path(done.first_state["runs"][1]["run_dir"])
    target = tmp_path / "existing_dir"
    target.mkdir()
    assert main(["export", str(run_dir), "--format", "eln", "-o", str(target)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing_dir"]
