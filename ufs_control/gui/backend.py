"""What the window needs from the composition root: build a runner for a rig (simulated or real),
identify its instruments, and close what it opened. ``app`` implements it; the GUI never names drivers
or sim."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ufs_control.core.rig import RigConfig
from ufs_control.runner.engine import Runner
from ufs_control.runner.idle import SupplyMeters
from ufs_control.runner.records import RunResult


class Backend(Protocol):
    """Connects the window to instruments."""

    runs_dir: Path

    def connect(self, rig: RigConfig, simulate: bool) -> Runner:
        """Open the instruments and return a runner for them (closing any previous connection)."""
        ...

    def identify(self, rig: RigConfig, simulate: bool) -> dict[str, str]:
        """Open the instruments briefly and return their identities by role (raises on failure)."""
        ...

    def supply_meters(self) -> SupplyMeters | None:
        """A read-only look at the present connection's supply (queries only), for the readings between runs;
        None when there is none."""
        ...

    def arm_faults(self) -> None:
        """A run is starting: arm the simulator's injected faults, counted from now (no-op on the rig)."""
        ...

    @property
    def fault_note(self) -> str:
        """The injected faults in words, for the banner ("" when none)."""
        ...

    def after_run(self, rig: RigConfig, result: RunResult, operator: str, sample_id: str) -> None:
        """A run started from the window has ended (output off): run the rig's ``[notify]`` command."""
        ...

    def close(self) -> None:
        """Close the instruments of the present connection."""
        ...
