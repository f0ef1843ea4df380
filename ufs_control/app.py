"""Composition root: the only module that names concrete classes from ``drivers`` and ``sim``.

It builds either the real instruments (pyvisa, pyserial) or the embedded simulator (the same drivers on
in-memory transports) from a rig configuration, and wires them to a runner and a controller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import CODECS, KtrdPyrometer, ProbeResult, probe
from sim.clock import FastForwardClock, VirtualClock
from sim.faults import Fault, parse_fault
from sim.rig import SimOptions, SimRig
from sim.server import SimServer
from sim.transport import InMemoryPort, InMemoryResource
from ufs_control.control.controller import Controller, FeedforwardPI, NaiveVoltagePID, OpenLoopProgramme
from ufs_control.control.model import PlantModel
from ufs_control.core.clock import Clock, MonotonicClock, ScaledClock
from ufs_control.core.errors import ConfigError
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import ThermalParams, Wiring, load_params, preset
from ufs_control.plotting import write_plot
from ufs_control.runner.engine import Progress, Runner
from ufs_control.runner.records import Sample

CONTROLLERS = ("ff_pi", "naive_voltage_pid", "open_loop", "exact_ff")
CODEC_NAMES = tuple(CODECS)


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


def sim_options(**kwargs: Any) -> SimOptions:
    """Simulator options (wiring, latencies, pyrometer range and noise, faults, seed)."""
    return SimOptions(**kwargs)


def build_simulator(
    params: ThermalParams,
    options: SimOptions | None = None,
    speed: float = 0.0,
    range_c: tuple[float, float] | None = None,
    fast_forward_s: float | None = None,
) -> SimulatedRig:
    """Build the in-process simulator; ``speed`` 0 runs on a virtual clock (as fast as possible);
    ``fast_forward_s`` runs virtual time up to that mark and real time after it."""
    clock: Clock
    if fast_forward_s is not None:
        clock = FastForwardClock(fast_forward_s)
    else:
        clock = VirtualClock() if speed == 0 else ScaledClock(speed)
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


def parse_fault_spec(text: str) -> Fault:
    """Parse ``NAME@SECONDS`` for the command line (raises ValueError with a one-line reason)."""
    return parse_fault(text)


def load_plant(path: str | None, preset_name: str = "A") -> ThermalParams:
    """Plant parameters from a TOML file, or the named preset."""
    return load_params(path) if path else preset(preset_name)


def make_controller(name: str, rig: RigConfig, true_params: ThermalParams | None = None) -> Controller:
    """The product controller (``ff_pi``) or a benchmark baseline by name."""
    if name == "ff_pi":
        return FeedforwardPI(PlantModel(rig.model, rig.wiring), rig.controller)
    if name == "exact_ff":
        params = true_params or rig.model
        return FeedforwardPI(PlantModel(params, rig.wiring), rig.controller, name="exact_ff")
    if name == "open_loop":
        return OpenLoopProgramme(PlantModel(rig.model, rig.wiring))
    if name == "naive_voltage_pid":
        return NaiveVoltagePID(max_v=rig.limits.max_voltage_v)
    raise ConfigError("<command line>", "controller", f"unknown controller {name!r}, expected one of {CONTROLLERS}")


def _plot(run_dir: Path, samples: list[Sample], laid: Any) -> None:
    write_plot(run_dir, samples, laid, title=run_dir.name)


@dataclass
class RigSession:
    """A runner wired to instruments, and what it takes to close them."""

    runner: Runner
    simulated: bool
    banner: str
    sim: SimulatedRig | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            try:
                close()
            except Exception:
                pass


def open_session(
    rig: RigConfig,
    *,
    simulate: bool,
    runs_dir: Path | None,
    speed: float = 0.0,
    faults: list[Fault] | None = None,
    sim_params: ThermalParams | None = None,
    sim_overrides: dict[str, Any] | None = None,
    controller: str = "ff_pi",
    progress: Callable[[Progress], None] | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    seed: int = 0,
    plot: bool = True,
    fast_forward_s: float | None = None,
) -> RigSession:
    """Build instruments (simulated or real), a controller and a runner for ``rig``."""
    if simulate:
        params = sim_params or preset(rig.sim_preset)
        opts = SimOptions(
            wiring=rig.wiring,
            faults=list(faults or []),
            pyrometer_range_c=rig.pyrometer.range_c,
            pyrometer_address=rig.pyrometer.address,
            seed=seed,
            **(sim_overrides or {}),
        )
        sim = build_simulator(params, opts, speed=speed, range_c=rig.pyrometer.range_c, fast_forward_s=fast_forward_s)
        ctl = make_controller(controller, rig, params)
        provenance = {
            "simulator": {
                "params": dataclasses.asdict(params),
                "faults": [dataclasses.asdict(f) for f in opts.faults],
                "speed": speed,
                "seed": seed,
            }
        }
        runner = Runner(
            sim.psu,
            sim.pyrometer,
            sim.clock,
            rig,
            ctl,
            runs_dir,
            plot_writer=_plot if plot else None,
            provenance=provenance,
            progress=progress,
            on_sample=on_sample,
        )
        label = "as fast as possible" if speed == 0 else f"at {speed:g}x real time"
        banner = f"SIMULATION: running on the embedded simulator (plant preset {rig.sim_preset}), {label}"
        return RigSession(runner, True, banner, sim, [sim.close])
    if not rig.psu.resource or not rig.pyrometer.url:
        raise ConfigError(rig.source, "psu.resource/pyrometer.url", "give both instrument addresses, or use --sim")
    psu = Cpx400dp.open(rig.psu.resource, timeout_s=rig.psu.timeout_s)
    try:
        pyro = KtrdPyrometer.open(
            rig.pyrometer.url,
            rig.pyrometer.protocol,
            rig.pyrometer.address,
            rig.pyrometer.range_c,
            rig.pyrometer.timeout_s,
        )
    except Exception:
        psu.close()
        raise
    ctl = make_controller(controller, rig)
    runner = Runner(
        psu,
        pyro,
        MonotonicClock(),
        rig,
        ctl,
        runs_dir,
        plot_writer=_plot if plot else None,
        progress=progress,
        on_sample=on_sample,
    )
    banner = f"RIG: supply {rig.psu.resource}, pyrometer {rig.pyrometer.url} ({rig.pyrometer.protocol})"
    return RigSession(runner, False, banner, None, [psu.close, pyro.close])


class GuiBackend:
    """Builds runners for the GUI; keeps the open session so it can be closed."""

    def __init__(self, runs_dir: Path, speed: float = 1.0, faults: list[Fault] | None = None) -> None:
        self.runs_dir = runs_dir
        self.speed = speed
        self.faults = list(faults or [])
        self.session: RigSession | None = None

    def connect(self, rig: RigConfig, simulate: bool) -> Runner:
        self.close()
        self.session = open_session(
            rig, simulate=simulate, runs_dir=self.runs_dir, speed=self.speed, faults=self.faults
        )
        return self.session.runner

    def identify(self, rig: RigConfig, simulate: bool) -> dict[str, str]:
        if self.session is not None and self.session.simulated == simulate and simulate:
            runner = self.session.runner
            return {"psu": runner.psu.identify().raw, "pyrometer": runner.pyrometer.identify().raw}
        probe_session = open_session(rig, simulate=simulate, runs_dir=None, plot=False)
        try:
            runner = probe_session.runner
            return {"psu": runner.psu.identify().raw, "pyrometer": runner.pyrometer.identify().raw}
        finally:
            probe_session.close()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def run_gui(
    rig: RigConfig,
    simulate: bool,
    runs_dir: Path,
    speed: float = 1.0,
    faults: list[Fault] | None = None,
    profile: Path | None = None,
    run: bool = False,
    screenshot: Path | None = None,
    screenshot_at_s: float | None = None,
) -> int:
    """Open the operator window on the simulator or the rig."""
    from ufs_control.gui.main import launch

    backend = GuiBackend(runs_dir, speed=speed, faults=faults)
    return launch(backend, rig, simulate, profile, run, screenshot, screenshot_at_s)
