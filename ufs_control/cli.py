"""The ``ufs`` command line. Bad input gives one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ufs_control.core.errors import ConfigError, InstrumentError, ProfileError, UfsError

EXIT_OK, EXIT_TRIPPED, EXIT_BAD_INPUT, EXIT_INSTRUMENT = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message}\n")


def _positive_or_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _fault(text: str) -> object:
    from ufs_control.app import parse_fault_spec

    try:
        return parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ufs", description="Ultrafast-sintering rig controller")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("sim-server", help="serve the simulated supply and pyrometer on loopback sockets")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--psu-port", type=_port, default=9221)
    p.add_argument("--pyrometer-port", type=_port, default=9222)
    p.add_argument("--preset", choices=["A", "B"], default="A", help="plant preset (B: with BN plates)")
    p.add_argument("--plant", metavar="PLANT.toml", help="plant parameters file (overrides --preset)")
    p.add_argument("--wiring", choices=["series", "parallel", "per_channel"], default="series")
    p.add_argument("--speed", type=_positive_or_zero, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--ovp-reply", choices=["manual", "bare"], default="manual", help="OVP?/OCP? reply style")
    p.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME@SECONDS")

    p = sub.add_parser("probe-pyrometer", help="find which known protocol a pyrometer speaks")
    p.add_argument("url", help="serial port or URL: /dev/ttyUSB0, socket://host:port, spy://...")
    return parser


def _cmd_sim_server(args: argparse.Namespace) -> int:
    from ufs_control.app import load_plant, start_sim_server
    from ufs_control.core.thermal import Wiring

    if args.speed == 0:
        raise ConfigError(
            "<command line>", "--speed", "the socket simulator runs in real time: speed must be > 0"
        )
    params = load_plant(args.plant, args.preset)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
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
        )
    except ValueError as exc:
        raise ConfigError("<command line>", "--host", str(exc)) from None
    except OSError as exc:
        raise ConfigError(
            "<command line>", "--psu-port/--pyrometer-port", f"cannot listen: {exc.strerror}"
        ) from None
    print(f"psu: {server.psu_resource}", flush=True)
    print(f"pyrometer: {server.pyrometer_url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
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


COMMANDS = {
    "sim-server": _cmd_sim_server,
    "probe-pyrometer": _cmd_probe,
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
