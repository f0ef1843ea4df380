"""Controllers. The product controller is feedforward from the plant model plus a PI correction
(simple-pid) on electrical power, with a temperature-scheduled integral time, an adaptive feedforward
scale, and a bumpless hand-over that pre-loads the mismatch measured when the loop closes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simple_pid import PID

from ufs_control.control.model import PlantModel
from ufs_control.core.rig import ControllerConfig

K_FF_RANGE = (0.4, 2.5)


@dataclass(frozen=True)
class ControlInput:
    """One control tick. Temperatures in °C, rates in °C/s, powers in W."""

    dt_s: float
    setpoint_c: float | None
    setpoint_rate_c_per_s: float
    measured_c: float | None
    closed: bool  # the runner allows closed-loop action this tick (engaged and a valid reading)
    p_max_w: float
    open_power_w: float | None = None  # an open-loop power segment
    profile_t_s: float = 0.0  # where the run is in the profile (re-based time), for a learned correction


@dataclass(frozen=True)
class ControlOutput:
    """The command and its visible components (the run log records them)."""

    power_w: float
    ff_w: float = 0.0
    p_w: float = 0.0
    i_w: float = 0.0
    closed: bool = False


class Controller(Protocol):
    """A small callable with explicit state."""

    name: str
    rebase: bool

    def update(self, inp: ControlInput) -> ControlOutput: ...

    def engage(self, setpoint_c: float, setpoint_rate: float, measured_rate: float | None) -> None:
        """The loop closes now (the runner has re-based the profile onto the measurement)."""
        ...

    def reset(self) -> None: ...


class ControllerTime:
    """simple-pid reads a time function even when dt is passed; give it controller time."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FeedforwardPI:
    """P = k·P_ss(T_sp) + C(T_sp)·dT_sp/dt + PI(T_sp − T_meas).

    Kc = C_f/(τc + θ) and τ_I = min(C_f/G, 4(τc + θ)) are scheduled on the setpoint. The PI output is
    limited every cycle to (−P_ff, P_max − P_ff), so its integral cannot wind up past the actuator. The
    scale ``k`` starts at 1, is set at hand-over from the rate mismatch seen in the blind zone, and then
    adapts slowly on the tracking error, so a model that is off by a factor tracks ramps without lag.
    """

    rebase = True

    def __init__(self, model: PlantModel, config: ControllerConfig | None = None, name: str = "ff_pi") -> None:
        self.model = model
        self.config = config or ControllerConfig()
        self.name = name
        self._time = ControllerTime()
        self.pid = PID(0.5, 0.5, 0.0, sample_time=None, output_limits=(None, None), time_fn=self._time)
        self.pid.set_auto_mode(False)
        self.k_ff = 1.0
        self.b_ff = 0.0
        self.adapt_gain = 0.25  # fraction of the integral action carried by the feedforward scale
        self._paused = False
        self._last_power = 0.0
        self._error_f: float | None = None
        self._rate_env = 0.0
        self._dt = 0.05
        self._sample_c: float | None = None
        self._last_sp: float | None = None
        # A learned feedforward correction in W at a profile time (run-to-run learning); None = none.
        self.learned: Callable[[float], float] | None = None
        self._profile_t = 0.0

    def reset(self) -> None:
        self.pid.reset()
        self.pid.set_auto_mode(False)
        self.k_ff = 1.0
        self.b_ff = 0.0
        self._paused = False
        self._last_power = 0.0
        self._error_f = None
        self._rate_env = 0.0
        self._sample_c = None
        self._last_sp = None

    def _tunings(self, sp: float, rate: float) -> tuple[float, float]:
        """SIMC on the felt node: Kc = C_f/(τc + θ), τ_I = min(C_f/G, 4(τc + θ)), scheduled on the setpoint.

        τc is short on ramps (tracking) and long on flat setpoints, where the only thing a fast loop would
        do is pass the pyrometer's noise into the sample.
        """
        c = self.config
        # Stay fast for a couple of seconds after a ramp ends: the corner is where model error in the
        # heat capacity shows up as a step, and a slow loop would let it through as overshoot.
        self._rate_env = max(abs(rate), self._rate_env * math.exp(-self._dt / 1.5))
        # ... and while the error is large (a slow disturbance such as a lagging fixture), whatever the rate.
        error = abs(self._error_f) if self._error_f is not None else 0.0
        blend = min(max(self._rate_env / 10.0, (error - 2.0) / 4.0), 1.0)
        tau_c = c.tau_c_hold_s + (c.tau_c_s - c.tau_c_hold_s) * blend
        cf = self.model.felt_capacity_j_k(sp)
        kc = cf / (tau_c + c.theta_s)
        tau_i = min(cf / self.model.conductance_w_k(sp), 4.0 * (tau_c + c.theta_s))
        return kc, kc / tau_i

    def feedforward_w(self, sp: float, rate: float) -> float:
        """Two-node feedforward in W: what the felt loses and stores at the setpoint, plus the heat that
        flows into the (lagging) sample stack, scaled by the learned corrections k and b.

        P = [k·L_f(T_sp) + b·(T_sp − T_amb) + C_f·dT_sp/dt + G_fs·(T_sp − T̂_s)] / (1 − φ), with T̂_s the
        model's estimate of the sample-stack temperature. In steady state this is k·P_ss(T_sp) + b·ΔT.
        """
        m, p = self.model, self.model.params
        t_s = self._sample_c if self._sample_c is not None else sp
        felt_part = self.k_ff * m.felt_loss_w(sp) + m.felt_capacity_j_k(sp) * rate
        to_sample = p.g_fs_w_k * (sp - t_s)
        steady_sample = m.steady_power_w(sp) - m.felt_loss_w(sp)  # G_fs·(T_f − T_s) at equilibrium
        to_sample += (self.k_ff - 1.0) * steady_sample
        dt_amb = sp - (p.t_amb_k - 273.15)
        learned = self.learned(self._profile_t) if self.learned is not None else 0.0
        return (felt_part + to_sample + self.b_ff * dt_amb) / (1.0 - p.phi) + learned

    def _track_sample(self, felt_c: float, power_w: float, dt: float) -> None:
        """Integrate the model's sample-stack node, driven by the felt temperature and the power."""
        m, p = self.model, self.model.params
        if self._sample_c is None:
            self._sample_c = felt_c
            return
        t_s = self._sample_c
        flow = p.phi * power_w + p.g_fs_w_k * (felt_c - t_s) - m.sample_loss_w(t_s)
        self._sample_c = t_s + dt * flow / max(m.sample_capacity_j_k(t_s), 1e-6)

    def engage(self, setpoint_c: float, setpoint_rate: float, measured_rate: float | None) -> None:
        """Close the loop bumplessly in power, and correct the rate mismatch seen in the blind zone.

        The power that was going in is what this plant needed to do what it did; re-basing moved the
        setpoint, so the model's feedforward at the new setpoint would jump. The mismatch (plus
        C·(planned rate - measured rate)) becomes a loss term proportional to (T - T_amb): near the
        pyrometer's lower limit conduction into the clamps dominates the model error, and it grows with
        the temperature difference, not with T⁴.
        """
        c = self.model.heat_capacity_j_k(setpoint_c)
        wanted = self._last_power
        if measured_rate is not None:
            wanted += c * (setpoint_rate - measured_rate)
        if self._last_power > 0:
            mismatch = wanted - self.feedforward_w(setpoint_c, setpoint_rate)
            span = max(setpoint_c - self.model.params.t_amb_k + 273.15, 50.0)
            self.b_ff = mismatch / span
        self.pid.set_auto_mode(True, last_output=0.0)
        self._paused = False
        self._error_f = None

    def update(self, inp: ControlInput) -> ControlOutput:
        out = self._update(inp)
        self._last_power = out.power_w
        self._last_sp = inp.setpoint_c
        felt = inp.measured_c if inp.measured_c is not None else inp.setpoint_c
        if felt is not None:
            self._track_sample(felt, out.power_w, inp.dt_s)
        return out

    def _update(self, inp: ControlInput) -> ControlOutput:
        self._time.t += inp.dt_s
        self._profile_t = inp.profile_t_s
        if inp.open_power_w is not None:
            self._pause()
            return ControlOutput(min(inp.open_power_w, inp.p_max_w), ff_w=inp.open_power_w)
        sp = inp.setpoint_c
        if sp is None:
            self._pause()
            return ControlOutput(0.0)
        ff = self.feedforward_w(sp, inp.setpoint_rate_c_per_s)
        if not inp.closed or inp.measured_c is None or (not self.pid.auto_mode and not self._paused):
            if self.pid.auto_mode:
                self._pause()
            return ControlOutput(min(max(ff, 0.0), inp.p_max_w), ff_w=ff)
        if self._paused:
            # Resume bumplessly with the integral it had: never integrate on stale data.
            self.pid.set_auto_mode(True, last_output=self._held_integral)
            self._paused = False
        self._dt = inp.dt_s
        kc, ki = self._tunings(sp, inp.setpoint_rate_c_per_s)
        self.pid.tunings = (kc, ki * (1.0 - self.adapt_gain), 0.0)
        self.pid.output_limits = (-ff, inp.p_max_w - ff)
        # Filter the error, not the measurement: a ramp that is tracked gives a steady error, so the filter
        # adds no lag bias there, while the pyrometer's noise is kept out of the proportional term.
        error = sp - inp.measured_c
        tau_f = self.config.error_filter_s
        if self._error_f is None or tau_f <= 0:
            self._error_f = error
        else:
            self._error_f += (error - self._error_f) * inp.dt_s / (tau_f + inp.dt_s)
        self.pid.setpoint = sp
        raw = self.pid(sp - self._error_f, dt=inp.dt_s)
        u = 0.0 if raw is None else float(raw)
        if self.config.adapt_feedforward:
            # The adaptive scale is the rest of the integral action, shaped like the steady-state loss.
            p_ss = max(self.model.steady_power_w(sp), 1.0)
            dk = ki * self.adapt_gain * self._error_f * inp.dt_s / p_ss
            at_limit = (ff + u >= inp.p_max_w and dk > 0) or (ff + u <= 0 and dk < 0)
            if not at_limit:
                self.k_ff = min(max(self.k_ff + dk, K_FF_RANGE[0]), K_FF_RANGE[1])
        p_term, i_term, _ = self.pid.components
        power = min(max(ff + u, 0.0), inp.p_max_w)
        return ControlOutput(power, ff_w=ff, p_w=float(p_term), i_w=float(i_term), closed=True)

    _held_integral = 0.0

    def _pause(self) -> None:
        if self.pid.auto_mode:
            self._held_integral = float(self.pid.components[1])
            self.pid.set_auto_mode(False)
            self._paused = True
