"""The felts' resistance as a second thermometer, and the pyrometer's lag compensated (virtual time)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sim.faults import Fault
from tests.runner.helpers import events, llzo
from ufs_control.app import open_session
from ufs_control.control.model import PlantModel
from ufs_control.control.thermometry import ResistanceThermometer
from ufs_control.core.interlocks import INTERLOCKS
from ufs_control.core.profile import load_profile
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import preset
from ufs_control.runner.records import Outcome

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def rig_with(thermometry: str = "on", t90_s: float = 0.0) -> RigConfig:
    rig = RigConfig()
    return replace(
        rig,
        controller=replace(rig.controller, thermometry=thermometry),
        pyrometer=replace(rig.pyrometer, t90_s=t90_s),
    )


def test_the_inverted_resistance_gives_back_the_temperature_and_its_uncertainty_grows_hot() -> None:
    rig = RigConfig()
    model = PlantModel(rig.model, rig.wiring)
    th = ResistanceThermometer(model)
    for t in (25.0, 300.0, 600.0, 1150.0):
        value = th.temperature_c(model.channel_resistance_ohm(t))
        assert value is not None and abs(value - t) < 0.5
    assert th.temperature_c(-1.0) is None and th.temperature_c(100.0) is None
    assert th.uncertainty_k(300.0) < 15.0 < th.uncertainty_k(1150.0)


SLOW = PROFILES / "slow_ramp_1000C_60s.toml"  # 10 °C/s to 1000 °C, then a minute at 1000 °C
FOG_AT_S = 110.0  # in the hold


def test_a_fogging_window_warns_then_trips_on_the_cross_check(tmp_path: Path) -> None:
    s = open_session(rig_with(), simulate=True, runs_dir=tmp_path, faults=[Fault("pyro-fogged", FOG_AT_S)], plot=False)
    try:
        result = s.runner.run(load_profile(SLOW))
    finally:
        s.close()
    assert result.outcome is Outcome.TRIPPED and result.trip_name == "sensor_disagreement", result.reason
    assert "disagree" in result.reason
    log = events(result)
    warning_t = next(e["t_s"] for e in log if e["type"] == "warning" and "felt resistance says" in e["message"])
    trip_t = next(e["t_s"] for e in log if e["type"] == "trip")
    # The deposit drifts at 20 K/s; the band at 1000 °C is about 106 K (3σ of the resistance reading).
    assert FOG_AT_S + 3.0 < warning_t < FOG_AT_S + 8.0
    assert trip_t - warning_t >= 2.0 - 0.06  # limits.cross_check_s after the warning


def test_without_thermometry_the_fogging_window_is_not_noticed(tmp_path: Path) -> None:
    s = open_session(
        rig_with("off"), simulate=True, runs_dir=tmp_path, faults=[Fault("pyro-fogged", FOG_AT_S)], plot=False
    )
    try:
        result = s.runner.run(load_profile(SLOW))
    finally:
        s.close()
    assert result.trip_name != "sensor_disagreement"


def test_a_ramp_down_finishes_on_the_resistance_when_the_pyrometer_goes_silent(tmp_path: Path) -> None:
    profile = load_profile(PROFILES / "two_step_sinter_900C_1200C.toml")  # ends in a controlled cool to 800 °C
    cool = next(s for s in profile.segments if s.kind == "cool")
    assert cool.rate_c_per_s is not None
    from ufs_control.core.profile import plan

    laid = plan(profile)
    seg = next(p for p in laid.segments if p.kind == "cool")
    fault_at = seg.start_s + 0.5 * seg.duration_s + 2.0
    for thermometry, finished in (("on", True), ("off", False)):
        s = open_session(
            rig_with(thermometry),
            simulate=True,
            runs_dir=tmp_path / thermometry,
            faults=[Fault("pyro-silent", fault_at)],
            plot=False,
        )
        try:
            result = s.runner.run(profile)
        finally:
            s.close()
        assert (result.outcome is Outcome.FINISHED) is finished, (thermometry, result.reason)


def test_a_pyrometer_that_goes_silent_in_a_hold_still_trips_with_thermometry(tmp_path: Path) -> None:
    s = open_session(rig_with(), simulate=True, runs_dir=tmp_path, faults=[Fault("pyro-silent", 30.0)], plot=False)
    try:
        result = s.runner.run(llzo())
    finally:
        s.close()
    assert result.outcome is Outcome.TRIPPED and result.trip_name == "pyrometer_fault"


def test_a_slow_pyrometer_is_compensated(tmp_path: Path) -> None:
    """A 0.3 s head reads ~7 K low on a 50 °C/s ramp; with its t90 configured the loop tracks the truth."""
    errors = {}
    for t90 in (0.0, 0.3):
        truth: list[tuple[float, float | None]] = []
        holder: dict[str, object] = {}

        def on_sample(x, holder=holder, truth=truth) -> None:  # type: ignore[no-untyped-def]
            if x.setpoint_c is not None and x.segment_kind == "ramp" and x.setpoint_c > 800:
                truth.append((holder["sim"].rig.truth().felt_c, x.setpoint_c))  # type: ignore[attr-defined]

        s = open_session(
            rig_with("off", t90),
            simulate=True,
            runs_dir=None,
            sim_overrides={"pyrometer_t90_s": 0.3},
            on_sample=on_sample,
            plot=False,
        )
        holder["sim"] = s.sim
        try:
            assert s.runner.run(llzo()).outcome is Outcome.FINISHED
        finally:
            s.close()
        errors[t90] = sum(t - sp for t, sp in truth) / len(truth)  # type: ignore[operator]
    assert errors[0.0] > 4.0  # the uncompensated loop runs hot by the lag
    assert abs(errors[0.3]) < 0.4 * errors[0.0]


def test_the_cross_check_is_an_interlock() -> None:
    assert "sensor_disagreement" in INTERLOCKS
    assert preset("A").ntc_a < 1.0  # the felt is an NTC: the inversion is unique
