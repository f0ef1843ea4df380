"""ufs-control: closed-loop controller for an ultrafast-sintering rig.

The public API for scripts and notebooks::

    import ufs_control as ufs

    profile = ufs.load_profile("profiles/llzo_membrane_1150C_20s.toml")
    custom = ufs.build_profile("llzo_1200C_10s", [ufs.ramp(1200, rate_c_per_s=50), ufs.hold(10), ufs.cool(below_c=600)])
    with ufs.open_rig(sim=True) as rig:
        result = rig.run(custom, operator="ana", sample_id="S-01", runs_dir="runs")
    run = ufs.load_run(result.run_dir)  # .record (run.json) and .samples (a pandas DataFrame)

The names load on first use, so ``import ufs_control`` stays light (no instruments, Qt or pandas).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ufs_control.api import OutputNotConfirmedWarning, Rig, RunData, RunInterrupted, load_run, open_rig
    from ufs_control.core.errors import ConfigError, ProfileError, UfsError
    from ufs_control.core.profile import Profile, load_profile
    from ufs_control.core.recipe import build_profile, cool, hold, power, profile_toml, ramp, step
    from ufs_control.runner.records import Outcome, RunResult, Sample

# public name -> the module that defines it
_PUBLIC = {
    "open_rig": "ufs_control.api",
    "load_run": "ufs_control.api",
    "Rig": "ufs_control.api",
    "RunData": "ufs_control.api",
    "RunInterrupted": "ufs_control.api",
    "OutputNotConfirmedWarning": "ufs_control.api",
    "load_profile": "ufs_control.core.profile",
    "Profile": "ufs_control.core.profile",
    "build_profile": "ufs_control.core.recipe",
    "ramp": "ufs_control.core.recipe",
    "hold": "ufs_control.core.recipe",
    "cool": "ufs_control.core.recipe",
    "step": "ufs_control.core.recipe",
    "power": "ufs_control.core.recipe",
    "profile_toml": "ufs_control.core.recipe",
    "Outcome": "ufs_control.runner.records",
    "RunResult": "ufs_control.runner.records",
    "Sample": "ufs_control.runner.records",
    "UfsError": "ufs_control.core.errors",
    "ProfileError": "ufs_control.core.errors",
    "ConfigError": "ufs_control.core.errors",
}

__all__ = [
    "ConfigError",
    "Outcome",
    "OutputNotConfirmedWarning",
    "Profile",
    "ProfileError",
    "Rig",
    "RunData",
    "RunInterrupted",
    "RunResult",
    "Sample",
    "UfsError",
    "__version__",
    "build_profile",
    "cool",
    "hold",
    "load_profile",
    "load_run",
    "open_rig",
    "power",
    "profile_toml",
    "ramp",
    "step",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ufs_control' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
