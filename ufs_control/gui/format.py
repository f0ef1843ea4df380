"""What the window says, as pure functions (no Qt): readings, trips, progress and the run card's rows.

A pyrometer sentinel (below or above range, not ready, no reply, garbage) is said in words and never as a
number; a metric that an ended run could not measure honestly is said to be missing, with the reason.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ufs_control.control.feasibility import Finding
from ufs_control.core.interlocks import LABELS, Trip
from ufs_control.core.profile import Plan
from ufs_control.runner.metrics import METRIC_LABELS

CARD_KEYS = (
    "ramp_rate_c_per_s",
    "ramp_rms_k",
    "handover_k",
    "overshoot_k",
    "settle_s",
    "hold_max_k",
    "hold_rms_k",
    "time_in_band_s",
    "soak_s",
    "energy_j",
    "cooling_s",
    "peak_c",
)
CARD_ROWS = [row for row in METRIC_LABELS if row[0] in CARD_KEYS]
RAMP_KEYS = ("ramp_rate_c_per_s", "ramp_rms_k")
HOLD_KEYS = ("overshoot_k", "settle_s", "hold_max_k", "hold_rms_k", "time_in_band_s", "soak_s")
HANDOVER_WINDOW_S = 2.0  # the hand-over error is the largest error in the 2 s after the loop closed


def number(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def clock_text(wall: float) -> str:
    """A wall-clock time (``time.time()``) as hh:mm:ss, local time."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


def temperature_text(status: str, celsius: float | None, range_c: tuple[float, float]) -> str:
    """A pyrometer reading in words: a number only for an OK reading (``status`` as PyrometerStatus.value)."""
    if status == "OK" and celsius is not None and math.isfinite(celsius):
        return f"{celsius:.1f} °C"
    return {
        "BELOW_RANGE": f"< {range_c[0]:.0f} °C (below range)",
        "ABOVE_RANGE": f"> {range_c[1]:.0f} °C (above range)",
        "NOT_READY": "not ready",
        "HEAD_FAULT": "head fault",
        "TIMEOUT": "no reply",
        "GARBLED": "garbled reply",
    }.get(status, "no reading")


PYROMETER_WORDS = {
    "OK": "OK",
    "BELOW_RANGE": "below range",
    "ABOVE_RANGE": "above range",
    "NOT_READY": "not ready",
    "HEAD_FAULT": "head fault",
    "TIMEOUT": "no reply",
    "GARBLED": "garbled reply",
}


def pyrometer_words(status: str) -> str:
    return PYROMETER_WORDS.get(status, status.lower())


def trip_text(trip: Trip) -> str:
    """The trip in words, its name said once ("Felt open circuit: A measured …", not "Felt open circuit:
    felt open circuit: …")."""
    label = LABELS.get(trip.name, trip.name)
    reason = trip.reason.strip()
    if reason.casefold().startswith(label.casefold()):
        reason = reason[len(label) :].lstrip(" :—-")
    elif reason.casefold().startswith(trip.name.replace("_", " ").casefold()):
        reason = reason[len(trip.name) :].lstrip(" :—-")
    return f"{label}: {reason}" if reason else label


def duration_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d} min" if m < 60 else f"{m // 60}:{m % 60:02d}:{s:02d} h"


def progress_text(laid: Plan, profile_t_s: float, segment_index: int) -> tuple[str, str]:
    """("segment 2/3 (hold) · 12 s left", "run ends in 35 s") for a run at ``profile_t_s`` of its plan."""
    n = len(laid.segments)
    i = min(max(segment_index, 0), n - 1)
    seg = laid.segments[i]
    left = seg.end_s - profile_t_s
    segment = f"segment {i + 1}/{n} ({seg.kind}) · {duration_text(left)} left"
    return segment, f"run ends in {duration_text(laid.duration_s - profile_t_s)}"


@dataclass(frozen=True)
class CardRow:
    key: str
    label: str
    text: str
    note: str = ""  # why a value is missing or partial (a tooltip)


def _value_text(key: str, value: float, unit: str, metrics: Mapping[str, float | None]) -> str:
    if key == "energy_j":
        return f"{value / 1000.0:.2f} kJ"
    if key == "cooling_s":
        return f"{value:.2f} s to {metrics.get('cooling_to_c') or 500:.0f} °C"
    return f"{number(value, 2)} {unit}".strip()


def card_rows(
    metrics: Mapping[str, float | None],
    outcome: str,
    laid: Plan | None = None,
    hold_segment: int | None = None,
    duration_s: float | None = None,
) -> list[CardRow]:
    """The run card: each metric with a label that names its segment, or "—" with the reason when the run
    ended before the metric means anything (a ramp cut short has no achieved rate; a hand-over needs 2 s
    after the loop closed; hold figures need the hold).

    ``hold_segment`` is the 0-based index of the hold the metrics were taken over (the longest that ran).
    """
    finished = outcome == "finished"
    reached_hold = metrics.get("hold_s") is not None
    handover_t = metrics.get("handover_t_s")
    ended = duration_s if duration_s is not None else math.inf
    hold_c: float | None = None
    ramps: list[int] = []  # 1-based numbers of the ramp segments before the hold
    if laid is not None and hold_segment is not None and 0 <= hold_segment < len(laid.segments):
        hold_c = laid.segments[hold_segment].end_c
        ramps = [s.index + 1 for s in laid.segments[:hold_segment] if s.kind == "ramp"]
    rows = []
    for key, label, unit in CARD_ROWS:
        value = metrics.get(key)
        note = ""
        if hold_segment is not None:
            seg = f"segment {hold_segment + 1}"
            at = f" at {hold_c:.0f} °C" if hold_c is not None else ""
            if key == "ramp_rate_c_per_s" and len(ramps) == 1:
                label = f"Ramp rate, segment {ramps[0]} (into the hold{at})"
            elif key == "ramp_rate_c_per_s" and len(ramps) > 1:
                label = f"Ramp rate, segments {' + '.join(map(str, ramps))} as one line"
                note = f"one line fitted over every closed-loop ramp before the hold ({seg}{at})"
            elif key == "soak_s":
                label = f"Soak in {seg}{at}"
            elif key in ("hold_max_k", "hold_rms_k", "overshoot_k"):
                label = f"{label}, {seg}"
        if not finished and key in RAMP_KEYS + HOLD_KEYS and not reached_hold:
            value, note = None, f"the run ended ({outcome}) before the hold"
        elif not finished and key == "handover_k" and (handover_t is None or handover_t + HANDOVER_WINDOW_S > ended):
            value, note = None, f"the run ended ({outcome}) within {HANDOVER_WINDOW_S:g} s of the hand-over"
        elif not finished and key in HOLD_KEYS and value is not None:
            note = f"partial: the run ended ({outcome}) during or after the hold"
            label = f"{label} (partial)"
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            text = "—"
        else:
            text = _value_text(key, float(value), unit, metrics)
        rows.append(CardRow(key, label, text, note))
    return rows


def verdict_lines(laid: Plan, findings: Sequence[Finding], with_kind: bool = True) -> tuple[list[str], bool]:
    """A plan's duration and peak, each feasibility finding, and the verdict, as HTML lines; and whether the
    plan is feasible (no finding of level "error")."""
    errors = [f for f in findings if f.level == "error"]
    lines = [f"duration {laid.duration_s:.1f} s, peak {laid.peak_c:.0f} °C"]
    for f in findings:
        colour = "#c62828" if f.level == "error" else "#ef6c00"
        where = f"segment {f.segment} ({f.kind})" if with_kind else f"segment {f.segment}"
        lines.append(f"<span style='color:{colour}'>{html.escape(f'{f.level}: {where}: {f.message}')}</span>")
    lines.append(
        "<span style='color:#c62828'>infeasible on this rig</span>"
        if errors
        else "<span style='color:#2e7d32'>feasible on this rig</span>"
    )
    return lines, not errors


def next_sample_id(text: str) -> str:
    """The sample id for the next run: a trailing number counted up (LLZO-41 → LLZO-42, S009 → S010)."""
    m = re.search(r"(\d+)(\D*)$", text)
    if m is None:
        return text
    digits = m.group(1)
    return text[: m.start(1)] + str(int(digits) + 1).zfill(len(digits)) + m.group(2)
