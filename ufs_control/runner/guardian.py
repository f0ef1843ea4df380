"""The guardian: the one owner of the supply connection, which switches the output off when the controller
dies, stalls or asks it to (docs/decisions/0005-guardian-owns-the-supply.md).

The guardian holds the supply's interface lock for the whole run, so nobody else can write to the supply,
and the control loop's supply commands reach the supply only through it, over a local pipe. Every request
is a heartbeat. The guardian keeps no control logic; it only

- forwards the controller's supply calls and answers them;
- switches the output off (and confirms it) when the pipe closes (the controller died, by any signal or
  crash), when no request came for ``watchdog_s`` while armed (the loop stalled), on SIGUSR1 or SIGTERM,
  and at the controller's normal end;
- reconnects when the supply connection drops or stops answering, and switches the output off through
  the new connection;
- refuses every further write once it has tripped, so the run stops with the guardian's reason.

:class:`GuardianCore` is that logic, independent of time and transport. :func:`serve` runs it as a separate
OS process on pipes in real time; :class:`LocalLink` runs it in-process on the simulator's virtual clock.
:class:`GuardedSupply` is the controller's side: a :class:`~ufs_control.core.instruments.PowerSupply` whose
calls go to the guardian.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ufs_control.core.clock import Clock, sleep_coarse
from ufs_control.core.errors import (
    GuardianError,
    GuardianTrip,
    InstrumentError,
    InstrumentIdentityError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
    OutOfRangeError,
    SupplyInUseError,
    UfsError,
)
from ufs_control.core.instruments import Identity, LimitStatus
from ufs_control.core.interlocks import STALL_HINT

# Supply calls the controller may send, and whether each is a write the guardian refuses after a trip.
METHODS: dict[str, bool] = {
    "identify": False,
    "set_voltage_and_current": True,
    "set_output": True,
    "read_output_state": False,
    "measure_output": False,
    "read_limit_status": False,
    "set_ovp": True,
    "set_ocp": True,
    "read_ovp": False,
    "read_ocp": False,
    "set_all_outputs_off": False,
    "force_outputs_off": False,
    "reset_trips": True,
}
CONFIRM_ATTEMPTS = 3
RELEASE_RETRY_S = 2.0  # how long the normal end keeps trying an off it could not confirm at once
OFF_METHODS = ("set_all_outputs_off", "force_outputs_off")


class LockableSupply(Protocol):
    """What the guardian needs of a supply connection: the supply calls, the interface lock, close."""

    def lock_interface(self) -> bool: ...

    def unlock_interface(self) -> bool: ...

    def set_all_outputs_off(self) -> None: ...

    def force_outputs_off(self) -> None: ...

    def read_output_state(self, channel: int) -> bool: ...

    def close(self) -> None: ...


# --- the wire: one JSON object per line -----------------------------------------------------------


def encode_value(value: Any) -> Any:
    """Turn a supply call's result into JSON."""
    if isinstance(value, Identity):
        return {"identity": [value.vendor, value.model, value.serial, value.firmware, value.raw]}
    if isinstance(value, LimitStatus):
        return {"lsr": value.raw}
    if isinstance(value, tuple):
        return list(value)
    return value


def decode_value(method: str, value: Any) -> Any:
    """Turn JSON back into what the supply call returns."""
    if method == "identify":
        return Identity(*value["identity"])
    if method == "read_limit_status":
        return LimitStatus(int(value["lsr"]))
    if method == "measure_output":
        return float(value[0]), float(value[1])
    return value


def encode_error(exc: UfsError) -> dict[str, Any]:
    """Describe an error so the controller can raise the same type with the same fields."""
    if isinstance(exc, GuardianTrip):
        return {"kind": "trip", "name": exc.name, "reason": exc.reason, "confirmed": exc.confirmed}
    if isinstance(exc, SupplyInUseError):
        return {"kind": "in_use", "instrument": exc.instrument, "holder": exc.holder}
    if isinstance(exc, InstrumentTimeout):
        return {"kind": "timeout", "instrument": exc.instrument, "command": exc.command}
    if isinstance(exc, InstrumentReplyError):
        return {"kind": "reply", "instrument": exc.instrument, "command": exc.command, "reply": str(exc.reply)}
    if isinstance(exc, InstrumentReportedError):
        return {
            "kind": "reported",
            "instrument": exc.instrument,
            "code": exc.code,
            "command": exc.command,
            "register": exc.register,
        }
    if isinstance(exc, InstrumentIdentityError):
        return {"kind": "identity", "instrument": exc.instrument, "expected": exc.expected, "idn": exc.idn}
    if isinstance(exc, OutOfRangeError):
        return {"kind": "range", "name": exc.name, "value": exc.value, "low": exc.low, "high": exc.high}
    if isinstance(exc, InstrumentError):
        return {"kind": "instrument", "instrument": exc.instrument, "message": str(exc)}
    return {"kind": "error", "message": str(exc)}


def decode_error(err: dict[str, Any]) -> UfsError:
    """Rebuild the error :func:`encode_error` described."""
    kind = err.get("kind")
    if kind == "trip":
        return GuardianTrip(err["name"], err["reason"], bool(err.get("confirmed", True)))
    if kind == "in_use":
        return SupplyInUseError(err["instrument"], err.get("holder", "another client"))
    if kind == "timeout":
        return InstrumentTimeout(err["instrument"], err["command"])
    if kind == "reply":
        return InstrumentReplyError(err["instrument"], err["command"], err["reply"])
    if kind == "reported":
        return InstrumentReportedError(err["instrument"], int(err["code"]), err["command"], err["register"])
    if kind == "identity":
        return InstrumentIdentityError(err["instrument"], err["expected"], err["idn"])
    if kind == "range":
        return OutOfRangeError(err["name"], float(err["value"]), float(err["low"]), float(err["high"]))
    instrument = str(err.get("instrument", "supply"))
    message = str(err.get("message", "unknown error"))
    prefix = f"{instrument}: "
    return InstrumentError(instrument, message[len(prefix) :] if message.startswith(prefix) else message)


# --- the guardian's logic ---------------------------------------------------------------------------


class GuardianCore:
    """Owns one supply connection and its lock; forwards calls; switches off on death, stall and request.

    ``connect`` opens a fresh connection (it is called again to reconnect); ``record`` receives the
    guardian's own actions (``events.jsonl`` entries). Not thread-safe: one caller at a time.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        clock: Clock,
        *,
        watchdog_s: float,
        name: str = "supply",
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.connect = connect
        self.clock = clock
        self.watchdog_s = watchdog_s
        self.name = name
        self.record = record or (lambda event: None)
        self.psu: Any = None
        self.armed = False
        self.last_beat = clock.now()
        self.trip: GuardianTrip | None = None
        self.released = False
        self.recovering: InstrumentError | None = None  # the connection failed; reconnect after replying
        self.off_confirmed: bool | None = None  # the last off: confirmed from the output state, or not

    # --- life cycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and take the interface lock; refuse (nothing else sent) when another client holds it."""
        psu = self.connect()
        try:
            locked = psu.lock_interface()
        except Exception:
            psu.close()
            raise
        if not locked:
            psu.close()
            raise SupplyInUseError(self.name)
        self.psu = psu
        self.last_beat = self.clock.now()

    def release(self) -> bool:
        """The normal end: output off and confirmed, lock released, connection closed. True if confirmed.

        An off that cannot be confirmed at once is tried again for a moment before the answer goes back.
        """
        confirmed = self._quench() or self.keep_trying_off(RELEASE_RETRY_S, lambda s: sleep_coarse(self.clock, s))
        self.released = True
        self.armed = False
        psu, self.psu = self.psu, None
        if psu is not None:
            try:
                psu.unlock_interface()
            except UfsError:
                pass  # closing the connection releases the lock too
            psu.close()
        return confirmed

    # --- requests ---------------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request from the controller (every request is a heartbeat)."""
        rid = request.get("id")
        op = request.get("op")
        self.beat()
        try:
            if op == "call":
                method = str(request.get("method"))
                value = self._call(method, list(request.get("args", [])))
                reply: dict[str, Any] = {"id": rid, "ok": True, "value": encode_value(value)}
            elif op == "beat":
                if self.trip is not None:
                    raise self.trip
                reply = {"id": rid, "ok": True, "value": None}
            elif op == "arm":
                self.armed = True
                reply = {"id": rid, "ok": True, "value": None}
            elif op == "stop":
                self.stop(str(request.get("reason", "output switched off at the controller's request")))
                reply = {"id": rid, "ok": True, "value": None}
            elif op == "release":
                reply = {"id": rid, "ok": True, "value": self.release()}
            else:
                reply = {"id": rid, "ok": False, "error": {"kind": "error", "message": f"unknown op {op!r}"}}
        except UfsError as exc:
            reply = {"id": rid, "ok": False, "error": encode_error(exc)}
        self.beat()
        return reply

    def beat(self) -> None:
        self.last_beat = self.clock.now()

    def _call(self, method: str, args: list[Any]) -> Any:
        if method not in METHODS:
            raise GuardianError(f"unknown supply call {method!r}")
        writes = METHODS[method] and not (method == "set_output" and len(args) > 1 and not args[1])
        if self.trip is not None and (writes or self.psu is None):
            raise self.trip
        if self.psu is None:
            raise GuardianError("no supply connection")
        if method == "set_output" and len(args) > 1 and args[1]:
            self.armed = True  # an output that is on is always watched
        try:
            return getattr(self.psu, method)(*args)
        except (InstrumentReportedError, InstrumentReplyError, InstrumentIdentityError, OutOfRangeError):
            raise  # the supply answered: the controller's interlocks decide
        except InstrumentError as exc:
            # Answer at once so the controller trips now; :meth:`recover` reconnects and switches off next.
            self.recovering = exc
            what = "stopped answering" if isinstance(exc, InstrumentTimeout) else "connection lost"
            cause = f"no reply to {exc.command!r}" if isinstance(exc, InstrumentTimeout) else _cause(exc)
            if self.trip is None:
                self.trip = GuardianTrip(
                    "supply_link",
                    f"supply {self.name} {what} ({cause}); switching the output off through a new connection",
                    confirmed=False,
                )
            raise self.trip from exc

    # --- the guardian's own actions -----------------------------------------------------------------

    def check_watchdog(self) -> None:
        """Trip when armed and no request came for longer than the watchdog time."""
        if not self.armed or self.trip is not None or self.released:
            return
        silent = self.clock.now() - self.last_beat
        if silent > self.watchdog_s:
            self._trip(
                "watchdog", f"control loop stalled {silent * 1000:.0f} ms (watchdog {self.watchdog_s:g} s){STALL_HINT}"
            )

    def time_to_watchdog(self) -> float | None:
        """Seconds until the watchdog would fire (None when it is not armed)."""
        if not self.armed or self.trip is not None or self.released:
            return None
        return max(0.0, self.last_beat + self.watchdog_s - self.clock.now())

    def controller_died(self, how: str = "controller died") -> bool:
        """The pipe closed: switch off, release, and record it. Returns True when the off was confirmed."""
        if not self.released:
            self._trip("watchdog", how)
            return self.release()
        return True

    def stop(self, reason: str) -> None:
        """Output off now, at the controller's request (SIGUSR1, or the ``stop`` request)."""
        self._trip("stop", reason)

    def _trip(self, name: str, reason: str) -> None:
        confirmed = self._quench()
        if self.trip is None:
            self.trip = GuardianTrip(name, reason, confirmed)
        self.record({"type": "guardian", "action": "output_off", "reason": reason, "confirmed": confirmed})

    def recover(self) -> None:
        """After a lost or silent connection (already answered with a trip): reconnect, switch off, confirm."""
        exc = self.recovering
        if exc is None:
            return
        self.recovering = None
        old, self.psu = self.psu, None
        if old is not None:
            try:
                old.force_outputs_off()  # in case the unit still listens on the old connection
            except UfsError:
                pass
            try:
                old.close()
            except Exception:
                pass
        confirmed = self._quench()  # reconnects first
        how = "reconnected and switched the output off" if self.psu is not None else "could not reconnect"
        what = "stopped answering" if isinstance(exc, InstrumentTimeout) else "connection lost"
        cause = f"no reply to {exc.command!r}" if isinstance(exc, InstrumentTimeout) else _cause(exc)
        reason = f"supply {self.name} {what} ({cause}); {how}" + ("" if confirmed else ", NOT confirmed")
        if self.trip is None or self.trip.name == "supply_link":
            self.trip = GuardianTrip("supply_link", reason, confirmed)
        self.record({"type": "guardian", "action": "output_off", "reason": reason, "confirmed": confirmed})

    def keep_trying_off(self, give_up_after_s: float, sleep: Callable[[float], None]) -> bool:
        """The off could not be confirmed and the controller is gone: keep reconnecting and switching off,
        backing off from 0.5 s to 10 s, recording each attempt, until confirmed or ``give_up_after_s``."""
        wait, end = 0.5, self.clock.now() + give_up_after_s
        while not self.off_confirmed and self.clock.now() < end:
            sleep(min(wait, max(0.0, end - self.clock.now())))
            wait = min(wait * 2.0, 10.0)
            self._drop_connection()
            confirmed = self._quench()
            self.record({"type": "guardian", "action": "retry_off", "confirmed": confirmed})
        return bool(self.off_confirmed)

    def _quench(self) -> bool:
        """Send the off command at once, then confirm it from the output state; True when confirmed.

        Without a connection, or after one that failed, it reconnects (taking the lock again) and tries again.
        """
        confirmed = False
        for _ in range(CONFIRM_ATTEMPTS):
            if self.psu is None:
                try:
                    self.open()
                except UfsError:
                    continue
            psu = self.psu
            try:
                psu.force_outputs_off()
            except UfsError:
                pass
            try:
                psu.set_all_outputs_off()
                confirmed = not any(psu.read_output_state(ch) for ch in (1, 2))
            except (InstrumentReportedError, InstrumentReplyError):
                continue  # it answered (a refusal, garbage): the connection itself is fine
            except UfsError:
                self._drop_connection()  # silent or gone: the next attempt goes through a new connection
                continue
            if confirmed:
                break
        self.off_confirmed = confirmed
        return confirmed

    def _drop_connection(self) -> None:
        psu, self.psu = self.psu, None
        if psu is not None:
            try:
                psu.close()
            except Exception:
                pass


def _cause(exc: Exception) -> str:
    """The innermost part of an error message (drivers prefix the instrument and the command)."""
    return str(exc).rsplit(": ", 1)[-1]


# --- the guardian as a process ----------------------------------------------------------------------


def serve(core: GuardianCore, rfd: int, wfd: int) -> str:
    """Run ``core`` on a pipe pair in real time until the controller releases it or dies.

    Returns how it ended: ``"released"`` (the normal end), ``"died"`` (the controller's pipe closed) or
    ``"terminated"`` (SIGTERM).

    Terminal signals (SIGHUP, SIGINT, SIGQUIT) are ignored: the guardian must outlive what kills its
    controller. SIGTERM switches off and exits; SIGUSR1 switches off and trips (the controller's stop).
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, lambda signum, frame: None)  # handled through the wakeup fd
    buffer = b""
    while True:
        wait = core.time_to_watchdog()
        readable, _, _ = select.select([rfd, wake_r], [], [], 1.0 if wait is None else wait)
        if wake_r in readable:
            for signum in os.read(wake_r, 64):
                if signum == signal.SIGTERM:
                    core.controller_died("guardian terminated (SIGTERM)")
                    return "terminated"
                if signum == signal.SIGUSR1:
                    core.stop("output switched off at the controller's request")
        if rfd in readable:
            try:
                data = os.read(rfd, 65536)
            except OSError:
                data = b""
            if not data:
                core.controller_died()
                return "died"
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    request = json.loads(line)
                except ValueError:
                    continue
                reply = core.handle(request)
                try:
                    os.write(wfd, (json.dumps(reply) + "\n").encode())
                except OSError:
                    core.recover()
                    core.controller_died()
                    return "died"
                core.recover()
                if core.released:
                    return "released"
        core.check_watchdog()


# --- the controller's side --------------------------------------------------------------------------


class Link(Protocol):
    """A request/reply channel to a guardian."""

    def request(self, message: dict[str, Any], long: bool = False) -> dict[str, Any]: ...

    def urgent_stop(self) -> None: ...

    def close(self) -> None: ...


class LocalLink:
    """The guardian in-process (the embedded simulator on a virtual clock): same core, direct calls.

    Before each request the watchdog is checked against the clock, so a stall in virtual time trips
    exactly as a real one would.
    """

    def __init__(self, core: GuardianCore) -> None:
        self.core = core
        self._lock = threading.RLock()

    def request(self, message: dict[str, Any], long: bool = False) -> dict[str, Any]:
        with self._lock:
            self.core.check_watchdog()
            reply = self.core.handle(message)
            self.core.recover()
            return reply

    def urgent_stop(self) -> None:
        with self._lock:
            self.core.stop("output switched off at the controller's request")

    def close(self) -> None:
        with self._lock:
            if not self.core.released:
                self.core.controller_died("controller closed the guardian without releasing it")


class PipeLink:
    """A guardian process: started with ``argv``, spoken to over its stdin/stdout, each call with a deadline.

    The process is put in a session of its own, so a terminal close (SIGHUP to the foreground process
    group), Ctrl-C or Ctrl-\\ reach the controller but not the guardian.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        start_timeout_s: float = 15.0,
        call_timeout_s: float = 0.5,
        end_timeout_s: float = 5.0,
    ) -> None:
        self.call_timeout_s = call_timeout_s  # one supply call: a guardian that takes longer is hung
        self.end_timeout_s = end_timeout_s  # switching off, confirming, reconnecting
        self._lock = threading.Lock()
        self._buffer = b""
        self.dead: str | None = None
        # Its messages go to a file, never a pipe nobody reads (a full pipe would block the guardian).
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise GuardianError(f"could not start the guardian process: {exc}") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._wfd = self.proc.stdin.fileno()
        self._rfd = self.proc.stdout.fileno()
        hello = self._read_line(time.monotonic() + start_timeout_s)
        if hello is None:
            raise self._died("did not start")
        ready = json.loads(hello)
        if not ready.get("ok"):
            self.proc.wait(5.0)
            raise decode_error(ready.get("error", {}))

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def request(self, message: dict[str, Any], long: bool = False) -> dict[str, Any]:
        """Send one request and wait for its reply; ``long`` for requests that switch off and confirm."""
        with self._lock:
            if self.dead is not None:
                raise GuardianError(self.dead)
            try:
                os.write(self._wfd, (json.dumps(message) + "\n").encode())
            except OSError:
                raise self._died("closed its pipe") from None
            deadline = time.monotonic() + (self.end_timeout_s if long else self.call_timeout_s)
            while True:
                line = self._read_line(deadline)
                if line is None:
                    raise self._died("stopped answering" if self.proc.poll() is None else "died")
                reply: dict[str, Any] = json.loads(line)
                if reply.get("id") == message.get("id"):
                    return reply

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self._rfd], [], [], left)
            if not readable:
                continue
            chunk = os.read(self._rfd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _died(self, what: str) -> GuardianError:
        if self.proc.poll() is None:
            self.proc.kill()  # hung: it cannot be trusted with the supply any more
        try:
            code = self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            code = None
        detail = ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else ""
        except OSError:
            detail = ""
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self.dead = f"guardian process {what} ({how})" + (f": {detail}" if detail else "")
        return GuardianError(self.dead)

    def urgent_stop(self) -> None:
        """Ask the guardian to switch the output off now, without the pipe (safe in a signal handler)."""
        if self.dead is None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGUSR1)
            except OSError:
                pass

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self.proc.wait(5.0)  # EOF on its stdin: it switches off and exits by itself
        except subprocess.TimeoutExpired:
            pass  # still trying to confirm an off it could not confirm: leave it to it
        self._stderr.close()


class GuardedSupply:
    """The controller's supply: every call goes through the guardian (a :class:`PowerSupply`).

    ``fallback_off`` switches the output off over a fresh connection of this process's own; it is used
    only when the guardian died (its connection, and with it the lock, are gone by then).
    """

    def __init__(self, link: Link, fallback_off: Callable[[], bool] | None = None) -> None:
        self.link = link
        self.fallback_off = fallback_off
        self._ids = 0
        self._ids_lock = threading.Lock()
        self.fallback_used: bool | None = None
        self.tripped = False

    def _request(self, op: str, **fields: Any) -> Any:
        with self._ids_lock:
            self._ids += 1
            rid = self._ids
        # Switching off (and anything after the guardian tripped, when it may be reconnecting) may take a
        # few supply timeouts; any other call must come back within one, or the guardian is hung.
        long = self.tripped or op in ("release", "stop") or fields.get("method") in OFF_METHODS
        try:
            reply = self.link.request({"id": rid, "op": op, **fields}, long=long)
        except GuardianError as exc:
            raise self._guardian_gone(exc) from None
        if reply.get("ok"):
            return reply.get("value")
        error = decode_error(reply.get("error", {}))
        if isinstance(error, GuardianTrip):
            self.tripped = True
        raise error

    def _guardian_gone(self, exc: GuardianError) -> GuardianError:
        if not self.fallback_used and self.fallback_off is not None:  # again, if an earlier try failed
            try:
                self.fallback_used = self.fallback_off()
            except Exception:
                self.fallback_used = False
        if self.fallback_used is None:
            return exc
        state = "confirmed" if self.fallback_used else "NOT confirmed"
        return GuardianError(f"{str(exc).removeprefix('guardian: ')}; output switched off directly ({state})")

    def _call(self, method: str, *args: Any) -> Any:
        return decode_value(method, self._request("call", method=method, args=list(args)))

    # --- the guardian's own requests ----------------------------------------------------------------

    def keepalive(self) -> None:
        """The loop's heartbeat for a tick that sent no other supply command."""
        self._request("beat")

    def arm(self) -> None:
        """Watch the loop from now on (the run is heating)."""
        self._request("arm")

    def urgent_stop(self) -> None:
        """Output off now, from any thread or a signal handler, without waiting for the loop."""
        self.link.urgent_stop()

    def release(self) -> bool:
        """The normal end: the guardian switches off, confirms, unlocks and exits. True when confirmed."""
        try:
            confirmed = bool(self._request("release"))
        except GuardianError:
            confirmed = bool(self.fallback_used)
        finally:
            self.link.close()
        return confirmed

    # --- PowerSupply ------------------------------------------------------------------------------

    def identify(self) -> Identity:
        result: Identity = self._call("identify")
        return result

    def set_voltage_and_current(self, channel: int, volts: float, amps: float) -> None:
        self._call("set_voltage_and_current", channel, volts, amps)

    def set_output(self, channel: int, on: bool) -> None:
        self._call("set_output", channel, on)

    def read_output_state(self, channel: int) -> bool:
        return bool(self._call("read_output_state", channel))

    def measure_output(self, channel: int) -> tuple[float, float]:
        result: tuple[float, float] = self._call("measure_output", channel)
        return result

    def read_limit_status(self, channel: int) -> LimitStatus:
        result: LimitStatus = self._call("read_limit_status", channel)
        return result

    def set_ovp(self, channel: int, volts: float) -> None:
        self._call("set_ovp", channel, volts)

    def set_ocp(self, channel: int, amps: float) -> None:
        self._call("set_ocp", channel, amps)

    def read_ovp(self, channel: int) -> float:
        return float(self._call("read_ovp", channel))

    def read_ocp(self, channel: int) -> float:
        return float(self._call("read_ocp", channel))

    def set_all_outputs_off(self) -> None:
        self._call("set_all_outputs_off")

    def force_outputs_off(self) -> None:
        self._call("force_outputs_off")

    def reset_trips(self) -> None:
        self._call("reset_trips")
