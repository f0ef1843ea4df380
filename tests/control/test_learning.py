"""The pure iterative-learning update: interpolation, zero-phase smoothing, gain, bound, blind zone."""

from __future__ import annotations

import random

import pytest

from ufs_control.control.learning import (
    Correction,
    LearningSettings,
    RunSignal,
    run_signal,
    shrink,
    smooth,
    update,
)

PLAIN = LearningSettings(gain=1.0, advance_s=0.0, smooth_s=0.0, max_fraction=0.25)


def test_a_correction_interpolates_on_its_grid_and_is_zero_outside() -> None:
    c = Correction(0.1, (0.0, 1.0, 3.0))
    assert c(0.05) == pytest.approx(0.5)
    assert c(0.15) == pytest.approx(2.0)
    assert c(0.2) == pytest.approx(3.0)
    assert c(-1.0) == c(0.3) == c(float("nan")) == 0.0
    assert c.peak_w == 3.0


def test_smoothing_is_zero_phase_and_keeps_gaps() -> None:
    bump = [0.0] * 10 + [10.0] + [0.0] * 10
    out = smooth(bump, 2)
    assert out[8] == out[12] == pytest.approx(2.0)  # symmetric: no lag
    assert out[10] == pytest.approx(2.0)
    assert smooth([1.0, None, 3.0, 5.0], 1) == [1.0, None, 4.0, 4.0]  # the gap is neither filled nor averaged


def signal(deltas: list[float | None], first_closed: int | None = 0, dt: float = 0.1) -> RunSignal:
    return RunSignal(tuple(i * dt for i in range(len(deltas))), tuple(deltas), first_closed)


def test_the_update_adds_the_gain_times_the_run_correction_and_keeps_the_rest() -> None:
    previous = Correction(0.1, (1.0, 1.0, 1.0, 1.0))
    half = LearningSettings(gain=0.5, advance_s=0.0, smooth_s=0.0)
    out = update(previous, signal([2.0, None, -2.0, 4.0]), 0.3, half, lambda t: 100.0)
    assert out.values == pytest.approx((2.0, 1.0, 0.0, 3.0))


def test_the_gain_decays_with_the_runs_learned_down_to_its_floor() -> None:
    settings = LearningSettings(gain=0.6, advance_s=0.0, smooth_s=0.0, min_gain=0.15)
    assert [settings.gain_for(k) for k in (1, 2, 3, 4, 5)] == pytest.approx([0.6, 0.3, 0.2, 0.15, 0.15])
    previous = Correction(0.1, (1.0, 1.0))
    third = update(previous, signal([3.0, -3.0]), 0.1, settings, lambda t: 100.0, iteration=3)
    assert third.values == pytest.approx((1.6, 0.4))
    # Noise alone: with a constant gain the correction wanders off; with the decaying gain it averages out.
    rng = random.Random(1)
    noise = [[rng.gauss(0.0, 5.0) for _ in range(200)] for _ in range(30)]
    constant = LearningSettings(gain=0.7, advance_s=0.0, smooth_s=0.0, min_gain=0.7)
    decaying = LearningSettings(gain=0.7, advance_s=0.0, smooth_s=0.0, min_gain=0.0)
    ends = []
    for rule in (constant, decaying):
        c = None
        for k, run in enumerate(noise, start=1):
            c = update(c, signal(list(run)), 19.9, rule, lambda t: 1e9, iteration=k)
        assert c is not None
        ends.append(sum(v * v for v in c.values) / len(c.values))
    assert ends[1] < 0.1 * ends[0]


def test_what_the_noise_alone_could_explain_is_not_learned() -> None:
    rng = random.Random(2)
    # 10 s of a loop answering noise (σ 4 W), then 10 s where the model is 20 W short
    raw: list[float | None] = [rng.gauss(0.0, 4.0) for _ in range(100)] + [
        20.0 + rng.gauss(0.0, 4.0) for _ in range(100)
    ]
    smoothed = smooth(raw, 2)
    out = shrink(raw, smoothed, 2, 2.0)
    quiet = [v for v in out[:95] if v is not None]
    assert sum(1 for v in quiet if v == 0.0) > 0.8 * len(quiet)  # the noise-only stretch learns (almost) nothing
    loud = [v for v in out[105:] if v is not None]
    assert 15.0 < sum(loud) / len(loud) < 20.0  # the real shortfall is learned, less the threshold
    assert shrink(raw, smoothed, 2, 0.0) == smoothed  # switched off
    assert shrink([None, 1.0], [None, 1.0], 0, 2.0) == [None, 1.0]  # no scatter to judge by: unchanged


def test_the_correction_is_bounded_in_both_directions() -> None:
    out = update(None, signal([50.0, -50.0, 5.0]), 0.2, PLAIN, lambda t: 10.0)
    assert out.values == pytest.approx((10.0, -10.0, 5.0))


def test_the_advance_applies_the_correction_earlier() -> None:
    early = LearningSettings(gain=1.0, advance_s=0.2, smooth_s=0.0)
    out = update(None, signal([0.0, 0.0, 0.0, 6.0, 0.0]), 0.4, early, lambda t: 100.0)
    assert out.values == pytest.approx((0.0, 6.0, 0.0, 0.0, 0.0))


def test_blind_ticks_learn_nothing_and_closed_ticks_carry_the_hand_over_term() -> None:
    # Ticks 0-2 blind at profile times 0, 0.1, 0.2; the loop closes at tick 3 after a re-base back to 0.1.
    sig = run_signal(
        [0.0, 0.1, 0.2, 0.1, 0.2],
        [25.0, 125.0, 225.0, 125.0, 225.0],
        [False, False, False, True, True],
        [True] * 5,
        [10.0, 20.0, 30.0, 27.0, 33.0],
        [10.0, 20.0, 30.0, 25.0, 30.0],
        [1.0] * 5,
        steady_power_w=lambda sp: 100.0,
        b_ff_w_k=0.01,
        phi=0.0,
        t_amb_c=25.0,
    )
    assert sig.first_closed == 3 and sig.handover_profile_t_s == pytest.approx(0.1)
    assert sig.delta_w[:3] == (None, None, None)  # open loop: nothing measured the error
    assert sig.delta_w[3:] == pytest.approx((3.0, 5.0))  # P − FF + b_ff·(T_sp − T_amb)
    out = update(None, sig, 0.2, PLAIN, lambda t: 100.0)
    assert out.values == pytest.approx((0.0, 3.0, 5.0))


def test_the_adaptive_scale_counts_as_what_the_loop_added() -> None:
    sig = run_signal(
        [0.0],
        [1000.0],
        [True],
        [True],
        [90.0],
        [90.0],
        [0.9],
        steady_power_w=lambda sp: 100.0,
        b_ff_w_k=0.0,
        phi=0.0,
        t_amb_c=25.0,
    )
    assert sig.delta_w == pytest.approx((-10.0,))


def test_ticks_without_a_setpoint_or_feedforward_say_nothing() -> None:
    sig = run_signal(
        [0.0, 0.1],
        [None, 500.0],
        [False, True],
        [False, False],
        [0.0, 50.0],
        [0.0, 40.0],
        [1.0, 1.0],
        steady_power_w=lambda sp: 1.0,
        b_ff_w_k=0.0,
        phi=0.0,
        t_amb_c=25.0,
    )
    assert sig.delta_w == (None, None)
