"""The two-node thermal and electrical model of the felt heater (SI units, temperatures in kelvin).

Shared by the simulator (which integrates it as the "true" plant) and by the controller (which uses a
nominal or fitted copy for feedforward and feasibility). Pure functions over a frozen parameter record.
Equations and nominal values: thermal-model reference §2.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ufs_control.core.errors import ConfigError
from ufs_control.core.tomlfile import read_toml

SIGMA = 5.670374419e-8
ZERO_C_K = 273.15

# CPX400DP per-output ratings (one channel).
CHANNEL_V_MAX = 60.0
CHANNEL_I_MAX = 20.0
CHANNEL_P_MAX = 420.0


def c_to_k(celsius: float) -> float:
    return celsius + ZERO_C_K


def k_to_c(kelvin: float) -> float:
    return kelvin - ZERO_C_K


class Wiring(enum.Enum):
    """How the two felts are connected to the supply."""

    SERIES = "series"  # both felts in series on channel 1
    PARALLEL = "parallel"  # both felts in parallel on channel 1
    PER_CHANNEL = "per_channel"  # felt 1 on channel 1, felt 2 on channel 2

    @property
    def channels(self) -> tuple[int, ...]:
        return (1, 2) if self is Wiring.PER_CHANNEL else (1,)


@dataclass(frozen=True)
class ThermalParams:
    """Plant parameters (nominal preset A). Field names carry their units."""

    length_m: float = 20e-3
    width_m: float = 10e-3
    thickness_m: float = 3e-3
    n_felts: int = 2
    felt_density_kg_m3: float = 100.0
    emissivity: float = 0.90
    area_m2: float = 6.52e-4
    convection_w_m2k: float = 13.0
    g_fe_w_k: float = 0.047
    t_amb_k: float = 298.15
    m_foil_kg: float = 40e-6
    m_llzo_kg: float = 25e-6
    m_bn_kg: float = 0.0
    g_fs_w_k: float = 0.2
    sample_area_m2: float = 0.2e-4
    phi: float = 0.0
    rho_el_ohm_m: float = 3.0e-3
    ntc_a: float = 0.62
    ntc_tc_k: float = 450.0
    r_contact_ohm: float = 0.02
    r_leads_ohm: float = 0.005
    clamp_node: bool = False
    c_clamp_j_k: float = 40.0
    g_clamp_w_k: float = 2.0

    @property
    def felt_mass_kg(self) -> float:
        return self.n_felts * self.length_m * self.width_m * self.thickness_m * self.felt_density_kg_m3


PRESETS: dict[str, ThermalParams] = {
    "A": ThermalParams(),
    "B": ThermalParams(m_bn_kg=0.42e-3, sample_area_m2=0.8e-4),
}


def preset(name: str) -> ThermalParams:
    """Return preset ``A`` (felts + graphite foils) or ``B`` (with 2 x 1 mm BN plates)."""
    try:
        return PRESETS[name.upper()]
    except KeyError:
        raise ConfigError("<preset>", "preset", f"unknown preset {name!r}, expected one of A, B") from None


def params_from_mapping(data: dict[str, Any], base: ThermalParams, source: str) -> ThermalParams:
    """Override ``base`` with the numeric fields of ``data``; unknown or non-numeric keys are errors."""
    known = {f.name: f.type for f in fields(ThermalParams)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(source, key, "unknown plant parameter")
        if key == "clamp_node":
            if not isinstance(value, bool):
                raise ConfigError(source, key, f"must be true or false, got {value!r}")
        elif key == "n_felts":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(source, key, f"must be a positive integer, got {value!r}")
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(source, key, f"must be a number, got {value!r}")
            if value < 0:
                raise ConfigError(source, key, f"must be >= 0, got {value!r}")
        changes[key] = value
    params = replace(base, **changes)
    if params.emissivity <= 0 or params.emissivity > 1:
        raise ConfigError(source, "emissivity", f"must be in (0, 1], got {params.emissivity}")
    if params.phi > 0.5:
        raise ConfigError(source, "phi", f"must be in [0, 0.5], got {params.phi}")
    for name in ("length_m", "width_m", "thickness_m", "felt_density_kg_m3", "rho_el_ohm_m", "ntc_tc_k"):
        if getattr(params, name) <= 0:
            raise ConfigError(source, name, "must be > 0")
    return params


def load_params(path: str | Path) -> ThermalParams:
    """Load plant parameters from TOML: optional ``preset = "A"|"B"`` plus any field overrides."""
    source = str(path)
    data = read_toml(path, ConfigError)
    table = data.get("plant", data)
    if not isinstance(table, dict):
        raise ConfigError(source, "plant", "must be a table")
    table = dict(table)
    name = table.pop("preset", "A")
    if not isinstance(name, str):
        raise ConfigError(source, "preset", f"must be a string, got {name!r}")
    try:
        base = preset(name)
    except ConfigError:
        raise ConfigError(source, "preset", f"unknown preset {name!r}, expected A or B") from None
    return params_from_mapping(table, base, source)


def load_plant_file(path: str | Path) -> tuple[ThermalParams, float]:
    """Load an identified plant file (``ufs identify``/``ufs fit``): its ``[plant]`` parameters and the
    pyrometer's t90 in s from ``[pyrometer]`` (0 when the file does not say)."""
    source = str(path)
    data = read_toml(path, ConfigError)
    if "plant" not in data:
        raise ConfigError(source, "plant", "missing: not a plant file (write one with ufs identify or ufs fit)")
    params = load_params(path)
    pyro = data.get("pyrometer", {})
    if not isinstance(pyro, dict):
        raise ConfigError(source, "pyrometer", "must be a table")
    t90 = pyro.get("t90_s", 0.0)
    if isinstance(t90, bool) or not isinstance(t90, int | float) or not 0.0 <= t90 <= 2.0:
        raise ConfigError(source, "pyrometer.t90_s", f"must be a number of seconds in 0..2, got {t90!r}")
    return params, float(t90)


# --- material properties -------------------------------------------------------------------------


def cp_carbon(t_k: float) -> float:
    """Specific heat of graphite/carbon felt in J/(kg K), Butland & Maddison fit, 250-3000 K."""
    t = 250.0 if t_k < 250.0 else (3000.0 if t_k > 3000.0 else t_k)  # min(max(...)) without two calls
    return 4184.0 * (0.538657 + 9.11129e-6 * t - 90.2725 / t - 43449.3 / t**2 + 1.59309e7 / t**3 - 1.43688e9 / t**4)


def cp_bn(t_k: float) -> float:
    """Specific heat of hBN in J/(kg K) (estimate)."""
    return 800.0 + 1150.0 * (1.0 - math.exp(-max(t_k - 300.0, 0.0) / 450.0))


def cp_llzo(t_k: float) -> float:
    """Specific heat of LLZO in J/(kg K) (estimate)."""
    return 550.0 + 300.0 * (1.0 - math.exp(-max(t_k - 300.0, 0.0) / 400.0))


# --- electrical --------------------------------------------------------------------------------


def felt_resistance(t_k: float, p: ThermalParams) -> float:
    """Resistance of one felt in ohm at felt temperature ``t_k`` (NTC: falls towards ``ntc_a`` x R_RT)."""
    r_rt = p.rho_el_ohm_m * p.length_m / (p.width_m * p.thickness_m)
    return r_rt * (p.ntc_a + (1.0 - p.ntc_a) * math.exp(-(t_k - 293.0) / p.ntc_tc_k))


def felt_resistance_for(p: ThermalParams) -> Callable[[float], float]:
    """Return :func:`felt_resistance` bound to ``p`` (the same arithmetic, its constants worked out once)."""
    r_rt = p.rho_el_ohm_m * p.length_m / (p.width_m * p.thickness_m)
    a, b, tc = p.ntc_a, 1.0 - p.ntc_a, p.ntc_tc_k
    exp = math.exp

    def resistance(t_k: float) -> float:
        return r_rt * (a + b * exp(-(t_k - 293.0) / tc))

    return resistance


def channel_resistance(t_k: float, p: ThermalParams, wiring: Wiring) -> float:
    """Load resistance in ohm seen by one channel (felts + contacts + leads) for ``wiring``."""
    r_path = felt_resistance(t_k, p) + p.r_contact_ohm
    if wiring is Wiring.SERIES:
        return p.n_felts * r_path + p.r_leads_ohm
    if wiring is Wiring.PARALLEL:
        return r_path / p.n_felts + p.r_leads_ohm
    return r_path + p.r_leads_ohm


def channel_power_limit(
    r_ohm: float, max_voltage_v: float = CHANNEL_V_MAX, max_current_a: float = CHANNEL_I_MAX
) -> float:
    """Maximum power in W one CPX400DP output can put into ``r_ohm``: the 420 W envelope, bounded by the
    voltage and current limits (60 V and 20 A at most)."""
    if not r_ohm > 0:
        return 0.0
    v, i = min(max_voltage_v, CHANNEL_V_MAX), min(max_current_a, CHANNEL_I_MAX)
    return min(CHANNEL_P_MAX, i * i * r_ohm, v * v / r_ohm)


def supply_power_limit(
    r_ohm: float, channels: int, max_voltage_v: float, max_current_a: float, max_power_w: float
) -> float:
    """Total power in W the supply may deliver into ``channels`` loads of ``r_ohm`` each under the limits."""
    return min(max_power_w, channels * channel_power_limit(r_ohm, max_voltage_v, max_current_a))


def available_power(t_k: float, p: ThermalParams, wiring: Wiring) -> float:
    """Total electrical power in W the supply can deliver at felt temperature ``t_k``."""
    r = channel_resistance(t_k, p, wiring)
    return len(wiring.channels) * channel_power_limit(r)


# --- thermal -------------------------------------------------------------------------------------


def felt_heat_capacity(t_k: float, p: ThermalParams) -> float:
    """Heat capacity of the felt node in J/K."""
    return (1.0 - p.phi) * p.felt_mass_kg * cp_carbon(t_k)


def sample_heat_capacity(t_k: float, p: ThermalParams) -> float:
    """Heat capacity of the sample-stack node in J/K."""
    return (p.phi * p.felt_mass_kg + p.m_foil_kg) * cp_carbon(t_k) + p.m_llzo_kg * cp_llzo(t_k) + p.m_bn_kg * cp_bn(t_k)


def felt_loss(t_f_k: float, t_e_k: float, p: ThermalParams) -> float:
    """Heat lost by the felt node in W (radiation, argon convection, conduction into the clamps)."""
    ta = p.t_amb_k
    return (
        p.emissivity * SIGMA * p.area_m2 * (t_f_k**4 - ta**4)
        + p.convection_w_m2k * p.area_m2 * (t_f_k - ta)
        + p.g_fe_w_k * (t_f_k - t_e_k)
    )


def sample_loss(t_s_k: float, p: ThermalParams) -> float:
    """Heat radiated by the exposed sample-stack edges in W."""
    return p.emissivity * SIGMA * p.sample_area_m2 * (t_s_k**4 - p.t_amb_k**4)


def derivatives(
    t_f: float, t_s: float, t_e: float, p_joule_w: float, p_contact_w: float, p: ThermalParams
) -> tuple[float, float, float]:
    """Return (dT_f/dt, dT_s/dt, dT_e/dt) in K/s for Joule power in the felts and in the contacts."""
    q_fs = p.g_fs_w_k * (t_f - t_s)
    d_f = ((1.0 - p.phi) * p_joule_w - felt_loss(t_f, t_e, p) - q_fs) / felt_heat_capacity(t_f, p)
    d_s = (p.phi * p_joule_w + q_fs - sample_loss(t_s, p)) / sample_heat_capacity(t_s, p)
    if p.clamp_node:
        d_e = (p.g_fe_w_k * (t_f - t_e) + p_contact_w - p.g_clamp_w_k * (t_e - p.t_amb_k)) / p.c_clamp_j_k
    else:
        d_e = 0.0
    return d_f, d_s, d_e


Rates = Callable[[float, float, float, float, float], tuple[float, float, float]]


def derivatives_for(p: ThermalParams) -> Rates:
    """Return :func:`derivatives` bound to ``p``: ``rates(t_f, t_s, t_e, p_joule_w, p_contact_w)``.

    The same arithmetic in the same order (so the same floating-point results, bit for bit), with what
    depends on ``p`` alone worked out once: the simulator evaluates it four times per RK4 step.
    """
    phi, ta = p.phi, p.t_amb_k
    one_minus_phi = 1.0 - phi
    ta4 = ta**4
    rad_f = p.emissivity * SIGMA * p.area_m2
    conv_f = p.convection_w_m2k * p.area_m2
    g_fe, g_fs = p.g_fe_w_k, p.g_fs_w_k
    rad_s = p.emissivity * SIGMA * p.sample_area_m2
    c_felt = one_minus_phi * p.felt_mass_kg  # felt_heat_capacity = c_felt * cp_carbon
    c_sample_carbon = phi * p.felt_mass_kg + p.m_foil_kg
    m_llzo, m_bn = p.m_llzo_kg, p.m_bn_kg
    clamp, g_clamp, c_clamp = p.clamp_node, p.g_clamp_w_k, p.c_clamp_j_k

    def rates(t_f: float, t_s: float, t_e: float, p_joule_w: float, p_contact_w: float) -> tuple[float, float, float]:
        q_fs = g_fs * (t_f - t_s)
        loss_f = rad_f * (t_f**4 - ta4) + conv_f * (t_f - ta) + g_fe * (t_f - t_e)
        d_f = (one_minus_phi * p_joule_w - loss_f - q_fs) / (c_felt * cp_carbon(t_f))
        c_s = c_sample_carbon * cp_carbon(t_s) + m_llzo * cp_llzo(t_s)
        if m_bn:  # no BN plates: their term would add exactly 0.0
            c_s += m_bn * cp_bn(t_s)
        d_s = (phi * p_joule_w + q_fs - rad_s * (t_s**4 - ta4)) / c_s
        d_e = (g_fe * (t_f - t_e) + p_contact_w - g_clamp * (t_e - ta)) / c_clamp if clamp else 0.0
        return d_f, d_s, d_e

    return rates


def steady_sample_temperature(t_f_k: float, p: ThermalParams) -> float:
    """Sample-node temperature in K in steady state with the felt at ``t_f_k`` (phi = 0 case; bisection)."""
    lo, hi = p.t_amb_k, max(t_f_k, p.t_amb_k)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if p.g_fs_w_k * (t_f_k - mid) - sample_loss(mid, p) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def steady_power(t_f_k: float, p: ThermalParams) -> float:
    """Electrical power in W that holds the felt at ``t_f_k`` in steady state (clamps at ambient)."""
    if t_f_k <= p.t_amb_k:
        return 0.0
    if p.phi > 0:
        # Solve the two-node balance: felt loss + sample loss = P (sample gets phi*P directly).
        t_s = t_f_k
        for _ in range(50):
            p_j = (felt_loss(t_f_k, p.t_amb_k, p) + p.g_fs_w_k * (t_f_k - t_s)) / (1.0 - p.phi)
            # sample balance: phi*P + G(Tf-Ts) = loss_s(Ts)  -> solve Ts by bisection
            lo, hi = p.t_amb_k, t_f_k + 2000.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if p.phi * p_j + p.g_fs_w_k * (t_f_k - mid) - sample_loss(mid, p) > 0:
                    lo = mid
                else:
                    hi = mid
            t_s = 0.5 * (lo + hi)
        return (felt_loss(t_f_k, p.t_amb_k, p) + p.g_fs_w_k * (t_f_k - t_s)) / (1.0 - p.phi)
    t_s = steady_sample_temperature(t_f_k, p)
    return felt_loss(t_f_k, p.t_amb_k, p) + p.g_fs_w_k * (t_f_k - t_s)


def effective_heat_capacity(t_k: float, p: ThermalParams) -> float:
    """Heat capacity in J/K that a slow ramp of the felt at ``t_k`` has to charge (felt + sample stack)."""
    return felt_heat_capacity(t_k, p) + sample_heat_capacity(t_k, p)
