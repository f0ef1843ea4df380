"""The in-process simulated rig: real drivers -> in-memory transports -> emulators -> plant, one clock."""

from __future__ import annotations

import math
import time

import pytest

from sim.faults import FAULTS, Fault, parse_fault
from sim.rig import SimOptions
from ufs_control.app import SimulatedRig, build_simulator
from ufs_control.core.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError, InstrumentTimeout
from ufs_control.core.instruments import PyrometerStatus
from ufs_control.core.thermal import Wiring, preset


def make(**kw: object) -> SimulatedRig:
    return build_simulator(preset("A"), SimOptions(**kw))  # type: ignore[arg-type]


def heat(sim: SimulatedRig, volts: float = 30.0, amps: float = 15.0, seconds: float = 3.0) -> None:
    sim.psu.set_voltage_and_current(1, volts, amps)
    sim.psu.set_output(1, True)
    sim.clock.sleep(seconds)


def test_supply_heats_the_felt_and_the_pyrometer_sees_it() -> None:
    sim = make()
    assert sim.pyrometer.read_temperature().status is PyrometerStatus.NOT_READY
    sim.clock.sleep(0.6)
    assert sim.pyrometer.read_temperature().status is PyrometerStatus.BELOW_RANGE
    heat(sim)
    reading = sim.pyrometer.read_temperature()
    truth = sim.rig.truth()
    assert reading.status is PyrometerStatus.OK
    assert reading.celsius == pytest.approx(truth.felt_c, abs=5.0)
    v, i = sim.psu.measure_output(1)
    assert v == pytest.approx(30.0, abs=0.05)
    assert v * i == pytest.approx(truth.felt_power_w + truth.contact_power_w, rel=0.05)


def test_sixty_simulated_seconds_take_well_under_a_second() -> None:
    sim = make()
    sim.psu.set_voltage_and_current(1, 25.0, 15.0)
    sim.psu.set_output(1, True)
    start = time.perf_counter()
    for _ in range(1200):  # 20 Hz for 60 s: one pyrometer read and one write per tick
        sim.clock.sleep(0.05)
        sim.pyrometer.read_temperature()
        sim.psu.set_voltage_and_current(1, 25.0, 15.0)
    assert sim.rig.truth().t_s >= 60.0
    assert time.perf_counter() - start < 5.0  # generous bound for a shared machine; see the benchmark


def test_series_parallel_and_per_channel_wiring_deliver_different_power() -> None:
    powers = {}
    for wiring in Wiring:
        sim = make(wiring=wiring)
        for n in wiring.channels:
            sim.psu.set_voltage_and_current(n, 12.0, 20.0)
            sim.psu.set_output(n, True)
        sim.clock.sleep(0.3)
        powers[wiring] = sim.rig.truth().felt_power_w
    # The same 12 V across one felt instead of two in series: four times the power.
    assert powers[Wiring.PARALLEL] > 3.5 * powers[Wiring.SERIES]
    assert powers[Wiring.PER_CHANNEL] > 3.5 * powers[Wiring.SERIES]


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_is_visible_through_the_drivers(name: str) -> None:
    sim = make(faults=[Fault(name, 3.0)])
    heat(sim, seconds=2.9)
    sim.clock.sleep(0.2)
    psu, pyro = sim.psu, sim.pyrometer
    if name == "pyro-silent":
        assert pyro.read_temperature().status is PyrometerStatus.TIMEOUT
    elif name == "pyro-garbled":
        assert pyro.read_temperature().status is PyrometerStatus.GARBLED
    elif name == "pyro-under-range":
        assert pyro.read_temperature().status is PyrometerStatus.BELOW_RANGE
    elif name == "pyro-stuck":
        first = pyro.read_temperature().celsius
        psu.set_output(1, False)
        sim.clock.sleep(1.0)
        assert pyro.read_temperature().celsius == first
        assert sim.rig.truth().felt_c < (first or 0) - 300
    elif name == "pyro-fogged":
        sim.clock.sleep(2.0)
        reading = pyro.read_temperature().celsius
        assert reading is not None and reading > sim.rig.truth().felt_c + 30.0  # 20 K/s for about 2.2 s
    elif name == "psu-garbage":
        with pytest.raises(InstrumentReplyError):
            psu.measure_output(1)
    elif name == "psu-no-reply":
        with pytest.raises(InstrumentTimeout):
            psu.measure_output(1)
    elif name in ("psu-ovp-trip", "psu-ocp-trip", "psu-otp-trip"):
        status = psu.read_limit_status(1)
        assert status.any_trip
        assert psu.read_output_state(1) is False
        assert sim.rig.truth().felt_power_w < 1e-6
    elif name == "felt-open":
        sim.clock.sleep(0.3)
        v, i = psu.measure_output(1)
        assert v > 29.0 and i == 0.0
    elif name == "felt-short":
        sim.clock.sleep(0.3)
        v, i = psu.measure_output(1)
        assert v / i < 0.35  # the bypass dominates the load
    elif name == "contact-rising":
        v0, i0 = psu.measure_output(1)
        sim.clock.sleep(3.0)
        v1, i1 = psu.measure_output(1)
        assert v1 / i1 > v0 / i0 + 0.5
    elif name == "psu-runaway":
        psu.set_voltage_and_current(1, 5.0, 2.0)
        sim.clock.sleep(0.3)
        assert psu.measure_output(1)[0] > 30.0  # 40 V asked; the 420 W envelope clamps it (UNREG)
        psu.set_output(1, False)
        sim.clock.sleep(0.3)
        assert psu.measure_output(1)[0] == 0.0
    elif name == "psu-disconnect":
        with pytest.raises(InstrumentError):
            psu.measure_output(1)
        assert sim.rig.truth().felt_power_w > 1.0  # a dropped connection leaves the output as it was
    elif name == "psu-reboot":
        with pytest.raises(InstrumentError):
            psu.measure_output(1)
        sim.clock.sleep(0.3)
        assert sim.rig.truth().felt_power_w < 1e-6  # it comes back with the output off
    elif name == "psu-read-only" or name == "psu-lock-stolen":
        with pytest.raises(InstrumentReportedError) as info:
            psu.set_voltage(1, 5.0)
        assert info.value.code == 200
    elif name == "extra-cooling":
        before = sim.rig.truth().felt_c
        sim.clock.sleep(1.0)
        assert sim.rig.truth().felt_c < before - 100.0
    else:
        pytest.fail(f"no check for fault {name}")


def test_fault_spec_parsing() -> None:
    assert parse_fault("felt-open@12.5") == Fault("felt-open", 12.5)
    assert parse_fault("pyro-silent") == Fault("pyro-silent", 0.0)
    with pytest.raises(ValueError, match="unknown fault"):
        parse_fault("gremlins@3")
    with pytest.raises(ValueError, match="NAME@SECONDS"):
        parse_fault("felt-open@soon")


def test_open_circuit_leaves_no_current_even_at_full_voltage() -> None:
    sim = make(faults=[Fault("felt-open", 0.0)])
    heat(sim, volts=60.0, amps=20.0, seconds=1.0)
    truth = sim.rig.truth()
    assert truth.felt_power_w == 0.0
    assert math.isclose(truth.felt_c, 25.0, abs_tol=0.5)


def test_pyrometer_range_edges_are_sentinels() -> None:
    sim = make(pyrometer_range_c=(600.0, 2000.0))
    sim.clock.sleep(1.0)
    sim.rig.set_temperatures_c(2100.0)
    assert sim.pyrometer.read_temperature().status is PyrometerStatus.ABOVE_RANGE
    sim.rig.set_temperatures_c(590.0)
    reading = sim.pyrometer.read_temperature()
    assert reading.status is PyrometerStatus.BELOW_RANGE
    assert reading.raw == b"05990\r"  # range start - 1 °C on the wire
