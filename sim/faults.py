"""Fault injection: named faults that switch on at a simulated time (``NAME@SECONDS``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

FAULTS: dict[str, str] = {
    "pyro-silent": "pyrometer stops answering",
    "pyro-garbled": "pyrometer answers garbage",
    "pyro-stuck": "pyrometer keeps reporting the value it had",
    "pyro-under-range": "pyrometer reports below range whatever it sees",
    "pyro-fogged": "a deposit builds up on the window: the ratio reading drifts up 20 K/s to 200 K high",
    "psu-garbage": "supply answers queries with garbage",
    "psu-no-reply": "supply stops answering queries",
    "psu-disconnect": "the supply drops every interface connection (network fault); it keeps its state",
    "psu-reboot": "the supply loses mains for a moment: connections drop, outputs come back off",
    "psu-ovp-trip": "supply output trips on over-voltage",
    "psu-ocp-trip": "supply output trips on over-current",
    "psu-otp-trip": "supply output trips on over-temperature (needs a power cycle)",
    "felt-open": "felt breaks: open circuit",
    "felt-short": "partial short across the felts (0.3 ohm bypass)",
    "contact-rising": "clamp contact resistance rises by 0.2 ohm/s",
    "psu-runaway": "supply output sticks at 40 V / 20 A whatever is written (OP 0 still works)",
    "psu-lock-stolen": "another client takes the interface lock (if free) and sends OPALL 0; our writes get EER 200",
    "psu-read-only": "the supply's web page makes every interface read-only: writes fail with EER 200",
    "extra-cooling": "a sudden extra heat sink on the felts (150 W at 1150 °C, proportional to T - T_amb)",
}


@dataclass(frozen=True)
class Fault:
    """A named fault that becomes active at ``at_s`` simulated seconds."""

    name: str
    at_s: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in FAULTS:
            raise ValueError(f"unknown fault {self.name!r}; known: {', '.join(sorted(FAULTS))}")
        if not self.at_s >= 0:
            raise ValueError(f"fault time must be >= 0 s, got {self.at_s}")


def parse_fault(text: str) -> Fault:
    """Parse ``NAME@SECONDS`` (or ``NAME`` for t = 0); raise ValueError with a one-line reason."""
    m = re.fullmatch(r"\s*([a-z-]+)\s*(?:@\s*([0-9]*\.?[0-9]+)\s*s?)?\s*", text)
    if m is None:
        raise ValueError(f"fault {text!r} is not NAME@SECONDS")
    return Fault(m.group(1), float(m.group(2) or 0.0))
