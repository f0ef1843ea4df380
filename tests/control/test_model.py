"""The controller's tabulated model: linear interpolation on a uniform 5 K grid, clamped to 0-2600 °C."""

from __future__ import annotations

import bisect
import math

import pytest

from ufs_control.control.model import MAX_C, STEP_C, PlantModel
from ufs_control.core.thermal import c_to_k, preset, steady_power

MODEL = PlantModel(preset("A"))


def _by_bisection(table: tuple[float, ...], t_c: float) -> float:
    """The interpolation written the obvious way: find the interval by bisection."""
    grid = MODEL._t
    t = min(max(t_c, 0.0), MAX_C)
    i = min(bisect.bisect_right(grid, t) - 1, len(grid) - 2)
    return table[i] + (table[i + 1] - table[i]) * ((t - grid[i]) / STEP_C)


def test_interpolation_finds_the_interval_bisection_finds_at_and_beside_every_grid_point() -> None:
    points = [-3.0, 1e9]
    for k in range(len(MODEL._t)):
        x = k * STEP_C
        points += [math.nextafter(x, -math.inf), x, math.nextafter(x, math.inf), x + 0.3 * STEP_C]
    for t in points:
        assert MODEL.steady_power_w(t) == _by_bisection(MODEL._p_ss, t), t


def test_interpolation_is_exact_on_the_grid_and_clamped_outside() -> None:
    assert MODEL.steady_power_w(1150.0) == steady_power(c_to_k(1150.0), MODEL.params)
    assert MODEL.steady_power_w(-20.0) == MODEL.steady_power_w(0.0)
    assert MODEL.steady_power_w(9999.0) == MODEL.steady_power_w(MAX_C)
    with pytest.raises(ValueError):
        MODEL.steady_power_w(math.nan)
