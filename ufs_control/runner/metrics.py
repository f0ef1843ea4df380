"""Run metrics (thermal-model reference §7, M1-M11), computed from the samples on the measured
temperature. Pure functions; the same code serves live runs, ``ufs report`` and the benchmark.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from ufs_control.control.handover import fit_line
from ufs_control.runner.records import Columns, Sample, SampleLog, columns_of

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


def _ok(x: float) -> bool:
    return not math.isnan(x)


def main_hold(samples: Sequence[Sample]) -> tuple[int, int] | None:
    """Index range [first, last] of the longest hold segment that ran."""
    return _main_hold(_columns(samples))


def _columns(samples: Sequence[Sample]) -> Columns:
    return samples.columns() if isinstance(samples, SampleLog) else columns_of(samples)


def _main_hold(c: Columns) -> tuple[int, int] | None:
    spans: dict[int, list[int]] = {}
    hold = c.code("segment_kind", "hold")
    for i, (code, seg) in enumerate(zip(c.segment_kind, c.segment_index, strict=True)):
        if code == hold:
            span = spans.setdefault(seg, [i, i])
            span[1] = i
    if not spans:
        return None
    first, last = max(spans.values(), key=lambda fl: c.t_s[fl[1]] - c.t_s[fl[0]])
    return first, last


def compute(samples: Sequence[Sample], cooling_to_c: float = 500.0) -> dict[str, float | None]:
    """Return the metric dictionary for a run (None where a metric does not apply).

    Works on columns, a few passes each, so a 10-hour run (720 000 samples) costs seconds, not minutes.
    """
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
    c = _columns(samples)
    n = len(c.t_s)
    if n == 0:
        return m
    t, temp, sp = c.t_s, c.temperature_c, c.setpoint_c
    # Compact arrays, and running sums below instead of lists: a 10-hour run must not need a list per metric.
    dts = array("d", (t[i + 1] - t[i] for i in range(n - 1)))
    dts.append(t[n - 1] - t[n - 2] if n > 1 else 0.0)
    err = array("d", (a - b for a, b in zip(temp, sp, strict=True)))  # NaN where either is missing
    m["peak_c"] = max((x for x in temp if _ok(x)), default=None)
    m["energy_j"] = sum(v * i * d for v, i, d in zip(c.voltage_v, c.current_a, dts, strict=True) if _ok(v) and _ok(i))
    ramp_code, hold_code = c.code("segment_kind", "ramp"), c.code("segment_kind", "hold")
    step_code, cool_code = c.code("segment_kind", "step"), c.code("segment_kind", "cool")
    kind, engaged = c.segment_kind, c.engaged
    engaged_at = next((i for i in range(n) if engaged[i]), None)
    hold = _main_hold(c)
    hold_start_t = t[hold[0]] if hold else math.inf
    if engaged_at is not None:
        t_eng = t[engaged_at]
        m["handover_t_s"] = t_eng
        window = [abs(err[i]) for i in range(engaged_at, n) if t[i] <= t_eng + 2.0 and _ok(err[i])]
        m["handover_k"] = max(window) if window else None
        ramp = [
            err[i]
            for i in range(n)
            if engaged[i] and kind[i] == ramp_code and t_eng + 2.0 <= t[i] < hold_start_t and _ok(err[i])
        ]
        m["ramp_rms_k"] = _rms(ramp)
        pts = [
            (t[i], temp[i])
            for i in range(n)
            if engaged[i] and kind[i] == ramp_code and t[i] < hold_start_t and _ok(temp[i])
        ]
        if len(pts) >= 3:
            m["ramp_rate_c_per_s"] = fit_line(pts, pts[-1][0])[1]
        closed_kinds = (ramp_code, hold_code, step_code)
        m["iae_ks"] = sum(
            abs(err[i]) * dts[i] for i in range(n) if engaged[i] and _ok(err[i]) and kind[i] in closed_kinds
        )
    if hold is not None:
        first, last = hold
        span = range(first, last + 1)
        target = c.target_c[first]
        t0 = t[first]
        m["hold_s"] = t[last] + dts[last] - t0
        if _ok(target):
            over = [temp[i] - target for i in span if _ok(temp[i])]
            m["overshoot_k"] = max(over) if over else None
        last_outside = next((t[i] for i in reversed(span) if not _ok(err[i]) or abs(err[i]) > BAND_K), None)
        m["settle_s"] = (last_outside - t0 + dts[first]) if last_outside is not None else 0.0
        late_n, late_max, late_sq = 0, 0.0, 0.0
        for i in span:
            if _ok(err[i]) and t[i] >= t0 + 2.0:
                a = abs(err[i])
                late_n, late_max, late_sq = late_n + 1, max(late_max, a), late_sq + a * a
        m["hold_max_k"] = late_max if late_n else None
        m["hold_rms_k"] = math.sqrt(late_sq / late_n) if late_n else None
        m["time_in_band_s"] = sum(dts[i] for i in span if _ok(err[i]) and abs(err[i]) <= BAND_K)
        if _ok(target):
            m["soak_s"] = sum(dts[i] for i in span if _ok(temp[i]) and abs(temp[i] - target) <= BAND_K)
        power = c.power_w
        steps = last - first
        chatter_sq = sum((power[i + 1] - power[i]) ** 2 for i in range(first, last))
        m["chatter_w"] = math.sqrt(chatter_sq / steps) if steps else None
    p_top = max(c.power_w) if n else 0.0
    if p_top > 0:
        closed = c.code("loop", "closed")
        busy = sum(1 for p, lp in zip(c.power_w, c.loop, strict=True) if p >= 0.98 * p_top and lp == closed)
        m["saturation_pct"] = 100.0 * busy / n
    off = next((i for i in range(n) if kind[i] == cool_code and not _ok(sp[i]) and c.power_w[i] == 0), None)
    if off is not None:
        below_range = c.code("pyrometer_status", "BELOW_RANGE")
        for i in range(off, n):
            if (_ok(temp[i]) and temp[i] < cooling_to_c) or c.pyrometer_status[i] == below_range:
                m["cooling_s"] = t[i] - t[off]
                break
    return m
