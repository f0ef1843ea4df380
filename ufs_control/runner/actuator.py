"""From commanded power to the supply: one estimate of the load resistance, one supply envelope, and the
voltage and current limits written tight around the operating point so the supply itself bounds the power.
"""

from __future__ import annotations

import math
from typing import Protocol

from ufs_control.control.model import PlantModel
from ufs_control.core.errors import UfsError
from ufs_control.core.instruments import PowerSupply
from ufs_control.core.rig import Limits
from ufs_control.core.thermal import supply_power_limit

AMBIENT_C = 25.0
MIN_CURRENT_A = 0.3  # per channel: below this the 10 mA meter resolution makes V/I meaningless
MIN_VOLTAGE_V = 0.3
CURRENT_HEADROOM = 1.25  # the current limit sits 25 % (+0.5 A) above the expected current
CURRENT_OFFSET_A = 0.5
WRITE_RESOLUTION = 0.001  # V and A: a smaller change is not written again


class GuardedPowerSupply(PowerSupply, Protocol):
    """A supply whose calls double as the control loop's heartbeat (the guardian's watchdog)."""

    def keepalive(self) -> None:
        """Tell the guardian the loop is alive on a tick that sent no other command."""
        ...


class ResistanceEstimator:
    """The one estimate of the per-channel load resistance in ohm: metered V/I when there is enough
    current, otherwise the plant model scaled by the cold-resistance calibration."""

    def __init__(self, model: PlantModel, channels: int) -> None:
        self.model = model
        self.channels = channels
        self.calibration = 1.0
        self.volts: float | None = None  # mean metered voltage of the channels
        self.amps: float | None = None  # total metered current

    def update(self, volts: float, amps: float) -> None:
        self.volts, self.amps = volts, amps

    def measured_ohm(self) -> float | None:
        """Metered resistance of one channel, or None when the current is too small to tell."""
        if self.volts is None or self.amps is None:
            return None
        per_channel = self.amps / self.channels
        if per_channel < MIN_CURRENT_A or self.volts < MIN_VOLTAGE_V:
            return None
        return self.volts / per_channel

    def model_ohm(self, felt_c: float | None) -> float:
        """What the calibrated model expects at ``felt_c`` (ambient when unknown)."""
        return self.model.channel_resistance_ohm(felt_c if felt_c is not None else AMBIENT_C) * self.calibration

    def estimate(self, felt_c: float | None) -> float:
        measured = self.measured_ohm()
        return measured if measured is not None else self.model_ohm(felt_c)


class PowerActuator:
    """Writes a power command as voltage and current limits on every channel in use."""

    def __init__(
        self, psu: GuardedPowerSupply, channels: tuple[int, ...], limits: Limits, resistance: ResistanceEstimator
    ) -> None:
        self.psu = psu
        self.channels = channels
        self.limits = limits
        self.resistance = resistance
        self.output_on = False
        self.last_set: tuple[float, float] | None = None

    def p_max(self, felt_c: float | None) -> float:
        """Power in W the supply envelope and the limits allow now."""
        lim = self.limits
        r = self.resistance.estimate(felt_c)
        return supply_power_limit(r, len(self.channels), lim.max_voltage_v, lim.max_current_a, lim.max_power_w)

    def power_from(self, volts: float, felt_c: float | None) -> float:
        """Electrical power in W that ``volts`` on every channel puts into the load."""
        return len(self.channels) * volts * volts / self.resistance.estimate(felt_c)

    def apply(self, power_w: float, felt_c: float | None) -> tuple[float, float]:
        """Command ``power_w`` (W); return the (volts, amps) limits written. Raises what the supply raises."""
        lim = self.limits
        r = self.resistance.estimate(felt_c)
        p_ch = max(power_w, 0.0) / len(self.channels)
        v = min(math.sqrt(p_ch * r), lim.max_voltage_v)
        # CV drive with a current clamp: if this program stops, the supply still bounds the power.
        i = min(lim.max_current_a, CURRENT_HEADROOM * v / r + CURRENT_OFFSET_A)
        if v <= 0.0:
            if self.output_on:
                for ch in self.channels:
                    self.psu.set_output(ch, False)
                self.output_on = False
                self.last_set = None
            else:
                self.psu.keepalive()
            return 0.0, 0.0
        wrote = False
        last = self.last_set
        if last is None or abs(last[0] - v) >= WRITE_RESOLUTION or abs(last[1] - i) >= WRITE_RESOLUTION:
            for ch in self.channels:
                self.psu.set_voltage_and_current(ch, round(v, 3), round(i, 3))
            self.last_set = (v, i)
            wrote = True
        if not self.output_on:
            for ch in self.channels:
                self.psu.set_output(ch, True)
            self.output_on = True
            wrote = True
        if not wrote:
            self.psu.keepalive()
        return v, i

    def off(self) -> bool:
        """Send the off command at once (no reply awaited), then confirm it; True when confirmed."""
        self.output_on = False
        self.last_set = None
        try:
            self.psu.force_outputs_off()
        except UfsError:
            pass
        try:
            self.psu.set_all_outputs_off()
            return True
        except UfsError:
            return False
