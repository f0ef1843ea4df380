"""The run engine: an explicit state machine in a plain thread (no Qt).

A tick is a short pipeline of parts with one job each (:meth:`Runner._tick`): read the pyrometer (and the
supply meters at their 4 Hz refresh) → where are we in the profile (:class:`ProfileTimeline`) → hand-over
(:class:`HandOver`) → monitors and interlocks (:class:`Monitors`, :func:`evaluate`) → control → write
(:class:`PowerActuator`) → record (:class:`RecordWriter`, :class:`Mailbox`).

The supply is reached only through the guardian (:mod:`ufs_control.runner.guardian`), a separate process
that owns the connection and its interface lock for the run and switches the output off if this process
dies or the loop stops ticking. Every exit path runs through one ``finally`` that switches the output off
and releases the guardian; the one place that turns an exception into a run outcome is
:meth:`Runner._run_claimed`.
"""

from __future__ import annotations

import enum
import shutil
import statistics
import threading
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ufs_control import __version__
from ufs_control.control.controller import ControlInput, Controller
from ufs_control.control.handover import HandOver, rebase_time
from ufs_control.control.model import PlantModel
from ufs_control.control.thermometry import Fused, ResistanceThermometer, SensorFusion
from ufs_control.core.clock import Clock, is_real_time, sleep_coarse
from ufs_control.core.errors import InstrumentError, SupplyInUseError, UfsError
from ufs_control.core.instruments import LimitStatus, Pyrometer, PyrometerReading, PyrometerStatus
from ufs_control.core.interlocks import INTERLOCKS, InterlockLatch, Snapshot, Trip, evaluate
from ufs_control.core.profile import Plan, Profile, plan
from ufs_control.core.rig import RigConfig
from ufs_control.runner.actuator import AMBIENT_C, PowerActuator, ResistanceEstimator
from ufs_control.runner.buffer import DisplayBuffer
from ufs_control.runner.guardian import GuardedSupply
from ufs_control.runner.metrics import compute
from ufs_control.runner.monitors import Meters, Monitors
from ufs_control.runner.records import (
    RUNNING,
    Outcome,
    RunRecorder,
    RunResult,
    Sample,
    SampleLog,
    append_jsonl,
    make_event,
    utc_now,
)
from ufs_control.runner.sinks import QUEUE_SAMPLES, VIRTUAL_LAG_RECORDS, Mailbox, RecordWriter
from ufs_control.runner.timeline import Position, ProfileTimeline
from ufs_control.runner.view import RunnerView

COLD_PROBE_V = 1.5
COLD_PROBE_A = 2.0
COLD_PROBE_S = 0.6  # two meter refreshes
PYROMETER_READY_S = 3.0
MIN_FREE_BYTES = 50 * 1024 * 1024
INSTRUMENT_TRIPS = ("supply_silent", "supply_link")
HOLD_AT_END_MAX_S = 48 * 3600.0  # trips that mean "an instrument stopped answering"


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
    def __init__(self, outcome: Outcome, reason: str, trip: Trip | None = None, instrument: bool = False) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.trip = trip
        self.instrument = instrument


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


@dataclass(frozen=True)
class SupplyRequest:
    """What a supply opener needs to start the guardian for one run."""

    watchdog_s: float
    run_dir: Path | None  # the guardian records its own actions in this run's events.jsonl
    t0: float  # the run's start on the runner's clock (for event times)
    record: Callable[[dict[str, Any]], None]  # an in-process guardian records through this


SupplyOpener = Callable[[SupplyRequest], GuardedSupply]


class _Run:
    """Per-run parts: the guarded supply, the estimators, the monitors, the sinks, the timing figures."""

    def __init__(self, runner: Runner, laid: Plan) -> None:
        rig = runner.rig
        self.plan = laid
        self.psu: GuardedSupply | None = None
        self.resistance = ResistanceEstimator(runner.model, len(rig.channels))
        self.actuator: PowerActuator | None = None
        if rig.limits.max_run_s is not None:
            max_run = rig.limits.max_run_s
        elif laid.profile.end_action == "hold":
            max_run = HOLD_AT_END_MAX_S  # "until stopped", within the longest run the records are meant for
        else:
            max_run = laid.duration_s * 2.0 + 60.0
        # The interlocks judge against the rig's limits, the over-temperature limit lowered to the profile's own
        # maximum (an identification with --max-temperature-c 1000 trips at 1000 °C, not at the rig's limit).
        self.limits = replace(
            rig.limits, max_temperature_c=min(rig.limits.max_temperature_c, laid.profile.max_temperature_c)
        )
        self.monitors = Monitors(self.limits, self.resistance, max_run)
        self.check_from_c = rig.pyrometer.range_c[0] + rig.engage_margin_k
        self.fusion = SensorFusion(
            ResistanceThermometer(runner.model) if rig.thermometry else None, rig.pyrometer.t90_s
        )
        self.samples = SampleLog()
        self.periods = array("d")
        self.latencies = array("d")
        self.writer: RecordWriter | None = None
        self.progress: Mailbox[Progress] | None = None
        self.trip_off_s: float | None = None
        self.last_rate_c_per_s = 0.0  # the planned rate of the last tick (brings the 4 Hz meters forward)


class Runner:
    """Runs one profile at a time on a guarded supply and a pyrometer. Safe to drive from another thread."""

    def __init__(
        self,
        supply: SupplyOpener,
        pyrometer: Pyrometer,
        clock: Clock,
        rig: RigConfig,
        controller: Controller,
        runs_dir: Path | None = None,
        *,
        model: PlantModel | None = None,
        plot_writer: Callable[[Path, SampleLog, Plan], None] | None = None,
        provenance: dict[str, Any] | None = None,
        progress: Callable[[Progress], None] | None = None,
        on_sample: Callable[[Sample], None] | None = None,
        display_capacity: int = 8192,
    ) -> None:
        self.open_supply = supply
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
        self.identities: dict[str, Any] = {}
        self.cold_resistance_ohm: float | None = None
        self.period_s = 1.0 / rig.controller.loop_hz
        self.off_sent_t = 0.0
        self._state = RunState.IDLE
        self._state_lock = threading.Lock()
        self._abort_reason: str | None = None
        self._estop = False
        self._thread: threading.Thread | None = None
        self._last_run_dir: Path | None = None
        self._recorder: RunRecorder | None = None
        self._t0 = 0.0
        self._plan: Plan | None = None
        self._run: _Run | None = None
        self.idle_off: threading.Thread | None = None  # the background off of an emergency stop between runs
        self.idle_off_confirmed: bool | None = None

    # --- public API (returns at once) ---------------------------------------------------------

    @property
    def state(self) -> RunState:
        with self._state_lock:
            return self._state

    @property
    def plan(self) -> Plan | None:
        return self._plan

    def view(self) -> RunnerView:
        """The runner's state, latch, plan and last result at one moment (for displays)."""
        with self._state_lock:
            state = self._state
            trip = self.latch.tripped
        return RunnerView(
            state=state,
            trip=trip,
            plan=self._plan,
            last_result=self.last_result,
            active=self.active,
            t0=self._t0,
            now=self.clock.now(),
            idle_off_confirmed=self.idle_off_confirmed,
            run_dir=self._last_run_dir,
        )

    def request_start(self, profile: Profile, operator: str = "", sample_id: str = "") -> bool:
        """Start ``profile`` in a background thread; False if a run is under way or an interlock is latched.

        The move to PREFLIGHT happens here, under the state lock, so two quick calls (a double click, two
        threads) can never both start a run.
        """
        if not self._claim():
            return False
        self._thread = threading.Thread(
            target=self._run_in_background, args=(profile, operator, sample_id), name="ufs-runner", daemon=True
        )
        self._thread.start()
        return True

    def _run_in_background(self, profile: Profile, operator: str, sample_id: str) -> None:
        """The background thread's run. A supply in use by another client is refused before anything but
        IFLOCK was sent and leaves no run folder; a caller of :meth:`run` gets the error (``ufs run`` exits 3),
        a window gets a FAILED result that says so."""
        now = utc_now().isoformat(timespec="seconds")
        try:
            self._run_claimed(profile, operator, sample_id)
        except SupplyInUseError as exc:
            result = RunResult(
                Outcome.FAILED,
                f"preflight: {exc}",
                profile.name,
                now,
                utc_now().isoformat(timespec="seconds"),
                0.0,
                preflight_failed=True,
                instrument_failure=True,
            )
            with self._state_lock:
                self.last_result = result
                self._state = RunState.FAILED

    def request_abort(self, reason: str = "operator abort") -> None:
        """Ask the run to end: output off, records kept (a controlled end, not an interlock)."""
        if self._abort_reason is None:
            self._abort_reason = reason

    def urgent_stop(self) -> None:
        """Have the guardian switch the output off now, without waiting for the loop (signal-handler safe)."""
        run = self._run
        if run is not None and run.psu is not None:
            run.psu.urgent_stop()

    def emergency_stop(self) -> None:
        """Switch the output off now, from any thread, in any state, and latch the emergency stop.

        During a run the guardian switches off at once. Between runs nothing holds the supply, so a short
        guarded session switches it off in the background (in case it was switched on by hand, or a run
        could not confirm its off); the latch blocks any start meanwhile.
        """
        self._estop = True
        self.latch.latch(Trip("emergency_stop", "EMERGENCY STOP pressed", self.clock.now() - self._t0))
        self.off_sent_t = self.clock.now()
        run = self._run
        if self.state in (RunState.PREFLIGHT, RunState.RUNNING):
            if run is not None and run.psu is not None:
                run.psu.urgent_stop()
            return  # a run without its guardian yet sees the latch before it switches anything on
        if self.idle_off is not None and self.idle_off.is_alive():
            return  # one off is under way (a held key repeats): more would only fight over the supply
        self.idle_off = threading.Thread(target=self._switch_off_idle, name="ufs-estop-idle", daemon=True)
        self.idle_off.start()

    def _switch_off_idle(self) -> None:
        try:
            psu = self.open_supply(SupplyRequest(self.rig.limits.watchdog_s, None, self.clock.now(), lambda e: None))
            self.idle_off_confirmed = psu.release()
        except UfsError:
            self.idle_off_confirmed = False  # unreachable, or another client holds it: the panel says so

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

    def identify(self) -> dict[str, str]:
        """Both instruments' identities (a short guarded session; refused while a run holds the supply)."""
        if self.state in (RunState.PREFLIGHT, RunState.RUNNING):
            raise UfsError("a run is under way: the instruments are busy")
        psu = self.open_supply(SupplyRequest(self.rig.limits.watchdog_s, None, self.clock.now(), lambda e: None))
        try:
            supply = psu.identify().raw
        finally:
            psu.release()
        return {"psu": supply, "pyrometer": self.pyrometer.identify().raw}

    # --- state --------------------------------------------------------------------------------

    def _claim(self) -> bool:
        """Move to PREFLIGHT under the state lock if a new run may start; False otherwise."""
        with self._state_lock:
            if self.latch.tripped is not None or self._state not in CLAIMABLE:
                return False
            self._state = RunState.PREFLIGHT
            self._abort_reason = None  # here, not in the worker: an abort right after the start must count
            return True

    def _transition(self, event: str) -> None:
        with self._state_lock:
            key = (self._state, event)
            if key not in TRANSITIONS:
                raise RuntimeError(f"no transition from {self._state.value} on {event!r}")
            old, self._state = self._state, TRANSITIONS[key]
        self._event("state", old=old.value, new=self._state.value)

    def _event(self, event_type: str, **data: Any) -> None:
        self._emit(make_event(self.clock.now() - self._t0, event_type, **data))

    def _emit(self, record: dict[str, Any]) -> None:
        run = self._run
        if run is not None and run.writer is not None:
            run.writer.event(record)
        elif self._recorder is not None:
            self._recorder.write_event(record)

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
        if self.idle_off is not None:
            self.idle_off.join(10.0)  # an emergency stop's off between runs holds the supply for a moment
        started = utc_now()
        self._t0 = self.clock.now()
        self.buffer.clear()
        self._plan = laid = plan(profile, AMBIENT_C)
        run = _Run(self, laid)
        outcome, reason, trip = Outcome.FAILED, "not started", None
        preflight_failed = instrument_failure = False
        try:
            self._recorder = RunRecorder(self.runs_dir, profile.name, started) if self.runs_dir else None
        except UfsError:
            with self._state_lock:
                self._state = RunState.IDLE  # nothing was touched: the caller gets the error
            raise
        self._last_run_dir = self._recorder.dir if self._recorder else None
        if self._recorder is not None:
            real_time = is_real_time(self.clock)
            run.writer = RecordWriter(
                self._recorder,
                capacity=QUEUE_SAMPLES if real_time else VIRTUAL_LAG_RECORDS,
                wait_when_full=not real_time,
            )
        if self.progress is not None:
            run.progress = Mailbox(self.progress)
        self._run = run
        self._event("state", old=RunState.IDLE.value, new=RunState.PREFLIGHT.value)
        self._write_run_json(profile, operator, sample_id, started, None)
        off = True
        in_use: SupplyInUseError | None = None
        try:
            try:
                self._check_runs_folder()  # before the guardian: a full disk must not touch the supply
                try:
                    run.psu = self.open_supply(
                        SupplyRequest(self.rig.limits.watchdog_s, self._last_run_dir, self._t0, self._emit)
                    )
                except SupplyInUseError as exc:
                    in_use = exc  # nothing was sent but IFLOCK: no run happened, leave no record
                    raise
                run.actuator = PowerActuator(run.psu, self.rig.channels, self.rig.limits, run.resistance)
                self._stop_if_requested()
                self._preflight(run)
            except (PreflightError, InstrumentError) as exc:
                if in_use is not None:
                    raise
                self._stop_if_requested()  # an emergency stop or abort is why the preflight call was refused
                preflight_failed = True
                instrument_failure = isinstance(exc, InstrumentError) or "not answering" in str(exc)
                raise _Stop(Outcome.FAILED, f"preflight: {exc}") from exc
            self._stop_if_requested()
            self._transition("ready")
            run.psu.arm()
            self._loop(profile, run)
            self._check_link(run)  # a stall or a lost link in the last ticks still ends the run tripped
            outcome, reason = Outcome.FINISHED, "profile completed"
        except SupplyInUseError:
            pass  # handled after the finally
        except _Stop as stop:
            outcome, reason, trip = stop.outcome, stop.reason, stop.trip
            instrument_failure = instrument_failure or stop.instrument
        except (KeyboardInterrupt, SystemExit):
            outcome, reason = Outcome.ABORTED, "interrupted"
        except Exception as exc:  # the single place an unexpected error becomes an outcome
            outcome, reason = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
            self._event("error", message=reason, traceback=traceback.format_exc())
        finally:
            if in_use is None:
                off = self._shut_down(run)
                if trip is not None:
                    self._event("trip", interlock=trip.name, reason=trip.reason, detected_t_s=round(trip.t_s, 4))
                self._event("output_off", confirmed=off)
                if self.state in (RunState.PREFLIGHT, RunState.RUNNING):
                    self._transition(OUTCOME_EVENT[outcome])
        if in_use is not None:
            self._abandon(run)
            raise in_use
        return self._finish(
            profile,
            operator,
            sample_id,
            started,
            run,
            outcome,
            reason,
            trip,
            off,
            flags=(
                preflight_failed,
                instrument_failure,
            ),
        )

    def _stop_if_requested(self) -> None:
        """An emergency stop or an abort that came during preflight ends the run before anything heats."""
        trip = self.latch.tripped
        if self._estop and trip is not None:
            raise _Stop(Outcome.TRIPPED, trip.reason, trip)
        if self._abort_reason is not None:
            raise _Stop(Outcome.ABORTED, self._abort_reason)

    def _check_link(self, run: _Run) -> None:
        """Ask the guardian once more, and trip if it or the loop's own timing says the loop stalled."""
        assert run.psu is not None
        try:
            run.psu.keepalive()
        except InstrumentError as exc:
            run.monitors.on_supply_failure(exc)
        mon = run.monitors
        t = self.clock.now() - self._t0
        snap = Snapshot(
            t, False, None, PyrometerReading(PyrometerStatus.NOT_READY), guardian=mon.guardian, stalled_s=mon.stalled_s
        )
        for name in ("supply_link", "watchdog"):
            reason = INTERLOCKS[name](snap, self.rig.limits)
            if reason is not None:
                latched = self.latch.latch(Trip(name, reason, t))
                raise _Stop(Outcome.TRIPPED, latched.reason, latched, instrument=name == "supply_link")

    def _abandon(self, run: _Run) -> None:
        """Undo a run that never touched the supply: stop the sinks, remove its folder, back to idle."""
        if run.progress is not None:
            run.progress.close()
        if self._recorder is not None:
            assert run.writer is not None
            run.writer.close()
            self._recorder.close()
            shutil.rmtree(self._recorder.dir, ignore_errors=True)
            self._recorder = None
            self._last_run_dir = None
        with self._state_lock:
            self._state = RunState.IDLE

    def _shut_down(self, run: _Run) -> bool:
        """Output off at once, then the guardian confirms, unlocks and exits. True when off is confirmed."""
        if run.psu is None:
            return True
        if run.actuator is not None:
            run.actuator.off()
            self.off_sent_t = self.clock.now()
        confirmed = run.psu.release()
        if run.psu.fallback_used is not None:
            self._event("guardian_fallback", confirmed=run.psu.fallback_used)
        return confirmed

    def _finish(
        self,
        profile: Profile,
        operator: str,
        sample_id: str,
        started: Any,
        run: _Run,
        outcome: Outcome,
        reason: str,
        trip: Trip | None,
        off: bool,
        flags: tuple[bool, bool],
    ) -> RunResult:
        samples = run.samples
        metrics = compute(samples, cooling_to_c=max(500.0, self.rig.pyrometer.range_c[0]))
        metrics["unreg_events"] = float(run.monitors.unreg_events)
        if trip is not None and run.trip_off_s is not None:
            metrics["trip_to_output_off_s"] = run.trip_off_s
        result = RunResult(
            outcome=outcome,
            reason=reason,
            profile_name=profile.name,
            started_utc=started.isoformat(timespec="seconds"),
            ended_utc=utc_now().isoformat(timespec="seconds"),
            duration_s=samples[-1].t_s if len(samples) else 0.0,
            metrics=metrics,
            loop_timing=self.loop_timing(run),
            trip_name=trip.name if trip else None,
            run_dir=self._recorder.dir if self._recorder else None,
            preflight_failed=flags[0],
            instrument_failure=flags[1],
            output_off_confirmed=off,
        )
        if run.progress is not None:
            run.progress.close()
        if self._recorder is not None:
            assert run.writer is not None
            run.writer.close()
            self._write_run_json(profile, operator, sample_id, started, result)
            if self.plot_writer is not None and len(samples):
                try:
                    self.plot_writer(self._recorder.dir, samples, run.plan)
                except Exception as exc:  # a plot must never lose the run record
                    self._recorder.event(self.clock.now() - self._t0, "warning", message=f"plot.png: {exc}")
            self._recorder.close()
        self.last_result = result
        return result

    def loop_timing(self, run: _Run | None = None) -> dict[str, float]:
        """Loop period and latency statistics in milliseconds."""
        run = run or self._run
        out: dict[str, float] = {"nominal_period_ms": self.period_s * 1000}
        if run is None:
            return out
        for name, values in (("period", run.periods), ("latency", run.latencies)):
            if values:
                ordered = sorted(values)
                out[f"{name}_mean_ms"] = statistics.fmean(values) * 1000
                out[f"{name}_p50_ms"] = ordered[len(ordered) // 2] * 1000
                out[f"{name}_p99_ms"] = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
                out[f"{name}_max_ms"] = ordered[-1] * 1000
        out["missed_deadlines"] = float(sum(1 for p in run.periods if p > 1.5 * self.period_s))
        return out

    def _write_run_json(
        self, profile: Profile, operator: str, sample_id: str, started: Any, result: RunResult | None
    ) -> None:
        if self._recorder is None:
            return
        profile_text = None
        try:
            profile_text = Path(profile.source).read_text(encoding="utf-8")
        except OSError:
            pass
        run = self._run
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
            "outcome": result.outcome if result else RUNNING,
            "reason": result.reason if result else None,
            "trip": result.trip_name if result else None,
            "output_off_confirmed": result.output_off_confirmed if result else None,
            "metrics": result.metrics if result else {},
            "loop_timing": result.loop_timing if result else {},
            "samples": len(run.samples) if run is not None else 0,
            **self.provenance,
        }
        self._recorder.write_run_json(record)

    # --- preflight ------------------------------------------------------------------------------

    def _check_runs_folder(self) -> None:
        """Refuse to heat when the run record cannot be kept: the folder unwritable or under 50 MB free."""
        if self._recorder is None:
            return
        folder = self._recorder.dir
        try:
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            raise PreflightError(f"runs folder {folder.parent}: {exc.strerror}") from None
        if free < MIN_FREE_BYTES:
            raise PreflightError(
                f"runs folder {folder.parent} has {free / 1e6:.0f} MB free; a run needs at least "
                f"{MIN_FREE_BYTES / 1e6:.0f} MB"
            )
        if run_error := (self._run.writer.error if self._run and self._run.writer else None):
            raise PreflightError(f"runs folder {folder.parent}: {run_error}")

    def _preflight(self, run: _Run) -> None:
        rig = self.rig
        psu = run.psu
        assert psu is not None
        self.identities["psu"] = psu.identify()
        self.identities["pyrometer"] = self.pyrometer.identify()
        for ch in rig.channels:
            if psu.read_output_state(ch):
                psu.set_all_outputs_off()  # we hold the supply's lock: this run owns it
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
        deadline = self.clock.now() + PYROMETER_READY_S
        reading = self.pyrometer.read_temperature()
        while reading.status is PyrometerStatus.NOT_READY and self.clock.now() < deadline:
            self._wait(psu, 0.1)
            reading = self.pyrometer.read_temperature()
        if reading.status is PyrometerStatus.TIMEOUT:
            raise PreflightError("pyrometer not answering (TIMEOUT)")
        if reading.status in (PyrometerStatus.GARBLED, PyrometerStatus.NOT_READY):
            raise PreflightError(f"pyrometer not usable: {reading.status.value}")
        hot = rig.limits.hot_start_c if rig.limits.hot_start_c is not None else rig.pyrometer.range_c[0] + 50.0
        if reading.status is PyrometerStatus.ABOVE_RANGE or (reading.celsius is not None and reading.celsius > hot):
            shown = f"{reading.celsius:.0f} °C" if reading.celsius is not None else "above range"
            raise PreflightError(f"felt already hot ({shown}); let it cool below {hot:g} °C")
        self._measure_cold_resistance(run)

    def _wait(self, psu: GuardedSupply, seconds: float) -> None:
        """Wait ``seconds`` while keeping the guardian's watchdog fed, one control period at a time.

        No deadline to meet to the millisecond here (a real-time clock spins only for the loop's own)."""
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            sleep_coarse(self.clock, min(self.period_s, left))
            psu.keepalive()
            self._stop_if_requested()

    def _measure_cold_resistance(self, run: _Run) -> None:
        """Measure the load at a low probe power; refuse an open or implausible load."""
        psu, actuator = run.psu, run.actuator
        assert psu is not None and actuator is not None
        expected = self.model.channel_resistance_ohm(AMBIENT_C)
        values = []
        self._stop_if_requested()
        for ch in self.rig.channels:
            psu.set_voltage_and_current(ch, COLD_PROBE_V, COLD_PROBE_A)
            psu.set_output(ch, True)
        actuator.output_on = True
        try:
            self._wait(psu, COLD_PROBE_S)
            for ch in self.rig.channels:
                v, i = psu.measure_output(ch)
                if i < 0.01:
                    raise PreflightError(f"no current through the felts on output {ch} at {v:.2f} V: open circuit")
                values.append(v / i)
        finally:
            actuator.off()
        r = statistics.fmean(values)
        ratio = r / expected
        if not 0.3 <= ratio <= 3.0:
            raise PreflightError(f"felt resistance {r:.3f} ohm is implausible (model {expected:.3f} ohm)")
        self.cold_resistance_ohm = r
        run.resistance.calibration = ratio
        self._event("cold_resistance", ohm=r, model_ohm=expected, ratio=ratio)
        if self.rig.model_file is not None and abs(ratio - 1.0) > self.rig.felt.replaced_fraction:
            # (a felt still warm from the last run, but below the pyrometer's range, also reads low: R falls with T)
            warm = ", a felt still warm from the last run" if ratio < 1.0 else ""
            self._event(
                "felt_mismatch",
                message=(
                    f"cold resistance {r:.3f} ohm is {ratio:.2f} x the identified model's {expected:.3f} ohm: "
                    f"a new felt{warm}, or a plant file from another rig? if the felt is cold, identify it again"
                ),
            )

    # --- the loop -----------------------------------------------------------------------------

    def _loop(self, profile: Profile, run: _Run) -> None:
        rig = self.rig
        timeline = ProfileTimeline(run.plan, profile.end_action, self.period_s)
        handover = HandOver(rig.controller, rig.pyrometer.range_c[0], rig.engage_margin_k)
        self.controller.reset()
        meter_every = max(1, round(0.25 / self.period_s))
        tick = 0
        prev_t: float | None = None
        next_t = self.clock.now()
        while True:
            t_abs = self.clock.now()
            dt = self.period_s if prev_t is None else t_abs - prev_t
            if prev_t is not None:
                run.periods.append(dt)
                if dt > rig.limits.watchdog_s:
                    run.monitors.on_stall(dt)  # suspended or blocked: the tick came late
            prev_t = t_abs
            if not self._tick(run, timeline, handover, t_abs, dt, tick % meter_every == 0):
                return
            tick += 1
            next_t += self.period_s
            now = self.clock.now()
            if next_t < now - self.period_s:
                next_t = now  # overran by more than a period: do not try to catch up in a burst
            self.clock.sleep(max(0.0, next_t - now))

    def _tick(
        self, run: _Run, timeline: ProfileTimeline, handover: HandOver, t_abs: float, dt: float, meters: bool
    ) -> bool:
        """One control tick; False when the profile is over."""
        t = t_abs - self._t0
        mon = run.monitors
        finished = False
        # read
        reading = self._read_pyrometer()
        if meters:
            self._read_meters(run, reading)
            # The identified R(T) as it is: the cold probe's few hundred mA read to 10 mA are too coarse to
            # rescale a curve whose slope at 1150 °C is a few mΩ per 10 K.
            run.fusion.meter(t, run.resistance.measured_ohm())
        temps = run.fusion.update(t, reading.celsius if reading.valid else None, run.last_rate_c_per_s)
        felt = temps.control_c
        mon.on_reading(t, reading)
        if mon.on_sensors(t, temps.pyrometer_c, temps.resistance_c, temps.resistance_sigma_k, run.check_from_c):
            self._event(
                "warning",
                message=f"pyrometer {temps.pyrometer_c:.0f} °C but felt resistance says {temps.resistance_c:.0f} °C",
            )
        # The loop closes on the pyrometer only; the felts' resistance never hands the loop over.
        handover.observe(t, temps.pyrometer_c)
        # where are we in the profile
        pos = timeline.locate(t)
        if pos is None:
            mon.end_of_profile()  # a last hold that the pyrometer never saw ends the run as a trip
            detected = self.clock.now()
            snap = Snapshot(detected - self._t0, False, None, reading, unseen_hold=mon.unseen_hold)
            self._trip_if(evaluate(snap, run.limits), run, detected, reading)
            return False
        finished = pos.finished  # holding the last setpoint (end_action = "hold") until stopped
        if self._abort_reason is not None and not self._estop:
            raise _Stop(Outcome.ABORTED, self._abort_reason)
        if pos.entered:
            seg = pos.segment
            self._event("segment", index=seg.index + 1, segment_kind=seg.kind, profile_t_s=pos.profile_t_s)
            if pos.open_loop and handover.engaged:
                handover.engaged = False
                self._event("loop", closed=False, why=f"segment {seg.label}")
        if pos.output_off:
            timeline.wait_for_cooling(pos, t, dt, self._below(pos, reading))
        if handover.ready(t, pos.setpoint_c, temps.pyrometer_c, pos.segment.top_c, pos.rising):
            pos = self._close_loop(timeline, handover, pos, t, felt)
        # monitors and interlocks
        error = felt - pos.setpoint_c if felt is not None and pos.setpoint_c is not None else None
        run.last_rate_c_per_s = pos.rate_c_per_s
        mon.resistance_backup = temps.resistance_c is not None and not reading.valid and pos.rate_c_per_s < 0
        if mon.on_tick(t, dt, pos, handover.engaged, error, handover.range_low_c):
            timeline.hold_back(dt)
        mon.record_error = run.writer.error if run.writer is not None else None
        detected = self.clock.now()
        snap = mon.snapshot(detected - self._t0, pos, handover.engaged, reading, error, self._estop)
        self._trip_if(evaluate(snap, run.limits), run, detected, reading)
        # control
        assert run.actuator is not None
        p_max = run.actuator.p_max(felt if felt is not None else pos.setpoint_c)
        open_power = getattr(pos.segment.segment, "power_w", None)
        out = self.controller.update(
            ControlInput(
                dt_s=dt,
                setpoint_c=pos.setpoint_c,
                setpoint_rate_c_per_s=0.0 if finished else pos.rate_c_per_s,
                measured_c=felt,
                closed=handover.engaged and felt is not None,
                p_max_w=p_max,
                open_power_w=open_power,
                profile_t_s=pos.profile_t_s,
            )
        )
        mon.on_command(t, out.power_w, p_max, handover.engaged, felt)
        # write
        try:
            v_set, i_set = run.actuator.apply(out.power_w, felt if felt is not None else pos.setpoint_c)
        except InstrumentError as exc:
            warning = mon.on_supply_failure(exc)
            if warning is not None:
                self._event("warning", message=warning)
            v_set, i_set = run.actuator.last_set or (0.0, 0.0)
        run.latencies.append(self.clock.now() - t_abs)
        # record
        self._record(run, pos, t, reading, temps, out, v_set, i_set, handover.engaged)
        return True

    def _trip_if(self, trip: Trip | None, run: _Run, detected: float, reading: PyrometerReading) -> None:
        """An interlock tripped: latch it, switch the output off, and end the run."""
        if trip is None:
            return
        latched = self.latch.latch(trip)
        assert run.actuator is not None
        run.actuator.off()
        self.off_sent_t = self.clock.now()
        run.trip_off_s = self.off_sent_t - detected
        raise _Stop(Outcome.TRIPPED, latched.reason, latched, instrument=self._instrument_trip(latched, reading))

    def _close_loop(
        self, timeline: ProfileTimeline, handover: HandOver, pos: Position, t: float, felt: float | None
    ) -> Position:
        """Hand-over: re-base the profile onto the measured temperature and close the loop bumplessly."""
        fit_t, fit_rate = handover.fit(t)
        seg = pos.segment
        if self.controller.rebase and seg.start_c is not None and seg.end_c is not None and pos.rate_c_per_s != 0:
            pos = timeline.rebase(pos, rebase_time(seg, fit_t, pos.profile_t_s))
            self._event("rebase", measured_c=fit_t, profile_t_s=pos.profile_t_s, rate_c_per_s=fit_rate)
        assert pos.setpoint_c is not None
        self.controller.engage(pos.setpoint_c, pos.rate_c_per_s, fit_rate)
        handover.engaged = True
        self._event("loop", closed=True, measured_c=felt, setpoint_c=pos.setpoint_c, measured_rate=fit_rate)
        return pos

    def _record(
        self,
        run: _Run,
        pos: Position,
        t: float,
        reading: PyrometerReading,
        temps: Fused,
        out: Any,
        v_set: float,
        i_set: float,
        engaged: bool,
    ) -> None:
        res = run.resistance
        seg = pos.segment
        sample = Sample(
            t_s=t,
            profile_t_s=pos.profile_t_s,
            setpoint_c=pos.setpoint_c,
            temperature_c=reading.celsius if reading.valid else None,
            pyrometer_status=reading.status.value,
            power_w=out.power_w if v_set > 0 else 0.0,
            voltage_set_v=v_set,
            current_set_a=i_set,
            voltage_v=res.volts,
            current_a=res.amps,
            resistance_ohm=res.measured_ohm(),
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
            resistance_c=temps.resistance_c,
            control_c=temps.control_c,
        )
        run.samples.append(sample)
        self.buffer.append(sample)
        if run.writer is not None:
            run.writer.sample(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        if run.progress is not None:
            run.progress.post(
                Progress(
                    self.state,
                    seg.label,
                    t,
                    run.plan.duration_s,
                    sample.temperature_c,
                    pos.setpoint_c,
                    sample.power_w,
                    reading.status.value,
                    1.0 / self.period_s,
                )
            )

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _instrument_trip(trip: Trip, reading: PyrometerReading) -> bool:
        """True for a trip that means an instrument stopped answering (the CLI exits 3)."""
        if trip.name in INSTRUMENT_TRIPS:
            return True
        return trip.name == "pyrometer_fault" and reading.status is PyrometerStatus.TIMEOUT

    def _below(self, pos: Position, reading: PyrometerReading) -> bool:
        """In an output-off cool: is the felt below the segment's temperature?"""
        below_c = getattr(pos.segment.segment, "below_c", None)
        if not isinstance(below_c, float | int):
            return False
        if reading.valid and reading.celsius is not None:
            return reading.celsius < below_c
        return reading.status is PyrometerStatus.BELOW_RANGE and below_c >= self.rig.pyrometer.range_c[0]

    def _read_pyrometer(self) -> PyrometerReading:
        try:
            return self.pyrometer.read_temperature()
        except InstrumentError as exc:
            self._event("warning", message=f"pyrometer: {exc}")
            return PyrometerReading(PyrometerStatus.TIMEOUT)

    def _read_meters(self, run: _Run, reading: PyrometerReading) -> None:
        psu = run.psu
        assert psu is not None
        try:
            volts, amps, status = [], [], 0
            for ch in self.rig.channels:
                v, i = psu.measure_output(ch)
                volts.append(v)
                amps.append(i)
                status |= psu.read_limit_status(ch).raw
        except InstrumentError as exc:
            warning = run.monitors.on_supply_failure(exc)
            if warning is not None:
                self._event("warning", message=warning)
            return
        felt = reading.celsius if reading.valid else None
        run.monitors.on_meters(Meters(statistics.fmean(volts), sum(amps), LimitStatus(status)), felt)
