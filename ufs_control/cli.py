"""The ``ufs`` command line. Bad input gives one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from ufs_control.core.bounds import Range
from ufs_control.core.errors import ConfigError, InstrumentError, ProfileError, UfsError
from ufs_control.core.rig import MAX_RUN_S

if TYPE_CHECKING:
    from ufs_control.core.rig import RigConfig
    from ufs_control.core.thermal import ThermalParams
    from ufs_control.runner.engine import Progress

EXIT_OK, EXIT_TRIPPED, EXIT_BAD_INPUT, EXIT_INSTRUMENT = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message}\n")


T = TypeVar("T", int, float)

# The allowed values of every numeric option, with the reason for each end.
SPEED = Range(
    0.0,
    100.0,
    "0 runs as fast as possible",
    "the simulated instruments keep up to about 100x real time; 0 runs as fast as possible",
)
RUN_TIME = Range(
    0.0, MAX_RUN_S, "a time within a run", "no run lasts longer than 48 h, the most limits.max_run_s allows"
)
PORT = Range(0, 65535, "0 picks a free port", "TCP ports end at 65535")
SEED = Range(0, 2**32 - 1, "seeds are 32-bit unsigned integers", "seeds are 32-bit unsigned integers")
PLANTS = Range(1, 1000, "at least one plant", "each plant runs every controller through the recipe: 1000 take hours")
IDENTIFY_MAX_C = Range(
    800.0, 2000.0, "the experiment must reach well into the pyrometer's range", "above 2000 °C the felts need 1 kW"
)
JOBS = Range(1, 256, "at least one worker process", "more workers than cores only add overhead")
PAIRS = Range(1, 100, "at least one headless/windowed pair", "each pair takes twice --tail-s of real time")
CATALOG_RUNS = Range(1, 1_000_000, "at least one run", "a million folders take many minutes to write")
TAIL_S = Range(
    5.0, 3600.0, "the redraw rate needs 5 s of real time to measure", "the tail runs in real time: an hour is plenty"
)


def _within(allowed: Range, kind: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type: a ``kind`` (int or float) within ``allowed``; inf and nan are refused."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        refusal = allowed.refusal(value)
        if refusal is not None:
            raise argparse.ArgumentTypeError(refusal)
        return value

    return parse


def _fault(text: str) -> object:
    from ufs_control.app import parse_fault_spec

    try:
        fault = parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    refusal = RUN_TIME.refusal(fault.at_s)
    if refusal is not None:
        raise argparse.ArgumentTypeError(f"fault time {refusal}")
    return fault


RUN_OUTCOMES = ("finished", "aborted", "tripped", "failed", "running", "interrupted")


def _date(text: str) -> object:
    from ufs_control.runner.runstore import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SS (UTC), got {text!r}"
        ) from None


def _add_sim_speed(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--speed",
        type=_within(SPEED, float),
        default=0.0,
        help="simulated seconds per wall second (0 = as fast as possible; simulator only)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ufs", description="Ultrafast-sintering rig controller")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("sim-server", help="serve the simulated supply and pyrometer on loopback sockets")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--psu-port", type=_within(PORT, int), default=9221)
    p.add_argument("--pyrometer-port", type=_within(PORT, int), default=9222)
    p.add_argument("--preset", choices=["A", "B"], default="A", help="plant preset (B: with BN plates)")
    p.add_argument("--plant", metavar="PLANT.toml", help="plant parameters file (overrides --preset)")
    p.add_argument("--wiring", choices=["series", "parallel", "per_channel"], default="series")
    p.add_argument("--speed", type=_within(SPEED, float), default=1.0, help="simulated seconds per wall second")
    p.add_argument("--ovp-reply", choices=["manual", "bare"], default="manual", help="OVP?/OCP? reply style")
    p.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME@SECONDS")
    p.add_argument(
        "--log-output",
        action="store_true",
        help="print a line whenever an output goes on or off: 'output N on|off MONOTONIC_SECONDS'",
    )

    p = sub.add_parser("probe-pyrometer", help="find which known protocol a pyrometer speaks")
    p.add_argument("url", help="serial port or URL: /dev/ttyUSB0, socket://host:port, spy://...")

    p = sub.add_parser("run", help="run a profile on the rig, or on the embedded simulator")
    p.add_argument("profile", help="profile TOML file")
    p.add_argument("--rig", metavar="RIG.toml", help="rig configuration (addresses, wiring, limits, controller)")
    p.add_argument("--psu", metavar="RESOURCE", help="supply VISA resource, e.g. TCPIP::10.0.0.5::9221::SOCKET")
    p.add_argument("--psu-channel", type=int, choices=[1, 2], help="supply output for series/parallel wiring")
    p.add_argument("--pyrometer", metavar="URL", help="pyrometer port or URL, e.g. /dev/ttyUSB0")
    p.add_argument("--pyrometer-protocol", metavar="NAME", help="pyrometer codec: upp, raytek, optris")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run folders go (default: runs)")
    p.add_argument("--operator", default="", metavar="NAME")
    p.add_argument("--sample", default="", metavar="ID", help="sample id for the run record")
    p.add_argument("--sim", action="store_true", help="run on the embedded simulator even with addresses")
    _add_sim_speed(p)
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME@SECONDS",
        help="inject a simulator fault (simulator only)",
    )
    p.add_argument("--seed", type=_within(SEED, int), default=0, help="simulator noise seed")
    _plant_options(p)
    p.add_argument(
        "--learn",
        action="store_true",
        help="run-to-run learning: apply the feedforward correction learned for this rig and profile, and "
        "learn from this run if it completes (also [controller] learn = true)",
    )

    p = sub.add_parser("felt", help="felt health per rig: cold resistance and fitted R(T) run by run")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="the runs folder (default: runs)")
    p.add_argument("--rig", metavar="RIG.toml", help="only this rig (and its felt thresholds)")
    p.add_argument("--sim", action="store_true", help="with --rig: the simulated runs made with that rig file")
    p.add_argument("--plot", metavar="FILE.png", help="also plot the trend into this file")

    p = sub.add_parser("check", help="validate a profile and check it against the rig's envelope")
    p.add_argument("profile")
    p.add_argument("--rig", metavar="RIG.toml")
    p.add_argument("--plant", metavar="PLANT.toml", help="identified plant file (ufs identify / ufs fit)")

    p = sub.add_parser("identify", help="identify the plant on the rig (or the simulator); write a plant file")
    p.add_argument("--rig", metavar="RIG.toml", help="rig configuration (addresses, wiring, limits)")
    p.add_argument("--psu", metavar="RESOURCE", help="supply VISA resource, e.g. TCPIP::10.0.0.5::9221::SOCKET")
    p.add_argument("--psu-channel", type=int, choices=[1, 2], help="supply output for series/parallel wiring")
    p.add_argument("--pyrometer", metavar="URL", help="pyrometer port or URL, e.g. /dev/ttyUSB0")
    p.add_argument("--pyrometer-protocol", metavar="NAME", help="pyrometer codec: upp, raytek, optris")
    p.add_argument("--sim", action="store_true", help="identify the embedded simulator's plant")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where the identification run goes")
    p.add_argument("--operator", default="", metavar="NAME")
    p.add_argument("--out", required=True, metavar="PLANT.toml", help="the plant file to write (and a .png)")
    p.add_argument(
        "--max-temperature-c",
        type=_within(IDENTIFY_MAX_C, float),
        default=1200.0,
        help="highest temperature of the experiment (default 1200 °C)",
    )
    p.add_argument("--seed", type=_within(SEED, int), default=0, help="simulator noise seed")
    _plant_options(p)

    p = sub.add_parser("fit", help="fit the plant model to existing run records; write a plant file")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--rig", metavar="RIG.toml", help="the rig the runs were made on (wiring, pyrometer range)")
    p.add_argument("--plant", metavar="PLANT.toml", help="start from this plant file instead of the rig's model")
    p.add_argument("--out", required=True, metavar="PLANT.toml")

    p = sub.add_parser("report", help="print a run's metrics and (re)write its plot.png")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or, with --methods, a campaign folder)")
    p.add_argument(
        "--methods",
        action="store_true",
        help="print a draft methods paragraph from the run's measurements (a campaign folder: the series)",
    )
    p.add_argument("--rig", metavar="RIG.toml", help="with --methods: take the [rig] description from this file")

    p = sub.add_parser("runs", help="list the runs in a runs folder with their key metrics")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="the runs folder (default: runs)")
    p.add_argument("--since", type=_date, metavar="DATE", help="runs started on or after this date (YYYY-MM-DD, UTC)")
    p.add_argument("--profile", metavar="NAME", help="runs of this profile (its name)")
    p.add_argument("--sample", metavar="GLOB", help="sample ids matching this shell pattern, e.g. 'S-0*'")
    p.add_argument("--outcome", choices=RUN_OUTCOMES, help="runs that ended this way")
    p.add_argument("--csv", metavar="FILE", help="also write the listed runs with all their metrics to FILE")

    p = sub.add_parser("export", help="export a run folder for an electronic lab notebook")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["eln"], default="eln", help="eln: the ELN consortium's .eln (RO-Crate)")
    p.add_argument("-o", "--output", metavar="FILE", help="the file to write (default: RUN_FOLDER_NAME.eln here)")

    p = sub.add_parser("campaign", help="run a queue of samples or a parameter sweep, one sample after another")
    p.add_argument("campaign", metavar="CAMPAIGN.toml")
    p.add_argument("--rig", metavar="RIG.toml", help="rig configuration (without addresses: the simulator)")
    p.add_argument("--sim", action="store_true", help="run on the embedded simulator")
    p.add_argument("--yes", action="store_true", help="do not wait for Enter between samples (simulator, CI)")
    p.add_argument("--acknowledge", metavar="NAME", help="acknowledge the trip that stopped the campaign, as NAME")
    _add_sim_speed(p)

    p = sub.add_parser("gui", help="the operator window (simulator unless a rig file with addresses is given)")
    p.add_argument("--sim", action="store_true", help="use the embedded simulator (the default without --rig)")
    p.add_argument("--rig", metavar="RIG.toml")
    p.add_argument("--runs-dir", default="runs", metavar="DIR")
    p.add_argument("--speed", type=_within(SPEED, float), default=1.0, help="simulator speed (0 = as fast as possible)")
    p.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME@SECONDS")
    p.add_argument("--profile", metavar="PROFILE", help="open this profile")
    p.add_argument("--run", metavar="PROFILE", help="open and start this profile")
    p.add_argument("--screenshot", metavar="PATH", help="with --run: save the window when the run ends, then exit")
    p.add_argument(
        "--screenshot-at",
        type=_within(RUN_TIME, float),
        metavar="SECONDS",
        help="with --screenshot: take it at this run time instead, then end the run",
    )

    p = sub.add_parser("bench-gui", help="window redraw rate and loop timing during a 1-hour run")
    p.add_argument("--history-s", type=_within(RUN_TIME, float), default=3600.0, help="virtual history before the tail")
    p.add_argument("--tail-s", type=_within(TAIL_S, float), default=45.0, help="real-time tail that is measured")
    p.add_argument("--pairs", type=_within(PAIRS, int), default=2, help="alternating headless/windowed runs")
    p.add_argument("--out", default="gui_bench.json")

    p = sub.add_parser(
        "bench-safety", help="time the output going off when the controller dies, stalls or loses the supply"
    )
    p.add_argument("--repeats", type=int, default=20, help="trials per scenario (kill, sighup, stall, disconnect)")
    p.add_argument("--out", default="safety_bench.json")

    p = sub.add_parser("bench-soak", help="memory over many runs in one process, and over one long hold")
    p.add_argument("--runs", type=int, default=1000, help="LLZO recipe runs in one process")
    p.add_argument("--hold-hours", type=float, default=10.0, help="virtual hours of the long hold")
    p.add_argument("--out", default="soak_bench.json")

    p = sub.add_parser("bench-catalog", help="how fast `ufs runs` answers over many synthetic run folders")
    p.add_argument("--runs", type=_within(CATALOG_RUNS, int), default=10_000, help="synthetic run folders")
    p.add_argument("--out", default="catalog_bench.json")

    p = sub.add_parser("bench", help="benchmark the controller against baselines over plant variations")
    p.add_argument("--plants", type=_within(PLANTS, int), default=30)
    p.add_argument("--seed", type=_within(SEED, int), default=1)
    p.add_argument("--out", default="bench.json")
    p.add_argument("--jobs", type=_within(JOBS, int), default=2)
    return parser


def _cmd_sim_server(args: argparse.Namespace) -> int:
    from ufs_control.app import load_plant, start_sim_server
    from ufs_control.core.thermal import Wiring

    if args.speed == 0:
        raise ConfigError("<command line>", "--speed", "the socket simulator runs in real time: speed must be > 0")
    params = load_plant(args.plant, args.preset)
    stop = threading.Event()
    drop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_drop(signum: int, frame: FrameType | None) -> None:
        drop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_drop)  # drop every supply connection, as a network fault would
    try:
        server = start_sim_server(
            params,
            host=args.host,
            psu_port=args.psu_port,
            pyrometer_port=args.pyrometer_port,
            speed=args.speed,
            faults=args.fault,
            wiring=Wiring(args.wiring),
            ovp_reply_style=args.ovp_reply,
            log=(lambda line: print(line, flush=True)) if args.log_output else None,
        )
    except ValueError as exc:
        raise ConfigError("<command line>", "--host", str(exc)) from None
    except OSError as exc:
        raise ConfigError("<command line>", "--psu-port/--pyrometer-port", f"cannot listen: {exc.strerror}") from None
    print(f"psu: {server.psu_resource}", flush=True)
    print(f"pyrometer: {server.pyrometer_url}", flush=True)
    try:
        while not stop.wait(0.01):
            if drop.is_set():
                drop.clear()
                server.drop_supply_connections()
    finally:
        server.stop()
    return EXIT_OK


def _cmd_probe(args: argparse.Namespace) -> int:
    from ufs_control.app import probe_pyrometer

    results = probe_pyrometer(args.url)
    if not results:
        print(f"no known protocol answered on {args.url}")
        print(
            "hint: run the vendor software through a spy port, e.g. "
            f"spy://{args.url}?file=ktrd-transcript.txt&raw, and send the transcript with the issue"
        )
        return EXIT_INSTRUMENT
    for r in results:
        ident = r.identity.raw if r.identity else "?"
        rng = f"{r.range_c[0]:g}-{r.range_c[1]:g} °C" if r.range_c else "range unknown"
        reading = r.reading
        if reading is None:
            shown = "no reading"
        elif reading.valid:
            shown = f"{reading.celsius:.1f} °C"
        else:
            shown = reading.status.value
        print(f"{r.codec}: address {r.address:02d}, {ident}, {rng}, reading {shown}")
    return EXIT_OK


def _plant_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plant", metavar="PLANT.toml", help="identified plant file for the model (ufs identify / fit)")
    p.add_argument("--sim-plant", metavar="PLANT.toml", help="the embedded simulator's true plant (simulator only)")


def _load_rig(args: argparse.Namespace) -> RigConfig:
    from dataclasses import replace

    from ufs_control.core.rig import RigConfig, load_rig
    from ufs_control.core.thermal import load_plant_file

    rig = load_rig(args.rig) if getattr(args, "rig", None) else RigConfig()
    if getattr(args, "plant", None):
        params, t90 = load_plant_file(args.plant)
        pyro = rig.pyrometer if rig.pyrometer.t90_s > 0 else replace(rig.pyrometer, t90_s=t90)
        rig = replace(rig, model=params, model_file=str(Path(args.plant).resolve()), pyrometer=pyro)
    if getattr(args, "psu", None) or getattr(args, "psu_channel", None):
        psu = replace(rig.psu, resource=args.psu or rig.psu.resource, channel=args.psu_channel or rig.psu.channel)
        rig = replace(rig, psu=psu)
    if getattr(args, "pyrometer", None) or getattr(args, "pyrometer_protocol", None):
        from ufs_control.app import CODEC_NAMES

        protocol = args.pyrometer_protocol or rig.pyrometer.protocol
        if protocol not in CODEC_NAMES:
            raise ConfigError("<command line>", "--pyrometer-protocol", f"must be one of {', '.join(CODEC_NAMES)}")
        pyro = replace(rig.pyrometer, url=args.pyrometer or rig.pyrometer.url, protocol=protocol)
        rig = replace(rig, pyrometer=pyro)
    return rig


class _ProgressLine:
    """One live line on a terminal; sparse lines when the output is a file or a pipe."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self._last_wall = 0.0
        self._last_sim = -1e9

    def __call__(self, p: Progress) -> None:
        import time

        now = time.monotonic()
        if self.tty and now - self._last_wall < 0.1:
            return
        if not self.tty and p.elapsed_s - self._last_sim < 5.0:
            return
        self._last_wall, self._last_sim = now, p.elapsed_s
        temp = f"{p.temperature_c:7.1f} °C" if p.temperature_c is not None else f"{p.status:>10}"
        sp = f"{p.setpoint_c:7.1f} °C" if p.setpoint_c is not None else "    off  "
        line = f"segment {p.segment:<10} {p.elapsed_s:6.1f}/{p.total_s:.1f} s  T {temp}  SP {sp}  P {p.power_w:6.1f} W"
        if self.tty:
            sys.stdout.write("\r" + line)
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def done(self) -> None:
        if self.tty:
            try:
                sys.stdout.write("\n")
            except OSError:
                pass


def _cmd_run(args: argparse.Namespace) -> int:

    from ufs_control.app import ending_signals, notify_run, open_session
    from ufs_control.core.profile import load_profile
    from ufs_control.runner.records import Outcome

    profile = load_profile(args.profile)
    rig = _load_rig(args)
    simulate = args.sim or rig.simulated
    if not simulate and (args.fault or args.speed):
        raise ConfigError("<command line>", "--fault/--speed", "only apply to the simulator (add --sim)")
    if not simulate and (not rig.psu.resource or not rig.pyrometer.url):
        raise ConfigError(rig.source, "psu.resource/pyrometer.url", "give both instrument addresses, or use --sim")
    runs_dir = _prepare_runs_dir(args.runs_dir)
    line = _ProgressLine()
    session = open_session(
        rig,
        simulate=simulate,
        runs_dir=runs_dir,
        speed=args.speed,
        faults=args.fault,
        progress=line,
        seed=args.seed,
        sim_params=_sim_plant(args, simulate),
    )
    _say(session.banner)
    from ufs_control.app import prepare_run

    try:
        companion = prepare_run(session, rig, profile, runs_dir, learn=args.learn or rig.controller.learn, warn=_warn)
    except BaseException:
        session.close()
        raise
    for text in companion.before:
        _say(text)
    # The run is over and the output is off when the block ends: a signal then ends the process the ordinary way.
    with ending_signals(session.runner):
        try:
            result = session.runner.run(profile, operator=args.operator, sample_id=args.sample)
        finally:
            session.close()
            line.done()
    notify_run(rig, result, args.operator, args.sample, warn=lambda text: print(f"warning: {text}", file=sys.stderr))
    _say(f"{result.outcome.value}: {result.reason}")
    if not result.output_off_confirmed:
        from ufs_control.runner.records import OUTPUT_OFF_UNCONFIRMED

        print(OUTPUT_OFF_UNCONFIRMED, file=sys.stderr)
    _print_metrics(result.metrics)
    if result.run_dir is not None:
        _say(f"run folder: {result.run_dir}")
    for text in companion.after(result):
        _say(text)
    if result.outcome is Outcome.FINISHED:
        return EXIT_OK
    if result.instrument_failure:
        return EXIT_INSTRUMENT
    return EXIT_TRIPPED


def _prepare_runs_dir(name: str) -> Path:
    from ufs_control.app import prepare_runs_dir

    return prepare_runs_dir(name, "--runs-dir", lambda text: print(text, flush=True))


def _sim_plant(args: argparse.Namespace, simulate: bool) -> ThermalParams | None:
    if not getattr(args, "sim_plant", None):
        return None
    if not simulate:
        raise ConfigError("<command line>", "--sim-plant", "only applies to the simulator (add --sim)")
    from ufs_control.core.thermal import load_params

    return load_params(args.sim_plant)


def _cmd_identify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.app import ending_signals, open_session
    from ufs_control.control.feasibility import first_error
    from ufs_control.control.identify import PYRO_CLEAR_K, IdentificationError, fit_plant
    from ufs_control.core.profile import plan
    from ufs_control.plotting import plot_fit
    from ufs_control.runner.plantfile import (
        identification_profile,
        lowest_maximum_c,
        summary_lines,
        trace_of_run,
        write_plant_file,
    )
    from ufs_control.runner.records import Outcome

    rig = _load_rig(args)
    simulate = args.sim or rig.simulated
    if not simulate and (not rig.psu.resource or not rig.pyrometer.url):
        raise ConfigError(rig.source, "psu.resource/pyrometer.url", "give both instrument addresses, or use --sim")
    if args.max_temperature_c > rig.limits.max_temperature_c:
        raise ConfigError(
            "<command line>",
            "--max-temperature-c",
            f"{args.max_temperature_c:g} is above the rig's limits.max_temperature_c {rig.limits.max_temperature_c:g}",
        )
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigError(str(out), "--out", "its folder does not exist")
    if args.max_temperature_c < lowest_maximum_c(rig):
        raise ConfigError(
            "<command line>",
            "--max-temperature-c",
            f"{args.max_temperature_c:g} is too low: the fit uses pyrometer readings {PYRO_CLEAR_K:g} K clear of the "
            f"range start ({rig.pyrometer.range_c[0]:g} °C); give at least {lowest_maximum_c(rig):g}",
        )
    profile = identification_profile(rig, args.max_temperature_c)
    finding = first_error(profile, rig)
    if finding is not None:
        raise ConfigError("<identify>", f"segment {finding.segment}", f"cannot identify safely: {finding.message}")
    runs_dir = _prepare_runs_dir(args.runs_dir)
    line = _ProgressLine()
    session = open_session(
        rig,
        simulate=simulate,
        runs_dir=runs_dir,
        progress=line,
        seed=args.seed,
        sim_params=_sim_plant(args, simulate),
    )
    _say(session.banner)
    _say(f"identification: {plan(profile).duration_s:.0f} s, up to {args.max_temperature_c - 50:g} °C")
    with ending_signals(session.runner):
        try:
            result = session.runner.run(profile, operator=args.operator, sample_id="identification")
        finally:
            session.close()
            line.done()
    _say(f"identification run {result.outcome.value}: {result.reason}")
    if result.outcome is not Outcome.FINISHED or result.run_dir is None:
        print(f"error: identification run ended early ({result.reason}): no plant file written", file=sys.stderr)
        return EXIT_INSTRUMENT if result.instrument_failure else EXIT_TRIPPED
    try:
        fit = fit_plant([trace_of_run(result.run_dir, rig)], rig.model, rig.wiring)
    except IdentificationError as exc:
        print(f"error: {result.run_dir}: cannot identify the plant: {exc}", file=sys.stderr)
        return EXIT_TRIPPED
    plot = write_plant_file(out, fit, [str(result.run_dir)], plot_fit)
    for text in summary_lines(fit, rig.model):
        _say(text)
    _say(f'plant file: {out} (plot: {plot}); run with --plant {out} or [model] file = "{out}"')
    return EXIT_OK


def _cmd_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.control.identify import IdentificationError, fit_plant
    from ufs_control.plotting import plot_fit
    from ufs_control.runner.plantfile import summary_lines, trace_of_run, write_plant_file

    rig = _load_rig(args)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigError(str(out), "--out", "its folder does not exist")
    traces = []
    for name in args.run_dirs:
        folder = Path(name)
        if not (folder / "samples.csv").is_file():
            raise ConfigError(name, "RUN_DIR", "not a run folder (no samples.csv)")
        try:
            traces.append(trace_of_run(folder, rig))
        except IdentificationError as exc:
            raise ConfigError(name, "RUN_DIR", str(exc)) from None
    try:
        fit = fit_plant(traces, rig.model, rig.wiring)
    except IdentificationError as exc:
        print(f"error: cannot fit the plant: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    plot = write_plant_file(out, fit, [str(Path(n)) for n in args.run_dirs], plot_fit)
    for text in summary_lines(fit, rig.model):
        _say(text)
    _say(f"plant file: {out} (plot: {plot})")
    return EXIT_OK


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _say(text: str) -> None:
    """Print a line; a reader that went away (``| head -1``) must not turn a finished run into a traceback."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_metrics(metrics: dict[str, float | None]) -> None:
    from ufs_control.runner.metrics import METRIC_LABELS

    for key, label, unit in METRIC_LABELS:
        value = metrics.get(key)
        if value is None:
            continue
        if key == "cooling_s":
            label = f"Cooling to {metrics.get('cooling_to_c', 500):g} °C (M11)"
        _say(f"  {label:<32} {value:10.2f} {unit}")


def _cmd_check(args: argparse.Namespace) -> int:
    from ufs_control.control.feasibility import check
    from ufs_control.control.model import PlantModel
    from ufs_control.core.profile import load_profile, plan

    profile = load_profile(args.profile)
    rig = _load_rig(args)
    laid = plan(profile)
    print(f"profile {profile.name}: {profile.description}".rstrip(": "))
    for s in laid.segments:
        print(f"  {s.index + 1:>2} {s.kind:<6} {s.start_s:7.1f} .. {s.end_s:7.1f} s  {s.describe()}")
    print(f"duration {laid.duration_s:.1f} s, peak {laid.peak_c:.0f} °C")
    findings = check(laid, rig, PlantModel(rig.model, rig.wiring))
    for f in findings:
        print(f"{f.level}: {args.profile}: segment {f.segment} ({f.kind}): {f.message}")
    errors = [f for f in findings if f.level == "error"]
    wiring = rig.wiring.value.replace("_", " ")
    if errors:
        print(f"infeasible on this rig ({wiring} wiring, {rig.limits.max_power_w:g} W)")
        return EXIT_BAD_INPUT
    print(f"feasible on this rig ({wiring} wiring, {rig.limits.max_power_w:g} W)")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.plotting import write_plot
    from ufs_control.runner.metrics import compute
    from ufs_control.runner.records import read_samples
    from ufs_control.runner.runstore import RunStore

    run_dir = Path(args.run_dir)
    if args.methods:
        return _report_methods(run_dir, args.rig)
    if args.rig:
        raise ConfigError("<command line>", "--rig", "only applies with --methods")
    csv_path = run_dir / "samples.csv"
    if not csv_path.is_file():
        raise ConfigError(str(run_dir), "", "not a run folder (no samples.csv)")
    notes: list[str] = []
    try:
        samples = read_samples(run_dir, notes)
    except OSError as exc:
        raise ConfigError(str(csv_path), "", f"cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(str(csv_path), "", f"unreadable: {exc}") from None
    store = RunStore(run_dir.parent)
    record = store.record(run_dir)
    summary = store.get(run_dir)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    if record.problems:
        print(
            f"warning: {run_dir / 'run.json'}: {'; '.join(record.problems)} (left out of the report)", file=sys.stderr
        )
    metrics = compute(samples, cooling_to_c=max(500.0, record.pyrometer_low_c))
    print(f"run {run_dir.name}: {record.outcome}: {record.reason}")
    who = ", ".join(x for x in (summary.started_utc, summary.operator, summary.sample_id) if x)
    if who:
        print(f"  {who}")
    _print_metrics(metrics)
    try:
        path = write_plot(run_dir, samples, record.plan, title=run_dir.name)
    except OSError as exc:
        raise ConfigError(str(run_dir / "plot.png"), "", f"cannot write: {exc.strerror}") from None
    print(f"plot: {path}")
    return EXIT_OK


def _report_methods(folder: Path, rig_file: str | None) -> int:
    """The methods paragraph of a run folder, or of a campaign folder's runs (the series)."""
    import dataclasses

    from ufs_control.core.rig import load_rig
    from ufs_control.runner.methods import measure, methods_text

    state = folder / "state.json"
    if state.is_file():
        import json

        from ufs_control.runner.campaign import resolve_run_dir

        try:
            data = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(str(state), "", f"unreadable campaign state: {exc}") from None
        entries = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(str(state), "", 'not a campaign state (no "runs" list)')
        run_dirs = [
            resolve_run_dir(e["run_dir"], folder)
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("run_dir"), str)
        ]
        if not run_dirs:
            raise ConfigError(str(folder), "", "the campaign has no runs yet")
    elif (folder / "run.json").is_file():
        run_dirs = [folder]
    else:
        raise ConfigError(str(folder), "", "not a run folder (no run.json) nor a campaign folder (no state.json)")
    measured = []
    for run_dir in run_dirs:
        try:
            measured.append(measure(run_dir))
        except (OSError, ValueError) as exc:
            raise ConfigError(str(run_dir), "", f"cannot read the run: {exc}") from None
    description = dataclasses.asdict(load_rig(rig_file).description) if rig_file else None
    print(methods_text(measured, description))
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    import csv
    from pathlib import Path

    from ufs_control.runner.runstore import RunFilter, RunStore

    runs_dir = Path(args.runs_dir)
    if not runs_dir.is_dir():
        raise ConfigError(str(runs_dir), "--runs-dir", "no such folder")
    where = RunFilter(since=args.since, profile=args.profile, sample_glob=args.sample, outcome=args.outcome)
    out = None
    if args.csv:  # a path that cannot be written fails before anything is printed
        try:
            out = open(args.csv, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise ConfigError(args.csv, "--csv", f"cannot write: {exc.strerror}") from None
    try:
        runs = RunStore(runs_dir).runs(where)
        columns = [("peak_c", "peak °C"), ("ramp_rate_c_per_s", "ramp °C/s"), ("hold_max_k", "hold max K"),
                   ("soak_s", "soak s")]  # fmt: skip
        head = ["started (UTC)", "run", "sample", "profile", "outcome", *(label for _, label in columns)]
        rows = [head]
        for r in runs:
            cells = [f"{v:.1f}" if (v := r.metric(key)) is not None else "" for key, _ in columns]
            rows.append([r.started_utc[:19].replace("T", " "), r.name, r.sample_id, r.profile, r.outcome, *cells])
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        for row in rows:
            _say(
                "  ".join(
                    c.rjust(w) if i >= 5 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        _say(f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
        if out is not None:
            keys = sorted({k for r in runs for k in r.metrics})
            fields = [
                "run_dir",
                "started_utc",
                "ended_utc",
                "operator",
                "sample_id",
                "profile",
                "outcome",
                "reason",
                "trip",
            ]
            try:
                writer = csv.writer(out)
                writer.writerow([*fields, *keys])
                for r in runs:
                    writer.writerow([str(getattr(r, f)) for f in fields] + [r.metrics.get(k, "") for k in keys])
                out.close()
            except OSError as exc:
                raise ConfigError(args.csv, "--csv", f"cannot write: {exc.strerror}") from None
            _say(f"wrote {args.csv}")
    finally:
        if out is not None:
            out.close()
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.runner.eln import write_eln
    from ufs_control.runner.methods import measure, methods_text
    from ufs_control.runner.report import load_run_json

    run_dir = Path(args.run_dir)
    problems: list[str] = []
    record = load_run_json(run_dir / "run.json", problems) if run_dir.is_dir() else None
    if record is None:
        raise ConfigError(str(run_dir), "", f"not a run folder ({'; '.join(problems) or 'no such folder'})")
    try:
        methods: str | None = methods_text([measure(run_dir)])
    except (OSError, ValueError):
        methods = None  # the export goes on without the paragraph: the files are what matters
    out = Path(args.output) if args.output else Path(f"{run_dir.resolve().name}.eln")
    try:
        write_eln(run_dir, out, record, methods)
    except OSError as exc:
        raise ConfigError(str(out), "-o", f"cannot write: {exc.strerror}") from None
    _say(f"wrote {out}")
    return EXIT_OK


def _cmd_campaign(args: argparse.Namespace) -> int:
    from typing import Any

    from ufs_control.api import open_rig
    from ufs_control.overlay import write_overlay
    from ufs_control.runner.campaign import (
        CampaignItem,
        CampaignState,
        load_campaign,
        overlay_runs,
        rig_identity,
        run_campaign,
        summary_table,
        write_profiles,
        write_summary,
    )
    from ufs_control.runner.records import RunResult

    rig_config = _load_rig(args)
    simulate = args.sim or rig_config.simulated
    if not simulate and args.speed:
        raise ConfigError("<command line>", "--speed", "only applies to the simulator (add --sim)")
    campaign = load_campaign(args.campaign, rig_config)  # every run generated, validated and checked first
    try:
        campaign = write_profiles(campaign)
        state = CampaignState(campaign, rig_identity(rig_config, simulate))
        state.save()
    except OSError as exc:
        raise ConfigError(str(campaign.folder), "", f"cannot write the campaign folder: {exc.strerror}") from None
    rig = open_rig(rig_config, sim=simulate, speed=args.speed)
    where = "the simulator" if simulate else f"supply {rig_config.psu.resource}"
    total = len(campaign.items)
    _say(f"campaign {campaign.name}: {total} runs on {where}; folder {campaign.folder}")
    if state.resumed:
        _say(f"resuming: {state.done_count} of {total} runs done")
    if args.acknowledge:
        item = state.acknowledge(args.acknowledge)
        _say(f"{item.describe()}: trip acknowledged by {args.acknowledge}" if item else "no trip to acknowledge")

    def ask(prompt: str) -> str | None:
        try:
            sys.stdout.write(prompt)
            sys.stdout.flush()
            line = sys.stdin.readline()
        except (OSError, ValueError):
            return None
        return line.strip() if line else None

    def ready(item: CampaignItem) -> bool:
        if args.yes:
            return True
        answer = ask(f"load sample {item.sample_id} and press Enter (q to stop): ")
        return answer is not None and answer.lower() != "q"

    def acknowledge(item: CampaignItem, entry: dict[str, Any]) -> str | None:
        _say(f"{item.describe()} tripped: {entry.get('reason')}")
        if args.yes or not sys.stdin.isatty():
            _say(f"the campaign waits: acknowledge with `ufs campaign {args.campaign} --acknowledge NAME`")
            return None
        answer = ask("check the rig; type your name to acknowledge the trip and go on (empty to stop): ")
        return answer or None

    def run_one(item: CampaignItem) -> RunResult:
        line = _ProgressLine()
        try:
            return rig.run(
                item.profile,
                operator=campaign.operator,
                sample_id=item.sample_id,
                runs_dir=campaign.runs_dir,
                progress=line,
            )
        finally:
            line.done()

    def finish() -> None:
        try:
            csv_path = write_summary(state)
            png = write_overlay(campaign.folder / "overlay.png", overlay_runs(state), f"campaign {campaign.name}")
        except OSError as exc:
            raise ConfigError(str(campaign.folder), "", f"cannot write the summary: {exc.strerror}") from None
        _say(summary_table(state))
        _say(f"summary: {csv_path}")
        _say(f"overlay: {png}")

    unconfirmed: list[str] = []

    def warn(text: str) -> None:
        unconfirmed.append(text)
        print(text, file=sys.stderr, flush=True)

    try:
        complete = run_campaign(state, run_one, ready=ready, acknowledge=acknowledge, log=_say, warn=warn)
    except KeyboardInterrupt:
        finish()
        pending = state.next_item()
        at = f" at {pending.describe()}" if pending else ""
        print(f"interrupted: run the same command to continue{at}", file=sys.stderr)
        return EXIT_TRIPPED
    finish()
    counts = state.counts()
    tally = ", ".join(f"{n} {what}" for what, n in counts.items() if n or what == "finished")
    if complete and counts["finished"] == total:
        _say(f"campaign {campaign.name} complete: {total} of {total} runs finished")
        return EXIT_OK
    if complete:
        _say(f"campaign {campaign.name} ended: {tally} of {total} runs")
        return EXIT_TRIPPED
    trip = state.unacknowledged_trip()
    if unconfirmed:
        stop = " after the supply did not confirm OUTPUT OFF"
    elif trip is not None:
        stop = f" after {trip.describe()} tripped: {state.entry(trip).get('reason')}"
    else:
        pending = state.next_item()
        stop = f" before {pending.describe()}" if pending else ""
    _say(f"campaign {campaign.name} stopped{stop} ({tally} of {total} runs)")
    return EXIT_TRIPPED


def _cmd_felt(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.core.rig import FeltConfig, load_rig
    from ufs_control.runner.felt import felt_history, history_keys, rig_key

    if args.sim and not args.rig:
        raise ConfigError("<command line>", "--sim", "needs --rig RIG.toml")
    runs_dir = Path(args.runs_dir)
    if not runs_dir.is_dir():
        raise ConfigError(str(runs_dir), "--runs-dir", "no such folder")
    config = FeltConfig()
    if args.rig:
        rig = load_rig(args.rig)
        config, keys = rig.felt, [rig_key(rig.source, args.sim)]
    else:
        keys = history_keys(runs_dir)
    if not keys:
        print(f"no runs with a cold resistance in {runs_dir}")
        return EXIT_OK
    histories = [felt_history(runs_dir, key, config, _warn) for key in keys]
    for history in histories:
        print(f"rig {history.key}: {len(history.runs)} runs")
        print(f"  {'date (UTC)':<20} {'run':<40} {'cold R':>8} {'R@1150':>8} {'a':>6} {'T_c':>6}  felt")
        for r in history.runs:
            fit = r.fit
            hot = f"{fit.r_hot_ohm:8.3f}" if fit else f"{'-':>8}"
            shape = f"{fit.ntc_a:6.3f} {fit.ntc_tc_k:6.0f}" if fit else f"{'-':>6} {'-':>6}"
            mark = " replaced" if r.replaced else ""
            print(f"  {r.started_utc[:19]:<20} {r.run[:40]:<40} {r.cold_ohm:8.3f} {hot} {shape}  {r.felt}{mark}")
        for note in history.notes:
            print(f"  note: {note}")
        if (worn := history.worn(config)) is not None:
            print(f"  WARNING: {worn}")
        else:
            cur = history.current
            if cur is not None:
                print(
                    f"  felt {cur.felt}: cold resistance {cur.drift:+.1%} from its first run (worn beyond "
                    f"{config.wear_fraction:+.0%})"
                )
    if args.plot:
        from ufs_control.feltplot import write_felt_plot

        try:
            path = write_felt_plot(Path(args.plot), histories)
        except OSError as exc:
            raise ConfigError(args.plot, "--plot", f"cannot write: {exc.strerror}") from None
        print(f"plot: {path}")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.bench import run_bench

    if args.plants < 1:
        raise ConfigError("<command line>", "--plants", f"must be >= 1, got {args.plants}")
    summary = run_bench(args.plants, args.seed, Path(args.out), jobs=max(1, args.jobs), log=print)
    print(f"wrote {args.out}")
    return EXIT_OK if summary.get("targets_met") else EXIT_TRIPPED


def _cmd_gui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ufs_control.app import run_gui
    from ufs_control.core.profile import load_profile

    rig = _load_rig(args)
    simulate = args.sim or rig.simulated
    if args.screenshot and not args.run:
        raise ConfigError("<command line>", "--screenshot", "needs --run PROFILE")
    profile = args.run or args.profile
    if profile:
        load_profile(profile)  # bad input: one line and exit 2 before any window opens
    runs_dir = Path(args.runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(str(runs_dir), "--runs-dir", f"cannot create: {exc.strerror}") from None
    return run_gui(
        rig,
        simulate,
        runs_dir,
        speed=args.speed,
        faults=args.fault,
        profile=Path(profile) if profile else None,
        run=bool(args.run),
        screenshot=Path(args.screenshot) if args.screenshot else None,
        screenshot_at_s=args.screenshot_at,
    )


def _cmd_bench_gui(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ufs_control.guibench import run_gui_bench

    if args.tail_s < 5:
        raise ConfigError("<command line>", "--tail-s", f"must be >= 5, got {args.tail_s:g}")
    if args.pairs < 1:
        raise ConfigError("<command line>", "--pairs", f"must be >= 1, got {args.pairs}")
    result = run_gui_bench(args.history_s, args.tail_s, Path(args.out), pairs=args.pairs)
    print(json.dumps({k: v for k, v in result.items() if k not in ("headless", "gui")}, indent=2))
    return EXIT_OK if all(result["targets"].values()) else EXIT_TRIPPED


def _cmd_bench_safety(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from ufs_control.safetybench import run_safety_bench

    if not 1 <= args.repeats <= 1000:
        raise ConfigError("<command line>", "--repeats", f"must be 1-1000, got {args.repeats}")
    with tempfile.TemporaryDirectory(prefix="ufs-bench-safety-") as work:
        result = run_safety_bench(args.repeats, Path(args.out), Path(work), log=print)
    for name, entry in result["scenarios"].items():
        shown = f"median {entry['median_s']:.3f} s, max {entry['max_s']:.3f} s" if "median_s" in entry else "no data"
        print(f"{name:<11} {shown}  target {entry['target']}  {'met' if entry['met'] else 'NOT met'}")
    print(f"wrote {args.out}")
    return EXIT_OK if result["targets_met"] else EXIT_TRIPPED


def _cmd_bench_catalog(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ufs_control.catalogbench import run_catalog_bench

    result = run_catalog_bench(args.runs, Path(args.out), log=print)
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return EXIT_OK if result["target_ufs_runs_under_1_s"] else EXIT_TRIPPED


def _cmd_bench_soak(args: argparse.Namespace) -> int:
    import json
    import subprocess
    from pathlib import Path

    if not 1 <= args.runs <= 100_000:
        raise ConfigError("<command line>", "--runs", f"must be 1-100000, got {args.runs}")
    if not 0.01 <= args.hold_hours <= 48:
        raise ConfigError("<command line>", "--hold-hours", f"must be 0.01-48, got {args.hold_hours:g}")
    result: dict[str, object] = {}
    # Each measurement in a fresh process, so the peak memory is its own.
    for kind, amount in (("soak", str(args.runs)), ("hold", str(args.hold_hours))):
        done = subprocess.run(
            [sys.executable, "-m", "ufs_control.soakbench", kind, amount],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"error: the {kind} measurement failed (exit {done.returncode})", file=sys.stderr)
            return EXIT_TRIPPED
        result[kind] = json.loads(done.stdout.strip().splitlines()[-1])
    soak, hold = result["soak"], result["hold"]
    assert isinstance(soak, dict) and isinstance(hold, dict)
    targets = {
        "soak_flat_within_5_mb": soak["growth_after_first_tenth_mb"] <= 5.0,
        "hold_under_200_mb": hold["peak_rss_mb"] < 200.0,
    }
    result["targets"] = targets
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"soak: {soak['runs']} runs, RSS growth after the first tenth {soak['growth_after_first_tenth_mb']:.2f} MB")
    print(f"hold: {hold['hours']:g} h, peak RSS {hold['peak_rss_mb']:.1f} MB, {hold['outcome']}")
    print(f"wrote {args.out}")
    return EXIT_OK if all(targets.values()) else EXIT_TRIPPED


COMMANDS = {
    "sim-server": _cmd_sim_server,
    "probe-pyrometer": _cmd_probe,
    "run": _cmd_run,
    "check": _cmd_check,
    "report": _cmd_report,
    "identify": _cmd_identify,
    "fit": _cmd_fit,
    "runs": _cmd_runs,
    "export": _cmd_export,
    "campaign": _cmd_campaign,
    "felt": _cmd_felt,
    "bench": _cmd_bench,
    "gui": _cmd_gui,
    "bench-gui": _cmd_bench_gui,
    "bench-safety": _cmd_bench_safety,
    "bench-soak": _cmd_bench_soak,
    "bench-catalog": _cmd_bench_catalog,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ufs`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ProfileError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INSTRUMENT
    except UfsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_TRIPPED
