"""A virtual clock: ``sleep`` advances time instantly, so simulated runs take no wall time."""

from __future__ import annotations

import threading


class VirtualClock:
    """Simulated seconds; thread-safe; starts at ``start`` (default 0)."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time by {seconds}")
        with self._lock:
            self._t += seconds
