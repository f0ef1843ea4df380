"""In-memory transports: the real drivers talk to the emulators without sockets, on the rig's clock.

:class:`InMemoryResource` looks like a pyvisa message-based resource (``write``/``read``/``query``,
``timeout`` in ms); :class:`InMemoryPort` looks like a pyserial port (``write``/``read_until``).
A missing reply raises :class:`TimeoutError` after advancing the clock by the timeout, like a real wire.
On a real-time clock these waits do not spin (:func:`~ufs_control.core.clock.sleep_coarse`): only the control
loop's own deadline needs to be met to the millisecond.
"""

from __future__ import annotations

from sim.cpx400dp import Session
from sim.rig import SimRig
from ufs_control.core.clock import sleep_coarse


class InMemoryResource:
    """A message-based resource bound to one CPX400DP emulator session."""

    def __init__(self, rig: SimRig, read_termination: str = "\r\n", write_termination: str = "\n") -> None:
        self.rig = rig
        self.session: Session = rig.psu.open_session("in-memory")
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.timeout = 2000.0  # ms, as in pyvisa
        self.resource_name = "SIM::CPX400DP::INSTR"
        self._rx = b""

    def write(self, message: str) -> int:
        data = (message + self.write_termination).encode("ascii")
        with self.rig.lock:
            sleep_coarse(self.rig.clock, self.rig.options.io_time_s)
            self.rig.sync_events()
            if self.session.closed:
                raise BrokenPipeError("in-memory resource: the instrument dropped the connection")
            self._rx += self.session.feed(data, frame_end=True)
        return len(data)

    def read(self) -> str:
        term = self.read_termination.encode("ascii")
        with self.rig.lock:
            if self.session.closed and not self._rx:
                raise ConnectionResetError("in-memory resource: the instrument dropped the connection")
            complete = term in self._rx
            if complete:
                line, self._rx = self._rx.split(term, 1)
        if not complete:
            sleep_coarse(self.rig.clock, self.timeout / 1000.0)
            raise TimeoutError("in-memory resource: read timed out")
        return line.decode("ascii", "replace")

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def close(self) -> None:
        with self.rig.lock:
            self.session.close()


class InMemoryPort:
    """A byte port bound to the pyrometer emulator (what ``serial.serial_for_url`` would return)."""

    def __init__(self, rig: SimRig) -> None:
        self.rig = rig
        self.timeout: float | None = 0.1  # s, as in pyserial
        self.port = "sim://pyrometer"
        self.baudrate = 19200
        self._rx = b""

    def write(self, data: bytes) -> int:
        with self.rig.lock:
            sleep_coarse(self.rig.clock, self.rig.options.io_time_s)
            self.rig.sync()
            self._rx += self.rig.pyrometer.feed(bytes(data))
        return len(data)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        with self.rig.lock:
            idx = self._rx.find(expected)
            if idx >= 0 and (size is None or idx + len(expected) <= size):
                out, self._rx = self._rx[: idx + len(expected)], self._rx[idx + len(expected) :]
                return out
            if size is not None and len(self._rx) >= size:
                out, self._rx = self._rx[:size], self._rx[size:]
                return out
            out, self._rx = self._rx, b""
        # Nothing complete: like pyserial, wait out the timeout and return what there is.
        sleep_coarse(self.rig.clock, self.timeout or 0.0)
        return out

    def read(self, size: int = 1) -> bytes:
        with self.rig.lock:
            short = len(self._rx) < size
            out, self._rx = self._rx[:size], self._rx[size:]
        if short:
            sleep_coarse(self.rig.clock, self.timeout or 0.0)
        return out

    def reset_input_buffer(self) -> None:
        with self.rig.lock:
            self._rx = b""

    def close(self) -> None:
        pass
