"""Fit the felts' R(T) of one run: the NTC shape of the thermal model (reference §2.3, §2.5 step 3),

    R_channel(T) = n·(R_RT·(a + (1 − a)·exp(−(T − 293 K)/T_c)) + R_contact) + R_leads   (series wiring)

to the metered channel resistance against the pyrometer's temperature, anchored by the cold resistance
measured at rest. R_RT (through the felt's resistivity), a and T_c are fitted; contacts and leads stay at the
model's values (the records cannot tell them from the felt). The formula is the model's own
(:func:`ufs_control.core.thermal.channel_resistance`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from ufs_control.core.thermal import ThermalParams, Wiring, c_to_k, channel_resistance, felt_resistance

FIT_AT_C = 1150.0  # the temperature the trend reports R at (the LLZO recipe's hold)
MIN_POINTS = 10  # hot points needed for a fit
MIN_SPAN_K = 150.0  # ... spread over at least this much temperature (one point cannot give a shape)
MAX_POINTS = 120  # more add nothing to three parameters; a long hold is thinned evenly in temperature
COLD_WEIGHT = 4.0  # the cold resistance is averaged at rest: worth this many metered points' sigma
# name, lower bound, upper bound
_BOUNDS = (("rho_el_ohm_m", 1e-4, 2e-2), ("ntc_a", 0.2, 0.98), ("ntc_tc_k", 80.0, 3000.0))


@dataclass(frozen=True)
class FeltFit:
    """One run's fitted R(T): per-felt R at 293 K and the NTC shape; channel R at :data:`FIT_AT_C`; RMS of
    the residuals in ohm; the number of hot points."""

    r_rt_ohm: float
    ntc_a: float
    ntc_tc_k: float
    r_hot_ohm: float
    rms_ohm: float
    n_points: int

    def params(self, base: ThermalParams) -> ThermalParams:
        """``base`` with this felt's R(T)."""
        scale = self.r_rt_ohm / felt_resistance(293.0, base)
        return replace(base, rho_el_ohm_m=base.rho_el_ohm_m * scale, ntc_a=self.ntc_a, ntc_tc_k=self.ntc_tc_k)


def fit_felt(
    temperature_c: Sequence[float] | np.ndarray,
    resistance_ohm: Sequence[float] | np.ndarray,
    cold_ohm: float | None,
    cold_c: float,
    base: ThermalParams,
    wiring: Wiring,
) -> FeltFit | None:
    """Fit R(T) to (temperature °C, channel resistance ohm) pairs and the cold point; None when the points
    are too few or span too little temperature to give a shape."""
    t = np.asarray(temperature_c, dtype=float)
    r = np.asarray(resistance_ohm, dtype=float)
    ok = np.isfinite(t) & np.isfinite(r) & (r > 0)
    t, r = t[ok], r[ok]
    if len(t) < MIN_POINTS or float(np.ptp(t)) < MIN_SPAN_K:
        return None
    if len(t) > MAX_POINTS:
        keep = np.argsort(t)[np.linspace(0, len(t) - 1, MAX_POINTS).round().astype(int)]
        t, r = t[keep], r[keep]
    names = [b[0] for b in _BOUNDS]  # the order of x
    lo = np.array([b[1] for b in _BOUNDS])
    hi = np.array([b[2] for b in _BOUNDS])
    x0 = np.clip([float(getattr(base, n)) for n in names], lo * 1.001, hi * 0.999)

    def with_x(x: np.ndarray) -> ThermalParams:
        return replace(base, rho_el_ohm_m=float(x[0]), ntc_a=float(x[1]), ntc_tc_k=float(x[2]))

    def model(x: np.ndarray, temps: np.ndarray) -> np.ndarray:
        p = with_x(x)
        return np.array([channel_resistance(c_to_k(float(tc)), p, wiring) for tc in temps])

    def residuals(x: np.ndarray) -> np.ndarray:
        res: np.ndarray = model(x, t) - r
        if cold_ohm is None:
            return res
        cold = channel_resistance(c_to_k(cold_c), with_x(x), wiring) - cold_ohm
        out: np.ndarray = np.concatenate([res, [COLD_WEIGHT * cold]])
        return out

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=x0, diff_step=1e-4, max_nfev=200)
    p = with_x(result.x)
    fitted = model(result.x, t)
    return FeltFit(
        r_rt_ohm=felt_resistance(293.0, p),
        ntc_a=p.ntc_a,
        ntc_tc_k=p.ntc_tc_k,
        r_hot_ohm=channel_resistance(c_to_k(FIT_AT_C), p, wiring),
        rms_ohm=math.sqrt(float(np.mean((fitted - r) ** 2))),
        n_points=len(t),
    )
