"""Identification on the rig: the experiment ``ufs identify`` runs, reading run folders back for ``ufs fit``,
and the plant file both write (TOML for ``--plant`` / ``[model] file``, plus a plot of the fit).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from ufs_control.control.identify import PYRO_CLEAR_K, IdentificationError, PlantFit, Trace, trace_from_columns
from ufs_control.control.model import PlantModel
from ufs_control.core.profile import Cool, Hold, Power, Profile, Ramp, Step
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import ThermalParams
from ufs_control.runner.records import read_samples

# The walk up through the blind zone: open-loop power steps at the model's steady power for these felt
# temperatures; a plant that loses more heat than the model walks up more slowly, one that loses less
# goes further, and the last step is still far below any limit.
BLIND_STEPS_C = (300.0, 500.0, 700.0, 850.0, 1000.0)
BLIND_STEP_S = 6.0  # about three time constants of the nominal felt at 300 °C
HOLD_S = 4.0
IDENTIFY_ENGAGE_K = 60.0  # the closed-loop part starts this far above the pyrometer's range start


def lowest_maximum_c(rig: RigConfig) -> float:
    """The lowest maximum temperature an identification on ``rig`` can use: its top, 50 K below the maximum,
    must be 50 K past the readings the fit keeps (``PYRO_CLEAR_K`` above the pyrometer's range start)."""
    return rig.pyrometer.range_c[0] + PYRO_CLEAR_K + 100.0


def identification_profile(rig: RigConfig, max_temperature_c: float) -> Profile:
    """The experiment: power steps through the blind zone, then closed-loop ramps and holds up to
    ``max_temperature_c`` - 50 K at 20 °C/s, down to the middle and up again at 50 °C/s, then free cooling
    (which measures heat capacity over loss).

    The walk ends wherever the plant took it: a plant that loses less heat than the model far above the range
    start (a felt that does not heat like the model at all is the reason to identify). The first ramp runs to
    the top from where the walk's last step would take the model, so a lossy felt still blind there keeps at
    least the walk's power, and wherever the walk ended the loop closes on the ramp, re-based onto the measured
    temperature, never on a setpoint below it. Raises :class:`IdentificationError` for a maximum below
    :func:`lowest_maximum_c`.
    """
    model = PlantModel(rig.model, rig.wiring)
    low = rig.pyrometer.range_c[0]
    top = max_temperature_c - 50.0
    lowest = lowest_maximum_c(rig)
    if max_temperature_c < lowest:
        raise IdentificationError(
            f"a maximum of {max_temperature_c:g} °C is too low: the fit uses pyrometer readings more than "
            f"{PYRO_CLEAR_K:g} K above the range start ({low:g} °C), and the experiment stays 50 K below the "
            f"maximum: give at least {lowest:g} °C"
        )
    middle = min(max(low + 250.0, (low + top) / 2.0), top - 50.0)
    start = low + IDENTIFY_ENGAGE_K + 20.0
    walk = [t for t in BLIND_STEPS_C if t <= top - 100.0]
    segments: list[Ramp | Hold | Step | Power | Cool] = [
        Power(power_w=round(model.steady_power_w(t), 1), duration_s=BLIND_STEP_S) for t in walk
    ]
    segments += [
        # From where the walk's last step would take the model: a lossy felt still blind there keeps at least
        # the walk's power and heats on into the range on the ramp, instead of being dropped to a lower one.
        Step(target_c=min(top, max(start, walk[-1] if walk else start))),
        Ramp(target_c=top, rate_c_per_s=20.0),
        Hold(duration_s=HOLD_S),
        Cool(target_c=middle, rate_c_per_s=20.0),
        Hold(duration_s=HOLD_S),
        Ramp(target_c=top, rate_c_per_s=50.0),
        Hold(duration_s=HOLD_S),
        Cool(below_c=low, duration_s=12.0),
    ]
    return Profile(
        name="identify",
        segments=tuple(segments),
        description="plant identification: power steps, closed-loop ramps up, down and up, holds, free cooling",
        max_temperature_c=max_temperature_c,
    )


def trace_of_run(run_dir: Path, rig: RigConfig) -> Trace:
    """Read a run folder into a :class:`Trace` (its samples, its cold resistance and its rig's wiring)."""
    samples = read_samples(run_dir)
    if not samples:
        raise IdentificationError(f"{run_dir}: no samples")
    cold = None
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        value = record.get("cold_resistance_ohm")
        cold = float(value) if isinstance(value, int | float) and value > 0 else None
    except (OSError, ValueError):
        pass
    nan = math.nan
    return trace_from_columns(
        [s.t_s for s in samples],
        [s.voltage_set_v for s in samples],
        [s.resistance_ohm if s.resistance_ohm is not None else nan for s in samples],
        [s.temperature_c if s.temperature_c is not None else nan for s in samples],
        channels=len(rig.channels),
        range_low_c=rig.pyrometer.range_c[0],
        cold_ohm=cold,
        name=run_dir.name,
    )


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else '"not determined"'


def plant_toml(fit: PlantFit, sources: Sequence[str]) -> str:
    """The plant file: ``[plant]`` (every model parameter, loadable by ``ufs run --plant``), ``[pyrometer]``,
    ``[fit]`` (residuals, sources) and ``[uncertainty]`` (95 % half-widths of the fitted values)."""
    lines = [
        "# Plant model identified on the rig by ufs-control. Use it with `ufs run --plant FILE` or",
        '# `[model] file = "FILE"` in rig.toml. Edit with care: every value below was fitted together.',
        "",
        "[plant]",
    ]
    for key, value in asdict(fit.params).items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {float(value)!r}")
    lines += [
        "",
        "[pyrometer]",
        f"t90_s = {float(fit.t90_s)!r}",
        f"dead_time_s = {float(fit.dead_time_s)!r}",
        "",
        "[fit]",
        f"date_utc = {json.dumps(datetime.now(UTC).isoformat(timespec='seconds'))}",
        f"runs = {json.dumps(list(sources))}",
        f"pyrometer_rms_k = {float(fit.pyro_rms_k)!r}",
        f"resistance_rms_ohm = {float(fit.resistance_rms_ohm)!r}",
        f"pyrometer_readings = {fit.n_pyro}",
        f"resistance_readings = {fit.n_resistance}",
        f"sample_stack_fitted = {'true' if fit.sample_stack else 'false'}",
        f"notes = {json.dumps(list(fit.notes), ensure_ascii=False)}",
        "",
        "[fitted]  # the fitted values",
    ]
    lines += [f"{p.name} = {float(p.value)!r}" for p in fit.parameters]
    lines += ["", "[uncertainty]  # half-width of the 95 % interval of each fitted value"]
    lines += [f"{p.name} = {_number(p.interval)}" for p in fit.parameters]
    return "\n".join(lines) + "\n"


def write_plant_file(
    path: Path, fit: PlantFit, sources: Sequence[str], plot_writer: Callable[[Path, PlantFit], None]
) -> Path:
    """Write the plant file and, beside it, ``<name>.png`` (by ``plot_writer``: measured against modelled
    temperature and resistance for every run fitted). Returns the plot's path."""
    path.write_text(plant_toml(fit, sources), encoding="utf-8")
    plot = path.with_suffix(".png")
    plot_writer(plot, fit)
    return plot


def summary_lines(fit: PlantFit, base: ThermalParams) -> list[str]:
    """What ``ufs identify``/``ufs fit`` print: each fitted value with its 95 % interval."""
    lines = []
    for p in fit.parameters:
        shown = "not determined" if not math.isfinite(p.interval) else f"± {p.interval:.3g}"
        lines.append(f"  {p.name:<22} {p.value:12.5g} {shown} {p.unit}".rstrip())
    lines.append(
        f"  residual: pyrometer {fit.pyro_rms_k:.2f} K RMS ({fit.n_pyro} readings), "
        f"resistance {fit.resistance_rms_ohm * 1000:.1f} mΩ RMS ({fit.n_resistance})"
    )
    lines += [f"  note: {n}" for n in fit.notes]
    return lines
