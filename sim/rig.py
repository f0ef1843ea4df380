"""The simulated rig: supply emulator -> Joule power in the felts -> plant -> pyrometer, on one clock.

Physics is integrated lazily: whenever an emulator is about to answer, :meth:`SimRig.sync` advances the
plant to the clock's present time, from event to event: a step ends where a setpoint change reaches the
supply's output, a fault switches on, a trip fires or a reading is taken, so outputs switch at their true
time and steps in between can be long (the power follows the felt's resistance within a step). A supply
command that cannot see the physics (a setpoint write) only catches up with the events
(:meth:`SimRig.sync_events`). All access goes through ``rig.lock``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from sim.cpx400dp import (
    LSR_HARD,
    LSR_OCP,
    LSR_OVP,
    OCP_DELAY_S,
    OUTPUT_TAU_S,
    OVP_DELAY_S,
    Channel,
    Cpx400dpEmulator,
    output_target,
)
from sim.faults import Fault
from sim.plant import PlantState, PowerLaw, step_driven
from sim.pyrometer import KtrdEmulator
from ufs_control.core.clock import Clock
from ufs_control.core.thermal import ThermalParams, Wiring, derivatives_for, felt_resistance_for, k_to_c

SHORT_OHM = 0.3
CONTACT_RISE_OHM_PER_S = 0.2


@dataclass
class SimOptions:
    """Everything that shapes a simulated rig besides the plant parameters."""

    wiring: Wiring = Wiring.SERIES
    max_step_s: float = 0.05  # longest integration step between two events
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
        # The model bound to the plant, and what the load depends on besides the felts' temperature and the
        # faults: the physics' inner loop evaluates them several times a step.
        self._rates = derivatives_for(params)
        self._felt_resistance = felt_resistance_for(params)
        self._r_contact_ohm, self._r_leads_ohm, self._n_felts = params.r_contact_ohm, params.r_leads_ohm, params.n_felts
        self._wiring = o.wiring
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
        self.psu.before_status_read = self.sync  # its mode bits follow the physics
        self._wired = tuple(n in o.wiring.channels for n in (1, 2))
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
            self._advance(self.clock.now())
            return self.t - self.t0

    def sync_events(self) -> None:
        """Bring what a supply command can see up to ``clock.now()``.

        The physics is advanced only if something a command sees can change before then: a setpoint change
        reaching an output, a fault, a meter reading, a trip that may be counting. Otherwise it waits for the
        next :meth:`sync` (the same steps, taken later); the emulator asks for that itself before it reports
        its status registers, whose mode bits follow the physics.
        """
        with self.lock:
            target = self.clock.now()
            if not self._quiet_until(target):
                self._advance(target)

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
        elif name == "pyro-fogged":
            pyro.fogged_since = self.t  # the physics catch up in substeps: the time of the fault, not of the sync
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

    def _quiet_until(self, target: float) -> bool:
        """True if no event a supply command could see falls between the physics' time and ``target``."""
        if target - self.t > self.options.max_step_s:
            return False
        if self._pending_faults and self.t0 + self._pending_faults[0].at_s <= target:
            return False
        psu = self.psu
        if psu.next_change_s() <= target or psu.next_meter_s <= target:
            return False
        for ch in psu.channels:
            # An output can only pass its OVP/OCP level if its settings or its present value do.
            if ch.live and (ch.eff_v > ch.ovp or ch.eff_i > ch.ocp or ch.v_out > ch.ovp or ch.i_out > ch.ocp):
                return False
        return True

    def _advance(self, target: float) -> None:
        """Integrate to ``target`` from event to event; the events due at ``target`` happen too."""
        max_step = self.options.max_step_s
        psu = self.psu
        while True:
            self._apply_due(self.t)
            if psu.next_meter_s <= self.t:  # a reading due now, of the load as it is after this instant's events
                load = self._circuit(self.state.t_felt_k, self.contact_extra_ohm)[0]
                psu.read_meters(
                    self.t,
                    [
                        (ch.v_out, ch.v_out / load if wired and load != math.inf else 0.0)
                        for ch, wired in zip(psu.channels, self._wired, strict=True)
                    ],
                )
            if self.t >= target - 1e-12:
                return
            end = min(target, self.t + max_step, psu.next_change_s(), self._trip_due())
            if self._pending_faults:
                end = min(end, self.t0 + self._pending_faults[0].at_s)
            self._integrate(end)

    def _apply_due(self, t: float) -> None:
        while self._pending_faults and self.t0 + self._pending_faults[0].at_s <= t:
            self._activate(self._pending_faults.pop(0))
        self.psu.apply_due(t)

    def _trip_due(self) -> float:
        """The earliest time a counting OVP/OCP timer can fire (inf if none counts)."""
        due = math.inf
        for ch in self.psu.channels:
            if not ch.live:
                continue
            if ch.ovp_timer > 0:
                due = min(due, self.t + max(OVP_DELAY_S - ch.ovp_timer, 1e-9))
            if ch.ocp_timer > 0:
                due = min(due, self.t + max(OCP_DELAY_S - ch.ocp_timer, 1e-9))
        return due

    def _circuit(self, t_felt_k: float, contact_extra_ohm: float) -> tuple[float, float, float]:
        """Return the load a wired output sees (felts, contacts, a short, leads) in ohm at felt temperature
        ``t_felt_k``, and the power in W into the felts and into the contacts per squared output volt."""
        r_felt = self._felt_resistance(t_felt_k)
        per_felt = r_felt + self._r_contact_ohm + contact_extra_ohm
        wiring, leads = self._wiring, self._r_leads_ohm
        if wiring is Wiring.SERIES:
            path = self._n_felts * per_felt
        elif wiring is Wiring.PARALLEL:
            path = per_felt / self._n_felts
        else:
            path = per_felt
        if self.open_circuit:
            return (SHORT_OHM if self.shorted else math.inf) + leads, 0.0, 0.0
        load = 1.0 / (1.0 / path + 1.0 / SHORT_OHM) if self.shorted else path
        load += leads
        i_per_v = (1.0 - leads / load) / path  # the path's share of the output current, per volt
        w_per_v2 = i_per_v * i_per_v * path
        share = r_felt / per_felt
        return load, w_per_v2 * share, w_per_v2 * (1.0 - share)

    def _integrate(self, end: float) -> None:
        """Integrate from ``self.t`` to ``end`` (or to an earlier trip threshold) with the supply's settings
        constant: each output relaxes to the level the felts' present resistance asks for (lag 3 ms)."""
        p, psu, circuit = self.params, self.psu, self._circuit
        t_start, h = self.t, end - self.t
        state0 = self.state
        tf0 = state0.t_felt_k
        rise = CONTACT_RISE_OHM_PER_S if self._contact_rising else 0.0
        c0 = self.contact_extra_ohm
        load0, kf0, kc0 = circuit(tf0, c0)
        wired = self._wired
        tau = OUTPUT_TAU_S
        # Each output at the start: (n, channel, load, its settling level, how far it still is from it).
        outputs: list[tuple[int, Channel, float, float, float]] = []
        powered: list[Channel] = []
        for n, ch in enumerate(psu.channels, start=1):
            if not ch.live and ch.v_out == 0.0 and ch.mode == "OFF":
                continue  # off and settled: nothing changes
            r0 = load0 if wired[n - 1] else math.inf
            vt0 = output_target(ch, r0)[0]
            d0 = ch.v_out - vt0
            if -1e-9 < d0 < 1e-9:
                d0 = 0.0
            outputs.append((n, ch, r0, vt0, d0))
            if ch.live:
                if wired[n - 1]:
                    powered.append(ch)
                # End the step where a relaxing output crosses its OVP or OCP level: the trip counts from there
                # (only an output still rising towards its level can cross one).
                if ch.v_out < vt0:
                    for level in (ch.ovp, ch.ocp * r0):
                        if ch.v_out <= level < vt0:
                            h = min(h, tau * math.log((vt0 - ch.v_out) / (vt0 - level)) * (1 + 1e-9) + 1e-9)
        # The relaxing part of the power, integrated exactly at the start's resistance.
        v2_0 = e_relax = 0.0
        for n, _ch, _r0, vt0, d0 in outputs:
            if wired[n - 1]:
                v2_0 += vt0 * vt0
                if d0:
                    e1 = tau * (1.0 - math.exp(-h / tau))
                    e2 = 0.5 * tau * (1.0 - math.exp(-2.0 * h / tau))
                    e_relax += 2.0 * vt0 * d0 * e1 + d0 * d0 * e2
        q_felt, q_contact = kf0 * e_relax / h, kc0 * e_relax / h
        sink, t_amb = self.extra_cooling_w_per_k, p.t_amb_k
        law: PowerLaw
        if len(powered) == 1:
            only = powered[0]

            def law(s: float, tf: float) -> tuple[float, float]:
                load, kf, kc = circuit(tf, c0 + rise * s)
                v = output_target(only, load)[0]
                v2 = v * v
                return kf * v2 + q_felt - sink * (tf - t_amb), kc * v2 + q_contact

        elif powered:

            def law(s: float, tf: float) -> tuple[float, float]:
                load, kf, kc = circuit(tf, c0 + rise * s)
                v2 = 0.0
                for ch in powered:
                    v = output_target(ch, load)[0]
                    v2 += v * v
                return kf * v2 + q_felt - sink * (tf - t_amb), kc * v2 + q_contact

        else:

            def law(s: float, tf: float) -> tuple[float, float]:
                return q_felt - sink * (tf - t_amb), q_contact

        state1 = step_driven(state0, law, h, p, self._rates)
        tf1 = state1.t_felt_k
        c1 = c0 + rise * h
        load1, kf1, kc1 = circuit(tf1, c1)
        # Meter readings due within the step, of the outputs as they were then (one due at its end is taken
        # after the events of that instant).
        while psu.next_meter_s < t_start + h:
            tm = psu.next_meter_s
            x = (tm - t_start) / h
            load_m = circuit(tf0 + x * (tf1 - tf0), c0 + rise * (tm - t_start))[0]
            relaxed = math.exp(-(tm - t_start) / tau)
            readings = [(0.0, 0.0)] * len(psu.channels)
            for n, ch, _r0, _vt0, d0 in outputs:
                r = load_m if wired[n - 1] else math.inf
                v = output_target(ch, r)[0] + d0 * relaxed
                readings[n - 1] = (v, 0.0 if r == math.inf else v / r)
            psu.read_meters(tm, readings)
        decay = math.exp(-h / tau)
        v2_1 = v2_end = 0.0
        for n, ch, _r0, _vt0, d0 in outputs:
            r1 = load1 if wired[n - 1] else math.inf
            vt1, mode = output_target(ch, r1)
            v0, v1 = ch.v_out, vt1 + d0 * decay
            i0, i1 = ch.i_out, (0.0 if r1 == math.inf else v1 / r1)
            if wired[n - 1]:
                v2_1 += vt1 * vt1
                v2_end += v1 * v1
            over_v = _time_over(v0, v1, ch.ovp, h) if v1 > ch.ovp else 0.0
            over_i = _time_over(i0, i1, ch.ocp, h) if i1 > ch.ocp else 0.0
            psu.settle(n, ch, v1, r1, mode, over_v, over_i)
        self.felt_power_w, self.contact_power_w = kf1 * v2_end, kc1 * v2_end
        self.energy_j += 0.5 * h * ((kf0 + kc0) * v2_0 + (kf1 + kc1) * v2_1) + (kf0 + kc0) * e_relax
        self.pyrometer.follow(h, k_to_c(tf0), k_to_c(tf1))
        self.contact_extra_ohm = c1
        self.state = state1
        self.t = t_start + h if h < end - t_start else end


def _time_over(x0: float, x1: float, level: float, h: float) -> float:
    """How long within a step of ``h`` seconds a value going from ``x0`` to ``x1`` was above ``level``
    (linear in between; used only when ``x1`` is above it)."""
    if x0 > level or x1 <= x0:
        return h
    return h * (x1 - level) / (x1 - x0)
