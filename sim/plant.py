"""Pure plant physics: ``step(state, inputs, dt, params) -> state`` (classic RK4).

:func:`step_driven` is the same RK4 step for Joule power that depends on the felt temperature (a supply
output into the felts' NTC resistance): the power is evaluated at every stage, so a step can span tens of
milliseconds between two events without holding the power of its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ufs_control.core.thermal import Rates, ThermalParams, derivatives_for

# (seconds into the step, felt temperature in K) -> (Joule power in the felts, in the contacts) in W.
PowerLaw = Callable[[float, float], tuple[float, float]]


@dataclass(frozen=True)
class PlantState:
    """Temperatures in kelvin: felt (seen by the pyrometer), sample stack, clamp/electrode."""

    t_felt_k: float
    t_sample_k: float
    t_clamp_k: float

    @classmethod
    def ambient(cls, p: ThermalParams) -> PlantState:
        return cls(p.t_amb_k, p.t_amb_k, p.t_amb_k)


@dataclass(frozen=True)
class PlantInputs:
    """Joule power in W dissipated in the felts and in the clamp contacts."""

    felt_w: float = 0.0
    contact_w: float = 0.0


def step(state: PlantState, inputs: PlantInputs, dt: float, params: ThermalParams) -> PlantState:
    """Advance the plant by ``dt`` seconds with constant inputs (RK4; stable to dt ~ 0.1 s at 2000 °C)."""
    powers = (inputs.felt_w, inputs.contact_w)
    return step_driven(state, lambda _s, _t: powers, dt, params)


def step_driven(
    state: PlantState, power: PowerLaw, dt: float, params: ThermalParams, rates: Rates | None = None
) -> PlantState:
    """Advance the plant by ``dt`` seconds with the Joule power given by ``power`` (RK4, the power evaluated at
    each stage; stable to dt ~ 0.1 s at 2000 °C). ``power`` must be smooth over the step: split steps at the
    times the supply switches. ``rates`` is ``derivatives_for(params)`` when the caller keeps one."""
    derivatives = rates or derivatives_for(params)
    f1, s1, e1 = state.t_felt_k, state.t_sample_k, state.t_clamp_k
    h = 0.5 * dt
    pf, pc = power(0.0, f1)
    a = derivatives(f1, s1, e1, pf, pc)
    f2 = f1 + h * a[0]
    pf, pc = power(h, f2)
    b = derivatives(f2, s1 + h * a[1], e1 + h * a[2], pf, pc)
    f3 = f1 + h * b[0]
    pf, pc = power(h, f3)
    c = derivatives(f3, s1 + h * b[1], e1 + h * b[2], pf, pc)
    f4 = f1 + dt * c[0]
    pf, pc = power(dt, f4)
    d = derivatives(f4, s1 + dt * c[1], e1 + dt * c[2], pf, pc)
    k = dt / 6.0
    return PlantState(
        f1 + k * (a[0] + 2 * b[0] + 2 * c[0] + d[0]),
        s1 + k * (a[1] + 2 * b[1] + 2 * c[1] + d[1]),
        e1 + k * (a[2] + 2 * b[2] + 2 * c[2] + d[2]),
    )
