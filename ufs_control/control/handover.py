"""The hand-over from open loop to closed loop: when the pyrometer has been usable long enough, fit the
recent readings, re-base the profile onto the measured temperature, and close the loop without a bump.
"""

from __future__ import annotations

import math
from collections import deque

from ufs_control.core.profile import PlannedSegment
from ufs_control.core.rig import ENGAGE_MARGIN_PRESET_K, ControllerConfig

HISTORY = 64
# A ramp whose top is less than CORNER_K past range start + engage margin would close the loop just before its
# corner: such a segment closes as with a preset (ENGAGE_MARGIN_PRESET_K), and at the latest BELOW_TOP_K below its
# top, but never closer to the range start than MIN_MARGIN_K.
CORNER_K = 100.0
BELOW_TOP_K = 20.0
MIN_MARGIN_K = 10.0


def fit_line(points: list[tuple[float, float]], at_t: float) -> tuple[float, float | None]:
    """Least-squares line through ``points`` (t, value): (value at ``at_t``, slope or None if undefined)."""
    if len(points) < 3:
        return (points[-1][1] if points else float("nan")), None
    # statistics.fmean's arithmetic (an exact sum over the count), without its generator: the lag
    # compensation fits a line every tick.
    mt = math.fsum([p[0] for p in points]) / len(points)
    my = math.fsum([p[1] for p in points]) / len(points)
    den = sum((p[0] - mt) ** 2 for p in points)
    if den <= 0:
        return my, None
    slope = sum((p[0] - mt) * (p[1] - my) for p in points) / den
    return my + slope * (at_t - mt), slope


def rebase_time(seg: PlannedSegment, measured_c: float, profile_t_s: float) -> float:
    """Profile time in ``seg`` at which the planned (linear) setpoint equals ``measured_c``."""
    if seg.start_c is None or seg.end_c is None:
        return profile_t_s
    span = seg.end_c - seg.start_c
    if span == 0 or not math.isfinite(measured_c):
        return profile_t_s
    frac = min(max((measured_c - seg.start_c) / span, 0.0), 1.0)
    return seg.start_s + frac * seg.duration_s


class HandOver:
    """Tracks valid readings and says when the loop may close; opens it again for open-loop segments."""

    def __init__(self, config: ControllerConfig, range_low_c: float, margin_k: float) -> None:
        self.config = config
        self.range_low_c = range_low_c
        self.margin_k = margin_k
        self.engaged = False
        self.valid_since: float | None = None
        self.readings: deque[tuple[float, float]] = deque(maxlen=HISTORY)

    def observe(self, t: float, celsius: float | None) -> None:
        """Note this tick's reading (None when it is not a valid temperature)."""
        if celsius is None:
            self.valid_since = None
            return
        self.readings.append((t, celsius))
        self.valid_since = t if self.valid_since is None else self.valid_since

    def engage_above_c(self, top_c: float | None = None) -> float:
        """The reading above which a rising setpoint may close the loop: the engage margin above the
        pyrometer's range start (near it a head is noisier and slower), lowered for a segment whose highest
        setpoint ``top_c`` does not get far past it."""
        margin = self.margin_k
        if top_c is not None and top_c < self.range_low_c + MIN_MARGIN_K + BELOW_TOP_K:
            return math.inf  # barely into the range: wait for the segment after it (a felt ahead would trip)
        if top_c is not None and top_c < self.range_low_c + margin + CORNER_K:
            room = max(MIN_MARGIN_K, top_c - self.range_low_c - BELOW_TOP_K)
            margin = min(margin, ENGAGE_MARGIN_PRESET_K, room)
        return self.range_low_c + margin

    def ready(
        self,
        t: float,
        setpoint_c: float | None,
        celsius: float | None,
        top_c: float | None = None,
        rising: bool = True,
    ) -> bool:
        """True when the loop is open and may close now: readings valid for the engage window, and above
        :meth:`engage_above_c` while the setpoint is ``rising``; where it is flat or falling (a hold the open
        loop fell short of, a ramp down), anywhere clear of the range start: waiting would only leave the
        hold uncontrolled."""
        c = self.config
        if self.engaged or setpoint_c is None or celsius is None or self.valid_since is None:
            return False
        if t - self.valid_since < c.engage_window_s:
            return False
        if not rising:
            return celsius > self.range_low_c + MIN_MARGIN_K
        return celsius > self.engage_above_c(top_c)

    def fit(self, t: float) -> tuple[float, float | None]:
        """The measured temperature now and its rate, from the readings of the engage window."""
        window = self.config.engage_window_s
        return fit_line([p for p in self.readings if p[0] >= t - window - 1e-9], t)
