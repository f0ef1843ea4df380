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

    def latest(self) -> Sample | None:
        with self._lock:
            return self._data[-1] if self._data else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
