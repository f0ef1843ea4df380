"""Injected time. Everything that waits or timestamps takes a :class:`Clock`."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic time source in seconds that can also wait."""

    def now(self) -> float:
        """Return the current time in seconds (monotonic, arbitrary origin)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (>= 0) of this clock's time."""
        ...


SPIN_S = 0.003


def is_real_time(clock: Clock) -> bool:
    """True when ``clock`` waits in wall time (False for a simulator's virtual clock, which says so with a
    ``real_time`` attribute)."""
    return bool(getattr(clock, "real_time", True))


def precise_sleep(seconds: float, spin_s: float = SPIN_S) -> None:
    """Sleep ``seconds`` of wall time, waking on time even when another thread keeps the GIL busy.

    A thread that wakes from ``time.sleep`` needs the GIL back, and in a process that also draws a GUI it
    can wait a few milliseconds for it. So sleep until ``spin_s`` before the deadline, then spin on the
    clock (holding the GIL it has by then) until the deadline.
    """
    if seconds <= 0:
        return
    deadline = time.perf_counter() + seconds
    if seconds > spin_s:
        time.sleep(seconds - spin_s)
    while time.perf_counter() < deadline:
        pass


def sleep_coarse(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` of ``clock``'s time where waking a scheduler tick late does not matter (a simulated
    instrument's I/O time, a timeout). A real-time clock then sleeps without :func:`precise_sleep`'s spin,
    which is for the control loop's own deadline; a clock without a coarse sleep just sleeps."""
    coarse = getattr(clock, "sleep_coarse", None)
    if coarse is not None:
        coarse(seconds)
    else:
        clock.sleep(seconds)


class MonotonicClock:
    """Wall-clock time from :func:`time.monotonic`."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        precise_sleep(seconds)

    def sleep_coarse(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Real time running ``speed`` times faster (speed > 0); ``now()`` starts at 0."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        precise_sleep(seconds / self.speed)

    def sleep_coarse(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
