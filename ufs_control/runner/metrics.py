"""Run metrics (thermal-model reference §7, M1-M11), computed from the samples on the measured
temperature. Pure functions; the same code serves live runs, ``ufs report`` and the benchmark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ufs_control.runner.records import Sample

BAND_K = 5.0

# (key, label, unit) for every reported metric, in display order; the M-numbers of the reference.
METRIC_LABELS: list[tuple[str, str, str]] = [
    ("ramp_rate_c_per_s", "Achieved ramp rate", "°C/s"),
    ("ramp_rms_k", "Ramp tracking RMS (M1)", "K"),
    ("handover_k", "Hand-over error (M2)", "K"),
    ("overshoot_k", "Overshoot (M3)", "K"),
    ("settle_s", "Settling into ±5 K (M4)", "s"),
    ("hold_max_k", "Hold max error (M5)", "K"),
    ("hold_rms_k", "Hold RMS error (M5)", "K"),
    ("iae_ks", "IAE (M6)", "K·s"),
    ("time_in_band_s", "Time in ±5 K band (M7)", "s"),
    ("soak_s", "Soak at the hold temperature", "s"),
    ("chatter_w", "Actuator chatter (M8)", "W"),
    ("unreg_events", "UNREG events (M9)", ""),
    ("trip_to_output_off_s", "Trip to output off (M10)", "s"),
    ("cooling_s", "Cooling time (M11)", "s"),
    ("energy_j", "Energy", "J"),
    ("peak_c", "Peak temperature", "°C"),
]


def _rms(values: Sequence[float]) -> float | None:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else None


def _dt(samples: Sequence[Sample], i: int) -> float:
    if i + 1 < len(samples):
        return samples[i + 1].t_s - samples[i].t_s
    return samples[i].t_s - samples[i - 1].t_s if i > 0 else 0.0


def _error(s: Sample) -> float | None:
    if s.temperature_c is None or s.setpoint_c is None:
        return None
    return s.temperature_c - s.setpoint_c


def main_hold(samples: Sequence[Sample]) -> tuple[int, int] | None:
    """Index range [first, last] of the longest hold segment that ran."""
    runs: dict[int, list[int]] = {}
    for i, s in enumerate(samples):
        if s.segment_kind == "hold":
            runs.setdefault(s.segment_index, []).append(i)
    if not runs:
        return None
    best = max(runs.values(), key=lambda idx: samples[idx[-1]].t_s - samples[idx[0]].t_s)
    return best[0], best[-1]


def compute(samples: Sequence[Sample], cooling_to_c: float = 500.0) -> dict[str, float | None]:
    """Return the metric dictionary for a run (None where a metric does not apply)."""
    m: dict[str, float | None] = {
        "ramp_rms_k": None,
        "handover_k": None,
        "overshoot_k": None,
        "settle_s": None,
        "hold_max_k": None,
        "hold_rms_k": None,
        "iae_ks": None,
        "time_in_band_s": None,
        "hold_s": None,
        "soak_s": None,
        "chatter_w": None,
        "saturation_pct": None,
        "ramp_rate_c_per_s": None,
        "cooling_s": None,
        "cooling_to_c": cooling_to_c,
        "energy_j": None,
        "peak_c": None,
        "handover_t_s": None,
    }
    if not samples:
        return m
    temps = [s.temperature_c for s in samples if s.temperature_c is not None]
    m["peak_c"] = max(temps) if temps else None
    energy = 0.0
    for i, s in enumerate(samples):
        if s.voltage_v is not None and s.current_a is not None:
            energy += s.voltage_v * s.current_a * _dt(samples, i)
    m["energy_j"] = energy
    engaged_at = next((i for i, s in enumerate(samples) if s.engaged), None)
    hold = main_hold(samples)
    hold_start_t = samples[hold[0]].t_s if hold else math.inf
    if engaged_at is not None:
        t_eng = samples[engaged_at].t_s
        m["handover_t_s"] = t_eng
        window = [e for s in samples if t_eng <= s.t_s <= t_eng + 2.0 and (e := _error(s)) is not None]
        m["handover_k"] = max(abs(e) for e in window) if window else None
        ramp = [
            e
            for s in samples
            if s.engaged
            and s.segment_kind == "ramp"
            and t_eng + 2.0 <= s.t_s < hold_start_t
            and (e := _error(s)) is not None
        ]
        m["ramp_rms_k"] = _rms(ramp)
        pts = [
            (s.t_s, s.temperature_c)
            for s in samples
            if s.engaged and s.segment_kind == "ramp" and s.t_s < hold_start_t and s.temperature_c is not None
        ]
        if len(pts) >= 3:
            mt = sum(t for t, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            den = sum((t - mt) ** 2 for t, _ in pts)
            m["ramp_rate_c_per_s"] = sum((t - mt) * (y - my) for t, y in pts) / den if den > 0 else None
        iae = 0.0
        for i, s in enumerate(samples):
            e = _error(s)
            if s.engaged and e is not None and s.segment_kind in ("ramp", "hold", "step"):
                iae += abs(e) * _dt(samples, i)
        m["iae_ks"] = iae
    if hold is not None:
        first, last = hold
        seg = samples[first : last + 1]
        target = seg[0].target_c
        t0, t1 = seg[0].t_s, seg[-1].t_s + _dt(samples, last)
        m["hold_s"] = t1 - t0
        if target is not None:
            over = [s.temperature_c - target for s in seg if s.temperature_c is not None]
            m["overshoot_k"] = max(over) if over else None
        errors = [(s.t_s, _error(s)) for s in seg]
        outside = [t for t, e in errors if e is None or abs(e) > BAND_K]
        m["settle_s"] = (outside[-1] - t0 + _dt(samples, first)) if outside else 0.0
        late = [abs(e) for t, e in errors if e is not None and t >= t0 + 2.0]
        m["hold_max_k"] = max(late) if late else None
        m["hold_rms_k"] = _rms(late)
        m["time_in_band_s"] = sum(
            _dt(samples, first + k) for k, (_, e) in enumerate(errors) if e is not None and abs(e) <= BAND_K
        )
        if target is not None:
            m["soak_s"] = sum(
                _dt(samples, first + k)
                for k, s in enumerate(seg)
                if s.temperature_c is not None and abs(s.temperature_c - target) <= BAND_K
            )
        powers = [s.power_w for s in seg]
        m["chatter_w"] = _rms([b - a for a, b in itertools.pairwise(powers)])
    p_top = max((s.power_w for s in samples), default=0.0)
    if p_top > 0:
        m["saturation_pct"] = (
            100.0 * sum(1 for s in samples if s.power_w >= 0.98 * p_top and s.loop == "closed") / len(samples)
        )
    off = next(
        (i for i, s in enumerate(samples) if s.segment_kind == "cool" and s.setpoint_c is None and s.power_w == 0),
        None,
    )
    if off is not None:
        t_off = samples[off].t_s
        for s in samples[off:]:
            below = (s.temperature_c is not None and s.temperature_c < cooling_to_c) or (
                s.pyrometer_status == "BELOW_RANGE"
            )
            if below:
                m["cooling_s"] = s.t_s - t_off
                break
    return m
