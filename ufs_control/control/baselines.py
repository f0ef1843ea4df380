"""Benchmark baselines (``ufs bench`` only): the model's open-loop power programme, and a naive PID on
volts as a hand-written script would do it. The product controller is :class:`FeedforwardPI`.
"""

from __future__ import annotations

from simple_pid import PID

from ufs_control.control.controller import ControlInput, ControllerTime, ControlOutput
from ufs_control.control.model import PlantModel


class OpenLoopProgramme:
    """Baseline: the power programme a model predicts (P_ss(T_sp) + C·dT_sp/dt), never corrected."""

    rebase = False

    def __init__(self, model: PlantModel, name: str = "open_loop") -> None:
        self.model = model
        self.name = name

    def reset(self) -> None:
        pass

    def engage(self, setpoint_c: float, setpoint_rate: float, measured_rate: float | None) -> None:
        pass

    def update(self, inp: ControlInput) -> ControlOutput:
        if inp.open_power_w is not None:
            return ControlOutput(min(inp.open_power_w, inp.p_max_w), ff_w=inp.open_power_w)
        if inp.setpoint_c is None:
            return ControlOutput(0.0)
        ff = (
            self.model.steady_power_w(inp.setpoint_c)
            + self.model.heat_capacity_j_k(inp.setpoint_c) * inp.setpoint_rate_c_per_s
        )
        return ControlOutput(min(max(ff, 0.0), inp.p_max_w), ff_w=ff)


class NaiveVoltagePID:
    """Baseline: what a hand-written script does — simple-pid on volts, fixed gains, no feedforward.

    Below the pyrometer's range it applies a fixed preheat voltage; once readings are valid it closes
    a PI on the supply voltage. The runner actuates power only, so the voltage is handed over as the power
    it puts into the model's load resistance at the setpoint (the actuator turns it back into volts).
    """

    rebase = False

    def __init__(
        self,
        kp_v_per_k: float = 0.02,
        ki_v_per_ks: float = 0.04,
        preheat_v: float = 20.0,
        max_v: float = 45.0,
        name: str = "naive_voltage_pid",
        model: PlantModel | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self._time = ControllerTime()
        self.preheat_v = preheat_v
        self.pid = PID(kp_v_per_k, ki_v_per_ks, 0.0, sample_time=None, output_limits=(0.0, max_v), time_fn=self._time)
        self.pid.set_auto_mode(False)

    def reset(self) -> None:
        self.pid.reset()
        self.pid.set_auto_mode(False)

    def engage(self, setpoint_c: float, setpoint_rate: float, measured_rate: float | None) -> None:
        self.pid.set_auto_mode(True, last_output=self.preheat_v)

    def update(self, inp: ControlInput) -> ControlOutput:
        self._time.t += inp.dt_s
        if inp.open_power_w is not None:
            return ControlOutput(min(inp.open_power_w, inp.p_max_w), ff_w=inp.open_power_w)
        if inp.setpoint_c is None:
            return ControlOutput(0.0)
        if not inp.closed or inp.measured_c is None or not self.pid.auto_mode:
            return ControlOutput(min(self._power(self.preheat_v, inp.setpoint_c), inp.p_max_w))
        self.pid.setpoint = inp.setpoint_c
        raw = self.pid(inp.measured_c, dt=inp.dt_s)
        volts = self.preheat_v if raw is None else float(raw)
        p_term, i_term, _ = self.pid.components
        power = min(self._power(volts, inp.measured_c), inp.p_max_w)
        return ControlOutput(power, p_w=float(p_term), i_w=float(i_term), closed=True)

    def _power(self, volts: float, felt_c: float) -> float:
        """Power in W that ``volts`` puts into the model's load at ``felt_c``."""
        if self.model is None:
            raise ValueError("NaiveVoltagePID needs the plant model to express volts as power")
        channels = len(self.model.wiring.channels)
        return channels * volts * volts / self.model.channel_resistance_ohm(felt_c)
