"""What the operator may press, why not, and which keys are the emergency stop: pure functions, no Qt.

The window applies what these return and nothing else decides it (style rule 20), so tests call them
directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ufs_control.runner.engine import RunState

RUN_ACTIVE = (RunState.PREFLIGHT, RunState.RUNNING)
"""The states in which the run may have the output on: Acknowledge is refused, Esc stops from anywhere."""

ABORT_HINT = (
    "Controlled end: output off, the run's record kept, nothing latched (the next run may start at once). "
    "For danger use the EMERGENCY STOP"
)
ESTOP_HINT = (
    "EMERGENCY STOP: output off at once, in any state, latched until acknowledged (Esc or Ctrl+E, from any window)"
)


@dataclass(frozen=True)
class Control:
    """One button: whether it may be pressed, and the hint shown with it (for a disabled one: why not)."""

    enabled: bool
    hint: str


@dataclass(frozen=True)
class Controls:
    """The window's buttons that depend on the run."""

    start: Control
    abort: Control
    emergency_stop: Control
    acknowledge: Control
    open_profile: Control
    connect: Control


def controls(
    state: RunState | None,
    latched: bool,
    profile_ok: bool,
    profile_why: str = "Open a valid profile that is feasible on this rig",
) -> Controls:
    """What may be pressed in run ``state`` (None: no instruments connected), with an interlock ``latched``
    or not and a profile that may run (loaded, valid, feasible) or not (``profile_why`` says why not).

    The emergency stop is always enabled, connected or not, running or not.
    """
    running = state in RUN_ACTIVE
    return Controls(
        start=_unless(
            "Start the profile",
            (state is None, "Rig not connected: see the Connection tab"),
            (running, "A run is in progress"),
            (latched, "Acknowledge the interlock first"),
            (not profile_ok, profile_why),
        ),
        abort=_unless(ABORT_HINT, (not running, "No run in progress")),
        emergency_stop=Control(True, ESTOP_HINT),
        acknowledge=_unless(
            "Clear the latched interlock (recorded with the operator's name)",
            (running, "Refused while a run is in progress: acknowledge once it has ended"),
            (not latched, "No interlock is latched"),
        ),
        open_profile=_unless("Open a profile (TOML)", (running, "End the run before loading another profile")),
        connect=_unless("Connect with these settings", (running, "End the run before changing the connection")),
    )


def _unless(hint: str, *refusals: tuple[bool, str]) -> Control:
    """Enabled with ``hint``, unless one of the (refused, why) pairs applies: the first that does says why."""
    for refused, why in refusals:
        if refused:
            return Control(False, why)
    return Control(True, hint)


def is_emergency_stop_key(key: str, run_active: bool, in_main_window: bool) -> bool:
    """Whether pressing ``key`` (spelled as Qt's ``QKeySequence.toString(PortableText)`` spells it, e.g.
    ``"Esc"``, ``"Ctrl+E"``, ``"Shift+Esc"``) is the emergency stop.

    Ctrl+E means nothing else anywhere, so it always stops. Esc is the operator's reflex: during a run it
    stops from any window (a file chooser or message box included), and the press is spent on the stop, so
    the dialog stays open and the first Esc never does anything but switch the output off; once the run
    has ended, a second Esc closes the dialog as usual. With no run, Esc in the main window still latches
    the stop (the window's documented shortcut), but in a dialog or a drop-down list it keeps its
    ordinary meaning, so dismissing a file chooser never latches an interlock that must be acknowledged.
    A modifier held by accident (Shift, Alt, …) does not keep either key from stopping.
    """
    *modifiers, base = key.split("+")
    if base == "E" and "Ctrl" in modifiers:
        return True
    return base == "Esc" and (run_active or in_main_window)
