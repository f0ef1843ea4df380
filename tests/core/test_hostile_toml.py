"""Hostile TOML for every reader (profiles, rig files, plant files): one line naming the file, never a
RecursionError or a file read into memory whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ufs_control.core.errors import ConfigError, ProfileError, UfsError
from ufs_control.core.profile import MAX_SEGMENTS, load_profile
from ufs_control.core.rig import load_rig
from ufs_control.core.thermal import load_params
from ufs_control.core.tomlfile import MAX_BYTES, MAX_DEPTH, parse_toml

LOADERS: list[tuple[Callable[[Path], Any], type[UfsError]]] = [
    (load_profile, ProfileError),
    (load_rig, ConfigError),
    (load_params, ConfigError),
]
DEEP = {
    "arrays": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "inline tables": "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "dotted header": "[" + ".".join(["a"] * 5000) + "]\n",
    "dotted key": ".".join(["a"] * 5000) + " = 1\n",
    "just too deep": "x = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n",
}


@pytest.mark.parametrize("loader, error", LOADERS)
@pytest.mark.parametrize("shape", sorted(DEEP))
def test_deep_nesting_is_one_line(
    tmp_path: Path, loader: Callable[[Path], Any], error: type[UfsError], shape: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP[shape])
    with pytest.raises(error) as info:
        loader(path)
    assert str(info.value) == f"{path}: invalid TOML: nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_parses() -> None:
    depth = MAX_DEPTH - 1  # the document itself is the first level
    data = parse_toml("x = " + "[" * depth + "]" * depth + "\n", "t.toml", ConfigError)
    assert "x" in data


@pytest.mark.parametrize("loader, error", LOADERS)
def test_a_file_over_the_size_limit_is_refused_without_parsing(
    tmp_path: Path, loader: Callable[[Path], Any], error: type[UfsError]
) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(error) as info:
        loader(path)
    assert str(info.value) == f"{path}: too large: more than 1,000,000 bytes"


def test_an_endless_device_is_refused_after_a_bounded_read() -> None:
    with pytest.raises(ProfileError, match=r"^/dev/zero: too large: more than 1,000,000 bytes$"):
        load_profile("/dev/zero")


def test_binary_junk_is_not_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.toml"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ConfigError, match=r": not a text file$"):
        load_rig(path)


def _steps(n: int) -> str:
    return "".join(f'[[segment]]\ntype = "step"\ntarget_c = {600 + i % 500}\n' for i in range(n))


def test_a_profile_with_more_than_the_allowed_segments_says_so(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(_steps(MAX_SEGMENTS + 1))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == f"{path}: has 1001 segments, more than the 1000 allowed"


def test_a_profile_with_exactly_the_allowed_segments_loads(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(_steps(MAX_SEGMENTS))
    assert len(load_profile(path).segments) == MAX_SEGMENTS
