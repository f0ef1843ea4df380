"""Where the run is in its profile: profile time, re-basing at the hand-over, the holdback pause, the wait
at the end of an output-off cool, and what happens after the last segment. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ufs_control.core.profile import Cool, Hold, Plan, PlannedSegment, Power, setpoint_at

DEFAULT_COOL_LIMIT_S = 60.0


@dataclass(frozen=True)
class Position:
    """The profile at one tick. ``finished`` is True once past the last segment (``end_action = "hold"``)."""

    segment: PlannedSegment
    profile_t_s: float
    setpoint_c: float | None
    rate_c_per_s: float
    finished: bool = False
    entered: bool = False  # the first tick of this segment

    @property
    def output_off(self) -> bool:
        """An output-off cool segment: nothing is driven, the loop is open."""
        seg = self.segment.segment
        return isinstance(seg, Cool) and not seg.controlled

    @property
    def open_loop(self) -> bool:
        """A segment the loop never closes in (output-off cool, open-loop power)."""
        return self.output_off or isinstance(self.segment.segment, Power)

    @property
    def rising(self) -> bool:
        """The setpoint is on its way up (a ramp up or its rounded corner), not holding or coming down."""
        return self.rate_c_per_s > 0.0 and self.hold is None and not self.finished

    @property
    def hold(self) -> Hold | None:
        seg = self.segment.segment
        return seg if isinstance(seg, Hold) else None


class ProfileTimeline:
    """Profile time = run time - offset. The offset grows while the profile waits (holdback, cool) and
    changes once at the hand-over, when the profile is re-based onto the measured temperature."""

    def __init__(self, laid: Plan, end_action: str, period_s: float) -> None:
        self.plan = laid
        self.end_action = end_action
        self.period_s = period_s
        self.offset_s = 0.0
        self._segment_index = -1
        self._cool_started: float | None = None

    def locate(self, t: float) -> Position | None:
        """The position at run time ``t``; None when the profile is over (and the run should end)."""
        prof_t = t - self.offset_s
        seg = self.plan.segment_at(prof_t)
        finished = False
        if seg is None:
            last = self.plan.segments[-1] if self.plan.segments else None
            if self.end_action != "hold" or last is None or last.end_c is None:
                return None
            # Hold the last setpoint until stopped: the setpoint stays at the last segment's end.
            seg, prof_t, finished = last, last.end_s, True
        entered = seg.index != self._segment_index
        if entered:
            self._segment_index = seg.index
            self._cool_started = None
        if finished:
            return Position(seg, prof_t, seg.end_c, 0.0, True, entered)
        sp, rate = setpoint_at(self.plan, prof_t)
        return Position(seg, prof_t, sp, rate, False, entered)

    def wait_for_cooling(self, pos: Position, t: float, dt: float, below: bool) -> None:
        """In an output-off cool: end the segment once ``below`` its temperature or after its time limit;
        until then, do not let the profile run past the segment's end."""
        seg = pos.segment.segment
        if not isinstance(seg, Cool) or seg.controlled:
            return
        self._cool_started = t if self._cool_started is None else self._cool_started
        limit = seg.duration_s if seg.duration_s is not None else DEFAULT_COOL_LIMIT_S
        if below or t - self._cool_started >= limit:
            self.offset_s -= pos.segment.end_s - pos.profile_t_s  # jump to the segment's end
        elif pos.profile_t_s >= pos.segment.end_s - self.period_s:
            self.offset_s += dt  # wait here for the temperature

    def hold_back(self, dt: float) -> None:
        """Guaranteed soak: the hold timer does not run this tick."""
        self.offset_s += dt

    def rebase(self, pos: Position, new_profile_t_s: float) -> Position:
        """Move the profile so that it is at ``new_profile_t_s`` now (the hand-over re-base)."""
        self.offset_s += pos.profile_t_s - new_profile_t_s
        sp, rate = setpoint_at(self.plan, new_profile_t_s)
        return Position(pos.segment, new_profile_t_s, sp, rate, pos.finished, pos.entered)
