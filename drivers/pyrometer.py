"""Pyrometer driver on a byte port with a swappable wire codec (pyrometer reference §4-§6).

The driver takes a byte port (``write``, ``read_until``) such as the object ``serial.serial_for_url``
returns, so ``/dev/ttyUSB0``, ``socket://host:port``, ``loop://`` and ``spy://...`` all work.
A codec turns "read the temperature" into bytes and a reply frame into a :class:`PyrometerReading`.
Adding the confirmed Maurer protocol is one new codec class plus one entry in :data:`CODECS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from ufs_control.core.errors import ConfigError, InstrumentError, InstrumentReplyError, InstrumentTimeout
from ufs_control.core.instruments import Identity, PyrometerReading, PyrometerStatus

S = PyrometerStatus


@dataclass(frozen=True)
class SerialSettings:
    """Serial framing a codec expects by default (ignored on ``socket://``)."""

    baudrate: int
    bytesize: int = 8
    parity: str = "N"  # pyserial letters: N, E, O
    stopbits: int = 1
    xonxoff: bool = False


class BytePort(Protocol):
    """What the driver needs of a port: a pyserial ``Serial`` from ``serial_for_url`` satisfies it."""

    timeout: Any

    def write(self, data: bytes, /) -> Any: ...

    def read_until(self, expected: bytes = ..., size: int | None = ...) -> bytes: ...


class Codec(Protocol):
    """One wire protocol. Frames are requests/replies; ``range_c`` is the configured measuring range."""

    name: str
    default_settings: SerialSettings
    probe_addresses: tuple[int, ...]

    def encode_read(self, address: int) -> bytes: ...

    def read_reply(self, port: BytePort) -> bytes:
        """Read one reply frame from ``port`` (b"" when nothing came)."""
        ...

    def decode_read(self, frame: bytes, range_c: tuple[float, float]) -> PyrometerReading: ...

    def identify(self, port: BytePort, address: int) -> Identity | None:
        """Ask the device who it is; None when it does not answer."""
        ...

    def read_range(self, port: BytePort, address: int) -> tuple[float, float] | None:
        """Ask the device for its measuring range in °C; None if the protocol cannot tell."""
        ...


def _exchange(port: BytePort, request: bytes, terminator: bytes) -> bytes:
    port.write(request)
    return bytes(port.read_until(terminator))


class UppCodec:
    """UPP-style ASCII (Impac/LumaSense family): ``AAms<CR>`` -> 5 digits in tenths of °C + CR.

    Sentinels: 77770 not ready, 88880 above range, 75550/74440 head temperature fault, and a value
    below the configured range start (range start - 1 °C) means below range.
    """

    name: str = "upp"
    default_settings: SerialSettings = SerialSettings(19200, 8, "E", 1)
    probe_addresses: tuple[int, ...] = (0, 1, 99)
    _DIGITS = re.compile(rb"^(\d{5})\r$")

    def encode_read(self, address: int) -> bytes:
        return f"{address:02d}ms\r".encode()

    def read_reply(self, port: BytePort) -> bytes:
        return bytes(port.read_until(b"\r"))

    def decode_read(self, frame: bytes, range_c: tuple[float, float]) -> PyrometerReading:
        m = self._DIGITS.match(frame)
        if m is None:
            return PyrometerReading(S.GARBLED, raw=frame)
        code = int(m.group(1))
        if code == 77770:
            return PyrometerReading(S.NOT_READY, raw=frame)
        if code == 88880:
            return PyrometerReading(S.ABOVE_RANGE, raw=frame)
        if code in (75550, 74440):
            return PyrometerReading(S.HEAD_FAULT, raw=frame)
        if code > 77769:
            return PyrometerReading(S.GARBLED, raw=frame)
        celsius = code / 10.0
        low, high = range_c
        if celsius < low:
            return PyrometerReading(S.BELOW_RANGE, raw=frame)
        if celsius > high:
            return PyrometerReading(S.ABOVE_RANGE, raw=frame)
        return PyrometerReading(S.OK, celsius, raw=frame)

    def identify(self, port: BytePort, address: int) -> Identity | None:
        name = _exchange(port, f"{address:02d}na\r".encode(), b"\r")
        if not name.endswith(b"\r") or len(name) < 2:
            return None
        serial = _exchange(port, f"{address:02d}sn\r".encode(), b"\r")
        text = name.decode("ascii", "replace").strip()
        sn = serial.decode("ascii", "replace").strip() if serial.endswith(b"\r") else ""
        return Identity("", text, sn, "", f"{text}; sn {sn}")

    def read_range(self, port: BytePort, address: int) -> tuple[float, float] | None:
        reply = _exchange(port, f"{address:02d}mb\r".encode(), b"\r")
        m = re.match(rb"^([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})\r$", reply)
        if m is None:
            return None
        return float(int(m.group(1), 16)), float(int(m.group(2), 16))


class RaytekCodec:
    """Raytek/Fluke-style ASCII: ``?T<CR>`` -> ``!T1150.0<CR>``; ``!TUUUU`` under, ``!TOOOO`` over."""

    name: str = "raytek"
    default_settings: SerialSettings = SerialSettings(9600, 8, "N", 1)
    probe_addresses: tuple[int, ...] = (0,)
    _VALUE = re.compile(rb"^!T\s*([-+]?\d+(?:\.\d+)?)\r$")

    def encode_read(self, address: int) -> bytes:
        return b"?T\r"

    def read_reply(self, port: BytePort) -> bytes:
        return bytes(port.read_until(b"\r"))

    def decode_read(self, frame: bytes, range_c: tuple[float, float]) -> PyrometerReading:
        if frame == b"!TUUUU\r":
            return PyrometerReading(S.BELOW_RANGE, raw=frame)
        if frame == b"!TOOOO\r":
            return PyrometerReading(S.ABOVE_RANGE, raw=frame)
        if frame == b"!T----\r":
            return PyrometerReading(S.NOT_READY, raw=frame)
        m = self._VALUE.match(frame)
        if m is None:
            return PyrometerReading(S.GARBLED, raw=frame)
        celsius = float(m.group(1))
        low, high = range_c
        if celsius < low:
            return PyrometerReading(S.BELOW_RANGE, raw=frame)
        if celsius > high:
            return PyrometerReading(S.ABOVE_RANGE, raw=frame)
        return PyrometerReading(S.OK, celsius, raw=frame)

    def identify(self, port: BytePort, address: int) -> Identity | None:
        reply = _exchange(port, b"?SN\r", b"\r")
        m = re.match(rb"^!SN(.*)\r$", reply)
        if m is None:
            return None
        sn = m.group(1).decode("ascii", "replace").strip()
        return Identity("Raytek-compatible", "", sn, "", f"sn {sn}")

    def read_range(self, port: BytePort, address: int) -> tuple[float, float] | None:
        reply = _exchange(port, b"?XR\r", b"\r")
        m = re.match(rb"^!XR\s*(\d+)\s+(\d+)\r$", reply)
        return (float(m.group(1)), float(m.group(2))) if m else None


class OptrisCodec:
    """Optris CT-style binary (RS485 multi-drop): request ``0xB0+addr, 0x01``; reply 2 bytes + XOR.

    T = (b0*256 + b1 - 1000) / 10 °C. The trailing byte is the XOR of the two data bytes (this project's
    framing; without it a single flipped bit would pass unnoticed).
    """

    name: str = "optris"
    default_settings: SerialSettings = SerialSettings(115200, 8, "N", 1)
    probe_addresses: tuple[int, ...] = (1,)

    def encode_read(self, address: int) -> bytes:
        return bytes([0xB0 + (address & 0x0F), 0x01])

    def read_reply(self, port: BytePort) -> bytes:
        return bytes(port.read_until(b"\x00\x00\x00\x00", 3))

    def decode_read(self, frame: bytes, range_c: tuple[float, float]) -> PyrometerReading:
        if len(frame) != 3 or frame[0] ^ frame[1] != frame[2]:
            return PyrometerReading(S.GARBLED, raw=frame)
        celsius = (frame[0] * 256 + frame[1] - 1000) / 10.0
        low, high = range_c
        if celsius < low:
            return PyrometerReading(S.BELOW_RANGE, raw=frame)
        if celsius > high:
            return PyrometerReading(S.ABOVE_RANGE, raw=frame)
        return PyrometerReading(S.OK, celsius, raw=frame)

    def identify(self, port: BytePort, address: int) -> Identity | None:
        port.write(self.encode_read(address))
        frame = self.read_reply(port)
        if self.decode_read(frame, (-1e9, 1e9)).status is S.GARBLED:
            return None
        return Identity("Optris-compatible", "", "", "", f"address {address}")

    def read_range(self, port: BytePort, address: int) -> tuple[float, float] | None:
        return None


CODECS: dict[str, type[UppCodec] | type[RaytekCodec] | type[OptrisCodec]] = {
    "upp": UppCodec,
    "raytek": RaytekCodec,
    "optris": OptrisCodec,
}


def make_codec(name: str) -> Codec:
    """Return a codec instance by configuration name (``upp``, ``raytek``, ``optris``)."""
    try:
        return CODECS[name]()
    except KeyError:
        raise ConfigError(
            "<config>",
            "pyrometer.protocol",
            f"unknown protocol {name!r}, expected one of {', '.join(CODECS)}",
        ) from None


class KtrdPyrometer:
    """A two-colour pyrometer on a byte port. Construction does no I/O.

    ``range_c`` is the configured measuring range in °C; readings outside it are never temperatures.
    """

    def __init__(
        self,
        port: BytePort,
        codec: Codec | None = None,
        address: int = 0,
        range_c: tuple[float, float] = (600.0, 2000.0),
        name: str = "pyrometer",
    ) -> None:
        low, high = range_c
        if not low < high:
            raise ConfigError("<config>", "pyrometer.range_c", f"must have low < high, got {range_c}")
        self.port = port
        self.codec: Codec = codec or UppCodec()
        self.address = address
        self.range_c = (float(low), float(high))
        self.name = name
        self.identity: Identity | None = None

    @classmethod
    def open(
        cls,
        url: str,
        codec_name: str = "upp",
        address: int = 0,
        range_c: tuple[float, float] = (600.0, 2000.0),
        timeout_s: float = 0.2,
        settings: SerialSettings | None = None,
    ) -> KtrdPyrometer:
        """Open ``url`` with ``serial.serial_for_url`` using the codec's (or the given) serial settings."""
        codec = make_codec(codec_name)
        port = open_port(url, settings or codec.default_settings, timeout_s)
        return cls(port, codec, address, range_c, name=f"pyrometer at {url}")

    def read_temperature(self) -> PyrometerReading:
        """Send one read request; a timeout or garbage becomes a status, never an exception."""
        try:
            self.port.write(self.codec.encode_read(self.address))
            frame = self.codec.read_reply(self.port)
        except OSError as exc:
            raise InstrumentError(self.name, f"port error: {exc}") from exc
        if not frame:
            return PyrometerReading(S.TIMEOUT)
        reading = self.codec.decode_read(frame, self.range_c)
        if reading.status is S.GARBLED:
            _drain(self.port)
        return reading

    def identify(self) -> Identity:
        """Ask the head for its name and serial number; raise when it does not answer."""
        identity = self.codec.identify(self.port, self.address)
        if identity is None:
            raise InstrumentTimeout(self.name, f"identify ({self.codec.name})")
        self.identity = identity
        return identity

    def read_range(self) -> tuple[float, float]:
        """Read the head's own measuring range in °C (raise if the protocol or head cannot tell)."""
        value = self.codec.read_range(self.port, self.address)
        if value is None:
            raise InstrumentReplyError(self.name, "read range", b"")
        return value

    def close(self) -> None:
        close = getattr(self.port, "close", None)
        if close is not None:
            close()


def _drain(port: BytePort) -> None:
    reset = getattr(port, "reset_input_buffer", None)
    if reset is not None:
        reset()


def open_port(url: str, settings: SerialSettings, timeout_s: float) -> Any:
    """Open a pyserial port from a URL (the one place that names pyserial)."""
    import serial

    try:
        return serial.serial_for_url(
            url,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            xonxoff=settings.xonxoff,
            timeout=timeout_s,
        )
    except (serial.SerialException, ValueError, OSError) as exc:
        raise InstrumentError("pyrometer", f"cannot open {url!r}: {exc}") from exc


@dataclass(frozen=True)
class ProbeResult:
    """What a probe found for one codec."""

    codec: str
    address: int
    identity: Identity | None
    range_c: tuple[float, float] | None
    reading: PyrometerReading | None


def probe(url: str, timeout_s: float = 0.3) -> list[ProbeResult]:
    """Try each known codec at its usual serial settings and addresses; return those that answered."""
    found: list[ProbeResult] = []
    for name, codec_cls in CODECS.items():
        codec = codec_cls()
        port = open_port(url, codec.default_settings, timeout_s)
        try:
            for address in codec.probe_addresses:
                _drain(port)
                identity = codec.identify(port, address)
                if identity is None:
                    continue
                rng = codec.read_range(port, address)
                head = KtrdPyrometer(port, codec, address, rng or (0.0, 3000.0))
                found.append(ProbeResult(name, address, identity, rng, head.read_temperature()))
                break
        finally:
            port.close()
    return found
