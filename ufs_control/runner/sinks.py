"""Consumers the control loop feeds without ever waiting on them.

The run record goes through a bounded queue to its own writer thread: samples are never dropped, and if
the disk cannot keep up or a write fails the loop is told (it trips with the output off). Progress for a
terminal goes through a one-slot mailbox to its own thread: a stopped terminal (Ctrl-S, a stalled SSH
window) or a broken pipe only ever loses progress lines, never a tick.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ufs_control.runner.records import RunRecorder, Sample

QUEUE_SAMPLES = 12_000  # ten minutes at 20 Hz: far more than any disk hiccup
# In virtual time the loop may run at most this many records ahead of the disk (one simulated second at
# 20 Hz), so a write failure trips the run where it happened, however slow the machine.
VIRTUAL_LAG_RECORDS = 20
T = TypeVar("T")


class RecordWriter:
    """Writes samples and events to a :class:`RunRecorder` from a bounded queue, in a thread of its own."""

    def __init__(self, recorder: RunRecorder, capacity: int = QUEUE_SAMPLES, wait_when_full: bool = False) -> None:
        self.recorder = recorder
        # In virtual time the loop outruns any disk, and waiting costs no simulated time: wait for room
        # instead of calling a full queue a failure (in real time a full queue is ten minutes behind).
        self.wait_when_full = wait_when_full
        self.error: str | None = None
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._work, name="ufs-record-writer", daemon=True)
        self._thread.start()

    def sample(self, sample: Sample) -> None:
        self._put(("sample", sample))

    def event(self, record: dict[str, Any]) -> None:
        self._put(("event", record))

    def _put(self, item: tuple[str, Any]) -> None:
        try:
            if self.wait_when_full and self.error is None:
                self._queue.put(item, timeout=60.0)
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            self.error = self.error or f"the disk is not keeping up ({self._queue.maxsize} records queued)"

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is not None and item[0] == "sample":
                continue  # a failed file is not written to again; the loop trips on ``error``
            kind, payload = item
            try:
                if kind == "sample":
                    self.recorder.sample(payload)
                else:
                    self.recorder.write_event(payload)
            except OSError as exc:
                self.error = self.error or f"{exc.strerror or exc} ({self.recorder.dir})"
            except ValueError as exc:  # the file was closed underneath
                self.error = self.error or str(exc)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, then stop the thread (waits at most ``timeout_s``)."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)


class Mailbox(Generic[T]):
    """Delivers the latest item to ``consumer`` in a thread of its own; older undelivered items are replaced.

    A consumer that raises ``OSError`` (a broken pipe) is not called again.
    """

    def __init__(self, consumer: Callable[[T], None], name: str = "ufs-progress") -> None:
        self.consumer = consumer
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def post(self, item: T) -> None:
        with self._cond:
            self._item = item
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._item is None and not self._closed:
                    self._cond.wait()
                item, self._item = self._item, None
                if item is None:
                    return
            try:
                self.consumer(item)
            except OSError:
                return

    def close(self, timeout_s: float = 0.5) -> None:
        """Deliver the last item if the consumer keeps up, then stop (never waits more than ``timeout_s``)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)
