"""Pure plant physics: ``step(state, inputs, dt, params) -> state`` (classic RK4)."""

from __future__ import annotations

from dataclasses import dataclass

from ufs_control.core.thermal import ThermalParams, derivatives


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
    pf, pc = inputs.felt_w, inputs.contact_w
    f1, s1, e1 = state.t_felt_k, state.t_sample_k, state.t_clamp_k
    a = derivatives(f1, s1, e1, pf, pc, params)
    h = 0.5 * dt
    b = derivatives(f1 + h * a[0], s1 + h * a[1], e1 + h * a[2], pf, pc, params)
    c = derivatives(f1 + h * b[0], s1 + h * b[1], e1 + h * b[2], pf, pc, params)
    d = derivatives(f1 + dt * c[0], s1 + dt * c[1], e1 + dt * c[2], pf, pc, params)
    k = dt / 6.0
    return PlantState(
        f1 + k * (a[0] + 2 * b[0] + 2 * c[0] + d[0]),
        s1 + k * (a[1] + 2 * b[1] + 2 * c[1] + d[1]),
        e1 + k * (a[2] + 2 * b[2] + 2 * c[2] + d[2]),
    )
