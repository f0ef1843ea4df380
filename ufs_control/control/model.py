"""The plant model as the controller sees it: tabulated steady-state power, heat capacity, loss
conductance and resistance versus felt temperature (°C), interpolated linearly.
"""

from __future__ import annotations

import functools
import math

from ufs_control.core.thermal import (
    ThermalParams,
    Wiring,
    available_power,
    c_to_k,
    channel_resistance,
    effective_heat_capacity,
    felt_heat_capacity,
    felt_loss,
    sample_heat_capacity,
    sample_loss,
    steady_power,
)

STEP_C = 5.0
MAX_C = 2600.0
_LAST = int(MAX_C / STEP_C) - 1  # the last interval's index


class PlantModel:
    """Fast look-ups of the model at a felt temperature in °C (0-2600 °C, clamped)."""

    def __init__(self, params: ThermalParams, wiring: Wiring = Wiring.SERIES) -> None:
        self.params = params
        self.wiring = wiring
        (
            self._t,
            self._p_ss,
            self._c_eff,
            self._c_felt,
            self._r,
            self._p_avail,
            self._felt_loss,
            self._c_sample,
            self._sample_loss,
        ) = _tables(params, wiring)

    def _interp(self, table: Table, t_c: float) -> float:
        if not math.isfinite(t_c):
            raise ValueError(f"temperature must be finite, got {t_c}")
        t = 0.0 if t_c < 0.0 else (MAX_C if t_c > MAX_C else t_c)
        grid = self._t
        # The grid is uniform: the division finds the interval bisect_right would, except when the quotient
        # rounds up onto the next grid point (it never rounds below one: the grid points are exact).
        i = int(t / STEP_C)
        if i > _LAST:
            i = _LAST
        elif grid[i] > t:
            i -= 1
        frac = (t - grid[i]) / STEP_C
        return table[i] + (table[i + 1] - table[i]) * frac

    def steady_power_w(self, t_c: float) -> float:
        """Power in W that holds the felt at ``t_c`` °C."""
        return self._interp(self._p_ss, t_c)

    def heat_capacity_j_k(self, t_c: float) -> float:
        """Felt + sample-stack heat capacity in J/K."""
        return self._interp(self._c_eff, t_c)

    def felt_capacity_j_k(self, t_c: float) -> float:
        return self._interp(self._c_felt, t_c)

    def conductance_w_k(self, t_c: float) -> float:
        """dP_ss/dT in W/K."""
        lo, hi = max(t_c - STEP_C, 0.0), t_c + STEP_C
        return max((self.steady_power_w(hi) - self.steady_power_w(lo)) / (hi - lo), 1e-3)

    def channel_resistance_ohm(self, t_c: float) -> float:
        """Load resistance of one channel in ohm."""
        return self._interp(self._r, t_c)

    def felt_loss_w(self, t_c: float) -> float:
        """Heat the felt node loses at ``t_c`` (radiation, convection, clamps), without the sample."""
        return self._interp(self._felt_loss, t_c)

    def sample_capacity_j_k(self, t_c: float) -> float:
        return self._interp(self._c_sample, t_c)

    def sample_loss_w(self, t_c: float) -> float:
        return self._interp(self._sample_loss, t_c)

    def available_power_w(self, t_c: float) -> float:
        """Total power the supply envelope allows at ``t_c``."""
        return self._interp(self._p_avail, t_c)


Table = tuple[float, ...]


@functools.lru_cache(maxsize=32)
def _tables(params: ThermalParams, wiring: Wiring) -> tuple[Table, ...]:
    """The grid and the model's tables on it. Kept for the last few plants: a model is built for every run
    (the runner's, the controller's, learning's), each from a few thousand steady-state solutions."""
    grid = tuple(i * STEP_C for i in range(int(MAX_C / STEP_C) + 1))
    ks = [c_to_k(t) for t in grid]
    return (
        grid,
        tuple(steady_power(k, params) for k in ks),
        tuple(effective_heat_capacity(k, params) for k in ks),
        tuple(felt_heat_capacity(k, params) for k in ks),
        tuple(channel_resistance(k, params, wiring) for k in ks),
        tuple(available_power(k, params, wiring) for k in ks),
        tuple(felt_loss(k, params.t_amb_k, params) for k in ks),
        tuple(sample_heat_capacity(k, params) for k in ks),
        tuple(sample_loss(k, params) for k in ks),
    )
