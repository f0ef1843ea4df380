"""Composition root: the only module that names concrete classes from ``drivers`` and ``sim``."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import KtrdPyrometer, ProbeResult, probe
from sim.clock import VirtualClock
from sim.faults import Fault
from sim.rig import SimOptions, SimRig
from sim.server import SimServer
from sim.transport import InMemoryPort, InMemoryResource
from ufs_control.core.clock import Clock, ScaledClock
from ufs_control.core.thermal import ThermalParams, Wiring


@dataclass
class SimulatedRig:
    """An in-process simulated rig with the real drivers attached through in-memory transports."""

    rig: SimRig
    clock: Clock
    psu: Cpx400dp
    pyrometer: KtrdPyrometer

    def close(self) -> None:
        self.psu.close()
        self.pyrometer.close()


def build_simulator(
    params: ThermalParams,
    options: SimOptions | None = None,
    speed: float = 0.0,
    range_c: tuple[float, float] | None = None,
) -> SimulatedRig:
    """Build the in-process simulator; ``speed`` 0 runs on a virtual clock (as fast as possible)."""
    clock: Clock = VirtualClock() if speed == 0 else ScaledClock(speed)
    opts = options or SimOptions()
    rig = SimRig(params, clock, opts)
    psu = Cpx400dp(InMemoryResource(rig), name="CPX400DP (simulated)")
    pyro = KtrdPyrometer(
        InMemoryPort(rig),
        address=opts.pyrometer_address,
        range_c=range_c or opts.pyrometer_range_c,
        name="pyrometer (simulated)",
    )
    return SimulatedRig(rig, clock, psu, pyro)


def start_sim_server(
    params: ThermalParams,
    host: str = "127.0.0.1",
    psu_port: int = 9221,
    pyrometer_port: int = 9222,
    speed: float = 1.0,
    faults: list[Fault] | None = None,
    wiring: Wiring = Wiring.SERIES,
    ovp_reply_style: str = "manual",
) -> SimServer:
    """Start the TCP simulator on loopback in real time scaled by ``speed``."""
    opts = SimOptions(wiring=wiring, faults=list(faults or []), ovp_reply_style=ovp_reply_style)
    rig = SimRig(params, ScaledClock(speed), opts)
    return SimServer(rig, host, psu_port, pyrometer_port).start()


def probe_pyrometer(url: str) -> list[ProbeResult]:
    """Try every known pyrometer codec on ``url``."""
    return probe(url)


def open_real_instruments(
    psu_resource: str,
    pyrometer_url: str,
    protocol: str = "upp",
    address: int = 0,
    range_c: tuple[float, float] = (600.0, 2000.0),
) -> tuple[Cpx400dp, KtrdPyrometer]:
    """Open the supply through pyvisa and the pyrometer through pyserial."""
    psu = Cpx400dp.open(psu_resource)
    try:
        pyro = KtrdPyrometer.open(pyrometer_url, protocol, address, range_c)
    except Exception:
        psu.close()
        raise
    return psu, pyro


def parse_fault_spec(text: str) -> Fault:
    """Parse ``NAME@SECONDS`` for the command line (raises ValueError with a one-line reason)."""
    from sim.faults import parse_fault

    return parse_fault(text)


def load_plant(path: str | None, preset_name: str = "A") -> ThermalParams:
    """Plant parameters from a TOML file, or the named preset."""
    from ufs_control.core.thermal import load_params, preset

    return load_params(path) if path else preset(preset_name)
