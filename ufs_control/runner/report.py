"""Read a run folder's ``run.json`` back for ``ufs report``. Whatever the file holds (a crashed run's, an
older version's, a hand-edited one, junk), the report still comes out: what cannot be used is left at its
default and named in ``RunRecord.problems``.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufs_control.core.errors import ProfileError
from ufs_control.core.profile import Plan, parse_profile, plan
from ufs_control.core.rig import PyrometerConfig
from ufs_control.core.tomlfile import parse_toml

# A run.json holds the profile (at most 1 MB of TOML) and a few kB of provenance and metrics.
MAX_RECORD_BYTES = 16_000_000

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}


@dataclass(frozen=True)
class RunRecord:
    """What ``ufs report`` takes from run.json. ``pyrometer_low_c`` is the lower end of the pyrometer's range
    in °C; ``problems`` names what was missing or unusable, one short phrase each (empty when all is well)."""

    outcome: str = "?"
    reason: str = ""
    plan: Plan | None = None
    pyrometer_low_c: float = PyrometerConfig().range_c[0]
    problems: tuple[str, ...] = ()


def _kind(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _JSON_TYPES.get(type(value), type(value).__name__)


def load_run_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """Read a run.json as a dict; None (and a phrase in ``problems``) when it cannot be used."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        problems.append("no such file")
        return None
    except OSError as exc:
        problems.append(f"cannot read: {exc.strerror}")
        return None
    if len(raw) > MAX_RECORD_BYTES:
        problems.append(f"too large: more than {MAX_RECORD_BYTES:,} bytes")
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append("not a text file")
        return None
    except json.JSONDecodeError as exc:
        problems.append(f"not valid JSON: {exc}")
        return None
    except RecursionError:
        problems.append("not valid JSON: nested too deeply")
        return None
    if not isinstance(data, dict):
        problems.append(f"expected a JSON object, got {_kind(data)}")
        return None
    return data


def _text(data: dict[str, Any], key: str, default: str, problems: list[str]) -> str:
    value = data.get(key, default)
    if isinstance(value, str):
        return value
    problems.append(f"{key}: expected a string, got {reprlib.repr(value)}")
    return default


def _plan(data: dict[str, Any], source: str, problems: list[str]) -> Plan | None:
    text = data.get("profile_toml")
    if text is None:
        return None
    if not isinstance(text, str):
        problems.append(f"profile_toml: expected a string, got {_kind(text)}")
        return None
    try:
        return plan(parse_profile(parse_toml(text, source, ProfileError), source))
    except ProfileError as exc:
        problems.append(f"profile_toml: {exc.where + ': ' if exc.where else ''}{exc.message}")
        return None


def _pyrometer_low(data: dict[str, Any], default: float, problems: list[str]) -> float:
    """The lower end of ``rig.pyrometer.range_c`` in °C; ``default`` where it is absent or unusable."""
    keys = ("rig", "pyrometer", "range_c")
    value: object = data
    for depth, key in enumerate(keys):
        if not isinstance(value, dict):
            problems.append(f"{'.'.join(keys[:depth])}: expected an object, got {_kind(value)}")
            return default
        if key not in value:
            return default
        value = value[key]
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and math.isfinite(value[0])
        and value[0] < value[1]
    ):
        return float(value[0])
    problems.append(f"rig.pyrometer.range_c: expected [low, high] in °C, got {reprlib.repr(value)}")
    return default


def read_run_record(run_dir: Path) -> RunRecord:
    """Read ``run_dir/run.json``; never raises for its content (see ``RunRecord.problems``)."""
    path = run_dir / "run.json"
    problems: list[str] = []
    data = load_run_json(path, problems)
    if data is None:
        return RunRecord(problems=tuple(problems))
    default = RunRecord()
    return RunRecord(
        outcome=_text(data, "outcome", default.outcome, problems),
        reason=_text(data, "reason", default.reason, problems),
        plan=_plan(data, str(path), problems),
        pyrometer_low_c=_pyrometer_low(data, default.pyrometer_low_c, problems),
        problems=tuple(problems),
    )
