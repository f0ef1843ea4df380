"""Profiles: validation with one-line errors, the planned curve, and a fuzzed loader."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ufs_control.core.errors import ProfileError
from ufs_control.core.profile import Cool, Hold, Ramp, load_profile, parse_profile, plan, setpoint_at

PROFILES = sorted(Path(__file__).resolve().parents[2].joinpath("profiles").glob("*.toml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profiles_load(path: Path) -> None:
    profile = load_profile(path)
    assert profile.segments
    assert plan(profile).duration_s > 0


def test_llzo_recipe_plan() -> None:
    p = plan(load_profile(Path("profiles/llzo_membrane_1150C_20s.toml")))
    ramp, hold, cool = p.segments
    assert isinstance(ramp.segment, Ramp) and ramp.duration_s == pytest.approx(1125 / 50)
    assert isinstance(hold.segment, Hold) and hold.duration_s == 20 and hold.start_c == 1150
    assert isinstance(cool.segment, Cool) and cool.start_c is None
    assert p.peak_c == 1150


def test_error_names_file_segment_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, '[[segment]]\ntype = "ramp"\ntarget_c = 900\nrate_c_per_s = -5\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == f"{path}: segment 1 (ramp): rate_c_per_s must be > 0, got -5"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "needs at least one [[segment]]"),
        ("[[segment]]\ntype = 'soak'\n", "type must be one of"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 900\n", "exactly one of rate_c_per_s or duration_s"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 900\nrate_c_per_s = 5\nduration_s = 3\n", "exactly one"),
        ("[[segment]]\ntype = 'hold'\n", "duration_s is required"),
        ("[[segment]]\ntype = 'hold'\nduration_s = 5\nmax_wait_s = 3\n", "max_wait_s needs holdback_k"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 'hot'\nrate_c_per_s = 5\n", "target_c must be a number"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 3000\nrate_c_per_s = 5\n", "target_c must be within"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 900\nrate_c_per_s = 5\nspeed = 1\n", "unknown field 'speed'"),
        ("max_temperature_c = 800\n[[segment]]\ntype = 'ramp'\ntarget_c = 900\nrate_c_per_s = 5\n", "above max"),
        ("[[segment]]\ntype = 'power'\npower_w = 900\nduration_s = 2\n", "power_w must be <= 840"),
        ("[[segment]]\ntype = 'cool'\n", "needs below_c or duration_s"),
        ("[[segment]]\ntype = 'cool'\ntarget_c = 500\n", "needs both target_c and rate_c_per_s"),
        (
            "[[segment]]\ntype = 'power'\npower_w = 10\nduration_s = 2\n[[segment]]\ntype = 'hold'\nduration_s = 2\n",
            "no setpoint to hold",
        ),
        ("end_action = 'explode'\n[[segment]]\ntype = 'hold'\nduration_s = 1\n", "end_action must be one of"),
        ("name = 3\n[[segment]]\ntype = 'hold'\nduration_s = 1\n", "name must be a string"),
        ("[[segment]]\ntype = 'ramp'\ntarget_c = 900\nrate_c_per_s = nan\n", "must be finite"),
        ("segment = [1, 2]\n", "segment 1: must be a table"),
        ("name = [\n", "invalid TOML"),
    ],
)
def test_invalid_profiles_give_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(str(path))
    assert "\n" not in message


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "absent.toml")
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProfileError):
        load_profile(binary)
    with pytest.raises(ProfileError, match="directory"):
        load_profile(tmp_path)


def test_rounded_corner_is_continuous_and_never_overshoots() -> None:
    laid = plan(load_profile(Path("profiles/llzo_membrane_1150C_20s.toml")))
    tau = laid.profile.corner_tau_s
    assert tau > 0
    end = laid.segments[0].end_s
    prev_sp = None
    prev_rate = None
    t = end - 3.0
    while t < end + 3.0:
        sp, rate = setpoint_at(laid, t)
        assert sp is not None and sp <= 1150.0
        if prev_sp is not None and prev_rate is not None:
            assert abs(sp - prev_sp) < 0.01 * 50 + 1e-6  # no jumps at 10 ms steps
            assert abs(rate - prev_rate) < 2.0  # slope continuous
            assert sp >= prev_sp - 1e-9  # monotonic approach
        prev_sp, prev_rate = sp, rate
        t += 0.01
    assert setpoint_at(laid, end + 6 * tau)[0] == pytest.approx(1150.0, abs=0.2)


def test_setpoint_is_none_when_output_off_and_after_the_end() -> None:
    laid = plan(load_profile(Path("profiles/llzo_membrane_1150C_20s.toml")))
    cool = laid.segments[2]
    assert setpoint_at(laid, cool.start_s + 1.0) == (None, 0.0)
    assert setpoint_at(laid, laid.duration_s + 1.0) == (None, 0.0)


def test_ramp_over_a_time_and_a_step() -> None:
    profile = parse_profile(
        {
            "segment": [
                {"type": "ramp", "target_c": 525, "duration_s": 10},
                {"type": "step", "target_c": 700},
                {"type": "hold", "duration_s": 5},
            ]
        }
    )
    laid = plan(profile, start_c=25.0)
    assert setpoint_at(laid, 5.0)[0] == pytest.approx(275.0)
    assert setpoint_at(laid, 10.5)[0] == pytest.approx(700.0)
    assert laid.duration_s == pytest.approx(15.0)


values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.none(),
)
keys = st.sampled_from(
    ["type", "target_c", "rate_c_per_s", "duration_s", "holdback_k", "max_wait_s", "power_w", "below_c", "junk"]
)
segment = st.dictionaries(keys, st.one_of(values, st.sampled_from(["ramp", "hold", "step", "power", "cool"])))
documents = st.fixed_dictionaries(
    {},
    optional={
        "name": values,
        "max_temperature_c": values,
        "end_action": st.one_of(values, st.just("hold")),
        "corner_tau_s": values,
        "segment": st.one_of(values, st.lists(st.one_of(segment, values), max_size=5)),
    },
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_fuzzed_documents_raise_only_profile_error(doc: dict[str, object]) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    try:
        profile = parse_profile(doc, "fuzz.toml")
    except ProfileError as exc:
        assert "\n" not in str(exc)
        return
    laid = plan(profile)
    assert math.isfinite(laid.duration_s)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_bytes_raise_only_profile_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "p.toml"
    path.write_bytes(data)
    try:
        load_profile(path)
    except ProfileError:
        pass


def test_toml_round_trip_of_shipped_recipe() -> None:
    path = Path("profiles/llzo_membrane_1150C_20s.toml")
    from_text = parse_profile(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
    assert from_text == load_profile(path)
