"""The run store lists what the run folders say, keeps its index in step with them, and rebuilds it."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime
from pathlib import Path

from ufs_control.runner.runstore import INDEX_NAME, RunFilter, RunStore, parse_since, summarize


def write_run(
    root: Path,
    name: str,
    *,
    started: str = "2026-11-01T10:00:00+00:00",
    sample: str = "S-01",
    profile: str = "llzo",
    outcome: str = "finished",
    peak: float = 1151.0,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    record = {
        "started_utc": started,
        "operator": "ana",
        "sample_id": sample,
        "profile": {"name": profile},
        "outcome": outcome,
        "reason": "profile completed" if outcome == "finished" else "felt open circuit",
        "trip": {"name": "felt_open"} if outcome == "tripped" else None,
        "metrics": {"peak_c": peak, "ramp_rate_c_per_s": 49.9, "handover_t_s": None, "flag": True},
    }
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "samples.csv").write_text("t_s\n", encoding="utf-8")
    return folder


def test_a_run_is_summarised_from_its_record(tmp_path: Path) -> None:
    s = summarize(write_run(tmp_path, "r1", outcome="tripped"))
    assert (s.name, s.operator, s.sample_id, s.profile, s.outcome, s.trip) == (
        "r1",
        "ana",
        "S-01",
        "llzo",
        "tripped",
        "felt_open",
    )
    assert s.metrics == {"peak_c": 1151.0, "ramp_rate_c_per_s": 49.9}  # no None, no booleans
    assert s.metric("handover_t_s") is None and s.problems == ()


def test_a_damaged_record_is_listed_with_its_problem(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "samples.csv").write_text("t_s\n", encoding="utf-8")
    (folder / "run.json").write_text("{not json", encoding="utf-8")
    (only,) = RunStore(tmp_path).runs()
    assert only.outcome == "?" and only.problems and "not valid JSON" in only.problems[0]


def test_runs_are_listed_newest_first_and_filtered(tmp_path: Path) -> None:
    write_run(tmp_path, "a", started="2026-10-01T09:00:00+00:00", sample="S-01")
    write_run(tmp_path, "b", started="2026-11-02T09:00:00+00:00", sample="S-02", outcome="tripped")
    write_run(tmp_path, "c", started="2026-11-03T09:00:00+00:00", sample="T-01", profile="slow")
    (tmp_path / "not-a-run").mkdir()
    store = RunStore(tmp_path)
    assert [r.name for r in store.runs()] == ["c", "b", "a"]
    assert [r.name for r in store.runs(RunFilter(since=date(2026, 11, 1)))] == ["c", "b"]
    assert [r.name for r in store.runs(RunFilter(sample_glob="S-*"))] == ["b", "a"]
    assert [r.name for r in store.runs(RunFilter(outcome="tripped"))] == ["b"]
    assert [r.name for r in store.runs(RunFilter(profile="slow"))] == ["c"]
    assert parse_since("2026-11-01") == date(2026, 11, 1)


def test_since_with_a_time_compares_the_time(tmp_path: Path) -> None:
    write_run(tmp_path, "early", started="2026-11-02T06:47:49+00:00")
    write_run(tmp_path, "late", started="2026-11-02T06:47:50+00:00")
    store = RunStore(tmp_path)
    assert parse_since("2026-11-02T06:47:50") == datetime(2026, 11, 2, 6, 47, 50)
    assert parse_since("2026-11-02T08:47:50+02:00") == datetime(2026, 11, 2, 6, 47, 50)  # UTC
    assert [r.name for r in store.runs(RunFilter(since=parse_since("2026-11-02T06:47:50")))] == ["late"]
    assert [r.name for r in store.runs(RunFilter(since=parse_since("2026-11-02")))] == ["late", "early"]


def test_the_index_follows_the_folders(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    write_run(tmp_path, "a", peak=1100.0)
    assert [r.metric("peak_c") for r in store.runs()] == [1100.0]
    assert (tmp_path / INDEX_NAME).is_file()
    folder = tmp_path / "a"
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    record["metrics"]["peak_c"] = 1200.5  # rewritten, e.g. by the end of a run that was under way
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    st = os.stat(folder / "run.json")
    os.utime(folder / "run.json", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    write_run(tmp_path, "b", started="2026-11-02T00:00:00+00:00")
    assert [(r.name, r.metric("peak_c")) for r in store.runs()] == [("b", 1151.0), ("a", 1200.5)]
    shutil.rmtree(tmp_path / "b")
    assert [r.name for r in store.runs()] == ["a"]


def test_a_corrupt_or_missing_index_is_rebuilt_from_the_folders(tmp_path: Path) -> None:
    write_run(tmp_path, "a")
    write_run(tmp_path, "b", started="2026-11-02T00:00:00+00:00")
    store = RunStore(tmp_path)
    assert len(store.runs()) == 2
    (tmp_path / INDEX_NAME).write_bytes(b"this is not a database" * 100)
    fresh = RunStore(tmp_path)
    assert [r.name for r in fresh.runs()] == ["b", "a"] and fresh.rebuilt
    (tmp_path / INDEX_NAME).unlink()
    assert [r.name for r in RunStore(tmp_path).runs()] == ["b", "a"]
    assert (tmp_path / INDEX_NAME).is_file()


def test_an_index_that_cannot_be_written_is_kept_in_memory(tmp_path: Path) -> None:
    write_run(tmp_path, "a")
    (tmp_path / INDEX_NAME).mkdir()  # a directory where the index file should be: cannot be opened
    assert [r.name for r in RunStore(tmp_path).runs()] == ["a"]
