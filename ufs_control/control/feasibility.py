"""Pre-run feasibility of a profile against the supply envelope and the thermal model (M14).

A ramp needs at most 70 % of the fastest heating rate the envelope allows along it; a controlled cool at
most 70 % of the free-cooling rate; a hold at most 85 % of the available power, so the loop keeps authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from ufs_control.control.handover import MIN_MARGIN_K
from ufs_control.control.model import PlantModel
from ufs_control.core.profile import Cool, Hold, Plan, Power, Profile, Ramp, Step, plan
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import supply_power_limit

RATE_MARGIN = 0.7
HOLD_MARGIN = 0.85


@dataclass(frozen=True)
class Finding:
    """One verdict about one segment: ``level`` is "error" (infeasible) or "warning"."""

    segment: int
    kind: str
    level: str
    message: str


def available_power(model: PlantModel, rig: RigConfig, t_c: float) -> float:
    """Power in W the supply and the configured limits allow at felt temperature ``t_c``."""
    lim = rig.limits
    r = model.channel_resistance_ohm(t_c)
    return supply_power_limit(r, len(rig.channels), lim.max_voltage_v, lim.max_current_a, lim.max_power_w)


def max_heating_rate(model: PlantModel, rig: RigConfig, t_c: float) -> float:
    return (available_power(model, rig, t_c) - model.steady_power_w(t_c)) / model.heat_capacity_j_k(t_c)


def free_cooling_rate(model: PlantModel, t_c: float) -> float:
    return model.steady_power_w(t_c) / model.heat_capacity_j_k(t_c)


def _temps(a: float, b: float, step: float = 10.0) -> list[float]:
    lo, hi = sorted((a, b))
    n = max(1, int((hi - lo) / step))
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def check(laid: Plan, rig: RigConfig, model: PlantModel) -> list[Finding]:
    """Return the findings for every segment of ``laid`` (empty when everything has margin)."""
    out: list[Finding] = []
    low = rig.pyrometer.range_c[0]
    for s in laid.segments:
        seg, n = s.segment, s.index + 1
        if isinstance(seg, Ramp | Cool) and s.start_c is not None and s.end_c is not None and s.duration_s > 0:
            rate = abs(s.end_c - s.start_c) / s.duration_s
            heating = s.end_c > s.start_c
            worst_t, worst_margin = None, None
            for t in _temps(s.start_c, s.end_c):
                limit = max_heating_rate(model, rig, t) if heating else free_cooling_rate(model, t)
                margin = limit * RATE_MARGIN
                if worst_margin is None or margin < worst_margin:
                    worst_t, worst_margin = t, margin
            assert worst_t is not None and worst_margin is not None
            if rate > worst_margin:
                what = "heating" if heating else "free cooling"
                out.append(
                    Finding(
                        n,
                        s.kind,
                        "error",
                        f"{rate:.0f} °C/s needs more than {RATE_MARGIN:.0%} of the {what} rate the rig has at "
                        f"{worst_t:.0f} °C ({worst_margin / RATE_MARGIN:.0f} °C/s)",
                    )
                )
            elif rate > 0.75 * worst_margin:
                out.append(Finding(n, s.kind, "warning", f"{rate:.0f} °C/s leaves little margin near {worst_t:.0f} °C"))
        if isinstance(seg, Hold | Step) and s.start_c is not None:
            t = s.start_c
            need, have = model.steady_power_w(t), available_power(model, rig, t)
            if need > HOLD_MARGIN * have:
                out.append(
                    Finding(
                        n,
                        s.kind,
                        "error",
                        f"holding {t:.0f} °C needs {need:.0f} W, more than {HOLD_MARGIN:.0%} of the "
                        f"{have:.0f} W available",
                    )
                )
            if t <= low + MIN_MARGIN_K:
                out.append(
                    Finding(
                        n,
                        s.kind,
                        "warning",
                        f"{t:.0f} °C is not {MIN_MARGIN_K:g} K inside the pyrometer's range ({low:g} °C): open loop",
                    )
                )
        if isinstance(seg, Power):
            have = available_power(model, rig, 25.0)
            if seg.power_w > have:
                out.append(Finding(n, s.kind, "error", f"{seg.power_w:g} W exceeds the {have:.0f} W available"))
        if s.end_c is not None and s.end_c > rig.limits.max_temperature_c:
            out.append(
                Finding(
                    n, s.kind, "error", f"{s.end_c:g} °C is above the rig limit {rig.limits.max_temperature_c:g} °C"
                )
            )
    return out


def first_error(profile: Profile, rig: RigConfig) -> Finding | None:
    """The first finding that makes ``profile`` infeasible on ``rig`` (its own model), or None."""
    findings = check(plan(profile), rig, PlantModel(rig.model, rig.wiring))
    return next((f for f in findings if f.level == "error"), None)
