"""Reading a run folder back: a half-written last sample row is skipped and said so; run.json with anything
in it still gives the report what it can, and names what it could not use."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ufs_control.core.profile import Plan
from ufs_control.runner.records import RunRecorder, Sample, read_samples
from ufs_control.runner.report import RunRecord, read_run_record

LLZO_TOML = Path(__file__).resolve().parents[2] / "profiles" / "llzo_membrane_1150C_20s.toml"


def sample(i: int) -> Sample:
    temperature = 600.0 + 1.5 * i if i % 3 else None
    return Sample(
        t_s=i / 20,  # exact in the 4 decimals the writer keeps
        profile_t_s=i / 20,
        setpoint_c=650.0 + i,
        temperature_c=temperature,
        pyrometer_status="OK" if temperature is not None else "BELOW_RANGE",
        power_w=100.0 + i,
        voltage_set_v=20.0,
        current_set_a=5.0,
        voltage_v=19.9,
        current_a=4.9876,
        resistance_ohm=4.0,
        ff_w=90.0,
        p_w=5.0,
        i_w=5.0,
        segment="1 (ramp)",
        state="running",
        loop="closed",
        engaged=bool(i % 2),
        segment_index=1,
        segment_kind="ramp",
        target_c=1150.0,
        k_ff=1.0125,
    )


def write_run(runs: Path, n: int) -> Path:
    recorder = RunRecorder(runs, "t", datetime(2026, 1, 2, tzinfo=UTC))
    for i in range(n):
        recorder.sample(sample(i))
    recorder.close()
    return recorder.dir


def test_a_complete_file_reads_back_exactly_and_says_nothing(tmp_path: Path) -> None:
    folder = write_run(tmp_path, 5)
    notes: list[str] = []
    assert read_samples(folder, notes) == [sample(i) for i in range(5)]
    assert notes == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_last_row_cut_anywhere_is_skipped_with_one_note(tmp_path: Path, data: st.DataObject) -> None:
    folder = write_run(tmp_path / data.draw(st.uuids()).hex, 4)
    path = folder / "samples.csv"
    raw = path.read_bytes()
    last_row = len(raw.rstrip(b"\r\n").split(b"\n")[-1]) + 2
    cut = data.draw(st.integers(1, last_row - 1), label="bytes cut off the last row")
    path.write_bytes(raw[:-cut])
    notes: list[str] = []
    assert read_samples(folder, notes) == [sample(i) for i in range(3)]
    assert notes == [f"{path}: skipped line 5, a half-written last row (the run was cut off while writing it)"]


def test_a_half_written_header_leaves_no_samples_and_says_so(tmp_path: Path) -> None:
    folder = write_run(tmp_path, 0)
    path = folder / "samples.csv"
    path.write_bytes(path.read_bytes()[:30])
    notes: list[str] = []
    assert read_samples(folder, notes) == []
    assert notes == [f"{path}: skipped line 1, a half-written header (the run was cut off while writing it)"]


def test_without_a_notes_list_the_cut_row_is_skipped_silently(tmp_path: Path) -> None:
    folder = write_run(tmp_path, 3)
    path = folder / "samples.csv"
    path.write_bytes(path.read_bytes()[:-7])
    assert read_samples(folder) == [sample(0), sample(1)]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda rows: [*rows[:2], b"1,2,3\r\n", *rows[2:]], "line 3: 3 fields, expected 24"),
        (lambda rows: [*rows[:2], rows[2].replace(b",running,", b",\xff\xfe,"), *rows[3:]], "line 3: not UTF-8 text"),
        (
            lambda rows: [*rows[:1], rows[1].replace(b"0,0,650,", b"0,0,hot,", 1), *rows[2:]],
            "line 2: setpoint_c: expected a number, got 'hot'$",
        ),
        (lambda rows: [rows[0].replace(b"t_s,", b"time,"), *rows[1:]], "line 1: no column 't_s'"),
    ],
)
def test_damage_before_the_last_row_is_an_error_naming_the_line(
    tmp_path: Path, damage: Callable[[list[bytes]], list[bytes]], message: str
) -> None:
    folder = write_run(tmp_path, 4)
    path = folder / "samples.csv"
    rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(damage(rows)))
    with pytest.raises(ValueError, match="^" + message):
        read_samples(folder)


def record(tmp_path: Path, text: str | bytes) -> RunRecord:
    path = tmp_path / "run.json"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return read_run_record(tmp_path)


def test_a_good_record_gives_outcome_reason_plan_and_pyrometer_range(tmp_path: Path) -> None:
    good = {
        "outcome": "finished",
        "reason": "profile completed",
        "profile_toml": LLZO_TOML.read_text(),
        "rig": {"pyrometer": {"range_c": [550.0, 2000.0]}},
    }
    got = record(tmp_path, json.dumps(good))
    assert (got.outcome, got.reason, got.pyrometer_low_c, got.problems) == ("finished", "profile completed", 550.0, ())
    assert isinstance(got.plan, Plan) and got.plan.peak_c == 1150.0


@pytest.mark.parametrize(
    "text, problems",
    [
        ('{"rig": {"pyrometer": {"range_c": "x"}}}', ["rig.pyrometer.range_c: expected [low, high] in °C, got 'x'"]),
        (
            '{"rig": {"pyrometer": {"range_c": [NaN, 2000]}}}',
            ["rig.pyrometer.range_c: expected [low, high] in °C, got [nan, 2000]"],
        ),
        ('{"rig": {"pyrometer": null}}', ["rig.pyrometer: expected an object, got null"]),
        ('{"rig": [1]}', ["rig: expected an object, got an array"]),
        (
            '{"outcome": 5, "reason": ["a"]}',
            ["outcome: expected a string, got 5", "reason: expected a string, got ['a']"],
        ),
        ("[1, 2]", ["expected a JSON object, got an array"]),
        ('"finished"', ["expected a JSON object, got a string"]),
        ("{bad", ["not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"]),
        ("[" * 100_000, ["not valid JSON: nested too deeply"]),
        ('{"profile_toml": 7}', ["profile_toml: expected a string, got a number"]),
        ('{"profile_toml": "x = ' + "[" * 3000 + '"}', ["profile_toml: invalid TOML: nested deeper than 32 levels"]),
        (
            '{"profile_toml": "[[segment]]\\ntype = \\"ramp\\"\\n"}',
            ["profile_toml: segment 1 (ramp): target_c is required"],
        ),
    ],
)
def test_a_record_with_wrong_content_names_each_problem_and_keeps_the_defaults(
    tmp_path: Path, text: str, problems: list[str]
) -> None:
    got = record(tmp_path, text)
    assert list(got.problems) == problems
    assert got.pyrometer_low_c == 600.0 and got.plan is None
    assert got.outcome == "?" and got.reason == ""


def test_binary_junk_and_a_missing_record_are_named(tmp_path: Path) -> None:
    assert record(tmp_path, bytes(range(256)) * 8).problems == ("not a text file",)
    (tmp_path / "run.json").unlink()
    assert read_run_record(tmp_path).problems == ("no such file",)


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda c: (
            st.lists(c)
            | st.dictionaries(
                st.sampled_from(["rig", "pyrometer", "range_c", "outcome", "reason", "profile_toml", "x"]), c
            )
        ),
        max_leaves=20,
    )
)
def test_any_json_value_gives_a_record(tmp_path_factory: pytest.TempPathFactory, value: object) -> None:
    folder = tmp_path_factory.mktemp("r")
    (folder / "run.json").write_text(json.dumps(value))
    got = read_run_record(folder)
    assert isinstance(got.outcome, str) and isinstance(got.pyrometer_low_c, float)
    assert all("\n" not in p for p in got.problems)
