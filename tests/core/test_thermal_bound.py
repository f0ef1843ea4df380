"""The model bound to its parameters (what the simulator evaluates in its inner loop) computes exactly what
the plain functions compute: the same floating-point numbers, bit for bit."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from ufs_control.core.thermal import (
    ThermalParams,
    cp_carbon,
    derivatives,
    derivatives_for,
    felt_resistance,
    felt_resistance_for,
    preset,
)

PLANTS = {
    "A": preset("A"),
    "B": preset("B"),
    "phi and clamp node": replace(preset("B"), phi=0.2, clamp_node=True, g_fe_w_k=0.1),
    "odd": replace(preset("A"), ntc_a=0.7, ntc_tc_k=610.0, rho_el_ohm_m=4.1e-3, felt_density_kg_m3=151.0),
}


def _points(seed: int) -> list[tuple[float, float, float, float, float]]:
    rng = random.Random(seed)
    # Below the specific-heat fit's clamp (250 K), across the range, above it (3000 K), and the edges.
    temps = [200.0, 250.0, 298.15, 300.0, 3000.0, 3400.0] + [rng.uniform(200.0, 3400.0) for _ in range(60)]
    return [
        (t, rng.choice(temps), rng.uniform(290.0, 900.0), rng.uniform(-5.0, 800.0), rng.uniform(0.0, 30.0))
        for t in temps
    ]


@pytest.mark.parametrize("name", list(PLANTS))
def test_bound_derivatives_are_the_plain_ones_bit_for_bit(name: str) -> None:
    p: ThermalParams = PLANTS[name]
    rates = derivatives_for(p)
    for t_f, t_s, t_e, p_joule, p_contact in _points(len(name)):
        assert rates(t_f, t_s, t_e, p_joule, p_contact) == derivatives(t_f, t_s, t_e, p_joule, p_contact, p)


@pytest.mark.parametrize("name", list(PLANTS))
def test_bound_felt_resistance_is_the_plain_one_bit_for_bit(name: str) -> None:
    p = PLANTS[name]
    resistance = felt_resistance_for(p)
    for t, *_ in _points(7):
        assert resistance(t) == felt_resistance(t, p)


def test_specific_heat_fit_is_clamped_to_its_range() -> None:
    assert cp_carbon(100.0) == cp_carbon(250.0)
    assert cp_carbon(5000.0) == cp_carbon(3000.0)
    assert cp_carbon(1000.0) != cp_carbon(1200.0)
