"""Rig configuration: the example loads; every bad value names the file and field in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ufs_control.core.errors import ConfigError
from ufs_control.core.rig import load_rig
from ufs_control.core.thermal import Wiring


def test_example_loads_as_a_simulated_rig() -> None:
    rig = load_rig(Path("rig.example.toml"))
    assert rig.simulated
    assert rig.wiring is Wiring.SERIES
    assert rig.channels == (1,)
    assert rig.pyrometer.range_c == (600.0, 2000.0)


def test_per_channel_wiring_uses_both_outputs(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text('[wiring]\nmode = "per_channel"\n[limits]\nmax_power_w = 800\n')
    rig = load_rig(path)
    assert rig.channels == (1, 2)


@pytest.mark.parametrize(
    "text, field",
    [
        ("[psu]\nchannel = 3\n", "psu.channel"),
        ('[wiring]\nmode = "star"\n', "wiring.mode"),
        ("[limits]\nmax_voltage_v = 70\n", "limits.max_voltage_v"),
        ("[limits]\nmax_current_a = -1\n", "limits.max_current_a"),
        ("[limits]\nmax_power_w = 500\n", "limits.max_power_w"),
        ('[limits]\nmax_temperature_c = "hot"\n', "limits.max_temperature_c"),
        ("[pyrometer]\nrange_c = [900, 600]\n", "pyrometer.range_c"),
        ("[pyrometer]\naddress = 120\n", "pyrometer.address"),
        ("[controller]\nloop_hz = 500\n", "controller.loop_hz"),
        ("[controller]\nadapt_feedforward = 1\n", "controller.adapt_feedforward"),
        ("[model]\nemissivity = 2\n", "emissivity"),
        ("[bogus]\n", "bogus"),
        ("[psu]\nvoltage = 3\n", "psu.voltage"),
        ("[rig]\nfelt_colour = 1\n", "rig.felt_colour"),
        ("[rig]\nfelt_grade = 3\n", "rig.felt_grade"),
        ("[rig]\no2_ppm = -1\n", "rig.o2_ppm"),
        ('[rig]\nh2o_ppm = "dry"\n', "rig.h2o_ppm"),
        ("[rig]\nfelt_size_mm = [20, 10]\n", "rig.felt_size_mm"),
        ("[rig]\nfelt_size_mm = [20, 10, 0]\n", "rig.felt_size_mm"),
        ("[rig]\npyrometer_ratio = 1.5\n", "rig.pyrometer_ratio"),
        ('[notify]\ncommand = ""\n', "notify.command"),
        ("[notify]\ntimeout_s = 0\n", "notify.timeout_s"),
        ('[notify]\nwhen = "always"\n', "notify.when"),
        ("rig = 3\n", "rig"),
    ],
)
def test_bad_settings(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_rig(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_rig_description_and_notify_sections_load(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(
        '[rig]\nfelt_grade = "GFD 4.6"\nfelt_size_mm = [20, 10, 3]\natmosphere = "argon glovebox"\n'
        'o2_ppm = 0.4\nh2o_ppm = 0.2\npyrometer_model = "Maurer KTRD 4085-1"\npyrometer_spot_mm = 1.5\n'
        'pyrometer_ratio = 1.0\n[notify]\ncommand = "cat >> notes.jsonl"\ntimeout_s = 5\n'
    )
    rig = load_rig(path)
    assert rig.description.felt_size_mm == (20.0, 10.0, 3.0)
    assert rig.description.o2_ppm == 0.4 and rig.description.pyrometer_model == "Maurer KTRD 4085-1"
    assert rig.notify.command == "cat >> notes.jsonl" and rig.notify.timeout_s == 5.0
