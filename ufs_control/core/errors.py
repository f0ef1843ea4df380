"""The one error hierarchy of ufs-control.

Every error carries structured fields so that the single place that turns an exception into a run
outcome (the runner) and the single place that turns it into a CLI message can do so without parsing text.
"""

from __future__ import annotations


class UfsError(Exception):
    """Base of every error raised on purpose by ufs-control."""


class OutOfRangeError(UfsError, ValueError):
    """A value was refused before it reached an instrument (name, value, allowed range)."""

    def __init__(self, name: str, value: float, low: float, high: float) -> None:
        self.name = name
        self.value = value
        self.low = low
        self.high = high
        super().__init__(f"{name} must be within {low:g}..{high:g}, got {value:g}")


class InstrumentError(UfsError):
    """An instrument misbehaved or could not be reached."""

    def __init__(self, instrument: str, message: str) -> None:
        self.instrument = instrument
        super().__init__(f"{instrument}: {message}")


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer within its timeout."""

    def __init__(self, instrument: str, command: str) -> None:
        self.command = command
        super().__init__(instrument, f"no reply to {command!r}")


class InstrumentReplyError(InstrumentError):
    """An instrument answered something that does not parse."""

    def __init__(self, instrument: str, command: str, reply: str | bytes) -> None:
        self.command = command
        self.reply = reply
        super().__init__(instrument, f"unexpected reply {reply!r} to {command!r}")


class InstrumentReportedError(InstrumentError):
    """The instrument's own error registers report a failed command."""

    def __init__(self, instrument: str, code: int, command: str, register: str = "EER") -> None:
        self.code = code
        self.command = command
        self.register = register
        super().__init__(instrument, f"{register} reports {code} after {command!r}")


class InstrumentIdentityError(InstrumentError):
    """The instrument at the address is not the expected model."""

    def __init__(self, instrument: str, expected: str, idn: str) -> None:
        self.expected = expected
        self.idn = idn
        super().__init__(instrument, f"expected a {expected}, identity is {idn!r}")


class SupplyInUseError(InstrumentError):
    """Another client holds the supply's interface lock (or this machine already runs it): nothing was sent."""

    def __init__(self, instrument: str, holder: str = "another client") -> None:
        self.holder = holder
        self.instrument = instrument
        UfsError.__init__(self, f"supply {instrument} is in use by {holder}")


class GuardianTrip(InstrumentError):
    """The guardian switched the output off on its own (``name`` is the interlock, ``reason`` in words).

    Raised for every write after the guardian tripped, so the run stops with the guardian's reason.
    """

    def __init__(self, name: str, reason: str, confirmed: bool = True) -> None:
        self.name = name
        self.reason = reason
        self.confirmed = confirmed
        super().__init__("guardian", reason)


class GuardianError(InstrumentError):
    """The guardian process died, stopped answering or could not start."""

    def __init__(self, message: str) -> None:
        super().__init__("guardian", message)


class ProfileError(UfsError):
    """A profile file is invalid. ``where`` names the segment and field, e.g. ``segment 2 (ramp)``."""

    def __init__(self, file: str, where: str, message: str) -> None:
        self.file = file
        self.where = where
        self.message = message
        text = f"{file}: {where}: {message}" if where else f"{file}: {message}"
        super().__init__(text)


class ConfigError(UfsError):
    """A configuration file or option is invalid (file, field, message)."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        text = f"{file}: {field}: {message}" if field else f"{file}: {message}"
        super().__init__(text)
