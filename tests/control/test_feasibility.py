"""Feasibility against the supply envelope (M14): infeasible recipes are flagged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ufs_control.control.feasibility import check
from ufs_control.control.model import PlantModel
from ufs_control.core.profile import load_profile, parse_profile, plan
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import Wiring

RIG = RigConfig()
MODEL = PlantModel(RIG.model, RIG.wiring)


def findings(segments: list[dict[str, object]], rig: RigConfig = RIG) -> list[str]:
    laid = plan(parse_profile({"max_temperature_c": 2000, "segment": segments}))
    model = PlantModel(rig.model, rig.wiring)
    return [f"{f.level}:{f.segment}" for f in check(laid, rig, model)]


@pytest.mark.parametrize("path", sorted(Path("profiles").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_profiles_are_feasible_on_the_default_rig(path: Path) -> None:
    laid = plan(load_profile(path))
    assert [f for f in check(laid, RIG, MODEL) if f.level == "error"] == []


@pytest.mark.parametrize(
    "segments, expected",
    [
        ([{"type": "ramp", "target_c": 1400, "rate_c_per_s": 600}], "error:1"),  # beyond the heating envelope
        ([{"type": "ramp", "target_c": 1500, "rate_c_per_s": 50}, {"type": "hold", "duration_s": 5}], "error:2"),
        (
            [
                {"type": "ramp", "target_c": 1100, "rate_c_per_s": 50},
                {"type": "cool", "target_c": 400, "rate_c_per_s": 200},  # faster than free cooling allows
            ],
            "error:2",
        ),
        ([{"type": "power", "power_w": 600, "duration_s": 2}], "error:1"),
    ],
)
def test_infeasible_segments_are_flagged(segments: list[dict[str, object]], expected: str) -> None:
    assert expected in findings(segments)


def test_two_channels_make_1500_c_holdable() -> None:
    segs: list[dict[str, object]] = [
        {"type": "ramp", "target_c": 1500, "rate_c_per_s": 50},
        {"type": "hold", "duration_s": 5},
    ]
    rig = replace(RIG, wiring=Wiring.PER_CHANNEL, limits=replace(RIG.limits, max_power_w=840.0))
    assert [f for f in findings(segs, rig) if f.startswith("error")] == []


def test_hold_below_the_pyrometer_range_is_a_warning() -> None:
    out = findings([{"type": "ramp", "target_c": 400, "rate_c_per_s": 20}, {"type": "hold", "duration_s": 5}])
    assert "warning:2" in out
