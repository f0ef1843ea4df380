"""The run engine: an explicit state machine in a plain thread (no Qt).

Each tick is read -> check -> control -> write: read the pyrometer (and the supply meters at their 4 Hz
refresh), work out the setpoint, evaluate every interlock on a snapshot, then compute and write the
supply's voltage and current limits. Every exit path runs through one ``finally`` that switches the
output off; the one place that turns an exception into a run outcome is :meth:`Runner.run`.
"""

from __future__ import annotations

import enum
import math
import statistics
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ufs_control import __version__
from ufs_control.control.controller import ControlInput, Controller, ControlOutput
from ufs_control.control.model import PlantModel
from ufs_control.core.clock import Clock
from ufs_control.core.errors import InstrumentError, InstrumentReportedError, UfsError
from ufs_control.core.instruments import (
    Identity,
    LimitStatus,
    PowerSupply,
    Pyrometer,
    PyrometerReading,
    PyrometerStatus,
)
from ufs_control.core.interlocks import InterlockLatch, Snapshot, Trip, evaluate
from ufs_control.core.profile import Cool, Hold, Plan, PlannedSegment, Power, Profile, plan, setpoint_at
from ufs_control.core.rig import RigConfig
from ufs_control.runner.buffer import DisplayBuffer
from ufs_control.runner.metrics import compute
from ufs_control.runner.records import Outcome, RunRecorder, RunResult, Sample, append_jsonl, utc_now

AMBIENT_C = 25.0
COLD_PROBE_V = 1.5
COLD_PROBE_A = 2.0


class RunState(enum.Enum):
    IDLE = "idle"
    PREFLIGHT = "preflight"
    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"
    TRIPPED = "tripped"
    FAILED = "failed"


S = RunState
TRANSITIONS: dict[tuple[RunState, str], RunState] = {
    (S.IDLE, "start"): S.PREFLIGHT,
    (S.PREFLIGHT, "ready"): S.RUNNING,
    (S.PREFLIGHT, "fail"): S.FAILED,
    (S.PREFLIGHT, "abort"): S.ABORTED,
    (S.PREFLIGHT, "trip"): S.TRIPPED,
    (S.RUNNING, "complete"): S.FINISHED,
    (S.RUNNING, "abort"): S.ABORTED,
    (S.RUNNING, "trip"): S.TRIPPED,
    (S.RUNNING, "fail"): S.FAILED,
    (S.FINISHED, "reset"): S.IDLE,
    (S.ABORTED, "reset"): S.IDLE,
    (S.FAILED, "reset"): S.IDLE,
    (S.TRIPPED, "acknowledge"): S.IDLE,
}
CLAIMABLE = (S.IDLE, S.FINISHED, S.ABORTED, S.FAILED)  # a new run may start from these (not TRIPPED)
OUTCOME_EVENT = {
    Outcome.FINISHED: "complete",
    Outcome.ABORTED: "abort",
    Outcome.TRIPPED: "trip",
    Outcome.FAILED: "fail",
}


class PreflightError(UfsError):
    """A preflight check failed; nothing was heated."""


class _Stop(Exception):
    def __init__(self, outcome: Outcome, reason: str, trip: Trip | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.trip = trip


@dataclass(frozen=True)
class Progress:
    """What a display needs each tick."""

    state: RunState
    segment: str
    elapsed_s: float
    total_s: float
    temperature_c: float | None
    setpoint_c: float | None
    power_w: float
    status: str
    loop_hz: float


@dataclass
class _Monitors:
    """Durations and counters the interlock snapshot is built from."""

    last_valid_t: float | None = None
    last_raw: bytes = b""
    unchanged_since: float | None = None
    blind_s: float = 0.0
    high_since: float | None = None
    high_start_c: float | None = None
    open_count: int = 0
    resistance_ratio: float | None = None
    supply_failures: int = 0
    supply_error: str | None = None
    out_of_band_s: float = 0.0
    holdback_wait_s: float = 0.0
    holdback_segment: int = -1
    limit_status: LimitStatus | None = None
    unreg_events: int = 0
    expected_current_a: float | None = None
    readings: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))


class Runner:
    """Runs one profile at a time on a supply and a pyrometer. Safe to drive from another thread."""

    def __init__(
        self,
        psu: PowerSupply,
        pyrometer: Pyrometer,
        clock: Clock,
        rig: RigConfig,
        controller: Controller,
        runs_dir: Path | None = None,
        *,
        model: PlantModel | None = None,
        plot_writer: Callable[[Path, list[Sample], Plan], None] | None = None,
        provenance: dict[str, Any] | None = None,
        progress: Callable[[Progress], None] | None = None,
        on_sample: Callable[[Sample], None] | None = None,
        display_capacity: int = 8192,
    ) -> None:
        self.psu = psu
        self.pyrometer = pyrometer
        self.clock = clock
        self.rig = rig
        self.controller = controller
        self.runs_dir = runs_dir
        self.model = model or PlantModel(rig.model, rig.wiring)
        self.plot_writer = plot_writer
        self.provenance = provenance or {}
        self.progress = progress
        self.on_sample = on_sample
        self.buffer = DisplayBuffer(display_capacity)
        self.latch = InterlockLatch()
        self.last_result: RunResult | None = None
        self.identities: dict[str, Identity] = {}
        self._state = RunState.IDLE
        self._state_lock = threading.Lock()
        self._io_lock = threading.RLock()
        self._abort_reason: str | None = None
        self._estop = False
        self._thread: threading.Thread | None = None
        self._last_run_dir: Path | None = None
        self._recorder: RunRecorder | None = None
        self._t0 = 0.0
        self._plan: Plan | None = None
        self._output_on = False
        self.period_s = 1.0 / rig.controller.loop_hz
        self.cold_resistance_ohm: float | None = None
        self._r_cal = 1.0
        self.off_sent_t = 0.0
        self._mon = _Monitors()
        self._trip_off_s: float | None = None
        self._last_set: tuple[float, float] | None = None
        self._meter: tuple[float, float] | None = None
        self._periods: list[float] = []
        self._latencies: list[float] = []

    # --- public API (returns at once) ---------------------------------------------------------

    @property
    def state(self) -> RunState:
        with self._state_lock:
            return self._state

    @property
    def plan(self) -> Plan | None:
        return self._plan

    def request_start(self, profile: Profile, operator: str = "", sample_id: str = "") -> bool:
        """Start ``profile`` in a background thread; False if a run is under way or an interlock is latched.

        The move to PREFLIGHT happens here, under the state lock, so two quick calls (a double click, two
        threads) can never both start a run.
        """
        if not self._claim():
            return False
        self._thread = threading.Thread(
            target=self._run_claimed, args=(profile, operator, sample_id), name="ufs-runner", daemon=True
        )
        self._thread.start()
        return True

    def request_abort(self, reason: str = "operator abort") -> None:
        """Ask the run to end: output off, records kept (a controlled end, not an interlock)."""
        if self._abort_reason is None:
            self._abort_reason = reason

    def emergency_stop(self) -> None:
        """Switch the output off now, from any thread, in any state, and latch the emergency stop."""
        self._estop = True
        self.latch.latch(Trip("emergency_stop", "EMERGENCY STOP pressed", self.clock.now() - self._t0))
        with self._io_lock:
            self._output_off_now()

    def acknowledge(self, by: str = "operator") -> Trip | None:
        """Operator acknowledgement: clear a latched interlock and return to idle.

        Refused (returns None, changes nothing) while a run is in PREFLIGHT or RUNNING: an acknowledgement
        must never clear an emergency stop or a trip that the running loop has not yet acted on. Each
        acknowledgement is recorded (who, when, which trip) in the last run's ``events.jsonl`` and in
        ``acknowledgements.jsonl`` of the runs folder.
        """
        with self._state_lock:
            if self._state in (RunState.PREFLIGHT, RunState.RUNNING):
                return None
            trip = self.latch.acknowledge()
            self._estop = False
            if (self._state, "acknowledge") in TRANSITIONS:
                self._state = TRANSITIONS[(self._state, "acknowledge")]
            elif (self._state, "reset") in TRANSITIONS:
                self._state = TRANSITIONS[(self._state, "reset")]
        if trip is not None:
            self._record_acknowledge(trip, by)
        return trip

    def reset(self) -> None:
        """Return from a finished/aborted/failed run to idle (a trip needs :meth:`acknowledge`)."""
        with self._state_lock:
            if (self._state, "reset") in TRANSITIONS:
                self._state = TRANSITIONS[(self._state, "reset")]

    @property
    def active(self) -> bool:
        """True while a run started with :meth:`request_start` is still in its thread."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _claim(self) -> bool:
        """Move to PREFLIGHT under the state lock if a new run may start; False otherwise."""
        with self._state_lock:
            if self.latch.tripped is not None or self._state not in CLAIMABLE:
                return False
            self._state = RunState.PREFLIGHT
            return True

    def _record_acknowledge(self, trip: Trip, by: str) -> None:
        entry = {
            "type": "acknowledge",
            "utc": utc_now().isoformat(timespec="milliseconds"),
            "by": by,
            "interlock": trip.name,
            "reason": trip.reason,
            "run_dir": str(self._last_run_dir) if self._last_run_dir else None,
        }
        targets = []
        if self._last_run_dir is not None:
            targets.append(self._last_run_dir / "events.jsonl")
        if self.runs_dir is not None:
            targets.append(self.runs_dir / "acknowledgements.jsonl")
        for path in targets:
            try:
                append_jsonl(path, entry)
            except OSError:
                pass  # an unwritable log must not keep the operator from acknowledging

    # --- the run ------------------------------------------------------------------------------

    def _transition(self, event: str) -> None:
        with self._state_lock:
            key = (self._state, event)
            if key not in TRANSITIONS:
                raise RuntimeError(f"no transition from {self._state.value} on {event!r}")
            old, self._state = self._state, TRANSITIONS[key]
        self._event("state", old=old.value, new=self._state.value)

    def _event(self, event_type: str, **data: Any) -> None:
        if self._recorder is not None:
            self._recorder.event(self.clock.now() - self._t0, event_type, **data)

    def run(self, profile: Profile, operator: str = "", sample_id: str = "") -> RunResult:
        """Run ``profile`` to its end in the calling thread; always ends with the output off."""
        if not self._claim():
            trip = self.latch.tripped
            if trip is not None:
                raise PreflightError(f"interlock latched ({trip.reason}): acknowledge it first")
            raise PreflightError(f"a run is already under way ({self.state.value})")
        return self._run_claimed(profile, operator, sample_id)

    def _run_claimed(self, profile: Profile, operator: str, sample_id: str) -> RunResult:
        """The run itself, once :meth:`_claim` has moved the state to PREFLIGHT."""
        self._abort_reason = None
        started = utc_now()
        self._t0 = self.clock.now()
        self._periods, self._latencies = [], []
        self._mon = _Monitors()  # fresh per run: a failed preflight must not report the last run's figures
        self._trip_off_s = None
        self.buffer.clear()
        self._plan = plan(profile, AMBIENT_C)
        samples: list[Sample] = []
        outcome, reason, trip = Outcome.FAILED, "not started", None
        preflight_failed = instrument_failure = False
        self._recorder = RunRecorder(self.runs_dir, profile.name, started) if self.runs_dir else None
        self._last_run_dir = self._recorder.dir if self._recorder else None
        self._event("state", old=RunState.IDLE.value, new=RunState.PREFLIGHT.value)
        try:
            try:
                self._preflight()
            except (PreflightError, InstrumentError) as exc:
                preflight_failed = True
                instrument_failure = isinstance(exc, InstrumentError)
                raise _Stop(Outcome.FAILED, f"preflight: {exc}") from exc
            if self._abort_reason is not None:
                raise _Stop(Outcome.ABORTED, self._abort_reason)
            self._transition("ready")
            self._write_run_json(profile, operator, sample_id, started, None, samples)
            self._loop(profile, samples)
            outcome, reason = Outcome.FINISHED, "profile completed"
        except _Stop as stop:
            outcome, reason, trip = stop.outcome, stop.reason, stop.trip
        except (KeyboardInterrupt, SystemExit):
            outcome, reason = Outcome.ABORTED, "interrupted"
        except Exception as exc:  # the single place an unexpected error becomes an outcome
            outcome, reason = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
            self._event("error", message=reason, traceback=traceback.format_exc())
        finally:
            off = self._quench()
            if not off:
                off = self._retry_off()
            if trip is not None:
                self._event("trip", interlock=trip.name, reason=trip.reason, detected_t_s=trip.t_s)
            self._event("output_off", confirmed=off)
            if self.state in (RunState.PREFLIGHT, RunState.RUNNING):
                self._transition(OUTCOME_EVENT[outcome])
        ended = utc_now()
        metrics = compute(samples, cooling_to_c=max(500.0, self.rig.pyrometer.range_c[0]))
        metrics["unreg_events"] = float(self._mon.unreg_events)
        if trip is not None and self._trip_off_s is not None:
            metrics["trip_to_output_off_s"] = self._trip_off_s
        result = RunResult(
            outcome=outcome,
            reason=reason,
            profile_name=profile.name,
            started_utc=started.isoformat(timespec="seconds"),
            ended_utc=ended.isoformat(timespec="seconds"),
            duration_s=samples[-1].t_s if samples else 0.0,
            metrics=metrics,
            loop_timing=self.loop_timing(),
            trip_name=trip.name if trip else None,
            run_dir=self._recorder.dir if self._recorder else None,
            preflight_failed=preflight_failed,
            instrument_failure=instrument_failure,
            output_off_confirmed=off,
        )
        if self._recorder is not None:
            self._write_run_json(profile, operator, sample_id, started, result, samples)
            if self.plot_writer is not None and samples:
                try:
                    self.plot_writer(self._recorder.dir, samples, self._plan)
                except Exception as exc:  # a plot must never lose the run record
                    self._event("warning", message=f"plot.png not written: {exc}")
            self._recorder.close()
        self.last_result = result
        return result

    def loop_timing(self) -> dict[str, float]:
        """Loop period and latency statistics in milliseconds."""
        out: dict[str, float] = {"nominal_period_ms": self.period_s * 1000}
        for name, values in (("period", self._periods), ("latency", self._latencies)):
            if values:
                ordered = sorted(values)
                out[f"{name}_mean_ms"] = statistics.fmean(values) * 1000
                out[f"{name}_p50_ms"] = ordered[len(ordered) // 2] * 1000
                out[f"{name}_p99_ms"] = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
                out[f"{name}_max_ms"] = ordered[-1] * 1000
        out["missed_deadlines"] = float(sum(1 for p in self._periods if p > 1.5 * self.period_s))
        return out

    def _write_run_json(
        self,
        profile: Profile,
        operator: str,
        sample_id: str,
        started: Any,
        result: RunResult | None,
        samples: list[Sample],
    ) -> None:
        if self._recorder is None:
            return
        profile_text = None
        try:
            profile_text = Path(profile.source).read_text(encoding="utf-8")
        except OSError:
            pass
        record: dict[str, Any] = {
            "software": {"name": "ufs-control", "version": __version__},
            "profile": profile,
            "profile_toml": profile_text,
            "plan": {"duration_s": self._plan.duration_s if self._plan else None},
            "rig": self.rig,
            "controller": getattr(self.controller, "name", type(self.controller).__name__),
            "instruments": self.identities,
            "cold_resistance_ohm": self.cold_resistance_ohm,
            "operator": operator,
            "sample_id": sample_id,
            "started_utc": started.isoformat(timespec="seconds"),
            "ended_utc": result.ended_utc if result else None,
            "outcome": result.outcome if result else "running",
            "reason": result.reason if result else None,
            "trip": result.trip_name if result else None,
            "metrics": result.metrics if result else {},
            "loop_timing": result.loop_timing if result else {},
            "samples": len(samples),
            **self.provenance,
        }
        self._recorder.write_run_json(record)

    # --- instrument access ----------------------------------------------------------------------

    def _output_off_now(self) -> bool:
        """Send the off command at once (no reply awaited), then confirm it; return True if confirmed."""
        try:
            self.psu.force_outputs_off()
        except InstrumentError as exc:
            self._event("warning", message=f"off command could not be sent: {exc}")
        self.off_sent_t = self.clock.now()
        self._output_on = False
        self._last_set = None
        try:
            self.psu.set_all_outputs_off()
            return True
        except InstrumentError as exc:
            self._event("warning", message=f"output off not confirmed: {exc}")
            return False

    def _retry_off(self) -> bool:
        """The supply did not confirm: try a few more times over about a second before giving up."""
        for _ in range(3):
            self.clock.sleep(0.25)
            if self._quench():
                return True
        return False

    def _quench(self) -> bool:
        """Output off; return True when the supply confirmed it."""
        with self._io_lock:
            return self._output_off_now()

    def _preflight(self) -> None:
        rig, psu = self.rig, self.psu
        with self._io_lock:
            self.identities["psu"] = psu.identify()
            self.identities["pyrometer"] = self.pyrometer.identify()
            for ch in rig.channels:
                if psu.read_output_state(ch):
                    psu.set_all_outputs_off()
                    raise PreflightError(f"supply output {ch} was on; it has been switched off, check the rig")
                status = psu.read_limit_status(ch)  # read-and-clear what happened before this run
                if status.hard_trip:
                    raise PreflightError("supply reports an over-temperature trip: power-cycle it")
            ovp = min(66.0, rig.limits.max_voltage_v + 2.0)
            ocp = min(22.0, rig.limits.max_current_a + 1.0)
            for ch in rig.channels:
                psu.set_ovp(ch, ovp)
                psu.set_ocp(ch, ocp)
                psu.set_voltage_and_current(ch, 0.0, 0.5)
                if abs(psu.read_ovp(ch) - ovp) > 0.11 or abs(psu.read_ocp(ch) - ocp) > 0.011:
                    raise PreflightError(f"supply did not accept OVP {ovp:g} V / OCP {ocp:g} A on output {ch}")
            self._event("supply_limits", ovp_v=ovp, ocp_a=ocp)
        deadline = self.clock.now() + 3.0
        reading = self.pyrometer.read_temperature()
        while reading.status is PyrometerStatus.NOT_READY and self.clock.now() < deadline:
            self.clock.sleep(0.1)
            reading = self.pyrometer.read_temperature()
        if reading.status in (PyrometerStatus.TIMEOUT, PyrometerStatus.GARBLED, PyrometerStatus.NOT_READY):
            raise PreflightError(f"pyrometer not usable: {reading.status.value}")
        hot = rig.limits.hot_start_c if rig.limits.hot_start_c is not None else rig.pyrometer.range_c[0] + 50.0
        if reading.status is PyrometerStatus.ABOVE_RANGE or (reading.celsius is not None and reading.celsius > hot):
            shown = f"{reading.celsius:.0f} °C" if reading.celsius is not None else "above range"
            raise PreflightError(f"felt already hot ({shown}); let it cool below {hot:g} °C")
        self._measure_cold_resistance()

    def _measure_cold_resistance(self) -> None:
        """Measure the load at a low probe power; refuse an open or implausible load."""
        rig, psu = self.rig, self.psu
        expected = self.model.channel_resistance_ohm(AMBIENT_C)
        values = []
        with self._io_lock:
            for ch in rig.channels:
                psu.set_voltage_and_current(ch, COLD_PROBE_V, COLD_PROBE_A)
                psu.set_output(ch, True)
            self._output_on = True
        try:
            self.clock.sleep(0.6)  # two meter refreshes
            with self._io_lock:
                for ch in rig.channels:
                    v, i = psu.measure_output(ch)
                    if i < 0.01:
                        raise PreflightError(f"no current through the felts on output {ch} at {v:.2f} V: open circuit")
                    values.append(v / i)
        finally:
            self._quench()
        r = statistics.fmean(values)
        ratio = r / expected
        if not 0.3 <= ratio <= 3.0:
            raise PreflightError(f"felt resistance {r:.3f} ohm is implausible (model {expected:.3f} ohm)")
        self.cold_resistance_ohm = r
        self._r_cal = ratio
        self._event("cold_resistance", ohm=r, model_ohm=expected, ratio=ratio)

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, profile: Profile, samples: list[Sample]) -> None:
        assert self._plan is not None
        rig, lim, ctrl_cfg = self.rig, self.rig.limits, self.rig.controller
        laid = self._plan
        self.controller.reset()
        mon = self._mon
        meter_every = max(1, round(0.25 / self.period_s))
        low = rig.pyrometer.range_c[0]
        max_run = lim.max_run_s if lim.max_run_s is not None else laid.duration_s * 2.0 + 60.0
        offset = 0.0
        engaged = False
        valid_since: float | None = None
        tick = 0
        prev_tick_t: float | None = None
        seg_index = -1
        cool_started: float | None = None
        finished_profile = False
        t_prev = 0.0
        next_t = self.clock.now()
        while True:
            t_abs = self.clock.now()
            t = t_abs - self._t0
            dt = t - t_prev if tick else self.period_s
            t_prev = t
            if prev_tick_t is not None:
                self._periods.append(t_abs - prev_tick_t)
            prev_tick_t = t_abs
            if self._abort_reason is not None and not self._estop:
                if finished_profile:
                    return
                raise _Stop(Outcome.ABORTED, self._abort_reason)

            # read
            reading = self._read_pyrometer()
            if tick % meter_every == 0:
                self._read_meters(reading)
            valid = reading.valid
            meas = reading.celsius
            if valid:
                assert meas is not None
                mon.readings.append((t, meas))
                mon.last_valid_t = t
                if reading.raw != mon.last_raw:
                    mon.unchanged_since, mon.last_raw = t, reading.raw
                valid_since = t if valid_since is None else valid_since
            else:
                valid_since = None

            # where are we in the profile
            prof_t = t - offset
            seg = laid.segment_at(prof_t)
            if seg is None:
                if profile.end_action == "hold" and laid.segments and laid.segments[-1].end_c is not None:
                    finished_profile = True
                    seg = laid.segments[-1]
                    prof_t = seg.end_s
                else:
                    return
            if seg.index != seg_index:
                seg_index = seg.index
                cool_started = None
                self._event("segment", index=seg.index + 1, segment_kind=seg.kind, profile_t_s=prof_t)
                if isinstance(seg.segment, Cool | Power) and not (
                    isinstance(seg.segment, Cool) and seg.segment.controlled
                ):
                    if engaged:
                        self._event("loop", closed=False, why=f"segment {seg.label}")
                    engaged = False
            sp, rate = setpoint_at(laid, prof_t)
            seg_obj = seg.segment
            if finished_profile:
                rate = 0.0

            # open-loop output-off cooling ends on temperature or time
            if isinstance(seg_obj, Cool) and not seg_obj.controlled:
                cool_started = t if cool_started is None else cool_started
                waited = t - cool_started
                below = seg_obj.below_c is not None and (
                    (valid and meas is not None and meas < seg_obj.below_c)
                    or (reading.status is PyrometerStatus.BELOW_RANGE and seg_obj.below_c >= low)
                )
                limit = seg_obj.duration_s if seg_obj.duration_s is not None else 60.0
                if below or waited >= limit:
                    offset -= seg.end_s - prof_t  # jump to the segment's end
                elif prof_t >= seg.end_s - self.period_s:
                    offset += dt  # wait here for the temperature

            # hand-over: close the loop once the pyrometer has been usable for a while
            if (
                not engaged
                and sp is not None
                and valid_since is not None
                and meas is not None
                and t - valid_since >= ctrl_cfg.engage_window_s
                and meas > low + ctrl_cfg.engage_margin_k
            ):
                fit_t, fit_rate = self._fit_recent(t, ctrl_cfg.engage_window_s)
                if self.controller.rebase and seg.start_c is not None and seg.end_c is not None and rate != 0:
                    new_prof_t = self._rebase_time(seg, fit_t, prof_t)
                    offset += prof_t - new_prof_t
                    prof_t = new_prof_t
                    sp, rate = setpoint_at(laid, prof_t)
                    self._event("rebase", measured_c=fit_t, profile_t_s=prof_t, rate_c_per_s=fit_rate)
                assert sp is not None
                self.controller.engage(sp, rate, fit_rate)
                engaged = True
                self._event("loop", closed=True, measured_c=meas, setpoint_c=sp, measured_rate=fit_rate)

            # monitors
            error = meas - sp if (valid and meas is not None and sp is not None) else None
            if isinstance(seg_obj, Hold) and seg_obj.holdback_k is not None and engaged:
                if mon.holdback_segment != seg.index:
                    mon.holdback_segment, mon.holdback_wait_s = seg.index, 0.0
                if error is None or abs(error) > seg_obj.holdback_k:
                    offset += dt  # guaranteed soak: the hold timer waits
                    mon.holdback_wait_s += dt
            if sp is not None and not engaged and sp > low + lim.blind_margin_k and not valid:
                mon.blind_s += dt
            else:
                mon.blind_s = 0.0
            if engaged and error is not None and abs(error) > lim.tracking_band_k:
                mon.out_of_band_s += dt
            else:
                mon.out_of_band_s = 0.0
            p_max = self._p_max(meas if valid else sp)
            hold_seg = seg_obj if isinstance(seg_obj, Hold) else None
            snap = Snapshot(
                t_s=t,
                loop_closed=engaged,
                setpoint_c=sp,
                reading=reading,
                invalid_for_s=0.0 if valid or mon.last_valid_t is None else t - mon.last_valid_t,
                unchanged_for_s=0.0 if mon.unchanged_since is None or not valid else t - mon.unchanged_since,
                blind_for_s=mon.blind_s,
                power_cmd_w=0.0,
                high_power_for_s=0.0 if mon.high_since is None else t - mon.high_since,
                rise_during_high_power_k=self._rise(meas if valid else None),
                voltage_set_v=self._last_set[0] if self._last_set else 0.0,
                voltage_v=self._meter[0] if self._meter else None,
                current_a=self._meter[1] if self._meter else None,
                expected_current_a=mon.expected_current_a,
                resistance_ratio=mon.resistance_ratio,
                open_count=mon.open_count,
                limit_status=mon.limit_status,
                supply_error=mon.supply_error,
                supply_failures=mon.supply_failures,
                tracking_error_k=error,
                out_of_band_for_s=mon.out_of_band_s,
                elapsed_s=t,
                max_run_s=max_run,
                holdback_wait_s=mon.holdback_wait_s if hold_seg is not None else 0.0,
                holdback_max_s=hold_seg.max_wait_s if hold_seg is not None else None,
                emergency_stop=self._estop,
            )
            detected = self.clock.now()
            trip = evaluate(replace(snap, t_s=detected - self._t0), lim)
            if trip is not None:
                latched = self.latch.latch(trip)
                with self._io_lock:
                    self._output_off_now()
                self._trip_off_s = self.off_sent_t - detected
                raise _Stop(Outcome.TRIPPED, latched.reason, latched)

            # control
            open_power = seg_obj.power_w if isinstance(seg_obj, Power) else None
            out = self.controller.update(
                ControlInput(
                    dt_s=dt,
                    setpoint_c=sp,
                    setpoint_rate_c_per_s=rate,
                    measured_c=meas if valid else None,
                    closed=engaged and valid,
                    p_max_w=p_max,
                    open_power_w=open_power,
                )
            )
            if out.power_w >= 0.9 * p_max and engaged and p_max > 0:
                if mon.high_since is None:
                    mon.high_since, mon.high_start_c = t, meas if valid else None
            else:
                mon.high_since = mon.high_start_c = None

            # write
            try:
                v_set, i_set = self._actuate(out, sp, meas if valid else None)
            except InstrumentReportedError as exc:
                mon.supply_error = str(exc)
                v_set, i_set = self._last_set or (0.0, 0.0)
            except InstrumentError as exc:
                mon.supply_failures += 1
                self._event("warning", message=f"supply: {exc}")
                v_set, i_set = self._last_set or (0.0, 0.0)
            latency = self.clock.now() - t_abs
            self._latencies.append(latency)

            sample = Sample(
                t_s=t,
                profile_t_s=prof_t,
                setpoint_c=sp,
                temperature_c=meas if valid else None,
                pyrometer_status=reading.status.value,
                power_w=out.power_w if out.voltage_v is None else self._power_from(v_set),
                voltage_set_v=v_set,
                current_set_a=i_set,
                voltage_v=self._meter[0] if self._meter else None,
                current_a=self._meter[1] if self._meter else None,
                resistance_ohm=(self._meter[0] / self._meter[1]) if self._meter and self._meter[1] > 0.05 else None,
                ff_w=out.ff_w,
                p_w=out.p_w,
                i_w=out.i_w,
                segment=seg.label,
                state=self.state.value,
                loop="closed" if out.closed else "open",
                engaged=engaged,
                segment_index=seg.index,
                segment_kind=seg.kind,
                target_c=seg.end_c,
                k_ff=float(getattr(self.controller, "k_ff", 1.0)),
            )
            samples.append(sample)
            self.buffer.append(sample)
            if self._recorder is not None:
                self._recorder.sample(sample)
            if self.on_sample is not None:
                self.on_sample(sample)
            if self.progress is not None:
                self.progress(
                    Progress(
                        self.state,
                        seg.label,
                        t,
                        laid.duration_s,
                        sample.temperature_c,
                        sp,
                        sample.power_w,
                        reading.status.value,
                        1.0 / self.period_s,
                    )
                )
            tick += 1
            next_t += self.period_s
            now = self.clock.now()
            if next_t < now - self.period_s:
                next_t = now  # overran by more than a period: do not try to catch up in a burst
            self.clock.sleep(max(0.0, next_t - now))

    # --- helpers ------------------------------------------------------------------------------

    def _read_pyrometer(self) -> PyrometerReading:
        try:
            return self.pyrometer.read_temperature()
        except InstrumentError as exc:
            self._event("warning", message=f"pyrometer: {exc}")
            return PyrometerReading(PyrometerStatus.TIMEOUT)

    def _read_meters(self, reading: PyrometerReading) -> None:
        mon = self._mon
        with self._io_lock:
            try:
                volts, amps = [], []
                status = 0
                for ch in self.rig.channels:
                    v, i = self.psu.measure_output(ch)
                    volts.append(v)
                    amps.append(i)
                    st = self.psu.read_limit_status(ch)
                    status |= st.raw
                    if st.unregulated:
                        mon.unreg_events += 1
                mon.supply_failures = 0
            except InstrumentReportedError as exc:
                mon.supply_error = str(exc)
                return
            except InstrumentError as exc:
                mon.supply_failures += 1
                self._event("warning", message=f"supply: {exc}")
                return
        mon.limit_status = LimitStatus(status)
        v, i = statistics.fmean(volts), sum(amps)
        self._meter = (v, i)
        n = len(self.rig.channels)
        t_ref = reading.celsius if reading.valid else None
        r_model = self.model.channel_resistance_ohm(t_ref if t_ref is not None else AMBIENT_C) * self._r_cal
        expected = n * v / r_model
        mon.expected_current_a = expected
        if v > 2.0 and expected > 0.5 and i < 0.05 * expected:
            mon.open_count += 1
        else:
            mon.open_count = 0
        if t_ref is not None and i > 0.5 * n and v > 0.5:
            mon.resistance_ratio = (v / (i / n)) / r_model
        else:
            mon.resistance_ratio = None

    def _resistance(self, t_ref: float | None) -> float:
        """Per-channel load resistance estimate in ohm: metered V/I when there is current, else the model."""
        n = len(self.rig.channels)
        if self._meter is not None and self._meter[1] > 0.3 * n and self._meter[0] > 0.3:
            return self._meter[0] / (self._meter[1] / n)
        return self.model.channel_resistance_ohm(t_ref if t_ref is not None else AMBIENT_C) * self._r_cal

    def _p_max(self, t_ref: float | None) -> float:
        lim = self.rig.limits
        r = self._resistance(t_ref)
        per_channel = min(420.0, lim.max_current_a**2 * r, lim.max_voltage_v**2 / r)
        return min(lim.max_power_w, len(self.rig.channels) * per_channel)

    def _power_from(self, volts: float) -> float:
        r = self._resistance(None)
        return len(self.rig.channels) * volts * volts / r

    def _actuate(self, out: ControlOutput, sp: float | None, meas: float | None) -> tuple[float, float]:
        """Turn the command into voltage and current limits set tight around the operating point."""
        lim = self.rig.limits
        channels = self.rig.channels
        r = self._resistance(meas if meas is not None else sp)
        if out.voltage_v is not None:
            v = min(max(out.voltage_v, 0.0), lim.max_voltage_v)
            i = lim.max_current_a
        else:
            p_ch = max(out.power_w, 0.0) / len(channels)
            v = min(math.sqrt(p_ch * r), lim.max_voltage_v)
            # CV drive with a current clamp: if this program stops, the supply still bounds the power.
            i = min(lim.max_current_a, 1.25 * v / r + 0.5)
        want_on = v > 0.0
        with self._io_lock:
            if self._estop:
                return 0.0, 0.0
            if not want_on:
                if self._output_on:
                    for ch in channels:
                        self.psu.set_output(ch, False)
                    self._output_on = False
                    self._last_set = None
                return 0.0, 0.0
            if self._last_set is None or abs(self._last_set[0] - v) >= 0.001 or abs(self._last_set[1] - i) >= 0.001:
                for ch in channels:
                    self.psu.set_voltage_and_current(ch, round(v, 3), round(i, 3))
                self._last_set = (v, i)
            if not self._output_on:
                for ch in channels:
                    self.psu.set_output(ch, True)
                self._output_on = True
        return v, i

    def _rise(self, meas: float | None) -> float:
        mon = self._mon
        if mon.high_start_c is None or meas is None:
            return 0.0
        return meas - mon.high_start_c

    def _fit_recent(self, t: float, window: float) -> tuple[float, float | None]:
        """Least-squares line through the valid readings of the last ``window`` s: (value now, slope)."""
        pts = [(ti, yi) for ti, yi in self._mon.readings if ti >= t - window - 1e-9]
        if len(pts) < 3:
            return (pts[-1][1] if pts else float("nan")), None
        mt = statistics.fmean(p[0] for p in pts)
        my = statistics.fmean(p[1] for p in pts)
        den = sum((p[0] - mt) ** 2 for p in pts)
        if den <= 0:
            return my, None
        slope = sum((p[0] - mt) * (p[1] - my) for p in pts) / den
        return my + slope * (t - mt), slope

    @staticmethod
    def _rebase_time(seg: PlannedSegment, measured_c: float, prof_t: float) -> float:
        """Profile time in ``seg`` at which the planned (linear) setpoint equals ``measured_c``."""
        assert seg.start_c is not None and seg.end_c is not None
        span = seg.end_c - seg.start_c
        if span == 0 or not math.isfinite(measured_c):
            return prof_t
        frac = (measured_c - seg.start_c) / span
        frac = min(max(frac, 0.0), 1.0)
        return seg.start_s + frac * seg.duration_s
