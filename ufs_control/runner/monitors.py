"""Monitors: the durations, counters and supply observations the interlock snapshot is built from.

Every threshold comes from :class:`~ufs_control.core.rig.Limits`; the predicates themselves are the pure
functions of :mod:`ufs_control.core.interlocks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ufs_control.core.errors import GuardianError, GuardianTrip, InstrumentError, InstrumentReportedError
from ufs_control.core.instruments import LimitStatus, PyrometerReading
from ufs_control.core.interlocks import Snapshot
from ufs_control.core.rig import Limits
from ufs_control.runner.actuator import ResistanceEstimator
from ufs_control.runner.timeline import Position


@dataclass(frozen=True)
class Meters:
    """One 4 Hz read of the supply: mean volts, total amps, and the limit-status bits of all channels."""

    volts: float
    amps: float
    status: LimitStatus


class Monitors:
    """Accumulates what happened tick by tick and produces the interlock :class:`Snapshot`."""

    def __init__(self, limits: Limits, resistance: ResistanceEstimator, max_run_s: float) -> None:
        self.limits = limits
        self.resistance = resistance
        self.max_run_s = max_run_s
        self.last_valid_t: float | None = None
        self.last_raw = b""
        self.unchanged_since: float | None = None
        self.blind_s = 0.0
        # The hold being watched: (segment index, its setpoint was inside the range, a valid reading came)
        self.hold_seen: tuple[int, bool, bool] | None = None
        self.unseen_hold: int | None = None  # a hold inside the range that ended without one valid reading
        self.high_since: float | None = None
        self.high_start_c: float | None = None
        self.out_of_band_s = 0.0
        self.holdback_segment = -1
        self.holdback_wait_s = 0.0
        self.open_count = 0
        self.resistance_ratio: float | None = None
        self.expected_current_a: float | None = None
        self.limit_status: LimitStatus | None = None
        self.unreg_events = 0
        self.supply_failures = 0
        self.supply_error: str | None = None
        self.guardian: tuple[str, str] | None = None
        self.stalled_s = 0.0
        self.sensor_gap_k: float | None = None  # pyrometer minus felt-resistance temperature, when both count
        self.disagree_since: float | None = None
        self.resistance_backup = False  # a ramp-down may go on on the felts' resistance alone
        self.sensor_band_k = limits.cross_check_k
        self.record_error: str | None = None

    # --- observations -----------------------------------------------------------------------------

    def on_reading(self, t: float, reading: PyrometerReading) -> None:
        if reading.valid:
            self.last_valid_t = t
            if reading.raw != self.last_raw:
                self.unchanged_since, self.last_raw = t, reading.raw

    def on_meters(self, meters: Meters, felt_c: float | None) -> None:
        """A fresh meter read: update the resistance estimate, the open-circuit count and the drift ratio."""
        lim, res = self.limits, self.resistance
        self.limit_status = meters.status
        if meters.status.unregulated:
            self.unreg_events += 1
        res.update(meters.volts, meters.amps)
        expected = res.channels * meters.volts / res.model_ohm(felt_c)
        self.expected_current_a = expected
        if meters.volts > lim.open_circuit_min_v and meters.amps < lim.open_circuit_fraction * expected:
            self.open_count += 1
        else:
            self.open_count = 0
        measured = res.measured_ohm()
        self.resistance_ratio = measured / res.model_ohm(felt_c) if measured is not None and felt_c else None
        self.supply_failures = 0

    def on_supply_failure(self, exc: InstrumentError) -> str | None:
        """Classify a failed supply call; return a warning to record (None when it is a latched reason)."""
        if isinstance(exc, GuardianTrip):
            self.guardian = self.guardian or (exc.name, exc.reason)
            return None
        if isinstance(exc, GuardianError):
            self.guardian = self.guardian or ("guardian", str(exc))
            return None
        if isinstance(exc, InstrumentReportedError):
            self.supply_error = str(exc)
            return None
        self.supply_failures += 1
        return f"supply: {exc}"

    def on_stall(self, gap_s: float) -> None:
        """The loop itself saw a gap between ticks (suspended, blocked): remember the longest."""
        self.stalled_s = max(self.stalled_s, gap_s)

    def on_tick(
        self, t: float, dt: float, pos: Position, engaged: bool, error_k: float | None, range_low_c: float
    ) -> bool:
        """Update the durations for this tick; return True when a holdback should pause the hold timer."""
        lim = self.limits
        pause = False
        hold = pos.hold
        if hold is not None and hold.holdback_k is not None and engaged:
            if self.holdback_segment != pos.segment.index:
                self.holdback_segment, self.holdback_wait_s = pos.segment.index, 0.0
            if error_k is None or abs(error_k) > hold.holdback_k:
                pause = True
                self.holdback_wait_s += dt
        valid = self.last_valid_t == t
        sp = pos.setpoint_c
        self._watch_hold(pos, sp is not None and sp > range_low_c + lim.blind_hold_margin_k, valid)
        if sp is not None and not engaged and sp > range_low_c + lim.blind_margin_k and not valid:
            self.blind_s += dt
        else:
            self.blind_s = 0.0
        if engaged and error_k is not None and abs(error_k) > lim.tracking_band_k:
            self.out_of_band_s += dt
        else:
            self.out_of_band_s = 0.0
        return pause

    def _watch_hold(self, pos: Position, inside: bool, valid: bool) -> None:
        """A hold whose setpoint was ``blind_hold_margin_k`` inside the pyrometer's range must have had a valid
        reading by its end (a short hold, or one below ``blind_margin_k``, would otherwise pass unseen)."""
        if self.hold_seen is not None and self.hold_seen[0] != pos.segment.index:
            self.end_of_profile()  # the hold is over: judge it as the end of the profile would
        if pos.hold is not None and not pos.finished:
            index, was_inside, was_seen = self.hold_seen or (pos.segment.index, False, False)
            self.hold_seen = (index, was_inside or inside, was_seen or valid)

    def end_of_profile(self) -> None:
        """Judge the hold being watched, which is over (the profile ended on it, or moved on)."""
        watched, self.hold_seen = self.hold_seen, None
        if watched is not None and watched[1] and not watched[2]:
            self.unseen_hold = watched[0]

    def on_sensors(
        self,
        t: float,
        pyrometer_c: float | None,
        resistance_c: float | None,
        resistance_sigma_k: float | None,
        check_from_c: float,
    ) -> bool:
        """Cross-check the two thermometers where both count; True when they start to disagree.

        The band is ``limits.cross_check_k``, widened to three times the resistance reading's uncertainty
        where the felt's R(T) is flat (hot).
        """
        if pyrometer_c is None or resistance_c is None or pyrometer_c < check_from_c:
            self.sensor_gap_k = None
            self.disagree_since = None
            return False
        self.sensor_gap_k = pyrometer_c - resistance_c
        self.sensor_band_k = max(self.limits.cross_check_k, 3.0 * (resistance_sigma_k or 0.0))
        if abs(self.sensor_gap_k) <= self.sensor_band_k:
            self.disagree_since = None
            return False
        started = self.disagree_since is None
        if started:
            self.disagree_since = t
        return started

    def on_command(self, t: float, power_w: float, p_max_w: float, engaged: bool, felt_c: float | None) -> None:
        """Track how long the loop has asked for near-full power (the loop-break check)."""
        if engaged and p_max_w > 0 and power_w >= self.limits.high_power_fraction * p_max_w:
            if self.high_since is None:
                self.high_since, self.high_start_c = t, felt_c
        else:
            self.high_since = self.high_start_c = None

    # --- the snapshot -------------------------------------------------------------------------------

    def snapshot(
        self,
        t: float,
        pos: Position,
        engaged: bool,
        reading: PyrometerReading,
        error_k: float | None,
        emergency_stop: bool,
    ) -> Snapshot:
        valid = reading.valid
        rise = 0.0
        if self.high_start_c is not None and reading.celsius is not None:
            rise = reading.celsius - self.high_start_c
        hold = pos.hold
        return Snapshot(
            t_s=t,
            loop_closed=engaged,
            setpoint_c=pos.setpoint_c,
            reading=reading,
            invalid_for_s=0.0 if valid or self.last_valid_t is None else t - self.last_valid_t,
            unchanged_for_s=0.0 if self.unchanged_since is None or not valid else t - self.unchanged_since,
            blind_for_s=self.blind_s,
            unseen_hold=self.unseen_hold,
            high_power_for_s=0.0 if self.high_since is None else t - self.high_since,
            rise_during_high_power_k=rise,
            voltage_v=self.resistance.volts,
            current_a=self.resistance.amps,
            expected_current_a=self.expected_current_a,
            resistance_ratio=self.resistance_ratio,
            open_count=self.open_count,
            limit_status=self.limit_status,
            supply_error=self.supply_error,
            supply_failures=self.supply_failures,
            tracking_error_k=error_k,
            out_of_band_for_s=self.out_of_band_s,
            elapsed_s=t,
            max_run_s=self.max_run_s,
            holdback_wait_s=self.holdback_wait_s if hold is not None else 0.0,
            holdback_max_s=hold.max_wait_s if hold is not None else None,
            emergency_stop=emergency_stop,
            guardian=self.guardian,
            stalled_s=self.stalled_s,
            sensor_gap_k=self.sensor_gap_k,
            sensor_band_k=self.sensor_band_k,
            sensor_disagree_s=0.0 if self.disagree_since is None else t - self.disagree_since,
            resistance_backup=self.resistance_backup,
            record_error=self.record_error,
        )
