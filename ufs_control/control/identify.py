"""Identify the plant from what runs recorded: fit the grey-box model of the thermal-model reference §2 to the
measured power, the supply's V/I and the pyrometer's readings.

The model is the one the simulator and the controller use (felt node, sample-stack node, NTC felt
resistance), driven by the electrical power the run put in. A fit adjusts, against a base parameter set:

- ``heat_capacity_scale``: the felt's heat capacity (its areal mass);
- ``emissivity``: the radiating ε·A (at the base area; above 1 the area grows instead);
- ``g_fe_w_k``: conduction into the clamps. Convection is also linear in T − T_amb, so the two cannot be told
  apart from temperatures: convection stays at its base value and ``g_fe_w_k`` takes the rest;
- ``rho_el_ohm_m``, ``ntc_a``, ``ntc_tc_k``: the felts' R(T), anchored by the cold resistance;
- ``m_bn_kg``, ``g_fs_w_k``: the sample stack's extra mass and its coupling to the felt (only kept when they
  improve the fit by more than their cost, Bayesian information criterion);
- ``t90_s``, ``dead_time_s``: the pyrometer's lag (first order, t90 = 2.3 τ) and the loop's dead time.

Residuals are the pyrometer readings (where valid and clear of the bottom of the range, where real
instruments slow down), the metered resistance, and the cold resistance. Uncertainties are from the
Jacobian, scaled by the residual variance and inflated for the residuals' autocorrelation (neighbouring
samples are not independent); they are stated as 95 % intervals (2σ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from ufs_control.core.thermal import (
    SIGMA,
    ThermalParams,
    Wiring,
    c_to_k,
    channel_resistance,
    cp_bn,
    cp_carbon,
    cp_llzo,
    felt_resistance,
)

SIGMA_PYRO_K = 1.0  # weight of a pyrometer residual (its noise and quantisation)
SIGMA_R_OHM = 0.02  # weight of a metered-resistance residual (10 mV / 10 mA meters read at 4 Hz)
COLD_SIGMA = 0.01  # relative: the cold probe's ~0.4 A read to 10 mA (±1.4 %) and 1.5 V to 10 mV
PYRO_CLEAR_K = 200.0  # readings this close to the bottom of the range are left out (instruments slow down there)
TABLE_LO_K, TABLE_HI_K = 200.0, 3200.0
SUBSTEPS = 1  # Heun at the 50 ms tick: the fastest plant mode (τ ≥ 0.15 s) is well resolved
METER_DELAY_S = 0.25  # the 4 Hz meters (sample-and-hold) read every 4th-5th tick and held: on average 250 ms old
# What the data cannot tell and the intervals must still cover (type B, 1σ): the phase of the 4 Hz meter
# (uniform over 0-250 ms, twice) and the meters' accuracy (V 0.1 %, I 0.3 %, plus digits: about 0.5 % on V/I).
# And when the power really changed: the supply's command latency is 10-80 ms (thermal-model §3.2).
NUISANCE_SIGMA = {"meter_delay_s": 0.1, "r_scale": 0.005, "power_delay_s": 0.02}


_GRID = [TABLE_LO_K + k for k in range(int(TABLE_HI_K - TABLE_LO_K) + 1)]
_CP_CARBON = np.array([cp_carbon(t) for t in _GRID])
_CP_LLZO = np.array([cp_llzo(t) for t in _GRID])
_CP_BN = np.array([cp_bn(t) for t in _GRID])


@dataclass(frozen=True)
class Trace:
    """One run's record as the fit uses it. Times in s, powers in W, ohm per channel, °C; NaN = not measured."""

    t_s: np.ndarray
    volts: np.ndarray  # voltage written on each channel in use, held from each tick to the next (0 = off)
    r_ohm: np.ndarray  # metered resistance of one channel
    pyro_c: np.ndarray  # valid pyrometer readings clear of the bottom of the range
    start_c: float  # felt temperature at t_s[0]
    cold_ohm: float | None = None  # measured at rest before heating, at the start temperature
    name: str = ""
    channels: int = 1
    range_low_c: float | None = None  # the bottom of the pyrometer's range (None: not known)
    pyro_all_c: np.ndarray | None = None  # every valid reading, those left out near the range bottom too

    @property
    def n_pyro(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.pyro_c)))

    @property
    def peak_c(self) -> float:
        return float(np.nanmax(self.pyro_c)) if self.n_pyro else float("nan")


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    interval: float  # half-width of the 95 % interval (2σ); inf when the data do not determine it
    unit: str = ""


@dataclass(frozen=True)
class PlantFit:
    """The fitted plant: parameters for the model, each fitted value with its uncertainty, and the residuals."""

    params: ThermalParams
    t90_s: float
    dead_time_s: float
    parameters: tuple[Parameter, ...]
    pyro_rms_k: float
    resistance_rms_ohm: float
    n_pyro: int
    n_resistance: int
    sample_stack: bool  # the sample-stack mass and coupling were fitted
    notes: tuple[str, ...] = ()
    predictions: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = field(default=(), repr=False, compare=False)
    traces: tuple[Trace, ...] = field(default=(), repr=False, compare=False)

    def parameter(self, name: str) -> Parameter:
        return next(p for p in self.parameters if p.name == name)


class IdentificationError(ValueError):
    """The records cannot identify the plant (say why in one line)."""


# name, lower bound, upper bound, unit; the base value comes from the base parameters (scales start at 1).
Spec = tuple[tuple[str, float, float, str], ...]
_FREE: Spec = (
    ("heat_capacity_scale", 0.2, 5.0, ""),
    ("emissivity_area_scale", 0.3, 2.5, ""),
    ("g_fe_w_k", 0.0, 1.0, "W/K"),
    ("rho_el_ohm_m", 1e-4, 2e-2, "ohm m"),
    ("ntc_a", 0.2, 0.98, ""),
    ("ntc_tc_k", 80.0, 3000.0, "K"),
    ("t90_s", 0.001, 1.5, "s"),
    ("dead_time_s", 0.0, 0.4, "s"),
)
_STACK: Spec = (
    ("m_bn_kg", 0.0, 3e-3, "kg"),
    ("g_fs_w_k", 0.01, 5.0, "W/K"),
)


def trace_from_columns(
    t_s: Sequence[float],
    voltage_set_v: Sequence[float],
    resistance_ohm: Sequence[float],
    temperature_c: Sequence[float],
    *,
    channels: int,
    range_low_c: float,
    cold_ohm: float | None,
    start_c: float = 25.0,
    name: str = "",
) -> Trace:
    """Build a :class:`Trace` from a run's sample columns (NaN for "not available").

    The input is the voltage written each tick (the supply drives the felts in CV): the model puts it
    across its own R(T), so neither the meters' 4 Hz lag nor their resolution enters the power.
    """
    t = np.asarray(t_s, dtype=float)
    v = np.nan_to_num(np.asarray(voltage_set_v, dtype=float))
    r = np.asarray(resistance_ohm, dtype=float)
    every = np.asarray(temperature_c, dtype=float)
    pyro = np.where(every > range_low_c + PYRO_CLEAR_K, every, np.nan)
    return Trace(t - t[0], np.maximum(v, 0.0), r, pyro, start_c, cold_ohm, name, channels, range_low_c, every)


def _apply(
    base: ThermalParams, names: Sequence[str], x: Sequence[float] | np.ndarray
) -> tuple[ThermalParams, float, float]:
    """Parameters ``x`` (by ``names``) applied to ``base``: (plant, t90 s, dead time s)."""
    values = dict(zip(names, x, strict=True))
    changes: dict[str, Any] = {}
    eps_area = base.emissivity * values.pop("emissivity_area_scale", 1.0)
    if eps_area > 1.0:
        changes["emissivity"], changes["area_m2"] = 1.0, base.area_m2 * eps_area
    else:
        changes["emissivity"] = eps_area
    changes["felt_density_kg_m3"] = base.felt_density_kg_m3 * values.pop("heat_capacity_scale", 1.0)
    t90 = values.pop("t90_s", 0.01)
    dead = values.pop("dead_time_s", 0.0)
    changes.update(values)
    return replace(base, **changes), t90, dead


def simulate(
    trace: Trace,
    p: ThermalParams,
    wiring: Wiring,
    t90_s: float,
    dead_time_s: float,
    meter_delay_s: float = METER_DELAY_S,
    power_delay_s: float = 0.0,
) -> tuple[np.ndarray, ...]:
    """Felt temperature, what the pyrometer would read, and the channel resistance, at the trace's times.

    Heun steps, :data:`SUBSTEPS` per recorded tick; the power is held from one tick to the next. Clamps and
    walls at ambient (the reference's default).
    """
    t = trace.t_s
    n = len(t)
    ta = p.t_amb_k
    eps_sigma_a = p.emissivity * SIGMA * p.area_m2
    lin = p.convection_w_m2k * p.area_m2 + p.g_fe_w_k
    m_f = (1.0 - p.phi) * p.felt_mass_kg
    g_fs = p.g_fs_w_k
    s_rad = p.emissivity * SIGMA * p.sample_area_m2
    m_c_s = p.phi * p.felt_mass_kg + p.m_foil_kg
    r_rt = p.rho_el_ohm_m * p.length_m / (p.width_m * p.thickness_m)
    a, tc = p.ntc_a, p.ntc_tc_k
    extra_ohm = p.r_contact_ohm
    if wiring is Wiring.SERIES:
        felt_share_n, lead = p.n_felts, p.r_leads_ohm
    elif wiring is Wiring.PARALLEL:
        felt_share_n, lead = 1, p.r_leads_ohm * p.n_felts
    else:
        felt_share_n, lead = 1, p.r_leads_ohm

    # Per-kelvin tables (200-3200 K) of what depends on temperature alone: the inner loop only looks up.
    grid = np.arange(TABLE_LO_K, TABLE_HI_K + 1.0)
    r_grid = r_rt * (a + (1.0 - a) * np.exp(-(grid - 293.0) / tc))
    r_channel = felt_share_n * (r_grid + extra_ohm) + lead
    share_grid = felt_share_n * r_grid / r_channel
    share_grid = share_grid * trace.channels / r_channel  # W into the felts per V² on every channel
    cp_c = _CP_CARBON
    gain_f = ((1.0 - p.phi) * share_grid / (m_f * cp_c)).tolist()  # K/s per V²
    loss_f = ((eps_sigma_a * (grid**4 - ta**4) + lin * (grid - ta)) / (m_f * cp_c)).tolist()
    inv_cf = (1.0 / (m_f * cp_c)).tolist()
    c_s = m_c_s * cp_c + p.m_llzo_kg * _CP_LLZO + p.m_bn_kg * _CP_BN
    gain_s = (p.phi * share_grid).tolist()  # W into the sample node per V²
    loss_s = (s_rad * (grid**4 - ta**4) / c_s).tolist()
    inv_cs = (1.0 / c_s).tolist()
    top = len(grid) - 1
    last = top - 1e-9

    def rates(tf: float, ts: float, power: float) -> tuple[float, float]:
        # Linear interpolation between the kelvins: a staircase would blind the fit's finite differences.
        # (Clamped to the tables as min(max(...)) would, without the two calls: this runs a million times a fit.)
        x = tf - TABLE_LO_K
        x = 0.0 if x < 0.0 else (last if x > last else x)
        i = int(x)
        u = x - i
        y = ts - TABLE_LO_K
        y = 0.0 if y < 0.0 else (last if y > last else y)
        j = int(y)
        v = y - j
        g_f = gain_f[i] + u * (gain_f[i + 1] - gain_f[i])
        l_f = loss_f[i] + u * (loss_f[i + 1] - loss_f[i])
        c_f = inv_cf[i] + u * (inv_cf[i + 1] - inv_cf[i])
        g_s = gain_s[i] + u * (gain_s[i + 1] - gain_s[i])
        c_s = inv_cs[j] + v * (inv_cs[j + 1] - inv_cs[j])
        l_s = loss_s[j] + v * (loss_s[j + 1] - loss_s[j])
        q_fs = g_fs * (tf - ts)
        return power * g_f - l_f - q_fs * c_f, (power * g_s + q_fs) * c_s - l_s

    tf = ts = c_to_k(trace.start_c)
    felt = np.empty(n)
    felt[0] = tf
    times = t.tolist()
    volts = trace.volts if power_delay_s <= 0 else np.interp(t - power_delay_s, t, trace.volts)
    squares = (volts * volts).tolist()
    for i in range(n - 1):
        dt = (times[i + 1] - times[i]) / SUBSTEPS
        power = squares[i]
        for _ in range(SUBSTEPS):
            d1f, d1s = rates(tf, ts, power)
            d2f, d2s = rates(tf + dt * d1f, ts + dt * d1s, power)
            tf = max(tf + 0.5 * dt * (d1f + d2f), TABLE_LO_K)
            ts = max(ts + 0.5 * dt * (d1s + d2s), TABLE_LO_K)
        felt[i + 1] = tf
    # The pyrometer: a first-order lag of the felt temperature, seen ``dead_time_s`` late.
    tau = max(t90_s, 1e-4) / 2.303
    seen = np.empty(n)
    y = felt[0]
    seen[0] = y
    for i in range(1, n):
        y += (felt[i] - y) * (1.0 - math.exp(-(t[i] - t[i - 1]) / tau))
        seen[i] = y
    if dead_time_s > 0:
        seen = np.interp(t - dead_time_s, t, seen)
    r_felt = r_rt * (a + (1.0 - a) * np.exp(-(felt - 293.0) / tc))
    r_path = r_felt + extra_ohm
    if wiring is Wiring.SERIES:
        r_ch = p.n_felts * r_path + p.r_leads_ohm
    elif wiring is Wiring.PARALLEL:
        r_ch = r_path / p.n_felts + p.r_leads_ohm
    else:
        r_ch = r_path + p.r_leads_ohm
    # The metered resistance is a 4 Hz sample-and-hold of the true one: half a period late on average.
    r_ch = np.interp(t - meter_delay_s, t, r_ch)
    return felt - 273.15, seen - 273.15, r_ch


def _residuals(
    x: np.ndarray,
    names: Sequence[str],
    base: ThermalParams,
    wiring: Wiring,
    traces: Sequence[Trace],
    meter_delay_s: float = METER_DELAY_S,
    r_scale: float = 1.0,
    power_delay_s: float = 0.0,
) -> np.ndarray:
    p, t90, dead = _apply(base, names, x)
    parts: list[np.ndarray] = []
    for tr in traces:
        _, seen, r_ch = simulate(tr, p, wiring, t90, dead, meter_delay_s, power_delay_s)
        ok = np.isfinite(tr.pyro_c)
        parts.append((seen[ok] - tr.pyro_c[ok]) / SIGMA_PYRO_K)
        okr = np.isfinite(tr.r_ohm)
        parts.append((r_ch[okr] - r_scale * tr.r_ohm[okr]) / SIGMA_R_OHM)
        if tr.cold_ohm is not None:
            cold = channel_resistance(c_to_k(tr.start_c), p, wiring)
            parts.append(np.array([(cold - r_scale * tr.cold_ohm) / (COLD_SIGMA * tr.cold_ohm)]))
    return np.concatenate(parts)


def _start_values(base: ThermalParams, spec: Sequence[tuple[str, float, float, str]]) -> list[float]:
    start = []
    for name, lo, hi, _ in spec:
        if name in ("heat_capacity_scale", "emissivity_area_scale"):
            value = 1.0
        elif name == "t90_s" or name == "dead_time_s":
            value = 0.05
        elif name == "m_bn_kg":
            value = max(base.m_bn_kg, 1e-5)
        else:
            value = float(getattr(base, name))
        start.append(min(max(value, lo * 1.001 if lo > 0 else lo), hi * 0.999))
    return start


def _autocorrelation_inflation(res: np.ndarray) -> float:
    """n / n_eff for residuals with lag-1 autocorrelation ρ: (1 + ρ) / (1 − ρ), at least 1."""
    if len(res) < 3:
        return 1.0
    r = res - res.mean()
    den = float(np.dot(r, r))
    if den <= 0:
        return 1.0
    rho = min(max(float(np.dot(r[1:], r[:-1])) / den, 0.0), 0.98)
    return (1.0 + rho) / (1.0 - rho)


def _solve(
    base: ThermalParams,
    wiring: Wiring,
    traces: Sequence[Trace],
    spec: Sequence[tuple[str, float, float, str]],
    start: Sequence[float] | np.ndarray = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = [s[0] for s in spec]
    lo = np.array([s[1] for s in spec])
    hi = np.array([s[2] for s in spec])
    x0 = np.array(_start_values(base, spec))
    x0[: len(start)] = np.clip(start, lo[: len(start)], hi[: len(start)])
    result = least_squares(
        _residuals,
        x0,
        bounds=(lo, hi),
        args=(names, base, wiring, traces),
        x_scale=np.maximum(np.abs(x0), 1e-3),
        diff_step=1e-4,
        ftol=1e-5,
        xtol=1e-5,
        max_nfev=400,
    )
    return result.x, result.fun, result.jac


def fit_plant(traces: Sequence[Trace], base: ThermalParams, wiring: Wiring) -> PlantFit:
    """Fit the model to ``traces``; raise :class:`IdentificationError` when they cannot determine it."""
    usable = [tr for tr in traces if len(tr.t_s) >= 20]
    if not usable:
        raise IdentificationError("no run with enough samples to fit")
    n_pyro = sum(tr.n_pyro for tr in usable)
    if n_pyro < 40:
        raise IdentificationError(
            f"only {n_pyro} pyrometer readings above its range's bottom: the records never reached the pyrometer's"
            " range (heat higher, or check the pyrometer's alignment)"
        )
    n_res = sum(int(np.count_nonzero(np.isfinite(tr.r_ohm))) for tr in usable)
    if n_res < 20:
        raise IdentificationError(f"only {n_res} metered resistances: the supply's V/I meters gave too few values")
    notes: list[str] = []
    x1, f1, j1 = _solve(base, wiring, usable, _FREE)
    spec, x, fun, jac = _FREE, x1, f1, j1
    # The stack's mass and coupling trade against the felt's heat capacity: start twice (from the fit
    # without them, and from the base with no extra mass) and keep the better.
    x2, f2, j2 = _solve(base, wiring, usable, _FREE + _STACK, start=x1)
    no_mass = [*_start_values(base, _FREE), 1e-5, base.g_fs_w_k]
    x3, f3, j3 = _solve(base, wiring, usable, _FREE + _STACK, start=no_mass)
    if float(np.dot(f3, f3)) < float(np.dot(f2, f2)):
        x2, f2, j2 = x3, f3, j3
    # Neighbouring residuals are not independent: count the effective number of samples.
    n = len(f1) / _autocorrelation_inflation(f1)
    bic1 = n * math.log(float(np.dot(f1, f1)) / len(f1)) + len(_FREE) * math.log(n)
    bic2 = n * math.log(float(np.dot(f2, f2)) / len(f2)) + len(_FREE + _STACK) * math.log(n)
    # Kept only when it explains a real part of the residual (a slow second mode), not just its wrinkles.
    stack = bic2 < bic1 - 10.0 and float(np.dot(f2, f2)) < 0.8 * float(np.dot(f1, f1))
    if stack:
        spec, x, fun, jac = _FREE + _STACK, x2, f2, j2
    else:
        notes.append("sample-stack mass and coupling not identifiable from these records: kept at the base values")
    notes.append("convection kept at its base value: it and clamp conduction are both linear in T - T_amb")
    names = [s[0] for s in spec]
    dof = max(len(fun) - len(spec), 1)
    s2 = float(np.dot(fun, fun)) / dof
    inflation = _autocorrelation_inflation(fun)
    lo_b = np.array([sp[1] for sp in spec])
    hi_b = np.array([sp[2] for sp in spec])
    at_bound = (x <= lo_b * 1.0001 + 1e-12) | (x >= hi_b * 0.9999)
    column_info = np.einsum("ij,ij->j", jac, jac) * np.maximum(np.abs(x), 1e-3) ** 2  # per relative change
    # A parameter held at its bound, or one the residuals do not feel, carries no information (and would
    # spoil the inverse): its interval is "not determined".
    free = ~at_bound & (column_info > 1e-9 * max(float(column_info.max()), 1e-300))
    sigma = np.full(len(spec), np.inf)
    try:
        jf = jac[:, free]
        info = jf.T @ jf
        # A true inverse (with a vanishing ridge), not a pseudo-inverse: a direction the data do not
        # determine must come out with a large variance, not be dropped as if it were certain.
        scale = 1.0 / np.sqrt(np.maximum(np.diag(info), 1e-300))  # per-parameter units, then a tiny ridge
        normal = scale[:, None] * np.linalg.inv(info * np.outer(scale, scale) + np.eye(len(info)) * 1e-10) * scale
        variance = np.clip(np.diag(normal) * s2 * inflation, 0.0, None)
        # Type B: move each nuisance by its 1σ and see how far the solution moves (linearised).
        for nuisance, sd in NUISANCE_SIGMA.items():
            base_value = {"meter_delay_s": METER_DELAY_S, "r_scale": 1.0}.get(nuisance, 0.0)
            moved = _residuals(x, names, base, wiring, usable, **{nuisance: base_value + sd})
            shift = -normal @ jf.T @ (moved - fun)
            variance = variance + shift * shift
        sigma[free] = np.sqrt(variance)
    except (np.linalg.LinAlgError, FloatingPointError):
        pass
    sigma = np.where(np.isfinite(sigma), sigma, np.inf)
    params, t90, dead = _apply(base, names, x)
    parameters = []
    for (name, _, _, unit), value, sd, bound in zip(spec, x, sigma, at_bound, strict=True):
        parameters.append(Parameter(name, float(value), float(2.0 * sd), unit))
        if bound:
            notes.append(f"{name} ended at its bound ({value:.4g}): the records do not determine it")
        elif not math.isfinite(sd):
            notes.append(f"{name} is not determined by these records")
    predictions = []
    pyro_sq = res_sq = 0.0
    for tr in usable:
        felt, seen, r_ch = simulate(tr, params, wiring, t90, dead)
        predictions.append((felt, seen, r_ch))
        ok = np.isfinite(tr.pyro_c)
        pyro_sq += float(np.sum((seen[ok] - tr.pyro_c[ok]) ** 2))
        okr = np.isfinite(tr.r_ohm)
        res_sq += float(np.sum((r_ch[okr] - tr.r_ohm[okr]) ** 2))
    return PlantFit(
        params=params,
        t90_s=t90,
        dead_time_s=dead,
        parameters=tuple(parameters),
        pyro_rms_k=math.sqrt(pyro_sq / max(n_pyro, 1)),
        resistance_rms_ohm=math.sqrt(res_sq / max(n_res, 1)),
        n_pyro=n_pyro,
        n_resistance=n_res,
        sample_stack=stack,
        notes=tuple(notes),
        predictions=tuple(predictions),
        traces=tuple(usable),
    )


def felt_ohm_at(params: ThermalParams, t_c: float) -> float:
    """Resistance of one felt in ohm at ``t_c`` °C."""
    return felt_resistance(c_to_k(t_c), params)
