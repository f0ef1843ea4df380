"""The bounded, decimated display buffer between the control loop and the GUI (the run log stays lossless).

Appends never block for long; when full, the older half is thinned to every second sample, so a long run
keeps its whole history at decreasing resolution and the recent past at full resolution.
"""

from __future__ import annotations

import threading

from ufs_control.runner.records import Sample


class DisplayBuffer:
    """Thread-safe ring of samples with a generation counter so readers can tell when it was thinned."""

    def __init__(self, capacity: int = 8192) -> None:
        if capacity < 16:
            raise ValueError("capacity must be >= 16")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._data: list[Sample] = []
        self._appended = 0
        self._generation = 0

    def append(self, sample: Sample) -> None:
        with self._lock:
            self._data.append(sample)
            self._appended += 1
            if len(self._data) >= self.capacity:
                half = len(self._data) // 2
                self._data = self._data[:half:2] + self._data[half:]
                self._generation += 1

    def clear(self) -> None:
        with self._lock:
            self._data = []
            self._generation += 1

    def snapshot(self) -> tuple[int, int, list[Sample]]:
        """Return (generation, total appended, a copy of the samples)."""
        with self._lock:
            return self._generation, self._appended, list(self._data)

    def read_since(self, generation: int, appended: int) -> tuple[int, int, list[Sample], bool]:
        """Return (generation, total appended, samples, full).

        With the caller's last ``generation`` and ``appended`` count, only the samples appended since are
        returned (``full`` False); after a thinning or a clear, everything is returned (``full`` True).
        """
        with self._lock:
            new = self._appended - appended
            if generation != self._generation or new < 0 or new > len(self._data):
                return self._generation, self._appended, list(self._data), True
            return self._generation, self._appended, self._data[len(self._data) - new :], False

    def latest(self) -> Sample | None:
        with self._lock:
            return self._data[-1] if self._data else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
