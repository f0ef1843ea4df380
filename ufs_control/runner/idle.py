"""Readings between runs: the pyrometer and the supply's meters, read slowly, never written to.

After a run the felt is still hot and the operator must see it cool; before one they must see that it is
cold and the output off. :class:`IdleMonitor` reads both instruments about twice a second in a thread of
its own, only with queries (``measure_output``, ``read_output_state``: no setting, no output command), and
is stopped before a run starts, so nothing competes with the run's guardian for the supply or with the
loop for the pyrometer (docs/decisions/0005). A failed read is kept as a failure, never as a number.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ufs_control.core.clock import Clock
from ufs_control.core.errors import UfsError
from ufs_control.core.instruments import Pyrometer, PyrometerReading

IDLE_PERIOD_S = 0.5
IDLE_CAPACITY = 7200  # one hour at 2 Hz
STALE_S = 3.0  # a reading older than this is shown greyed out, with its time


@dataclass(frozen=True)
class MeterReading:
    """The supply's own read-back: output voltage (V) and current (A) summed over the run's outputs, and
    whether any of them is on."""

    volts: float
    amps: float
    output_on: bool


SupplyMeters = Callable[[], MeterReading]
"""Open the supply, query its meters and output state, close it; raise UfsError when it cannot."""


@dataclass(frozen=True)
class IdleReading:
    """One idle read. ``t`` is on the runner's clock (for the plot); ``mono`` is :func:`time.monotonic`
    (for staleness) and ``wall`` is :func:`time.time` (for the time shown). ``pyrometer`` is None when the
    read failed (``pyrometer_error`` says why); ``meters`` likewise."""

    t: float
    mono: float
    wall: float
    pyrometer: PyrometerReading | None
    pyrometer_error: str = ""
    meters: MeterReading | None = None
    meters_error: str = ""


class IdleMonitor:
    """Reads the instruments every ``period_s`` while started; a bounded history of what it read."""

    def __init__(
        self,
        pyrometer: Pyrometer,
        meters: SupplyMeters | None,
        clock: Clock,
        period_s: float = IDLE_PERIOD_S,
        capacity: int = IDLE_CAPACITY,
        supply_busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.pyrometer = pyrometer
        self.meters = meters
        self.clock = clock
        self.period_s = period_s
        self.supply_busy = supply_busy  # e.g. an emergency stop's off between runs holds the supply
        self._lock = threading.Lock()
        self._readings: deque[IdleReading] = deque(maxlen=capacity)
        self._count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start reading (no-op when already reading)."""
        if self.running:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,), name="ufs-idle", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop reading and wait for the read under way to end; True when the thread has ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._thread = None
        return True

    def clear(self) -> None:
        with self._lock:
            self._readings.clear()
            self._count += 1  # readers holding an older count see a change and re-read

    def latest(self) -> IdleReading | None:
        with self._lock:
            return self._readings[-1] if self._readings else None

    def read_since(self, count: int) -> tuple[int, list[IdleReading], bool]:
        """(count now, readings since ``count``, full): ``full`` when everything is returned instead."""
        with self._lock:
            new = self._count - count
            if new < 0 or new > len(self._readings):
                return self._count, list(self._readings), True
            return self._count, list(self._readings)[len(self._readings) - new :], False

    def read_once(self) -> IdleReading:
        """Read both instruments once (queries only) and keep the result."""
        pyro: PyrometerReading | None = None
        pyro_error = meters_error = ""
        try:
            pyro = self.pyrometer.read_temperature()
        except UfsError as exc:
            pyro_error = str(exc)
        meters: MeterReading | None = None
        if self.meters is None:
            meters_error = "not read"
        elif self.supply_busy():
            meters_error = "supply busy"
        else:
            try:
                meters = self.meters()
            except UfsError as exc:
                meters_error = str(exc)
        reading = IdleReading(self.clock.now(), time.monotonic(), time.time(), pyro, pyro_error, meters, meters_error)
        with self._lock:
            self._readings.append(reading)
            self._count += 1
        return reading

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.read_once()
            except Exception as exc:  # a broken instrument object must not kill the readings silently
                failed = IdleReading(
                    self.clock.now(),
                    time.monotonic(),
                    time.time(),
                    None,
                    f"{type(exc).__name__}: {exc}",
                    None,
                    "not read",
                )
                with self._lock:
                    self._readings.append(failed)
                    self._count += 1
            stop.wait(self.period_s)  # wall time: a virtual clock must not spin here
