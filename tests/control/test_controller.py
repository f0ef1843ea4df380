"""The feedforward + PI controller: model look-ups, bumpless hand-over, limits, pausing on bad data."""

from __future__ import annotations

import pytest

from ufs_control.control.baselines import NaiveVoltagePID, OpenLoopProgramme
from ufs_control.control.controller import ControlInput, FeedforwardPI
from ufs_control.control.model import PlantModel
from ufs_control.core.rig import ControllerConfig
from ufs_control.core.thermal import Wiring, c_to_k, channel_resistance, effective_heat_capacity, preset, steady_power

A = preset("A")
MODEL = PlantModel(A, Wiring.SERIES)


def inp(sp: float | None, meas: float | None, closed: bool, rate: float = 0.0, p_max: float = 420.0) -> ControlInput:
    return ControlInput(0.05, sp, rate, meas, closed, p_max)


@pytest.mark.parametrize("t_c", [25.0, 333.3, 600.0, 1150.0, 1499.0])
def test_model_tables_match_the_thermal_functions(t_c: float) -> None:
    k = c_to_k(t_c)
    assert MODEL.steady_power_w(t_c) == pytest.approx(steady_power(k, A), rel=2e-3, abs=0.05)
    assert MODEL.heat_capacity_j_k(t_c) == pytest.approx(effective_heat_capacity(k, A), rel=1e-3)
    assert MODEL.channel_resistance_ohm(t_c) == pytest.approx(channel_resistance(k, A, Wiring.SERIES), rel=1e-3)


def test_open_loop_power_is_the_two_node_feedforward() -> None:
    ctl = FeedforwardPI(MODEL)
    # first tick: the sample estimate starts at the felt, so only the felt's loss and storage count
    out = ctl.update(inp(600.0, None, False, rate=50.0))
    assert out.power_w == pytest.approx(MODEL.felt_loss_w(600.0) + MODEL.felt_capacity_j_k(600.0) * 50.0)
    assert not out.closed
    # held at a setpoint, the sample estimate settles and the feedforward becomes the steady-state power
    for _ in range(400):
        out = ctl.update(inp(1000.0, None, False))
    assert out.power_w == pytest.approx(MODEL.steady_power_w(1000.0), rel=0.01)


def test_a_lagging_sample_stack_draws_power_after_the_ramp() -> None:
    """Preset B: during a ramp the BN plates fall behind; at the corner they still pull heat."""
    model_b = PlantModel(preset("B"), Wiring.SERIES)
    ctl = FeedforwardPI(model_b)
    sp = 25.0
    while sp < 1150.0:
        ctl.update(inp(sp, None, False, rate=50.0))
        sp += 2.5
    at_corner = ctl.update(inp(1150.0, None, False)).power_w
    assert at_corner > 1.1 * model_b.steady_power_w(1150.0)  # ~30 W still flowing into the plates


def test_hand_over_is_bumpless_in_power() -> None:
    ctl = FeedforwardPI(MODEL, ControllerConfig())
    before = ctl.update(inp(720.0, None, False, rate=50.0)).power_w
    # re-based onto a measurement 60 K lower, the plant rising at the planned rate
    ctl.engage(660.0, 50.0, 50.0)
    after = ctl.update(inp(660.0, 660.0, True, rate=50.0))
    assert after.closed
    assert after.power_w == pytest.approx(before, rel=0.02)


def test_hand_over_adds_the_measured_rate_shortfall() -> None:
    ctl = FeedforwardPI(MODEL)
    before = ctl.update(inp(700.0, None, False, rate=50.0)).power_w
    ctl.engage(700.0, 50.0, 30.0)  # the plant rises 20 K/s slower than planned
    after = ctl.update(inp(700.0, 700.0, True, rate=50.0)).power_w
    assert after - before == pytest.approx(MODEL.heat_capacity_j_k(700.0) * 20.0, rel=0.05)


def test_output_stays_within_zero_and_p_max_and_the_integral_does_not_wind_up() -> None:
    ctl = FeedforwardPI(MODEL)
    ctl.update(inp(1000.0, None, False))
    ctl.engage(1000.0, 0.0, None)
    for _ in range(200):  # a plant that never heats: big positive error
        out = ctl.update(inp(1000.0, 700.0, True, p_max=300.0))
        assert 0.0 <= out.power_w <= 300.0
    assert out.power_w == pytest.approx(300.0)
    assert out.i_w <= 300.0 - out.ff_w + 1e-6  # the integral is clamped to what the actuator can give
    # once the error reverses, the output leaves the limit as soon as the filtered error changes sign
    left = [ctl.update(inp(1000.0, 1020.0, True, p_max=300.0)).power_w for _ in range(10)]
    assert left[-1] < 299.0


def test_invalid_reading_pauses_integration_and_resumes_with_the_same_integral() -> None:
    ctl = FeedforwardPI(MODEL)
    ctl.update(inp(1000.0, None, False))
    ctl.engage(1000.0, 0.0, None)
    for _ in range(40):
        out = ctl.update(inp(1000.0, 995.0, True))
    i_before = out.i_w
    for _ in range(10):  # pyrometer dropout: feedforward only, the integral is frozen
        paused = ctl.update(inp(1000.0, None, False))
        assert not paused.closed and paused.i_w == 0.0
    resumed = ctl.update(inp(1000.0, 995.0, True))
    assert resumed.closed
    assert resumed.i_w == pytest.approx(i_before, rel=0.1)


def test_open_power_segment_and_output_off() -> None:
    ctl = FeedforwardPI(MODEL)
    assert ctl.update(ControlInput(0.05, None, 0.0, None, False, 420.0, open_power_w=40.0)).power_w == 40.0
    assert ctl.update(inp(None, 900.0, False)).power_w == 0.0


def test_baselines() -> None:
    ol = OpenLoopProgramme(MODEL)
    assert ol.update(inp(1150.0, 1100.0, True)).power_w == pytest.approx(MODEL.steady_power_w(1150.0))
    naive = NaiveVoltagePID(preheat_v=12.0, model=MODEL)
    preheat = naive.update(inp(800.0, None, False)).power_w
    assert preheat == pytest.approx(12.0**2 / MODEL.channel_resistance_ohm(800.0))
    naive.engage(800.0, 50.0, None)
    closed = naive.update(inp(800.0, 700.0, True)).power_w
    assert closed > preheat  # 100 K below the setpoint: the PI raises the voltage above the preheat
