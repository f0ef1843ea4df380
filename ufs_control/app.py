"""Composition root: the only module that names concrete classes from ``drivers`` and ``sim``.

It builds either the real instruments (pyvisa, pyserial) or the embedded simulator (the same drivers on
in-memory transports) from a rig configuration, and wires them to a runner and a controller.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import CODECS, KtrdPyrometer, ProbeResult, probe
from sim.clock import FastForwardClock, VirtualClock
from sim.faults import Fault, parse_fault
from sim.rig import SimOptions, SimRig
from sim.server import SimServer
from sim.transport import InMemoryPort, InMemoryResource
from ufs_control.control.baselines import NaiveVoltagePID, OpenLoopProgramme
from ufs_control.control.controller import Controller, FeedforwardPI
from ufs_control.control.model import PlantModel
from ufs_control.core.clock import Clock, MonotonicClock, ScaledClock
from ufs_control.core.errors import ConfigError, ProfileError, SupplyInUseError, UfsError
from ufs_control.core.profile import Profile, plan
from ufs_control.core.rig import NotifyConfig, RigConfig
from ufs_control.core.thermal import ThermalParams, Wiring, load_params, preset
from ufs_control.runner.actuator import AMBIENT_C
from ufs_control.runner.engine import Progress, Runner, SupplyOpener, SupplyRequest
from ufs_control.runner.felt import felt_history, key_of
from ufs_control.runner.guardian import GuardedSupply, GuardianCore, LocalLink, PipeLink, encode_error, serve
from ufs_control.runner.idle import MeterReading, SupplyMeters
from ufs_control.runner.learnstore import Gate, LearningStore, learn_from_run
from ufs_control.runner.notify import notify, run_summary
from ufs_control.runner.records import (
    RunResult,
    Sample,
    SampleLog,
    append_jsonl,
    make_event,
    mark_interrupted,
    read_events,
    recover_interrupted,
)

CONTROLLERS = ("ff_pi", "naive_voltage_pid", "open_loop", "exact_ff")
CODEC_NAMES = tuple(CODECS)


@dataclass
class SimulatedRig:
    """An in-process simulated rig with the real drivers attached through in-memory transports."""

    rig: SimRig
    clock: Clock
    psu: Cpx400dp
    pyrometer: KtrdPyrometer

    def close(self) -> None:
        self.psu.close()
        self.pyrometer.close()


def build_simulator(
    params: ThermalParams,
    options: SimOptions | None = None,
    speed: float = 0.0,
    range_c: tuple[float, float] | None = None,
    fast_forward_s: float | None = None,
) -> SimulatedRig:
    """Build the in-process simulator; ``speed`` 0 runs on a virtual clock (as fast as possible);
    ``fast_forward_s`` runs virtual time up to that mark and real time after it."""
    clock: Clock
    if fast_forward_s is not None:
        clock = FastForwardClock(fast_forward_s)
    else:
        clock = VirtualClock() if speed == 0 else ScaledClock(speed)
    opts = options or SimOptions()
    rig = SimRig(params, clock, opts)
    psu = Cpx400dp(InMemoryResource(rig), name="CPX400DP (simulated)")
    pyro = KtrdPyrometer(
        InMemoryPort(rig),
        address=opts.pyrometer_address,
        range_c=range_c or opts.pyrometer_range_c,
        name="pyrometer (simulated)",
    )
    return SimulatedRig(rig, clock, psu, pyro)


def start_sim_server(
    params: ThermalParams,
    host: str = "127.0.0.1",
    psu_port: int = 9221,
    pyrometer_port: int = 9222,
    speed: float = 1.0,
    faults: list[Fault] | None = None,
    wiring: Wiring = Wiring.SERIES,
    ovp_reply_style: str = "manual",
    log: Callable[[str], None] | None = None,
) -> SimServer:
    """Start the TCP simulator on loopback in real time scaled by ``speed``; ``log`` gets output changes."""
    opts = SimOptions(wiring=wiring, faults=list(faults or []), ovp_reply_style=ovp_reply_style)
    rig = SimRig(params, ScaledClock(speed), opts)
    return SimServer(rig, host, psu_port, pyrometer_port, log=log).start()


def probe_pyrometer(url: str) -> list[ProbeResult]:
    """Try every known pyrometer codec on ``url``."""
    return probe(url)


def parse_fault_spec(text: str) -> Fault:
    """Parse ``NAME@SECONDS`` for the command line (raises ValueError with a one-line reason)."""
    return parse_fault(text)


def load_plant(path: str | None, preset_name: str = "A") -> ThermalParams:
    """Plant parameters from a TOML file, or the named preset."""
    return load_params(path) if path else preset(preset_name)


def make_controller(name: str, rig: RigConfig, true_params: ThermalParams | None = None) -> Controller:
    """The product controller (``ff_pi``) or a benchmark baseline by name."""
    if name == "ff_pi":
        return FeedforwardPI(PlantModel(rig.model, rig.wiring), rig.controller)
    if name == "exact_ff":
        params = true_params or rig.model
        return FeedforwardPI(PlantModel(params, rig.wiring), rig.controller, name="exact_ff")
    if name == "open_loop":
        return OpenLoopProgramme(PlantModel(rig.model, rig.wiring))
    if name == "naive_voltage_pid":
        return NaiveVoltagePID(max_v=rig.limits.max_voltage_v, model=PlantModel(rig.model, rig.wiring))
    raise ConfigError("<command line>", "controller", f"unknown controller {name!r}, expected one of {CONTROLLERS}")


def _plot(run_dir: Path, samples: SampleLog, laid: Any) -> None:
    from ufs_control.plotting import write_plot  # matplotlib only when a plot is written

    write_plot(run_dir, samples, laid, title=run_dir.name)


# --- the guardian -------------------------------------------------------------------------------------

GUARDIAN_MODULE = "ufs_control.guardian_main"
FALLBACK_OFF_S = 5.0  # how long the controller keeps trying to switch off itself when its guardian died
GIVE_UP_OFF_AFTER_S = 600.0  # how long a guardian keeps trying to confirm an off after its controller is gone


def sim_supply(sim: SimulatedRig, rig: RigConfig) -> SupplyOpener:
    """The embedded simulator's supply: the guardian's logic in-process, on the simulator's clock."""
    name = "CPX400DP (simulated)"

    def connect() -> Cpx400dp:
        resource = InMemoryResource(sim.rig)
        resource.timeout = rig.psu.timeout_s * 1000.0
        return Cpx400dp(resource, name=name)

    def open_supply(request: SupplyRequest) -> GuardedSupply:
        def record(event: dict[str, Any]) -> None:
            kind = event.pop("type")
            request.record(make_event(sim.clock.now() - request.t0, kind, **event))

        core = GuardianCore(connect, sim.clock, watchdog_s=request.watchdog_s, name=name, record=record)
        core.open()
        return GuardedSupply(LocalLink(core))

    return open_supply


def process_supply(rig: RigConfig) -> SupplyOpener:
    """A real supply (or ``ufs sim-server``): the guardian is a separate process that owns the connection."""
    resource = rig.psu.resource
    if not resource:
        raise ConfigError(rig.source, "psu.resource", "no supply address")

    def fallback_off() -> bool:
        """Used only when the guardian died: switch off over a fresh connection of our own, trying again for
        a few seconds (the dead guardian's connection may take a moment to be let go by the supply)."""
        deadline = time.monotonic() + FALLBACK_OFF_S
        while True:
            try:
                psu = Cpx400dp.open(resource, timeout_s=rig.psu.timeout_s)
                try:
                    psu.force_outputs_off()
                    psu.set_all_outputs_off()
                    if not any(psu.read_output_state(ch) for ch in (1, 2)):
                        return True
                finally:
                    psu.close()
            except UfsError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def open_supply(request: SupplyRequest) -> GuardedSupply:
        argv = [
            sys.executable,
            "-m",
            GUARDIAN_MODULE,
            "--resource",
            resource,
            "--timeout-s",
            repr(rig.psu.timeout_s),
            "--watchdog-s",
            repr(request.watchdog_s),
            "--t0",
            repr(request.t0),
        ]
        if request.run_dir is not None:
            argv += ["--run-dir", str(request.run_dir)]
        # A call is one supply transaction (at most two reads); switching off may reconnect and confirm.
        timeout = rig.psu.timeout_s
        link = PipeLink(argv, call_timeout_s=2 * timeout + 0.1, end_timeout_s=12 * timeout + 3.0)
        return GuardedSupply(link, fallback_off)

    return open_supply


def resource_key(resource: str) -> str:
    """What identifies the supply behind ``resource`` on this computer: a serial port by its real device
    (``/dev/serial/by-id/...`` and ``/dev/ttyUSB0`` are the same port), a LAN address by its text."""
    m = re.fullmatch(r"\s*ASRL(.+?)::INSTR\s*", resource, re.IGNORECASE)
    if m is not None and m.group(1).startswith("/"):
        return "ASRL" + os.path.realpath(m.group(1))
    return resource.strip().upper()


def _machine_lock(resource: str) -> IO[str] | None:
    """Hold a lock file for ``resource`` on this computer (None when another process holds it)."""
    digest = hashlib.sha1(resource_key(resource).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "ufs-control-locks"
    folder.mkdir(exist_ok=True)
    fh = open(folder / f"supply-{digest}.lock", "w", encoding="utf-8")  # noqa: SIM115
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    fh.write(f"{os.getpid()} {resource}\n")
    fh.flush()
    return fh


def guardian_main(argv: Sequence[str]) -> int:
    """The guardian process (``python -m ufs_control.guardian_main``): connect, lock, serve, switch off.

    Its protocol runs on the stdout it was given; anything else that prints goes to stderr.
    """
    parser = argparse.ArgumentParser(prog="ufs-guardian")
    parser.add_argument("--resource", required=True)
    parser.add_argument("--timeout-s", type=float, required=True)
    parser.add_argument("--watchdog-s", type=float, required=True)
    parser.add_argument("--t0", type=float, default=0.0)
    parser.add_argument("--run-dir")
    args = parser.parse_args(argv)
    out = os.dup(1)
    os.dup2(2, 1)
    run_dir = Path(args.run_dir) if args.run_dir else None

    def record(event: dict[str, Any]) -> None:
        if run_dir is None:
            return
        kind = event.pop("type")
        try:
            append_jsonl(run_dir / "events.jsonl", make_event(time.monotonic() - args.t0, kind, **event))
        except OSError:
            pass

    def connect() -> Cpx400dp:
        return Cpx400dp.open(args.resource, timeout_s=args.timeout_s)

    core = GuardianCore(connect, MonotonicClock(), watchdog_s=args.watchdog_s, name=args.resource, record=record)
    lock = _machine_lock(args.resource)
    try:
        if lock is None:
            raise SupplyInUseError(args.resource, "another ufs-control process on this computer")
        core.open()
    except UfsError as exc:
        os.write(out, (json.dumps({"ok": False, "error": encode_error(exc)}) + "\n").encode())
        return 3
    os.write(out, (json.dumps({"ok": True, "pid": os.getpid()}) + "\n").encode())
    try:
        ended = serve(core, 0, out)
    except BaseException as exc:  # whatever breaks the guardian, the output goes off first
        core.controller_died(f"guardian error: {type(exc).__name__}: {exc}")
        ended = "error"
    if core.off_confirmed is False:
        core.keep_trying_off(GIVE_UP_OFF_AFTER_S, time.sleep)  # the controller may be gone: nobody else will
    if ended != "released" and run_dir is not None and core.trip is not None:
        state = "confirmed" if core.off_confirmed else "NOT confirmed"
        mark_interrupted(run_dir, f"{core.trip.reason}: the guardian switched the output off ({state})")
    return 0


@dataclass
class RigSession:
    """A runner wired to instruments, and what it takes to close them."""

    runner: Runner
    simulated: bool
    banner: str
    sim: SimulatedRig | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            try:
                close()
            except Exception:
                pass


def _model_note(rig: RigConfig) -> str:
    """The banner's second line: which model the controller uses."""
    if rig.model_file is not None:
        return f"\nmodel: identified plant {rig.model_file}"
    return "\nmodel: preset (identify this rig: ufs identify)"


def open_session(
    rig: RigConfig,
    *,
    simulate: bool,
    runs_dir: Path | None,
    speed: float = 0.0,
    faults: list[Fault] | None = None,
    sim_params: ThermalParams | None = None,
    sim_overrides: dict[str, Any] | None = None,
    controller: str = "ff_pi",
    progress: Callable[[Progress], None] | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    seed: int = 0,
    plot: bool = True,
    fast_forward_s: float | None = None,
) -> RigSession:
    """Build instruments (simulated or real), a controller and a runner for ``rig``."""
    # The runner records its rig in run.json; a notify command may carry an address or a token, and is not
    # the runner's business (it runs around the run, see run_safely).
    rig = dataclasses.replace(rig, notify=NotifyConfig())
    if simulate:
        if speed > 1.0:
            # Sped up, the simulator's clock runs `speed` times the wall clock: judge a stalled loop in wall time,
            # or a 25 ms pause of a busy computer would be a 0.25 s stall at 10x.
            rig = replace(rig, limits=replace(rig.limits, watchdog_s=rig.limits.watchdog_s * speed))
        params = sim_params or preset(rig.sim_preset)
        opts = SimOptions(
            wiring=rig.wiring,
            faults=list(faults or []),
            pyrometer_range_c=rig.pyrometer.range_c,
            pyrometer_address=rig.pyrometer.address,
            seed=seed,
            **(sim_overrides or {}),
        )
        sim = build_simulator(params, opts, speed=speed, range_c=rig.pyrometer.range_c, fast_forward_s=fast_forward_s)
        ctl = make_controller(controller, rig, params)
        provenance = {
            "simulator": {
                "params": dataclasses.asdict(params),
                "faults": [dataclasses.asdict(f) for f in opts.faults],
                "speed": speed,
                "seed": seed,
            }
        }
        runner = Runner(
            sim_supply(sim, rig),
            sim.pyrometer,
            sim.clock,
            rig,
            ctl,
            runs_dir,
            plot_writer=_plot if plot else None,
            provenance=provenance,
            progress=progress,
            on_sample=on_sample,
        )
        label = "as fast as possible" if speed == 0 else f"at {speed:g}x real time"
        plant = "a plant of its own (--sim-plant)" if sim_params is not None else f"plant preset {rig.sim_preset}"
        banner = f"SIMULATION: running on the embedded simulator ({plant}), {label}" + _model_note(rig)
        return RigSession(runner, True, banner, sim, [sim.close])
    if not rig.psu.resource or not rig.pyrometer.url:
        raise ConfigError(rig.source, "psu.resource/pyrometer.url", "give both instrument addresses, or use --sim")
    pyro = KtrdPyrometer.open(
        rig.pyrometer.url,
        rig.pyrometer.protocol,
        rig.pyrometer.address,
        rig.pyrometer.range_c,
        rig.pyrometer.timeout_s,
    )
    ctl = make_controller(controller, rig)
    runner = Runner(
        process_supply(rig),
        pyro,
        MonotonicClock(),
        rig,
        ctl,
        runs_dir,
        plot_writer=_plot if plot else None,
        progress=progress,
        on_sample=on_sample,
    )
    banner = f"RIG: supply {rig.psu.resource}, pyrometer {rig.pyrometer.url} ({rig.pyrometer.protocol})" + _model_note(
        rig
    )
    return RigSession(runner, False, banner, None, [pyro.close])


ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@contextmanager
def ending_signals(runner: Runner) -> Iterator[list[int]]:
    """While inside, SIGINT/TERM/HUP/QUIT end ``runner``'s run safely (abort, and the guardian switches the
    output off at once) instead of interrupting the code; yields the list of the signals received.

    Outside the main thread signals cannot be handled: nothing is installed there.
    """
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        # Safe in a handler: sets a flag and signals the guardian, which switches the output off at once.
        received.append(signum)
        runner.request_abort(f"{signal.Signals(signum).name} received")
        runner.urgent_stop()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in ENDING_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def prepare_runs_dir(folder: str | Path, option: str, note: Callable[[str], None] | None) -> Path:
    """The runs folder, created if need be, with any run a dead process left "running" marked interrupted
    (each named to ``note``). ``option`` names the setting in the one-line error when it cannot be created."""
    runs_dir = Path(folder)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(str(runs_dir), option, f"cannot create: {exc.strerror}") from None
    for stale in recover_interrupted(runs_dir):
        if note is not None:
            note(f"note: run {stale.name} was left running by a process that died; marked interrupted")
    return runs_dir


def notify_run(
    rig: RigConfig, result: RunResult, operator: str, sample_id: str, warn: Callable[[str], None] | None
) -> None:
    """Run the rig's ``[notify] command`` for a finished run (the output is off); never raises."""
    if rig.notify.command:
        notify(rig.notify, run_summary(result, operator, sample_id), result.run_dir, warn)


# --- felt health and run-to-run learning around a run ------------------------------------------------


@dataclass
class RunCompanion:
    """Felt health and learning around one run of a session: ``before`` lines to show at the start,
    :meth:`after` to call with the result (it learns and returns the lines to show)."""

    session: RigSession
    rig: RigConfig
    runs_dir: Path
    key: str
    before: list[str]
    warn: Callable[[str], None]
    store: LearningStore | None = None
    gate: Gate | None = None

    def after(self, result: RunResult) -> list[str]:
        lines = run_warnings(result)
        history = felt_history(self.runs_dir, self.key, self.rig.felt, self.warn, fits=self.store is not None)
        cur = history.current
        if cur is not None and result.run_dir is not None and cur.run == result.run_dir.name and cur.replaced:
            lines.append(f"note: felt replaced (cold resistance {cur.cold_ohm:.3f} ohm jumped from the last run)")
        if self.store is None or self.gate is None:
            return lines
        if self.gate.disabled is not None and self.gate.version is not None:
            lines.append(
                f"learning: version {self.gate.version.number} was not applied in this run: {self.gate.disabled}"
            )
        ctl = self.session.runner.controller
        b_ff = float(getattr(ctl, "b_ff", 0.0))
        cold = cur.cold_ohm if cur is not None else None
        try:
            _, line = learn_from_run(self.store, result, self.gate.used, b_ff, history.felt_since, cold)
        except (OSError, ValueError) as exc:
            line = f"learning: not updated ({exc})"
        lines.append(line)
        return lines


AFTER_RUN_EVENTS = ("felt_mismatch",)  # what a run records that the operator should read when it ends


def run_warnings(result: RunResult, most: int = 5) -> list[str]:
    """The run's recorded events of the kinds in ``AFTER_RUN_EVENTS`` (``events.jsonl``), as warning lines to
    show after it: the first ``most`` and how many more. (Transient cross-check warnings stay in the record:
    the trip is what counts there.)"""
    if result.run_dir is None:
        return []
    messages = [str(event.get("message", "")) for event in read_events(result.run_dir, AFTER_RUN_EVENTS)]
    lines = [f"warning: {m}" for m in messages[:most]]
    if len(messages) > most:
        lines.append(f"warning: ... and {len(messages) - most} more in {result.run_dir / 'events.jsonl'}")
    return lines


def refuse_infeasible(profile: Profile, rig: RigConfig) -> None:
    """Raise :class:`ProfileError` naming the first segment the rig's model says it cannot heat."""
    from ufs_control.control.feasibility import first_error

    finding = first_error(profile, rig)
    if finding is not None:
        raise ProfileError(
            profile.source,
            f"segment {finding.segment} ({finding.kind})",
            f"infeasible on this rig: {finding.message} (ufs check says why; nothing was heated)",
        )


def prepare_run(
    session: RigSession,
    rig: RigConfig,
    profile: Profile,
    runs_dir: Path,
    *,
    learn: bool,
    warn: Callable[[str], None],
) -> RunCompanion:
    """Refuse a profile the rig cannot heat (as ``ufs check`` says, before anything heats); check the felt (a
    worn-felt warning) and, with ``learn``, give the controller the learned correction for this rig, profile,
    plant model and felt, and record which version the run uses in its run.json."""
    refuse_infeasible(profile, rig)
    key = key_of(rig, session.simulated)
    history = felt_history(runs_dir, key, rig.felt, warn, fits=False)
    before = []
    if (worn := history.worn(rig.felt)) is not None:
        before.append(f"WARNING: {worn}")
    companion = RunCompanion(session, rig, runs_dir, key, before, warn)
    ctl = session.runner.controller
    if not learn:
        return companion
    if not isinstance(ctl, FeedforwardPI):
        raise ConfigError("<command line>", "--learn", f"needs the ff_pi controller, not {ctl.name}")
    laid = plan(profile, AMBIENT_C)
    store = LearningStore(runs_dir, key, rig, laid)
    version = store.latest(warn)
    record: dict[str, Any] = {"enabled": True, "store": str(store.folder), "version": None}
    if version is not None and version.felt_since != history.felt_since:
        before.append(f"learning: reset, the felt changed since version {version.number} was learned")
        record["reset"] = "felt replaced"
        version = None
    if version is not None:
        record.update(version=version.number, file=str(version.path))
        learned_from = version.record.get("learned_from")
        source = learned_from.get("run", "?") if isinstance(learned_from, dict) else "?"
        before.append(f"learning: using version {version.number} (learned from run {source}): {version.path}")
    else:
        before.append(f"learning: no correction yet for this rig, profile, model and felt ({store.folder})")
    last = history.current
    gate = Gate(
        version,
        last.cold_ohm if last is not None else None,
        rig.felt.replaced_fraction,
        lambda: session.runner.cold_resistance_ohm,
        record,
    )
    ctl.learned = gate
    session.runner.provenance["learning"] = record
    companion.store, companion.gate = store, gate
    return companion


class GuiBackend:
    """Builds runners for the GUI; keeps the open session so it can be closed.

    Injected faults (``--fault NAME@SECONDS``) count from the first Start in the window, not from the
    window's opening: they are armed by :meth:`arm_faults`, which the window calls when a run starts.
    """

    def __init__(self, runs_dir: Path, speed: float = 1.0, faults: list[Fault] | None = None) -> None:
        self.runs_dir = runs_dir
        self.speed = speed
        self.faults = list(faults or [])
        self.session: RigSession | None = None
        self._armed = False

    def connect(self, rig: RigConfig, simulate: bool) -> Runner:
        self.close()
        self.session = open_session(rig, simulate=simulate, runs_dir=self.runs_dir, speed=self.speed)
        if simulate and self.faults:
            faults = [dataclasses.asdict(f) for f in self.faults]
            self.session.runner.provenance.setdefault("simulator", {})["faults"] = faults
        self._armed = False
        return self.session.runner

    @property
    def fault_note(self) -> str:
        """The injected faults in words ("" when there are none or the session is not simulated)."""
        session = self.session
        if not self.faults or session is None or session.sim is None:
            return ""
        names = ", ".join(f"{f.name} at {f.at_s:g} s" for f in self.faults)
        if self._armed:
            return f"injected fault armed: {names} after the first Start"
        return f"injected fault: {names} after Start (not armed yet)"

    def arm_faults(self) -> None:
        """Arm the injected faults, counted from now (the first Start); later starts arm nothing."""
        session = self.session
        if self._armed or session is None or session.sim is None or not self.faults:
            return
        session.sim.rig.arm_faults(self.faults)
        self._armed = True

    def supply_meters(self) -> SupplyMeters | None:
        """A read-only look at the present session's supply: meters and output state, queries only."""
        session = self.session
        if session is None:
            return None
        channels = session.runner.rig.channels
        if session.sim is not None:
            rig = session.sim.rig

            def open_psu() -> Cpx400dp:
                return Cpx400dp(InMemoryResource(rig), name="CPX400DP (simulated)")

        else:
            resource = session.runner.rig.psu.resource
            timeout_s = session.runner.rig.psu.timeout_s
            if not resource:
                return None

            def open_psu() -> Cpx400dp:
                return Cpx400dp.open(resource, timeout_s=timeout_s)

        def read() -> MeterReading:
            psu = open_psu()  # a connection per read: none is held when a run's guardian wants the supply
            try:
                volts: list[float] = []
                amps, on = 0.0, False
                for ch in channels:
                    v, i = psu.measure_output(ch)
                    volts.append(v)
                    amps += i
                    on = on or psu.read_output_state(ch)
                return MeterReading(sum(volts) / len(volts), amps, on)  # as the run's meters: mean V, total A
            finally:
                psu.close()

        return read

    def identify(self, rig: RigConfig, simulate: bool) -> dict[str, str]:
        if self.session is not None and self.session.simulated == simulate and simulate:
            return self.session.runner.identify()
        probe_session = open_session(rig, simulate=simulate, runs_dir=None, plot=False)
        try:
            return probe_session.runner.identify()
        finally:
            probe_session.close()

    def after_run(self, rig: RigConfig, result: RunResult, operator: str, sample_id: str) -> None:
        """A run from the window ended: the rig's ``[notify]`` command, as after ``ufs run`` (never raises)."""
        notify_run(rig, result, operator, sample_id, warn=lambda text: print(f"warning: {text}", file=sys.stderr))

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def run_gui(
    rig: RigConfig,
    simulate: bool,
    runs_dir: Path,
    speed: float = 1.0,
    faults: list[Fault] | None = None,
    profile: Path | None = None,
    run: bool = False,
    screenshot: Path | None = None,
    screenshot_at_s: float | None = None,
) -> int:
    """Open the operator window on the simulator or the rig."""
    from ufs_control.gui.main import launch

    runs_dir = prepare_runs_dir(runs_dir, "--runs-dir", lambda text: print(text, flush=True))
    backend = GuiBackend(runs_dir, speed=speed, faults=faults)
    return launch(backend, rig, simulate, profile, run, screenshot, screenshot_at_s)
