"""Physics sanity of the plant model (thermal-model reference §5)."""

from __future__ import annotations

import math

import pytest

from sim.plant import PlantInputs, PlantState, step
from ufs_control.core.thermal import (
    SIGMA,
    Wiring,
    c_to_k,
    channel_resistance,
    effective_heat_capacity,
    felt_heat_capacity,
    felt_resistance,
    k_to_c,
    preset,
    sample_heat_capacity,
    steady_power,
    steady_sample_temperature,
)

A = preset("A")
B = preset("B")


def simulate(state: PlantState, power_w: float, seconds: float, dt: float = 0.005) -> PlantState:
    for _ in range(round(seconds / dt)):
        state = step(state, PlantInputs(power_w), dt, A)
    return state


@pytest.mark.parametrize("celsius, low, high", [(600, 40, 65), (1000, 120, 170), (1150, 150, 300), (1500, 380, 460)])
def test_steady_state_power_curve(celsius: float, low: float, high: float) -> None:
    assert low <= steady_power(c_to_k(celsius), A) <= high


def test_integrated_plant_settles_where_the_steady_state_says() -> None:
    p_ss = steady_power(c_to_k(1150), A)
    final = simulate(PlantState.ambient(A), p_ss, 25.0)
    assert k_to_c(final.t_felt_k) == pytest.approx(1150.0, abs=1.0)


def test_full_power_heats_faster_than_100_k_per_s_from_1150() -> None:
    t0 = c_to_k(1150)
    start = PlantState(t0, t0 - 20, A.t_amb_k)
    after = simulate(start, 420.0, 0.1, dt=0.001)
    assert (after.t_felt_k - t0) / 0.1 > 100.0


def test_output_off_cools_from_1150_to_500_in_under_5_s() -> None:
    t0 = c_to_k(1150)
    state = PlantState(t0, t0 - 20, A.t_amb_k)
    t = 0.0
    while k_to_c(state.t_felt_k) > 500.0 and t < 10:
        state = step(state, PlantInputs(0.0), 0.005, A)
        t += 0.005
    assert t < 5.0


def test_energy_balance_closes() -> None:
    p = A
    dt, power = 0.002, 250.0
    state = PlantState.ambient(p)
    energy_in = lost = 0.0
    stored = 0.0
    for _ in range(round(8.0 / dt)):
        new = step(state, PlantInputs(power), dt, p)
        tm_f = 0.5 * (state.t_felt_k + new.t_felt_k)
        tm_s = 0.5 * (state.t_sample_k + new.t_sample_k)
        stored += felt_heat_capacity(tm_f, p) * (new.t_felt_k - state.t_felt_k)
        stored += sample_heat_capacity(tm_s, p) * (new.t_sample_k - state.t_sample_k)
        ta = p.t_amb_k
        lost += dt * (
            p.emissivity * SIGMA * p.area_m2 * (tm_f**4 - ta**4)
            + p.convection_w_m2k * p.area_m2 * (tm_f - ta)
            + p.g_fe_w_k * (tm_f - ta)
            + p.emissivity * SIGMA * p.sample_area_m2 * (tm_s**4 - ta**4)
        )
        energy_in += power * dt
        state = new
    assert stored + lost == pytest.approx(energy_in, rel=0.005)


def test_integration_is_stable_at_2000_c() -> None:
    t0 = c_to_k(2000)
    state = PlantState(t0, steady_sample_temperature(t0, A), A.t_amb_k)
    p_ss = steady_power(t0, A)
    temps = []
    for _ in range(2000):
        state = step(state, PlantInputs(p_ss), 0.005, A)
        temps.append(state.t_felt_k)
    assert all(math.isfinite(x) for x in temps)
    assert max(temps) - min(temps) < 1.0


def test_preset_b_is_slower_than_a() -> None:
    t = c_to_k(1150)
    assert effective_heat_capacity(t, B) > 2.5 * effective_heat_capacity(t, A)


def test_felt_resistance_is_ntc_and_matches_the_reference() -> None:
    assert felt_resistance(293.0, A) == pytest.approx(2.0, rel=1e-3)
    assert felt_resistance(c_to_k(1150), A) == pytest.approx(1.30, abs=0.02)
    assert channel_resistance(c_to_k(1150), A, Wiring.SERIES) > channel_resistance(c_to_k(1150), A, Wiring.PARALLEL)
