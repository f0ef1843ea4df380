"""Transcript fakes: assert the exact bytes a driver writes and feed back the instrument's bytes."""

from __future__ import annotations

from collections import deque


class TranscriptResource:
    """A message resource that replays ``(expected write, [reply lines])`` steps in order.

    A reply entry of ``None`` means the instrument stays silent (the read times out).
    """

    def __init__(self, steps: list[tuple[str, list[str | None]]]) -> None:
        self.steps = deque(steps)
        self.timeout = 2000
        self.written: list[str] = []
        self._pending: deque[str | None] = deque()

    def write(self, message: str) -> int:
        assert self.steps, f"unexpected write {message!r}: transcript exhausted"
        expected, replies = self.steps.popleft()
        assert message == expected, f"wrote {message!r}, transcript expects {expected!r}"
        self.written.append(message)
        self._pending.extend(replies)
        return len(message)

    def read(self) -> str:
        if not self._pending:
            raise TimeoutError("transcript: nothing to read")
        reply = self._pending.popleft()
        if reply is None:
            raise TimeoutError("transcript: silent")
        return reply

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def done(self) -> bool:
        return not self.steps and not self._pending


class TranscriptPort:
    """A byte port replaying ``(expected request bytes, reply bytes)`` steps."""

    def __init__(self, steps: list[tuple[bytes, bytes]]) -> None:
        self.steps = deque(steps)
        self.timeout = 0.2
        self._rx = b""

    def write(self, data: bytes) -> int:
        assert self.steps, f"unexpected write {data!r}"
        expected, reply = self.steps.popleft()
        assert data == expected, f"wrote {data!r}, transcript expects {expected!r}"
        self._rx += reply
        return len(data)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        idx = self._rx.find(expected)
        if idx >= 0 and (size is None or idx + len(expected) <= size):
            out, self._rx = self._rx[: idx + len(expected)], self._rx[idx + len(expected) :]
            return out
        if size is not None and len(self._rx) >= size:
            out, self._rx = self._rx[:size], self._rx[size:]
            return out
        out, self._rx = self._rx, b""
        return out

    def reset_input_buffer(self) -> None:
        self._rx = b""
