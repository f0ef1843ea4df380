"""Profiles built in code (``ufs.build_profile``) and profiles written back as TOML.

A built profile goes through the TOML loader's own validation: its segments are turned into the tables a
profile file would hold and parsed by :func:`~ufs_control.core.profile.parse_profile`, so a script gets
exactly the one-line :class:`~ufs_control.core.errors.ProfileError` that ``ufs check`` prints for the
same recipe in a file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from ufs_control.core.errors import ProfileError
from ufs_control.core.profile import Cool, Hold, Power, Profile, Ramp, Segment, Step, parse_profile


def ramp(target_c: float, *, rate_c_per_s: float | None = None, duration_s: float | None = None) -> Ramp:
    """Ramp the setpoint to ``target_c`` °C at ``rate_c_per_s`` °C/s or over ``duration_s`` s (give one)."""
    return Ramp(target_c, rate_c_per_s, duration_s)


def hold(duration_s: float, *, holdback_k: float | None = None, max_wait_s: float | None = None) -> Hold:
    """Hold the present setpoint for ``duration_s`` s; with ``holdback_k`` K the timer runs only within the band,
    and the run aborts after waiting ``max_wait_s`` s in total."""
    return Hold(duration_s, holdback_k, max_wait_s)


def step(target_c: float) -> Step:
    """Jump the setpoint to ``target_c`` °C at once."""
    return Step(target_c)


def power(power_w: float, duration_s: float) -> Power:
    """Open-loop electrical power ``power_w`` W (0-840) for ``duration_s`` s."""
    return Power(power_w, duration_s)


def cool(
    *,
    below_c: float | None = None,
    duration_s: float | None = None,
    target_c: float | None = None,
    rate_c_per_s: float | None = None,
) -> Cool:
    """Output off until below ``below_c`` °C (or for ``duration_s`` s), or a controlled ramp down to
    ``target_c`` °C at ``rate_c_per_s`` °C/s."""
    return Cool(below_c=below_c, duration_s=duration_s, target_c=target_c, rate_c_per_s=rate_c_per_s)


def segment_table(segment: Segment | Mapping[str, Any]) -> dict[str, Any]:
    """The ``[[segment]]`` table of a segment (fields left at None are left out); a mapping is taken as is."""
    if isinstance(segment, Mapping):
        return dict(segment)
    if not isinstance(segment, Ramp | Hold | Step | Power | Cool):
        return {"type": segment}  # refused by the loader with its own words
    table: dict[str, Any] = {"type": segment.kind}
    for f in fields(segment):
        value = getattr(segment, f.name)
        if f.name != "kind" and value is not None:
            table[f.name] = value
    return table


def build_profile(
    name: str,
    segments: Iterable[Segment | Mapping[str, Any]],
    *,
    description: str = "",
    max_temperature_c: float | None = None,
    end_action: str = "output_off",
    corner_tau_s: float | None = None,
) -> Profile:
    """A profile from segments (``ramp``, ``hold``, ``cool``, ``step``, ``power`` or TOML-like tables),
    validated exactly as the TOML loader validates a file; raises the same one-line :class:`ProfileError`.

    ``max_temperature_c`` defaults to the loader's 1600 °C.
    """
    if not isinstance(name, str):
        raise ProfileError("build_profile", "", f"name must be a string, got {name!r}")
    data: dict[str, Any] = {"name": name, "description": description, "end_action": end_action}
    if max_temperature_c is not None:
        data["max_temperature_c"] = max_temperature_c
    if corner_tau_s is not None:
        data["corner_tau_s"] = corner_tau_s
    data["segment"] = [segment_table(s) for s in segments]
    return parse_profile(data, f"build_profile({name!r})")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a TOML number: {value}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    raise ValueError(f"not a TOML scalar: {value!r}")


def profile_toml(profile: Profile) -> str:
    """The profile as the text of a profile file that loads back to an equal profile (apart from ``source``)."""
    lines = [
        f"name = {_toml_value(profile.name)}",
        f"description = {_toml_value(profile.description)}",
        f"max_temperature_c = {_toml_value(profile.max_temperature_c)}",
        f"end_action = {_toml_value(profile.end_action)}",
        f"corner_tau_s = {_toml_value(profile.corner_tau_s)}",
    ]
    for segment in profile.segments:
        lines += ["", "[[segment]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in segment_table(segment).items()]
    return "\n".join(lines) + "\n"
