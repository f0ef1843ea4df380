"""Temperature profiles: frozen segment records, a TOML loader that validates everything, and pure
functions over them (the planned setpoint curve, durations, peak temperature).

A profile is planned from a start temperature (the ambient, or the measured temperature) into a list of
:class:`PlannedSegment` with absolute start/end times; ``setpoint_at`` evaluates that plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufs_control.core.errors import ProfileError
from ufs_control.core.tomlfile import read_toml

AMBIENT_C = 25.0
HARD_MAX_C = 2500.0
END_ACTIONS = ("output_off", "hold")
# Real recipes have a handful of segments; the planner and the feasibility check walk them every tick and
# every check, so a profile with more is refused (its file size is bounded by the TOML reader).
MAX_SEGMENTS = 1000


@dataclass(frozen=True)
class Ramp:
    """Ramp the setpoint linearly to ``target_c`` at ``rate_c_per_s`` or over ``duration_s``."""

    target_c: float
    rate_c_per_s: float | None = None
    duration_s: float | None = None
    kind: str = "ramp"


@dataclass(frozen=True)
class Hold:
    """Hold the present setpoint for ``duration_s``; with ``holdback_k`` the timer only runs while the
    temperature is within the band, and the run aborts once it has waited ``max_wait_s`` in total."""

    duration_s: float
    holdback_k: float | None = None
    max_wait_s: float | None = None
    kind: str = "hold"


@dataclass(frozen=True)
class Step:
    """Jump the setpoint to ``target_c`` at once."""

    target_c: float
    kind: str = "step"


@dataclass(frozen=True)
class Power:
    """Open-loop electrical power ``power_w`` for ``duration_s`` (preheats, manual work)."""

    power_w: float
    duration_s: float
    kind: str = "power"


@dataclass(frozen=True)
class Cool:
    """Cool: output off until below ``below_c`` (or for ``duration_s``), or a controlled ramp down to
    ``target_c`` at ``rate_c_per_s``."""

    below_c: float | None = None
    duration_s: float | None = None
    target_c: float | None = None
    rate_c_per_s: float | None = None
    kind: str = "cool"

    @property
    def controlled(self) -> bool:
        return self.rate_c_per_s is not None


Segment = Ramp | Hold | Step | Power | Cool


@dataclass(frozen=True)
class Profile:
    """A whole recipe."""

    name: str
    segments: tuple[Segment, ...]
    description: str = ""
    max_temperature_c: float = 1600.0
    end_action: str = "output_off"
    corner_tau_s: float = 0.8
    source: str = "<profile>"


@dataclass(frozen=True)
class PlannedSegment:
    """A segment placed on the time axis. ``start_c``/``end_c`` are None where output is off/open-loop."""

    index: int
    segment: Segment
    start_s: float
    end_s: float
    start_c: float | None
    end_c: float | None

    @property
    def kind(self) -> str:
        return self.segment.kind

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def label(self) -> str:
        return f"{self.index + 1} ({self.kind})"

    @property
    def top_c(self) -> float | None:
        """The highest setpoint of the segment (None where output is off/open-loop)."""
        if self.start_c is None or self.end_c is None:
            return None
        return max(self.start_c, self.end_c)

    def describe(self) -> str:
        """What the segment does to the output, e.g. ``25 → 1150 °C``, ``40 W open loop``, ``output off``."""
        if self.start_c is not None and self.end_c is not None:
            return f"{self.start_c:.0f} → {self.end_c:.0f} °C"
        if isinstance(self.segment, Power):
            return f"{self.segment.power_w:.0f} W open loop"
        return "output off"


@dataclass(frozen=True)
class Plan:
    """A profile laid out on the time axis from ``start_c``."""

    profile: Profile
    start_c: float
    segments: tuple[PlannedSegment, ...]

    @property
    def duration_s(self) -> float:
        return self.segments[-1].end_s if self.segments else 0.0

    @property
    def peak_c(self) -> float:
        temps = [self.start_c]
        for s in self.segments:
            temps += [t for t in (s.start_c, s.end_c) if t is not None]
        return max(temps)

    def segment_at(self, t: float) -> PlannedSegment | None:
        """The segment running at profile time ``t`` (None after the end)."""
        for s in self.segments:
            if t < s.end_s or (s.duration_s == 0 and t <= s.end_s):
                return s
        return None


def cool_duration_estimate_s(seg: Cool) -> float:
    """Planned length of an output-off cool without a duration: 10 s (it ends on the temperature)."""
    return seg.duration_s if seg.duration_s is not None else 10.0


def plan(profile: Profile, start_c: float = AMBIENT_C) -> Plan:
    """Lay the profile out on the time axis, starting from ``start_c``."""
    t, temp = 0.0, start_c
    out: list[PlannedSegment] = []
    for i, seg in enumerate(profile.segments):
        if isinstance(seg, Ramp):
            span = abs(seg.target_c - temp)
            if seg.rate_c_per_s is not None:
                dur = span / seg.rate_c_per_s
            else:
                dur = seg.duration_s or 0.0
            out.append(PlannedSegment(i, seg, t, t + dur, temp, seg.target_c))
            temp = seg.target_c
        elif isinstance(seg, Hold):
            dur = seg.duration_s
            out.append(PlannedSegment(i, seg, t, t + dur, temp, temp))
        elif isinstance(seg, Step):
            dur = 0.0
            out.append(PlannedSegment(i, seg, t, t, seg.target_c, seg.target_c))
            temp = seg.target_c
        elif isinstance(seg, Power):
            dur = seg.duration_s
            out.append(PlannedSegment(i, seg, t, t + dur, None, None))
        else:
            if seg.controlled:
                assert seg.target_c is not None and seg.rate_c_per_s is not None
                dur = abs(temp - seg.target_c) / seg.rate_c_per_s
                out.append(PlannedSegment(i, seg, t, t + dur, temp, seg.target_c))
                temp = seg.target_c
            else:
                dur = cool_duration_estimate_s(seg)
                out.append(PlannedSegment(i, seg, t, t + dur, None, None))
                temp = seg.below_c if seg.below_c is not None else AMBIENT_C
        t += dur
    return Plan(profile, start_c, tuple(out))


def _linear(s: PlannedSegment, t: float) -> float:
    assert s.start_c is not None and s.end_c is not None
    if s.duration_s <= 0:
        return s.end_c
    frac = min(max((t - s.start_s) / s.duration_s, 0.0), 1.0)
    return s.start_c + (s.end_c - s.start_c) * frac


def setpoint_at(p: Plan, t: float) -> tuple[float | None, float]:
    """Return (setpoint in °C or None, its slope in °C/s) at profile time ``t``.

    A ramp that ends in a hold at its target is rounded into the hold (exponential approach with
    ``corner_tau_s``), which removes most of the overshoot a sharp corner causes at tens of °C/s.
    """
    seg = p.segment_at(t)
    if seg is None or seg.start_c is None or seg.end_c is None:
        return None, 0.0
    tau = p.profile.corner_tau_s
    prev = p.segments[seg.index - 1] if seg.index > 0 else None
    if isinstance(seg.segment, Hold) and prev is not None and tau > 0 and _rounds(prev):
        return _rounded(prev, t, tau)
    if _rounds(seg) and tau > 0 and _next_is_hold(p, seg):
        return _rounded(seg, t, tau)
    if seg.duration_s <= 0:
        return seg.end_c, 0.0
    rate = (seg.end_c - seg.start_c) / seg.duration_s
    return _linear(seg, t), rate


def _rounds(s: PlannedSegment) -> bool:
    return isinstance(s.segment, Ramp | Cool) and s.start_c is not None and s.duration_s > 0


def _next_is_hold(p: Plan, s: PlannedSegment) -> bool:
    return s.index + 1 < len(p.segments) and isinstance(p.segments[s.index + 1].segment, Hold)


def _rounded(ramp: PlannedSegment, t: float, tau: float) -> tuple[float, float]:
    """Ramp with an exponential approach over its last rate x tau kelvin; continuous in value and slope."""
    assert ramp.start_c is not None and ramp.end_c is not None
    rate = (ramp.end_c - ramp.start_c) / ramp.duration_s
    t_corner = ramp.end_s - tau
    if t < t_corner or t_corner < ramp.start_s:
        if t_corner < ramp.start_s and t >= ramp.start_s:
            # A ramp shorter than tau: plain linear then hold.
            return (_linear(ramp, t), rate) if t < ramp.end_s else (ramp.end_c, 0.0)
        return _linear(ramp, t), rate
    decay = math.exp(-(t - t_corner) / tau)
    return ramp.end_c - rate * tau * decay, rate * decay


# --- loading -------------------------------------------------------------------------------------


class _Fields:
    """Typed access to one TOML table with errors that name the file, segment and field."""

    def __init__(self, data: dict[str, Any], source: str, where: str) -> None:
        self.data = dict(data)
        self.source = source
        self.where = where

    def fail(self, message: str) -> ProfileError:
        return ProfileError(self.source, self.where, message)

    def number(
        self, key: str, *, required: bool = False, positive: bool = False, non_negative: bool = False
    ) -> float | None:
        if key not in self.data:
            if required:
                raise self.fail(f"{key} is required")
            return None
        value = self.data.pop(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(f"{key} must be finite, got {value}")
        if positive and value <= 0:
            raise self.fail(f"{key} must be > 0, got {value:g}")
        if non_negative and value < 0:
            raise self.fail(f"{key} must be >= 0, got {value:g}")
        return value

    def req(self, key: str, **kw: bool) -> float:
        value = self.number(key, required=True, **kw)
        assert value is not None
        return value

    def text(self, key: str, default: str) -> str:
        value = self.data.pop(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, got {value!r}")
        return value

    def finish(self) -> None:
        if self.data:
            raise self.fail(f"unknown field {sorted(self.data)[0]!r}")


def _temperature(f: _Fields, key: str, required: bool) -> float | None:
    value = f.number(key, required=required)
    if value is not None and not (-50.0 <= value <= HARD_MAX_C):
        raise f.fail(f"{key} must be within -50..{HARD_MAX_C:g} °C, got {value:g}")
    return value


def _segment(raw: Any, index: int, source: str) -> Segment:
    if not isinstance(raw, dict):
        raise ProfileError(source, f"segment {index}", f"must be a table, got {raw!r}")
    kind = raw.get("type")
    where = f"segment {index} ({kind})" if isinstance(kind, str) else f"segment {index}"
    f = _Fields(raw, source, where)
    f.data.pop("type", None)
    if kind == "ramp":
        target = _temperature(f, "target_c", True)
        rate = f.number("rate_c_per_s", positive=True)
        dur = f.number("duration_s", positive=True)
        if (rate is None) == (dur is None):
            raise f.fail("give exactly one of rate_c_per_s or duration_s")
        f.finish()
        assert target is not None
        return Ramp(target, rate, dur)
    if kind == "hold":
        dur = f.req("duration_s", positive=True)
        band = f.number("holdback_k", positive=True)
        wait = f.number("max_wait_s", non_negative=True)
        if wait is not None and band is None:
            raise f.fail("max_wait_s needs holdback_k")
        f.finish()
        return Hold(dur, band, wait)
    if kind == "step":
        target = _temperature(f, "target_c", True)
        f.finish()
        assert target is not None
        return Step(target)
    if kind == "power":
        power = f.req("power_w", non_negative=True)
        dur = f.req("duration_s", positive=True)
        if power > 840.0:
            raise f.fail(f"power_w must be <= 840 (two 420 W outputs), got {power:g}")
        f.finish()
        return Power(power, dur)
    if kind == "cool":
        below = _temperature(f, "below_c", False)
        dur = f.number("duration_s", positive=True)
        target = _temperature(f, "target_c", False)
        rate = f.number("rate_c_per_s", positive=True)
        f.finish()
        if rate is not None or target is not None:
            if rate is None or target is None:
                raise f.fail("a controlled cool needs both target_c and rate_c_per_s")
            if below is not None or dur is not None:
                raise f.fail("a controlled cool takes target_c and rate_c_per_s only")
            return Cool(target_c=target, rate_c_per_s=rate)
        if below is None and dur is None:
            raise f.fail("an output-off cool needs below_c or duration_s")
        return Cool(below_c=below, duration_s=dur)
    raise f.fail(f"type must be one of ramp, hold, step, power, cool, got {kind!r}")


def parse_profile(data: dict[str, Any], source: str = "<profile>") -> Profile:
    """Build a :class:`Profile` from parsed TOML; raise :class:`ProfileError` naming what is wrong."""
    top = _Fields(data, source, "")
    name = top.text("name", Path(source).stem)
    if not name.strip():
        raise top.fail("name must not be empty")
    description = top.text("description", "")
    max_c = _temperature(top, "max_temperature_c", False)
    end_action = top.text("end_action", "output_off")
    if end_action not in END_ACTIONS:
        raise top.fail(f"end_action must be one of {', '.join(END_ACTIONS)}, got {end_action!r}")
    tau = top.number("corner_tau_s", non_negative=True)
    raw_segments = top.data.pop("segment", None)
    top.finish()
    if not isinstance(raw_segments, list) or not raw_segments:
        raise ProfileError(source, "", "needs at least one [[segment]]")
    if len(raw_segments) > MAX_SEGMENTS:
        raise ProfileError(source, "", f"has {len(raw_segments)} segments, more than the {MAX_SEGMENTS} allowed")
    segments = tuple(_segment(raw, i + 1, source) for i, raw in enumerate(raw_segments))
    profile = Profile(
        name=name,
        segments=segments,
        description=description,
        max_temperature_c=max_c if max_c is not None else 1600.0,
        end_action=end_action,
        corner_tau_s=0.8 if tau is None else tau,
        source=source,
    )
    _check_plan(profile)
    return profile


def _check_plan(profile: Profile) -> None:
    source = profile.source
    laid = plan(profile)
    for s in laid.segments:
        for t in (s.start_c, s.end_c):
            if t is not None and t > profile.max_temperature_c:
                raise ProfileError(
                    source,
                    f"segment {s.index + 1} ({s.kind})",
                    f"reaches {t:g} °C, above max_temperature_c {profile.max_temperature_c:g}",
                )
        seg, where = s.segment, f"segment {s.index + 1} ({s.kind})"
        prev = laid.segments[s.index - 1] if s.index > 0 else None
        if isinstance(seg, Hold) and (prev is None or prev.end_c is None):
            raise ProfileError(source, where, "follows an open-loop segment or starts the profile: no setpoint to hold")
        if isinstance(seg, Cool) and seg.controlled:
            if prev is None or prev.end_c is None:
                raise ProfileError(source, where, "a controlled cool needs a setpoint before it")
            if seg.target_c is not None and seg.target_c > prev.end_c:
                raise ProfileError(source, where, "target_c is above the present setpoint")


def load_profile(path: str | Path) -> Profile:
    """Read and validate a TOML profile file."""
    return parse_profile(read_toml(path, ProfileError), str(path))
