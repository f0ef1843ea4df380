"""A frozen view of the runner's state for displays: read once per frame, never reached into piecemeal.

The window used to read ``runner.latch``, ``runner.buffer`` and ``runner.plan`` one after the other, each
under its own lock, so a frame could mix two moments (a trip latched between reading the state and the
latch). :meth:`Runner.view` takes them together; the display decides from one consistent picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ufs_control.core.interlocks import Trip
from ufs_control.core.profile import Plan
from ufs_control.runner.records import RunResult

if TYPE_CHECKING:
    from ufs_control.runner.engine import RunState


@dataclass(frozen=True)
class RunnerView:
    """The runner at one moment.

    ``run_t_s`` is the time since the present (or last) run started, on the runner's clock, in seconds;
    ``t0`` is that start on the same clock (0 before the first run). ``idle_off_confirmed`` tells whether
    an emergency stop between runs confirmed the output off (None: none was needed or it is under way).
    """

    state: RunState
    trip: Trip | None
    plan: Plan | None
    last_result: RunResult | None
    active: bool
    t0: float
    now: float
    idle_off_confirmed: bool | None
    run_dir: Path | None

    @property
    def run_t_s(self) -> float:
        return self.now - self.t0

    @property
    def latched(self) -> bool:
        return self.trip is not None
