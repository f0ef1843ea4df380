"""Plant parameters load from TOML with one-line errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ufs_control.core.errors import ConfigError
from ufs_control.core.thermal import load_params, preset


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plant.toml"
    path.write_text(text)
    return path


def test_preset_and_overrides(tmp_path: Path) -> None:
    params = load_params(write(tmp_path, '[plant]\npreset = "B"\nemissivity = 0.8\nclamp_node = true\n'))
    assert params.m_bn_kg == preset("B").m_bn_kg
    assert params.emissivity == 0.8
    assert params.clamp_node is True


@pytest.mark.parametrize(
    "text, field",
    [
        ("emissivity = 1.5", "emissivity"),
        ("emissivty = 0.9", "emissivty"),
        ('g_fe_w_k = "x"', "g_fe_w_k"),
        ("length_m = -1.0", "length_m"),
        ('preset = "C"', "preset"),
        ("n_felts = 0", "n_felts"),
        ("emissivity = ", ""),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert info.value.field == field
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_params(tmp_path / "nope.toml")
