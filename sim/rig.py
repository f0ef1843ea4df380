"""The simulated rig: supply emulator -> Joule power in the felts -> plant -> pyrometer, on one clock.

Physics is integrated lazily: whenever an emulator is about to answer, :meth:`SimRig.sync` advances the
plant to the clock's present time in fixed sub-steps. All access goes through ``rig.lock``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from sim.cpx400dp import LSR_HARD, LSR_OCP, LSR_OVP, Cpx400dpEmulator
from sim.faults import Fault
from sim.plant import PlantInputs, PlantState, step
from sim.pyrometer import KtrdEmulator
from ufs_control.core.clock import Clock
from ufs_control.core.thermal import ThermalParams, Wiring, felt_resistance, k_to_c

SHORT_OHM = 0.3
CONTACT_RISE_OHM_PER_S = 0.2


@dataclass
class SimOptions:
    """Everything that shapes a simulated rig besides the plant parameters."""

    wiring: Wiring = Wiring.SERIES
    dt_s: float = 0.005
    psu_latency_s: float = 0.02
    ovp_reply_style: str = "manual"
    pyrometer_range_c: tuple[float, float] = (600.0, 2000.0)
    pyrometer_t90_s: float = 0.01
    pyrometer_noise_k: float = 0.5
    pyrometer_not_ready_s: float = 0.5
    pyrometer_protocol: str = "upp"
    pyrometer_address: int = 0
    io_time_s: float = 0.002
    faults: list[Fault] = field(default_factory=list)
    seed: int = 0


@dataclass(frozen=True)
class SimTruth:
    """What only the simulator knows: true temperatures and powers (for metrics and tests)."""

    t_s: float
    felt_c: float
    sample_c: float
    clamp_c: float
    felt_power_w: float
    contact_power_w: float


class SimRig:
    """Plant + CPX400DP emulator + pyrometer emulator + faults on a shared clock."""

    def __init__(self, params: ThermalParams, clock: Clock, options: SimOptions | None = None) -> None:
        self.params = params
        self.clock = clock
        self.options = options or SimOptions()
        o = self.options
        self.lock = threading.RLock()
        self.t = clock.now()
        self.t0 = self.t
        self.state = PlantState.ambient(params)
        self.psu = Cpx400dpEmulator(
            clock.now, ovp_reply_style=o.ovp_reply_style, latency_s=o.psu_latency_s, seed=o.seed
        )
        self.pyrometer = KtrdEmulator(
            clock.now,
            range_c=o.pyrometer_range_c,
            t90_s=o.pyrometer_t90_s,
            noise_k=o.pyrometer_noise_k,
            not_ready_s=o.pyrometer_not_ready_s,
            protocol=o.pyrometer_protocol,
            address=o.pyrometer_address,
            seed=o.seed + 1,
        )
        self.pyrometer.step(0.0, k_to_c(self.state.t_felt_k))
        self._pending_faults = sorted(o.faults, key=lambda f: f.at_s)
        self.active_faults: list[str] = []
        self.open_circuit = False
        self.shorted = False
        self.contact_extra_ohm = 0.0
        self._contact_rising = False
        self.extra_cooling_w_per_k = 0.0
        self.felt_power_w = 0.0
        self.contact_power_w = 0.0
        self.energy_j = 0.0

    # --- public -----------------------------------------------------------------------------

    def sync(self) -> float:
        """Advance the physics to ``clock.now()``; return the simulated time since start in seconds."""
        with self.lock:
            target = self.clock.now()
            while self.t < target - 1e-12:
                dt = min(self.options.dt_s, target - self.t)
                self._substep(dt)
            return self.t - self.t0

    def truth(self) -> SimTruth:
        """Advance to the present and return the true plant state."""
        with self.lock:
            self.sync()
            return SimTruth(
                self.t - self.t0,
                k_to_c(self.state.t_felt_k),
                k_to_c(self.state.t_sample_k),
                k_to_c(self.state.t_clamp_k),
                self.felt_power_w,
                self.contact_power_w,
            )

    def arm_faults(self, faults: list[Fault]) -> None:
        """Add ``faults`` counted from now instead of from the simulator's start (a window arms them at Start)."""
        with self.lock:
            self.sync()
            offset = self.t - self.t0
            armed = [Fault(f.name, f.at_s + offset) for f in faults]
            self._pending_faults = sorted(self._pending_faults + armed, key=lambda f: f.at_s)

    def set_temperatures_c(self, felt_c: float, sample_c: float | None = None) -> None:
        """Put the plant at a temperature (tests and steady-state studies)."""
        with self.lock:
            self.sync()
            ts = felt_c if sample_c is None else sample_c
            self.state = PlantState(felt_c + 273.15, ts + 273.15, self.state.t_clamp_k)
            self.pyrometer.optical_c = felt_c

    # --- internals --------------------------------------------------------------------------

    def _activate(self, fault: Fault) -> None:
        name = fault.name
        self.active_faults.append(name)
        pyro, psu = self.pyrometer, self.psu
        channels = self.options.wiring.channels
        if name == "pyro-silent":
            pyro.silent = True
        elif name == "pyro-garbled":
            pyro.garbled = True
        elif name == "pyro-stuck":
            pyro.freeze()
        elif name == "pyro-under-range":
            pyro.force_below_range = True
        elif name == "psu-garbage":
            psu.garbage_replies = True
        elif name == "psu-no-reply":
            psu.silent = True
        elif name == "psu-read-only":
            psu.read_only = True
        elif name == "psu-disconnect":
            psu.disconnect_all()
        elif name == "psu-reboot":
            psu.power_cycle()
        elif name in ("psu-ovp-trip", "psu-ocp-trip", "psu-otp-trip"):
            bit = {"psu-ovp-trip": LSR_OVP, "psu-ocp-trip": LSR_OCP, "psu-otp-trip": LSR_HARD}[name]
            for n in channels:
                psu.force_trip(n, bit)
        elif name == "felt-open":
            self.open_circuit = True
        elif name == "felt-short":
            self.shorted = True
        elif name == "contact-rising":
            self._contact_rising = True
        elif name == "psu-runaway":
            psu.runaway = True
        elif name == "psu-lock-stolen":
            thief = psu.open_session("another client")
            thief.feed(b"IFLOCK\n")
            thief.feed(b"OPALL 0\n")
        elif name == "extra-cooling":
            self.extra_cooling_w_per_k = 150.0 / 1125.0

    def _path_ohm(self, r_felt: float) -> tuple[float, float]:
        """Return (path resistance of one channel through felts and contacts, felt share of it)."""
        p = self.params
        r_c = p.r_contact_ohm + self.contact_extra_ohm
        per_felt = r_felt + r_c
        wiring = self.options.wiring
        if wiring is Wiring.SERIES:
            path = p.n_felts * per_felt
        elif wiring is Wiring.PARALLEL:
            path = per_felt / p.n_felts
        else:
            path = per_felt
        return path, r_felt / per_felt

    def _substep(self, dt: float) -> None:
        t_now = self.t + dt
        while self._pending_faults and self._pending_faults[0].at_s <= t_now - self.t0:
            self._activate(self._pending_faults.pop(0))
        if self._contact_rising:
            self.contact_extra_ohm += CONTACT_RISE_OHM_PER_S * dt
        p = self.params
        r_felt = felt_resistance(self.state.t_felt_k, p)
        path, felt_share = self._path_ohm(r_felt)
        if self.open_circuit:
            path = math.inf
        load = path
        if self.shorted:
            load = SHORT_OHM if math.isinf(path) else 1.0 / (1.0 / path + 1.0 / SHORT_OHM)
        load_total = load + p.r_leads_ohm
        channels = self.options.wiring.channels
        loads = tuple(load_total if (n + 1) in channels else math.inf for n in range(2))
        self.psu.step(t_now, dt, (loads[0], loads[1]))
        p_felt = p_contact = 0.0
        for n in channels:
            ch = self.psu.channels[n - 1]
            if math.isinf(path) or ch.i_out <= 0:
                continue
            v_load = ch.v_out - ch.i_out * p.r_leads_ohm
            i_path = v_load / path
            p_path = i_path * i_path * path
            p_felt += p_path * felt_share
            p_contact += p_path * (1.0 - felt_share)
        self.felt_power_w, self.contact_power_w = p_felt, p_contact
        self.energy_j += (p_felt + p_contact) * dt
        sink = self.extra_cooling_w_per_k * (self.state.t_felt_k - p.t_amb_k)
        self.state = step(self.state, PlantInputs(p_felt - sink, p_contact), dt, p)
        self.pyrometer.step(dt, k_to_c(self.state.t_felt_k))
        self.t = t_now
