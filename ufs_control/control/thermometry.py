"""The temperature the loop controls on: the pyrometer, its lag compensated, and, once the model's R(T) has
been identified on the rig, the felts' own resistance as a second thermometer.

Carbon felt's resistance falls with temperature (NTC). Inverting the fitted R(T) at the metered V/I gives a
temperature from room temperature up, where the two-colour pyrometer reads nothing. It is coarse: the
meters' 0.5 % accuracy is about ±9 K at 300 °C and ±50 K at 1150 °C (the curve flattens), and they refresh
at 4 Hz. Closing the loop on it was tried and measured worse than the model's open loop in the blind zone
(docs/benchmarks.md), so it serves as a cross-check of the pyrometer (the band widens with its
uncertainty) and as the temperature of a ramp down that has lost the pyrometer; it is recorded every tick.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from ufs_control.control.handover import fit_line
from ufs_control.control.model import MAX_C, STEP_C, PlantModel

METER_FRESH_S = 0.6  # a metered resistance older than this (the meters refresh at 4 Hz) is not used
METER_AGE_S = 0.125  # a 4 Hz meter value is on average half a period old when it is read
R_FILTER_S = 0.5  # low-pass on the resistance temperature: the meters' 10 mV / 10 mA steps are kelvins
LAG_FIT_S = 0.25  # the slope for the lag compensation is fitted over this much of the reading history
MIN_SLOPE_OHM_PER_K = 2e-5  # where R(T) is flatter than this the inversion says nothing useful
METER_ACCURACY = 0.005  # V 0.1 % and I 0.3 % plus digits: the metered resistance to about 0.5 %


class ResistanceThermometer:
    """Felt temperature in °C from one channel's resistance, by inverting the model's R(T).

    ``calibration`` scales the model's resistance (the cold resistance measured before the run over the
    model's): a felt that is uniformly a little more resistive keeps its shape.
    """

    def __init__(self, model: PlantModel) -> None:
        self.model = model
        n = int(MAX_C / STEP_C) + 1
        self._t = [i * STEP_C for i in range(n)]
        self._r = [model.channel_resistance_ohm(t) for t in self._t]
        # Monotonic part of R(T) only: the inversion stops where the curve flattens out or turns.
        end = 1
        while end < n and self._r[end - 1] - self._r[end] > MIN_SLOPE_OHM_PER_K * STEP_C:
            end += 1
        self._t, self._r = self._t[:end], self._r[:end]
        self._neg = [-r for r in self._r]  # increasing, for bisect

    @property
    def max_c(self) -> float:
        """The highest temperature the inversion resolves."""
        return self._t[-1]

    def uncertainty_k(self, t_c: float) -> float:
        """1σ of a temperature read from the resistance at ``t_c``: the meters' accuracy over the slope."""
        lo, hi = max(t_c - STEP_C, 0.0), t_c + STEP_C
        slope = abs(self.model.channel_resistance_ohm(lo) - self.model.channel_resistance_ohm(hi)) / (hi - lo)
        return METER_ACCURACY * self.model.channel_resistance_ohm(t_c) / max(slope, MIN_SLOPE_OHM_PER_K)

    def temperature_c(self, ohm: float, calibration: float = 1.0) -> float | None:
        """The felt temperature at which the (calibrated) model has ``ohm``; None outside what it resolves."""
        if not ohm > 0 or not calibration > 0:
            return None
        x = -ohm / calibration
        i = bisect.bisect_left(self._neg, x)
        if i <= 0:  # colder than the table: at most a few percent (the cold felt at 0-25 °C), else nonsense
            return self._t[0] if ohm / calibration <= self._r[0] * 1.02 else None
        if i >= len(self._neg):
            return None
        lo, hi = self._neg[i - 1], self._neg[i]
        frac = (x - lo) / (hi - lo) if hi > lo else 0.0
        return self._t[i - 1] + frac * (self._t[i] - self._t[i - 1])


@dataclass(frozen=True)
class Fused:
    """One tick's temperatures in °C (None = not available)."""

    control_c: float | None  # what the loop uses
    pyrometer_c: float | None  # the valid reading, lag compensated
    resistance_c: float | None  # from the felts' resistance
    resistance_sigma_k: float | None = None  # its 1σ uncertainty


class SensorFusion:
    """Combines the pyrometer and the resistance thermometer into the loop's temperature.

    - ``t90_s`` > 0: the pyrometer's first-order lag is compensated, T + τ·dT/dt with τ = t90/2.3 and the
      slope fitted over the last quarter second of readings (a 0.3 s head reads ~7 K low on a 50 °C/s ramp).
    - With a thermometer: where the pyrometer has no valid reading, the resistance is the temperature (the
      runner lets the loop go on with it only on a ramp down).
    """

    def __init__(
        self,
        thermometer: ResistanceThermometer | None,
        t90_s: float,
    ) -> None:
        self.thermometer = thermometer
        self.tau_s = t90_s / 2.303
        self._history: deque[tuple[float, float]] = deque(maxlen=32)
        self._ohm: tuple[float, float] | None = None  # (time, ohm) of the last metered resistance
        self._r_value: tuple[float, float] | None = None  # (time, filtered resistance temperature)

    def meter(self, t: float, ohm: float | None, calibration: float = 1.0) -> None:
        """A fresh metered resistance of one channel (None when the current was too small to tell)."""
        self._ohm = (t, ohm) if ohm is not None else None
        value = self.thermometer.temperature_c(ohm, calibration) if self.thermometer and ohm is not None else None
        if value is None:
            self._r_value = None
        elif self._r_value is None or t - self._r_value[0] > METER_FRESH_S:
            self._r_value = (t, value)
        else:
            last_t, last = self._r_value
            gain = min((t - last_t) / R_FILTER_S, 1.0)
            self._r_value = (t, last + gain * (value - last))

    def resistance_c(self, t: float, rate_c_per_s: float = 0.0) -> float | None:
        """The felt temperature from its resistance now: the filtered meter value brought forward by its age
        (the filter's lag and the meter's) at the planned rate, which, unlike the meter, carries no noise."""
        if self._r_value is None or self._ohm is None or t - self._ohm[0] > METER_FRESH_S:
            return None
        age = t - self._r_value[0] + METER_AGE_S + R_FILTER_S
        return self._r_value[1] + rate_c_per_s * age

    def update(self, t: float, pyrometer_c: float | None, rate_c_per_s: float = 0.0) -> Fused:
        """This tick's temperatures from the pyrometer's valid reading (None when it is not valid)."""
        compensated = None
        if pyrometer_c is not None:
            self._history.append((t, pyrometer_c))
            compensated = pyrometer_c
            if self.tau_s > 0:
                recent = [p for p in self._history if p[0] >= t - LAG_FIT_S - 1e-9]
                _, slope = fit_line(recent, t)
                if slope is not None:
                    compensated = pyrometer_c + self.tau_s * slope
        else:
            self._history.clear()
        from_r = self.resistance_c(t, rate_c_per_s)
        sigma = self.thermometer.uncertainty_k(from_r) if self.thermometer and from_r is not None else None
        if compensated is None:
            return Fused(from_r, None, from_r, sigma)
        return Fused(compensated, compensated, from_r, sigma)
