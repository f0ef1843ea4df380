"""Wire-level emulator of the two-colour pyrometer (default: the UPP-style ASCII codec).

The optical state follows the felt temperature with a t90 lag that slows near the lower range limit
(dynamic exposure); reads add noise and quantisation. Below the range the device answers range start
minus 1 °C, above it 88880, during warm-up 77770 (pyrometer reference §4).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

PROTOCOLS = ("upp", "raytek")


FOG_RATE_K_PER_S = 20.0  # how fast a deposit shifts the ratio reading ...
FOG_MAX_K = 200.0  # ... up to about a 1.25 ratio error on 0.90/1.05 µm bands at 1000 °C (thermal-model §4)


class KtrdEmulator:
    """A pyrometer head on a byte stream: feed request bytes, get reply bytes."""

    def __init__(
        self,
        now: Callable[[], float],
        range_c: tuple[float, float] = (600.0, 2000.0),
        t90_s: float = 0.01,
        noise_k: float = 0.5,
        quantum_k: float = 0.1,
        not_ready_s: float = 0.5,
        address: int = 0,
        protocol: str = "upp",
        name: str = "KTRD 4085-1 (simulated)",
        serial_number: str = "SIM00001",
        seed: int = 0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown pyrometer protocol {protocol!r}, expected one of {PROTOCOLS}")
        low, high = range_c
        if not low < high:
            raise ValueError(f"measuring range must have low < high, got {range_c}")
        self.now = now
        self.range_c = (float(low), float(high))
        self.t90_s = t90_s
        self.noise_k = noise_k
        self.quantum_k = quantum_k
        self.not_ready_s = not_ready_s
        self.address = address
        self.protocol = protocol
        self.name = name
        self.serial_number = serial_number
        self.optical_c: float | None = None
        self._t_on = now()
        self._rng = random.Random(seed)
        self._buf = b""
        # Faults.
        self.silent = False
        self.garbled = False
        self.force_below_range = False
        self.stuck_c: float | None = None
        self.fogged_since: float | None = None  # a deposit builds up on the window and shifts the ratio reading

    # --- physics ---------------------------------------------------------------------------

    def step(self, dt: float, target_c: float) -> None:
        """Let the optical signal follow the felt temperature ``target_c`` for ``dt`` seconds."""
        self.follow(dt, target_c, target_c)

    def follow(self, dt: float, start_c: float, end_c: float) -> None:
        """Let the optical signal follow a felt temperature going linearly from ``start_c`` to ``end_c`` over
        ``dt`` seconds (the exact response of the first-order lag, so ``dt`` may be many lag times)."""
        y = self.optical_c
        if y is None:
            self.optical_c = end_c
            return
        tau = self.t90_s / 2.303 * (1.0 + 9.0 * math.exp(-max(end_c - self.range_c[0], 0.0) / 50.0))
        lag = (end_c - start_c) / dt * tau if dt > 0 else 0.0
        self.optical_c = end_c - lag + (y - start_c + lag) * math.exp(-dt / tau)

    def measured_c(self) -> float | None:
        """Return what the head would report now in °C, or None when below its range (no value)."""
        if self.stuck_c is not None:
            return self.stuck_c
        y = self.optical_c
        if y is not None and self.fogged_since is not None:
            y += min(FOG_RATE_K_PER_S * (self.now() - self.fogged_since), FOG_MAX_K)
        low, high = self.range_c
        if y is None or y < low or self.force_below_range:
            return None
        sigma = self.noise_k * (1.0 + 3.0 * math.exp(-(y - low) / 50.0))
        value = min(y + self._rng.gauss(0.0, sigma), high + 1.0)
        value = max(value, low)
        return round(value / self.quantum_k) * self.quantum_k

    def freeze(self) -> None:
        """Fault: keep reporting the present value forever (a stuck head or a frozen converter)."""
        value = self.measured_c()
        self.stuck_c = value if value is not None else self.range_c[0] - 1.0

    # --- wire ------------------------------------------------------------------------------

    def reset_input(self) -> None:
        """Forget a partial request (a new connection starts clean)."""
        self._buf = b""

    def feed(self, data: bytes) -> bytes:
        """Take request bytes; return complete replies (CR-terminated), possibly empty."""
        self._buf += data
        out = b""
        while b"\r" in self._buf:
            frame, self._buf = self._buf.split(b"\r", 1)
            reply = self._answer(frame.strip(b"\n "))
            if reply is None or self.silent:
                continue
            if self.garbled:
                reply = bytes(self._rng.randrange(33, 127) for _ in range(3)) + b"?"
            out += reply + b"\r"
        return out

    def _answer(self, frame: bytes) -> bytes | None:
        if self.protocol == "raytek":
            return self._answer_raytek(frame)
        return self._answer_upp(frame)

    def _answer_upp(self, frame: bytes) -> bytes | None:
        text = frame.decode("ascii", "replace")
        if len(text) < 4 or not text[:2].isdigit():
            return None
        addr, cmd = int(text[:2]), text[2:4]
        if addr not in (self.address, 99):
            return None
        if cmd == "ms":
            return self._upp_reading().encode()
        if cmd == "mb":
            low, high = self.range_c
            return f"{int(low):04X}{int(high):04X}".encode()
        if cmd == "na":
            return self.name.encode()
        if cmd == "sn":
            return self.serial_number.encode()
        if cmd == "ga":
            return f"{self.address:02d}".encode()
        return None  # UPP: an unknown command gets no answer

    def _upp_reading(self) -> str:
        if self.now() - self._t_on < self.not_ready_s:
            return "77770"
        value = self.measured_c()
        low, high = self.range_c
        if value is None:
            return f"{round((low - 1.0) * 10):05d}"
        if value > high:
            return "88880"
        return f"{round(value * 10):05d}"

    def _answer_raytek(self, frame: bytes) -> bytes | None:
        text = frame.decode("ascii", "replace").strip()
        if text == "?T":
            if self.now() - self._t_on < self.not_ready_s:
                return b"!T----"
            value = self.measured_c()
            low, high = self.range_c
            if value is None:
                return b"!TUUUU"
            if value > high:
                return b"!TOOOO"
            return f"!T{value:06.1f}".encode()
        if text == "?SN":
            return f"!SN{self.serial_number}".encode()
        if text == "?XR":  # range, non-standard but used by the probe
            low, high = self.range_c
            return f"!XR{low:.0f} {high:.0f}".encode()
        return b"*Syntax error"
