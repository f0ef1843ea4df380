"""Interlocks: pure predicates over a snapshot of the rig that return a reason or None, and a latch.

They run before every output write. A tripped interlock aborts and quenches; it never auto-resumes, and
it stays latched until an operator acknowledges it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ufs_control.core.instruments import LimitStatus, PyrometerReading, PyrometerStatus
from ufs_control.core.rig import Limits


@dataclass(frozen=True)
class Snapshot:
    """What the interlocks look at, once per control tick. Durations are in seconds."""

    t_s: float
    loop_closed: bool
    setpoint_c: float | None
    reading: PyrometerReading
    invalid_for_s: float = 0.0
    unchanged_for_s: float = 0.0
    blind_for_s: float = 0.0
    unseen_hold: int | None = None  # index of a hold inside the pyrometer's range that ended without a reading
    high_power_for_s: float = 0.0
    rise_during_high_power_k: float = 0.0
    voltage_v: float | None = None
    current_a: float | None = None
    expected_current_a: float | None = None
    resistance_ratio: float | None = None
    open_count: int = 0
    limit_status: LimitStatus | None = None
    supply_error: str | None = None
    supply_failures: int = 0
    tracking_error_k: float | None = None
    out_of_band_for_s: float = 0.0
    elapsed_s: float = 0.0
    max_run_s: float | None = None
    holdback_wait_s: float = 0.0
    holdback_max_s: float | None = None
    emergency_stop: bool = False
    guardian: tuple[str, str] | None = None  # (what, reason) when the guardian switched the output off itself
    stalled_s: float = 0.0  # the longest gap the loop saw between two of its own ticks
    record_error: str | None = None  # the run record could not be written
    sensor_gap_k: float | None = None  # pyrometer minus the felts' resistance temperature (thermometry on)
    sensor_disagree_s: float = 0.0  # how long the two have disagreed beyond the band without a break
    sensor_band_k: float = 0.0  # the band: limits.cross_check_k, wider where the resistance reading is coarse
    resistance_backup: bool = False  # ramping down with the felts' resistance as the temperature


@dataclass(frozen=True)
class Trip:
    """A latched interlock: which one, why, and when (run time in seconds)."""

    name: str
    reason: str
    t_s: float


Predicate = Callable[[Snapshot, Limits], str | None]
STALL_HINT = "; on a busy computer close other programs, or raise limits.watchdog_s (at most 1 s)"
BLIND_HINT = (
    "; check the pyrometer's aim and window; if it is fine, the felt heats slower than the model says "
    "(a new rig or felt): measure the plant with ufs identify"
)


def over_temperature(s: Snapshot, lim: Limits) -> str | None:
    r = s.reading
    if r.status is PyrometerStatus.ABOVE_RANGE:
        return "pyrometer reads above its measuring range"
    if r.celsius is None:
        return None
    if r.celsius > lim.max_temperature_c:
        return f"temperature {r.celsius:.1f} °C above the limit {lim.max_temperature_c:g} °C"
    if s.loop_closed and s.setpoint_c is not None and r.celsius > s.setpoint_c + lim.over_setpoint_margin_k:
        return (
            f"temperature {r.celsius:.1f} °C is more than {lim.over_setpoint_margin_k:g} K above the "
            f"setpoint {s.setpoint_c:.1f} °C"
        )
    return None


def pyrometer_fault(s: Snapshot, lim: Limits) -> str | None:
    # A ramp down may finish on the felts' resistance; a hold or a ramp up never continues without the pyrometer.
    if s.loop_closed and s.invalid_for_s > lim.pyrometer_dropout_s and not s.resistance_backup:
        return f"pyrometer {s.reading.status.value} for {s.invalid_for_s:.2f} s while the loop is closed"
    return None


def pyrometer_stale(s: Snapshot, lim: Limits) -> str | None:
    if s.loop_closed and s.unchanged_for_s > lim.stale_reading_s:
        return f"pyrometer reading unchanged for {s.unchanged_for_s:.1f} s (stuck?)"
    return None


def watchdog(s: Snapshot, lim: Limits) -> str | None:
    if s.guardian is not None:
        return s.guardian[1]
    if s.stalled_s > lim.watchdog_s:
        return f"control loop stalled {s.stalled_s * 1000:.0f} ms (watchdog {lim.watchdog_s:g} s)" + STALL_HINT
    return None


def supply_link(s: Snapshot, lim: Limits) -> str | None:
    if s.guardian is not None and s.guardian[0] == "supply_link":
        return s.guardian[1]
    return None


def record_failure(s: Snapshot, lim: Limits) -> str | None:
    if s.record_error is not None:
        return f"run record cannot be written: {s.record_error}"
    return None


def loop_break(s: Snapshot, lim: Limits) -> str | None:
    if s.high_power_for_s > lim.loop_break_s and s.rise_during_high_power_k < lim.loop_break_rise_k:
        return (
            f"loop break: high power for {s.high_power_for_s:.1f} s but the temperature rose only "
            f"{s.rise_during_high_power_k:.1f} K"
        )
    if s.unseen_hold is not None:
        return (
            f"loop break: the hold of segment {s.unseen_hold + 1} ended without one valid reading, its setpoint "
            f"inside the pyrometer range" + BLIND_HINT
        )
    if s.blind_for_s > lim.blind_s and not s.resistance_backup:
        return (
            f"loop break: setpoint well inside the pyrometer range for {s.blind_for_s:.1f} s, no valid reading"
            + BLIND_HINT
        )
    return None


def sensor_disagreement(s: Snapshot, lim: Limits) -> str | None:
    if s.sensor_gap_k is not None and s.sensor_disagree_s >= lim.cross_check_s:
        return (
            f"pyrometer and felt resistance disagree by {s.sensor_gap_k:+.0f} K for {s.sensor_disagree_s:.1f} s "
            f"(band ±{s.sensor_band_k:.0f} K): fogged window, misaligned spot, wrong ratio setting or a changed felt?"
        )
    return None


def felt_open(s: Snapshot, lim: Limits) -> str | None:
    if s.open_count >= lim.open_circuit_reads:
        return (
            f"felt open circuit: {s.current_a or 0.0:.2f} A measured where {s.expected_current_a or 0.0:.2f} A "
            f"is expected at {s.voltage_v or 0.0:.2f} V"
        )
    return None


def felt_short(s: Snapshot, lim: Limits) -> str | None:
    if s.resistance_ratio is not None and s.resistance_ratio < lim.felt_short_ratio:
        return f"felt short: resistance at {s.resistance_ratio:.0%} of the expected value"
    return None


def resistance_drift(s: Snapshot, lim: Limits) -> str | None:
    if s.resistance_ratio is not None and s.resistance_ratio > 1.0 + lim.resistance_drift:
        return f"felt/contact resistance {s.resistance_ratio - 1:+.0%} above the expected value"
    return None


def supply_trip(s: Snapshot, lim: Limits) -> str | None:
    st = s.limit_status
    if st is not None and st.any_trip:
        return f"supply tripped: {', '.join(n for n in st.names() if n.endswith('TRIP'))}"
    return None


def supply_error(s: Snapshot, lim: Limits) -> str | None:
    if s.supply_error is not None:
        return f"supply reported an error: {s.supply_error}"
    return None


def supply_silent(s: Snapshot, lim: Limits) -> str | None:
    if s.supply_failures >= lim.supply_failures_max:
        return f"supply not answering ({s.supply_failures} failed transactions in a row)"
    return None


def tracking_error(s: Snapshot, lim: Limits) -> str | None:
    if s.loop_closed and s.out_of_band_for_s > lim.tracking_time_s:
        return (
            f"tracking error {s.tracking_error_k or 0.0:+.1f} K beyond ±{lim.tracking_band_k:g} K for "
            f"{s.out_of_band_for_s:.1f} s"
        )
    return None


def max_run_time(s: Snapshot, lim: Limits) -> str | None:
    if s.max_run_s is not None and s.elapsed_s > s.max_run_s:
        return f"maximum run time {s.max_run_s:.0f} s exceeded"
    return None


def holdback_timeout(s: Snapshot, lim: Limits) -> str | None:
    if s.holdback_max_s is not None and s.holdback_wait_s > s.holdback_max_s:
        return f"holdback: waited {s.holdback_wait_s:.1f} s outside the band (max {s.holdback_max_s:g} s)"
    return None


def emergency_stop(s: Snapshot, lim: Limits) -> str | None:
    return "EMERGENCY STOP pressed" if s.emergency_stop else None


INTERLOCKS: dict[str, Predicate] = {
    "emergency_stop": emergency_stop,
    "supply_link": supply_link,  # before the watchdog: a lost link also stalls the loop while it reconnects
    "watchdog": watchdog,
    "over_temperature": over_temperature,
    "supply_trip": supply_trip,
    "supply_error": supply_error,
    "supply_silent": supply_silent,
    "felt_open": felt_open,
    "felt_short": felt_short,
    "resistance_drift": resistance_drift,
    "pyrometer_fault": pyrometer_fault,
    "pyrometer_stale": pyrometer_stale,
    "sensor_disagreement": sensor_disagreement,
    "loop_break": loop_break,
    "tracking_error": tracking_error,
    "holdback_timeout": holdback_timeout,
    "max_run_time": max_run_time,
    "record_failure": record_failure,
}

LABELS: dict[str, str] = {
    "emergency_stop": "Emergency stop",
    "watchdog": "Watchdog",
    "supply_link": "Supply connection",
    "over_temperature": "Over-temperature",
    "supply_trip": "Supply trip",
    "supply_error": "Supply error",
    "supply_silent": "Supply not answering",
    "felt_open": "Felt open circuit",
    "felt_short": "Felt short",
    "resistance_drift": "Resistance drift",
    "pyrometer_fault": "Pyrometer fault",
    "pyrometer_stale": "Pyrometer stuck",
    "sensor_disagreement": "Sensors disagree",
    "loop_break": "Loop break",
    "tracking_error": "Tracking error",
    "holdback_timeout": "Holdback timeout",
    "max_run_time": "Max run time",
    "record_failure": "Run record",
}


def evaluate(s: Snapshot, lim: Limits) -> Trip | None:
    """Return the first interlock that trips for ``s`` (in priority order), or None."""
    for name, predicate in INTERLOCKS.items():
        reason = predicate(s, lim)
        if reason is not None:
            return Trip(name, reason, s.t_s)
    return None


class InterlockLatch:
    """Holds the first trip until an operator acknowledges it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trip: Trip | None = None

    @property
    def tripped(self) -> Trip | None:
        with self._lock:
            return self._trip

    def latch(self, trip: Trip) -> Trip:
        """Latch ``trip`` unless an earlier one is latched; return the latched trip."""
        with self._lock:
            if self._trip is None:
                self._trip = trip
            return self._trip

    def acknowledge(self) -> Trip | None:
        """Clear the latch (operator acknowledgement); return what was latched."""
        with self._lock:
            trip, self._trip = self._trip, None
            return trip
