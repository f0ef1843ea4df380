"""A virtual clock: ``sleep`` advances time instantly, so simulated runs take no wall time."""

from __future__ import annotations

import threading
import time

from ufs_control.core.clock import precise_sleep


class VirtualClock:
    """Simulated seconds; thread-safe; starts at ``start`` (default 0)."""

    real_time = False  # sleeping advances time instantly

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t  # one attribute read is atomic; the lock orders the read-modify-write of advance

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time by {seconds}")
        with self._lock:
            self._t += seconds


class FastForwardClock:
    """Virtual time up to ``real_after_s``, then real time (monotonic) from there on.

    Lets a benchmark produce a long history instantly and then measure the real-time behaviour at its end.
    """

    def __init__(self, real_after_s: float) -> None:
        self.real_after_s = real_after_s
        self._virtual = 0.0
        self._real_start: float | None = None
        self._lock = threading.Lock()

    @property
    def real_time(self) -> bool:
        with self._lock:
            return self._real_start is not None

    def now(self) -> float:
        with self._lock:
            if self._real_start is None:
                return self._virtual
            return self.real_after_s + (time.monotonic() - self._real_start)

    def sleep(self, seconds: float) -> None:
        if self._advance(seconds):
            precise_sleep(seconds)

    def sleep_coarse(self, seconds: float) -> None:
        if self._advance(seconds):
            time.sleep(seconds)

    def _advance(self, seconds: float) -> bool:
        """Spend ``seconds`` of virtual time if it is still running; return True if they are real."""
        if seconds <= 0:
            return False
        with self._lock:
            if self._real_start is None:
                self._virtual += seconds
                if self._virtual >= self.real_after_s:
                    self._virtual = self.real_after_s
                    self._real_start = time.monotonic()
                return False
        return True
