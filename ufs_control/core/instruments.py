"""Instrument protocols and the records they return.

Logic depends on these small protocols, never on driver classes: the drivers satisfy them structurally
and test fakes stay tiny.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class PyrometerStatus(enum.Enum):
    """What a pyrometer read produced. Only ``OK`` carries a temperature."""

    OK = "OK"
    BELOW_RANGE = "BELOW_RANGE"
    ABOVE_RANGE = "ABOVE_RANGE"
    NOT_READY = "NOT_READY"
    HEAD_FAULT = "HEAD_FAULT"
    TIMEOUT = "TIMEOUT"
    GARBLED = "GARBLED"


@dataclass(frozen=True)
class PyrometerReading:
    """One pyrometer read: a status, the temperature in °C only when the status is OK, the raw frame."""

    status: PyrometerStatus
    celsius: float | None = None
    raw: bytes = b""

    def __post_init__(self) -> None:
        if self.status is PyrometerStatus.OK:
            if self.celsius is None:
                raise ValueError("an OK reading needs a temperature")
        elif self.celsius is not None:
            raise ValueError(f"a {self.status.value} reading must not carry a temperature")

    @property
    def valid(self) -> bool:
        """True when the reading is a usable temperature."""
        return self.status is PyrometerStatus.OK


@dataclass(frozen=True)
class LimitStatus:
    """Decoded CPX400DP Limit Event Status Register (LSR<N>?): what happened since the last read."""

    raw: int

    @property
    def cv(self) -> bool:
        return bool(self.raw & 0x01)

    @property
    def cc(self) -> bool:
        return bool(self.raw & 0x02)

    @property
    def ovp_trip(self) -> bool:
        return bool(self.raw & 0x04)

    @property
    def ocp_trip(self) -> bool:
        return bool(self.raw & 0x08)

    @property
    def unregulated(self) -> bool:
        return bool(self.raw & 0x10)

    @property
    def hard_trip(self) -> bool:
        """A trip that needs the front panel or an AC power cycle (e.g. over-temperature)."""
        return bool(self.raw & 0x40)

    @property
    def any_trip(self) -> bool:
        return self.ovp_trip or self.ocp_trip or self.hard_trip

    def names(self) -> list[str]:
        """Return the set flags by name, e.g. ``["CV", "OVP_TRIP"]``."""
        flags = [
            ("CV", self.cv),
            ("CC", self.cc),
            ("OVP_TRIP", self.ovp_trip),
            ("OCP_TRIP", self.ocp_trip),
            ("UNREG", self.unregulated),
            ("HARD_TRIP", self.hard_trip),
        ]
        return [name for name, on in flags if on]


@dataclass(frozen=True)
class Identity:
    """An instrument identity as read from the wire (kept for the run record)."""

    vendor: str
    model: str
    serial: str
    firmware: str
    raw: str


class PowerSupply(Protocol):
    """What the controller needs of a programmable DC supply (one or more output channels)."""

    def identify(self) -> Identity: ...

    def set_voltage_and_current(self, channel: int, volts: float, amps: float) -> None:
        """Set the voltage setpoint (V) and the current limit (A) of ``channel`` in one transaction."""
        ...

    def set_output(self, channel: int, on: bool) -> None: ...

    def read_output_state(self, channel: int) -> bool: ...

    def measure_output(self, channel: int) -> tuple[float, float]:
        """Return the metered output (volts, amps) of ``channel``."""
        ...

    def read_limit_status(self, channel: int) -> LimitStatus: ...

    def set_ovp(self, channel: int, volts: float) -> None: ...

    def set_ocp(self, channel: int, amps: float) -> None: ...

    def read_ovp(self, channel: int) -> float: ...

    def read_ocp(self, channel: int) -> float: ...

    def set_all_outputs_off(self) -> None: ...

    def force_outputs_off(self) -> None:
        """Switch all outputs off without relying on a reply (the unit may not be answering)."""
        ...

    def reset_trips(self) -> None: ...


class Pyrometer(Protocol):
    """What the controller needs of a pyrometer."""

    def read_temperature(self) -> PyrometerReading:
        """Read once; never raises for a sentinel or a timeout: the status says what happened."""
        ...

    def identify(self) -> Identity: ...
