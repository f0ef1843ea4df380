"""Limits have limits: every numeric rig setting has an allowed range with a reason, and a value outside it is
refused with one line naming the file, the key, the value and the range."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ufs_control.core.bounds import Range
from ufs_control.core.errors import ConfigError
from ufs_control.core.rig import (
    RIG_RANGES,
    ControllerConfig,
    FeltConfig,
    Limits,
    NotifyConfig,
    PsuConfig,
    PyrometerConfig,
    RigConfig,
    RigDescription,
    check_ranges,
    load_rig,
    parse_rig,
)

SECTIONS = {
    "psu": PsuConfig,
    "pyrometer": PyrometerConfig,
    "limits": Limits,
    "controller": ControllerConfig,
    "rig": RigDescription,
    "notify": NotifyConfig,
    "felt": FeltConfig,
}
NUMERIC = sorted(
    f"{section}.{f.name}"
    for section, cls in SECTIONS.items()
    for f in dataclasses.fields(cls)
    if "float" in str(f.type) or str(f.type) == "int"
)
STATIC = {key: r for key, r in RIG_RANGES.items() if isinstance(r, Range)}


def refused(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_rig(path)
    assert "\n" not in str(info.value)
    return info.value


def test_every_numeric_setting_has_a_range_and_nothing_else_does() -> None:
    assert sorted(RIG_RANGES) == NUMERIC


def test_the_defaults_and_the_example_lie_within_the_ranges() -> None:
    check_ranges(RigConfig())
    load_rig(Path("rig.example.toml"))


def test_the_example_documents_every_setting_and_the_new_defaults() -> None:
    text = Path("rig.example.toml").read_text()
    for key in RIG_RANGES:
        assert f"{key.split('.')[1]} = " in text, key
    assert "timeout_s = 0.2 " in text and "watchdog_s = 0.25 " in text
    assert PsuConfig().timeout_s == 0.2 and Limits().watchdog_s == 0.25


def test_a_temperature_limit_above_the_pyrometer_range_is_refused_in_one_line(tmp_path: Path) -> None:
    err = refused(tmp_path, "[limits]\nmax_temperature_c = 5000\n")
    assert str(err) == (
        f"{tmp_path / 'rig.toml'}: limits.max_temperature_c: 5000 is out of range: "
        "allowed 600 < value <= 2000 (the pyrometer's upper range)"
    )


def test_the_temperature_limit_never_exceeds_2500_c_whatever_the_pyrometer(tmp_path: Path) -> None:
    err = refused(tmp_path, "[pyrometer]\nrange_c = [300, 3000]\n[limits]\nmax_temperature_c = 2600\n")
    assert err.field == "limits.max_temperature_c"
    assert "allowed 300 < value <= 2500 (the controller's ceiling for any temperature, 2500 °C)" in err.message
    rig = parse_rig({"pyrometer": {"range_c": [300, 3000]}, "limits": {"max_temperature_c": 2500}})
    assert rig.limits.max_temperature_c == 2500


def test_a_temperature_limit_at_the_bottom_of_the_range_could_never_trip(tmp_path: Path) -> None:
    err = refused(tmp_path, "[limits]\nmax_temperature_c = 600\n")
    assert err.message.startswith("600 is out of range: allowed 600 < value <= 2000 (the pyrometer's lower range")


def test_the_slow_pyrometer_timeout_of_the_issue_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, "[pyrometer]\ntimeout_s = 100\n")
    assert err.field == "pyrometer.timeout_s"
    assert err.message.startswith("100 is out of range: allowed 0.01 <= value <= 0.8 (")


def test_margins_and_timeouts_of_1e9_are_refused(tmp_path: Path) -> None:
    for key in ("limits.over_setpoint_margin_k", "limits.tracking_band_k", "psu.timeout_s", "limits.loop_break_s"):
        section, name = key.split(".")
        err = refused(tmp_path, f"[{section}]\n{name} = 1e9\n")
        assert err.field == key and err.message.startswith("1e+09 is out of range: allowed ")


def test_the_supply_limits_are_the_cpx400dp_ratings(tmp_path: Path) -> None:
    assert "the CPX400DP's 60 V per output" in refused(tmp_path, "[limits]\nmax_voltage_v = 60.5\n").message
    assert "the CPX400DP's 20 A per output" in refused(tmp_path, "[limits]\nmax_current_a = 21\n").message
    err = refused(tmp_path, "[limits]\nmax_power_w = 421\n")
    assert err.message == (
        "421 is out of range: allowed 1 <= value <= 420 (the CPX400DP's 420 W per output, 1 output in use)"
    )
    err = refused(tmp_path, '[wiring]\nmode = "per_channel"\n[limits]\nmax_power_w = 841\n')
    assert "allowed 1 <= value <= 840 (the CPX400DP's 420 W per output, 2 outputs in use)" in err.message
    assert parse_rig({"wiring": {"mode": "per_channel"}, "limits": {"max_power_w": 840}}).limits.max_power_w == 840


def test_the_watchdog_is_at_least_three_control_periods_and_says_so(tmp_path: Path) -> None:
    err = refused(tmp_path, "[limits]\nwatchdog_s = 0.1\n")
    assert err.field == "limits.watchdog_s"
    assert err.message.startswith("0.1 is out of range: allowed 0.15 <= value <= 1 (3 control periods at ")
    assert "controller.loop_hz = 20 Hz" in err.message
    assert parse_rig({"limits": {"watchdog_s": 0.15}}).limits.watchdog_s == 0.15
    assert "(a stalled loop" in refused(tmp_path, "[limits]\nwatchdog_s = 1.5\n").message


def test_a_slow_loop_makes_the_default_watchdog_too_short_and_the_error_says_it_is_the_default(
    tmp_path: Path,
) -> None:
    err = refused(tmp_path, "[controller]\nloop_hz = 5\n")
    assert err.field == "limits.watchdog_s"
    assert err.message.startswith("0.25 (the default) is out of range: allowed 0.6 <= value <= 1 (3 control periods")
    assert "controller.loop_hz = 5 Hz" in err.message
    assert parse_rig({"controller": {"loop_hz": 5}, "limits": {"watchdog_s": 0.6}}).controller.loop_hz == 5


def test_hot_start_must_be_a_reading_the_pyrometer_can_give(tmp_path: Path) -> None:
    err = refused(tmp_path, "[limits]\nhot_start_c = -40\n")
    assert err.message.startswith("-40 is out of range: allowed 600 <= value <= 2000 (the pyrometer's range")


def test_pyrometer_range_ends_are_checked_before_what_depends_on_them(tmp_path: Path) -> None:
    err = refused(tmp_path, "[pyrometer]\nrange_c = [600, 4000]\n[limits]\nmax_temperature_c = 3800\n")
    assert err.field == "pyrometer.range_c"
    assert err.message.startswith("4000 is out of range: allowed 0 <= value <= 3500 (")


INT_KEYS = ["psu.channel", "pyrometer.address"]
FLOAT_KEYS = sorted(set(STATIC) - {*INT_KEYS, "pyrometer.range_c", "rig.felt_size_mm"})


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(st.sampled_from(FLOAT_KEYS), st.floats(-1e12, 1e12)),
        st.tuples(st.sampled_from(INT_KEYS), st.integers(-(10**6), 10**6)),
    )
)
def test_a_fixed_range_alone_decides_whether_a_value_is_accepted(case: tuple[str, float]) -> None:
    key, value = case
    section, name = key.split(".")
    # A watchdog of 1 s suits every allowed loop rate, so only the setting under test can be refused.
    data: dict[str, dict[str, object]] = {"limits": {"watchdog_s": 1.0}}
    data.setdefault(section, {})[name] = value
    # learn_min_gain may not exceed learn_gain: the other one is set so that only the one under test decides
    if key == "controller.learn_min_gain":
        data["controller"]["learn_gain"] = 1.0
    if key == "controller.learn_gain":
        data["controller"]["learn_min_gain"] = 0.0
    allowed = STATIC[key].refusal(value) is None
    try:
        parse_rig(data, "r.toml")
    except ConfigError as err:
        assert not allowed
        assert err.field == key and str(err).startswith(f"r.toml: {key}: ") and "\n" not in str(err)
        assert f"is out of range: allowed {STATIC[key].describe()} (" in err.message
    else:
        assert allowed


def test_a_pyrometer_timeout_must_fit_inside_the_watchdog(tmp_path: Path) -> None:
    err = refused(tmp_path, "[pyrometer]\ntimeout_s = 0.5\n")
    assert err.field == "pyrometer.timeout_s"
    assert "limits.watchdog_s minus one control period (0.2 s)" in err.message
    assert parse_rig({"pyrometer": {"timeout_s": 0.5}, "limits": {"watchdog_s": 0.6}}).pyrometer.timeout_s == 0.5
