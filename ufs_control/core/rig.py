"""Rig configuration: instrument addresses, wiring, pyrometer codec and range, safety limits, controller
settings and the feedforward model. TOML parsed once into frozen dataclasses; every error names the file
and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ufs_control.core.errors import ConfigError
from ufs_control.core.thermal import ThermalParams, Wiring, params_from_mapping, preset
from ufs_control.core.tomlfile import read_toml


@dataclass(frozen=True)
class PsuConfig:
    resource: str | None = None
    channel: int = 1  # the channel used for series/parallel wiring
    timeout_s: float = 2.0


@dataclass(frozen=True)
class PyrometerConfig:
    url: str | None = None
    protocol: str = "upp"
    address: int = 0
    range_c: tuple[float, float] = (600.0, 2000.0)
    timeout_s: float = 0.1


@dataclass(frozen=True)
class Limits:
    """Safety limits. The supply's own OVP/OCP are set from ``max_voltage_v``/``max_current_a``."""

    max_temperature_c: float = 1600.0
    over_setpoint_margin_k: float = 50.0
    max_voltage_v: float = 45.0
    max_current_a: float = 18.0
    max_power_w: float = 420.0
    tracking_band_k: float = 30.0
    tracking_time_s: float = 3.0
    pyrometer_dropout_s: float = 0.5
    stale_reading_s: float = 1.5
    loop_break_s: float = 2.0
    blind_margin_k: float = 150.0
    blind_s: float = 3.0
    max_run_s: float | None = None
    resistance_drift: float = 0.5
    hot_start_c: float | None = None  # refuse to start above this reading (default: range start + 50)
    watchdog_s: float = 0.25  # the guardian switches off when the loop sends nothing for this long
    loop_break_rise_k: float = 10.0  # near-full power for loop_break_s must raise the reading this much
    high_power_fraction: float = 0.9  # "near-full power" for the loop-break check, of the envelope
    open_circuit_fraction: float = 0.05  # measured current below this fraction of the expected: open felt
    open_circuit_min_v: float = 2.0  # ... checked only above this voltage


@dataclass(frozen=True)
class ControllerConfig:
    loop_hz: float = 20.0
    tau_c_s: float = 0.3
    tau_c_hold_s: float = 1.3
    theta_s: float = 0.1
    engage_margin_k: float = 60.0
    engage_window_s: float = 0.5
    error_filter_s: float = 0.1
    adapt_feedforward: bool = True


@dataclass(frozen=True)
class RigConfig:
    """Everything about one rig. ``model`` is the plant model the feedforward uses (fit it on the rig)."""

    psu: PsuConfig = field(default_factory=PsuConfig)
    pyrometer: PyrometerConfig = field(default_factory=PyrometerConfig)
    wiring: Wiring = Wiring.SERIES
    limits: Limits = field(default_factory=Limits)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    model: ThermalParams = field(default_factory=ThermalParams)
    sim_preset: str = "A"
    source: str = "<defaults>"

    @property
    def channels(self) -> tuple[int, ...]:
        if self.wiring is Wiring.PER_CHANNEL:
            return (1, 2)
        return (self.psu.channel,)

    @property
    def simulated(self) -> bool:
        return self.psu.resource is None and self.pyrometer.url is None


def _section(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.pop(name, {})
    if not isinstance(value, dict):
        raise ConfigError(source, name, "must be a table")
    return dict(value)


def _apply(cls_instance: Any, table: dict[str, Any], prefix: str, source: str) -> Any:
    """Override the fields of a frozen dataclass from a TOML table with type checks."""
    known = {f.name: f for f in fields(cls_instance)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if key not in known:
            raise ConfigError(source, name, "unknown setting")
        current = getattr(cls_instance, key)
        if key == "range_c":
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                or not value[0] < value[1]
            ):
                raise ConfigError(source, name, f"must be [low, high] with low < high, got {value!r}")
            changes[key] = (float(value[0]), float(value[1]))
        elif isinstance(current, bool):
            if not isinstance(value, bool):
                raise ConfigError(source, name, f"must be true or false, got {value!r}")
            changes[key] = value
        elif isinstance(current, int) and not isinstance(current, bool) and key in ("channel", "address"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(source, name, f"must be an integer, got {value!r}")
            changes[key] = value
        elif isinstance(current, float) or (current is None and key not in ("resource", "url")):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(source, name, f"must be a number, got {value!r}")
            if value <= 0 and key not in ("hot_start_c",):
                raise ConfigError(source, name, f"must be > 0, got {value!r}")
            changes[key] = float(value)
        else:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(source, name, f"must be a non-empty string, got {value!r}")
            changes[key] = value
    return replace(cls_instance, **changes)


def parse_rig(data: dict[str, Any], source: str = "<rig>") -> RigConfig:
    """Build a :class:`RigConfig` from parsed TOML."""
    data = dict(data)
    psu = _apply(PsuConfig(), _section(data, "psu", source), "psu", source)
    if psu.channel not in (1, 2):
        raise ConfigError(source, "psu.channel", f"must be 1 or 2, got {psu.channel}")
    pyro = _apply(PyrometerConfig(), _section(data, "pyrometer", source), "pyrometer", source)
    if not 0 <= pyro.address <= 99:
        raise ConfigError(source, "pyrometer.address", f"must be 0-99, got {pyro.address}")
    wiring_table = _section(data, "wiring", source)
    mode = wiring_table.pop("mode", "series")
    if wiring_table:
        raise ConfigError(source, f"wiring.{sorted(wiring_table)[0]}", "unknown setting")
    try:
        wiring = Wiring(mode)
    except ValueError:
        raise ConfigError(
            source, "wiring.mode", f"must be one of series, parallel, per_channel, got {mode!r}"
        ) from None
    limits = _apply(Limits(), _section(data, "limits", source), "limits", source)
    if limits.max_voltage_v > 60:
        raise ConfigError(source, "limits.max_voltage_v", f"must be <= 60, got {limits.max_voltage_v:g}")
    if limits.max_current_a > 20:
        raise ConfigError(source, "limits.max_current_a", f"must be <= 20, got {limits.max_current_a:g}")
    n_ch = len(wiring.channels)
    if limits.max_power_w > 420 * n_ch:
        raise ConfigError(source, "limits.max_power_w", f"must be <= {420 * n_ch}, got {limits.max_power_w:g}")
    ctrl = _apply(ControllerConfig(), _section(data, "controller", source), "controller", source)
    if not 1 <= ctrl.loop_hz <= 100:
        raise ConfigError(source, "controller.loop_hz", f"must be 1-100, got {ctrl.loop_hz:g}")
    model_table = _section(data, "model", source)
    name = model_table.pop("preset", "A")
    if not isinstance(name, str) or name.upper() not in ("A", "B"):
        raise ConfigError(source, "model.preset", f"must be A or B, got {name!r}")
    model = params_from_mapping(model_table, preset(name), source)
    sim_table = _section(data, "sim", source)
    sim_preset = sim_table.pop("preset", "A")
    if not isinstance(sim_preset, str) or sim_preset.upper() not in ("A", "B"):
        raise ConfigError(source, "sim.preset", f"must be A or B, got {sim_preset!r}")
    if sim_table:
        raise ConfigError(source, f"sim.{sorted(sim_table)[0]}", "unknown setting")
    if data:
        raise ConfigError(source, sorted(data)[0], "unknown section")
    return RigConfig(psu, pyro, wiring, limits, ctrl, model, sim_preset.upper(), source)


def load_rig(path: str | Path) -> RigConfig:
    """Read and validate a rig TOML file."""
    return parse_rig(read_toml(path, ConfigError), str(path))
