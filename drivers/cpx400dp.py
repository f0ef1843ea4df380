"""Driver for the Aim-TTi CPX400DP dual DC supply (cpx400dp reference).

The driver takes an open message-based resource (anything with ``write``/``read``/``query`` and a
``timeout`` in ms). :meth:`Cpx400dp.open` is the one place that calls pyvisa. Every command string is
written once, values are validated before the write, replies are parsed with tolerant regexes and the
instrument's error registers are read back after every write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from drivers.lan import SocketResource, parse_socket_resource
from ufs_control.core.errors import (
    InstrumentError,
    InstrumentIdentityError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
    OutOfRangeError,
)
from ufs_control.core.instruments import Identity, LimitStatus

NAME = "CPX400DP"
MODEL = "CPX400DP"

_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
SETPOINT = re.compile(rf"^\s*(?:V|I|VP|CP|DELTAV|DELTAI)?\s*[12]?\s+({_NUM})\s*$|^\s*({_NUM})\s*$")
READBACK = re.compile(rf"^\s*({_NUM})\s*([VA])\s*$")
INT = re.compile(r"^\s*([-+]?\d+)\s*$")

V_RANGE = (0.0, 60.0)
I_RANGE = (0.0, 20.0)
OVP_RANGE = (1.0, 66.0)
OCP_RANGE = (0.0, 22.0)

ESR_QUERY_ERR, ESR_EXEC_ERR, ESR_CMD_ERR = 4, 16, 32
ALL_OFF = "OPALL 0"

T = TypeVar("T")


class MessageResource(Protocol):
    """The seam to the transport: a pyvisa message-based resource satisfies it."""

    timeout: Any

    def write(self, message: str) -> Any: ...

    def read(self) -> str: ...

    def query(self, message: str) -> str: ...


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    # pyvisa.errors.VisaIOError with VI_ERROR_TMO, without importing pyvisa here.
    return type(exc).__name__ == "VisaIOError" and "TMO" in str(getattr(exc, "abbreviation", exc))


def _check(name: str, value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    if not (low <= value <= high):  # also rejects NaN
        raise OutOfRangeError(name, value, low, high)
    return float(value)


def _channel(channel: int) -> int:
    if channel not in (1, 2):
        raise OutOfRangeError("channel", channel, 1, 2)
    return channel


class Cpx400dp:
    """One CPX400DP on one interface connection. Construction does no I/O."""

    def __init__(self, resource: MessageResource, name: str = NAME) -> None:
        self.resource = resource
        self.name = name
        self.identity: Identity | None = None
        self._needs_resync = False

    @classmethod
    def open(cls, resource_name: str, timeout_s: float = 2.0, backend: str = "@py") -> Cpx400dp:
        """Open ``TCPIP::<ip>::9221::SOCKET`` (a raw socket that sees a dropped connection at once, see
        :mod:`drivers.lan`) or ``ASRL...::INSTR`` through pyvisa (pyvisa-py by default)."""
        address = parse_socket_resource(resource_name)
        if address is not None:
            try:
                lan = SocketResource(address[0], address[1], timeout_ms=timeout_s * 1000.0)
            except OSError as exc:
                raise InstrumentError(NAME, f"cannot open {resource_name!r}: {exc}") from exc
            return cls(lan, name=f"{NAME} at {resource_name}")
        import pyvisa  # the one place that names pyvisa

        try:
            rm = pyvisa.ResourceManager(backend)
            kwargs: dict[str, Any] = {
                "read_termination": "\r\n",
                "write_termination": "\n",
                "timeout": int(timeout_s * 1000),
            }
            if resource_name.upper().startswith("ASRL"):
                from pyvisa.constants import ControlFlow, Parity, StopBits

                kwargs.update(
                    baud_rate=9600,
                    data_bits=8,
                    parity=Parity.none,
                    stop_bits=StopBits.one,
                    flow_control=ControlFlow.xon_xoff,
                )
            resource = rm.open_resource(resource_name, **kwargs)
        except Exception as exc:  # pyvisa raises many types; all mean "cannot reach it"
            raise InstrumentError(NAME, f"cannot open {resource_name!r}: {exc}") from exc
        return cls(cast(MessageResource, resource), name=f"{NAME} at {resource_name}")

    # --- transport ----------------------------------------------------------------------------

    def _io(self, command: str, action: Callable[[], T]) -> T:
        if self._needs_resync:
            self.resynchronise()
        try:
            return action()
        except Exception as exc:
            if _is_timeout(exc):
                self._needs_resync = True
                raise InstrumentTimeout(self.name, command) from exc
            if isinstance(exc, InstrumentError):
                raise
            raise InstrumentError(self.name, f"I/O error on {command!r}: {exc}") from exc

    def _write(self, command: str) -> None:
        self._io(command, lambda: self.resource.write(command))

    def _query(self, command: str) -> str:
        return self._io(command, lambda: self.resource.query(command))

    def _query_int(self, command: str) -> int:
        reply = self._query(command)
        m = INT.match(reply)
        if m is None:
            self._needs_resync = True
            raise InstrumentReplyError(self.name, command, reply)
        return int(m.group(1))

    def _query_setpoint(self, command: str) -> float:
        reply = self._query(command)
        m = SETPOINT.match(reply)
        if m is None:
            self._needs_resync = True
            raise InstrumentReplyError(self.name, command, reply)
        return float(m.group(1) or m.group(2))

    def _write_checked(self, command: str) -> None:
        """Send ``command`` and read ``*ESR?`` in the same transaction; raise what the unit reports."""
        esr = self._query_int(f"{command};*ESR?")
        self._raise_for_esr(esr, command)

    def _raise_for_esr(self, esr: int, command: str) -> None:
        if esr & ESR_EXEC_ERR:
            code = self._query_int("EER?")
            raise InstrumentReportedError(self.name, code, command, "EER")
        if esr & ESR_CMD_ERR:
            raise InstrumentReportedError(self.name, esr, command, "ESR")
        if esr & ESR_QUERY_ERR:
            code = self._query_int("QER?")
            raise InstrumentReportedError(self.name, code, command, "QER")

    def resynchronise(self) -> None:
        """Drop stale input after a timeout or garbled reply, then clear the error registers."""
        self._needs_resync = False
        saved = self.resource.timeout
        try:
            self.resource.timeout = 50
            for _ in range(32):
                try:
                    self.resource.read()
                except Exception as exc:
                    if _is_timeout(exc):
                        break
                    raise
        finally:
            self.resource.timeout = saved
        try:
            self.resource.query("*ESR?")
            self.resource.query("EER?")
        except Exception as exc:
            self._needs_resync = True
            if _is_timeout(exc):
                raise InstrumentTimeout(self.name, "*ESR?") from exc
            raise InstrumentError(self.name, f"resynchronisation failed: {exc}") from exc

    # --- identity and set-up ------------------------------------------------------------------

    def identify(self) -> Identity:
        """Read ``*IDN?`` and check the model field; keep the identity for the run record."""
        raw = self._query("*IDN?")
        fields = [f.strip() for f in raw.split(",")]
        if len(fields) < 2 or MODEL not in fields[1].upper().replace(" ", ""):
            raise InstrumentIdentityError(self.name, MODEL, raw)
        fields += [""] * (4 - len(fields))
        self.identity = Identity(fields[0], fields[1], fields[2], fields[3], raw.strip())
        return self.identity

    def clear_status(self) -> None:
        """Clear the status structure (``*CLS``)."""
        self._write("*CLS")

    def lock_interface(self) -> bool:
        """Request the exclusive interface lock; True when granted."""
        return self._query_int("IFLOCK") == 1

    def unlock_interface(self) -> bool:
        """Release the interface lock; True on success."""
        return self._query_int("IFUNLOCK") == 0

    # --- per-channel commands -----------------------------------------------------------------

    def set_voltage(self, channel: int, volts: float) -> None:
        """Set the voltage setpoint of ``channel`` in V (0-60; never the blocking verify form)."""
        n, v = _channel(channel), _check("voltage", volts, V_RANGE)
        self._write_checked(f"V{n} {v:.3f}")

    def set_current_limit(self, channel: int, amps: float) -> None:
        """Set the current limit of ``channel`` in A (0-20)."""
        n, a = _channel(channel), _check("current", amps, I_RANGE)
        self._write_checked(f"I{n} {a:.3f}")

    def set_voltage_and_current(self, channel: int, volts: float, amps: float) -> None:
        """Set voltage (V, 0-60) and current limit (A, 0-20) of ``channel`` in one transaction."""
        n = _channel(channel)
        v, a = _check("voltage", volts, V_RANGE), _check("current", amps, I_RANGE)
        self._write_checked(f"V{n} {v:.3f};I{n} {a:.3f}")

    def read_voltage_setpoint(self, channel: int) -> float:
        return self._query_setpoint(f"V{_channel(channel)}?")

    def read_current_limit(self, channel: int) -> float:
        return self._query_setpoint(f"I{_channel(channel)}?")

    def set_output(self, channel: int, on: bool) -> None:
        """Switch ``channel`` on or off."""
        self._write_checked(f"OP{_channel(channel)} {1 if on else 0}")

    def read_output_state(self, channel: int) -> bool:
        return self._query_int(f"OP{_channel(channel)}?") == 1

    def set_all_outputs_off(self) -> None:
        """Switch every output off in one command (``OPALL 0``) and check the error registers."""
        self._write_checked(ALL_OFF)

    def force_outputs_off(self) -> None:
        """Send ``OPALL 0`` without waiting for any reply: the path for a unit that may not be answering."""
        try:
            self.resource.write(ALL_OFF)
        except Exception as exc:
            raise InstrumentError(self.name, f"could not send {ALL_OFF!r}: {exc}") from exc

    def measure_output(self, channel: int) -> tuple[float, float]:
        """Return the metered (volts, amps) of ``channel`` from one grouped query (meters refresh at 4 Hz)."""
        n = _channel(channel)
        command = f"V{n}O?;I{n}O?"

        def grouped() -> tuple[str, str]:
            first = self.resource.query(command)
            return first, self.resource.read()

        first, second = self._io(command, grouped)
        mv, mi = READBACK.match(first), READBACK.match(second)
        if mv is None or mi is None or mv.group(2) != "V" or mi.group(2) != "A":
            self._needs_resync = True
            raise InstrumentReplyError(self.name, command, f"{first!r} {second!r}")
        return float(mv.group(1)), float(mi.group(1))

    def set_ovp(self, channel: int, volts: float) -> None:
        """Set the over-voltage trip of ``channel`` in V (1-66; trips in about 1 ms)."""
        n, v = _channel(channel), _check("OVP", volts, OVP_RANGE)
        self._write_checked(f"OVP{n} {v:.1f}")

    def read_ovp(self, channel: int) -> float:
        """Read the OVP setting in V (accepts ``VP1 30.0`` and bare ``30.0``)."""
        return self._query_setpoint(f"OVP{_channel(channel)}?")

    def set_ocp(self, channel: int, amps: float) -> None:
        """Set the over-current trip of ``channel`` in A (0-22; trips after about 0.5 s)."""
        n, a = _channel(channel), _check("OCP", amps, OCP_RANGE)
        self._write_checked(f"OCP{n} {a:.2f}")

    def read_ocp(self, channel: int) -> float:
        """Read the OCP setting in A (accepts ``CP1 22.00`` and bare ``22.00``)."""
        return self._query_setpoint(f"OCP{_channel(channel)}?")

    def read_limit_status(self, channel: int) -> LimitStatus:
        """Read and clear the Limit Event Status Register of ``channel``."""
        return LimitStatus(self._query_int(f"LSR{_channel(channel)}?"))

    def reset_trips(self) -> None:
        """Attempt to clear OVP/OCP trips (``TRIPRST``); outputs stay off until switched on."""
        self._write_checked("TRIPRST")

    def close(self) -> None:
        close = getattr(self.resource, "close", None)
        if close is not None:
            close()
