"""A draft methods paragraph from a run's own measurements (``ufs report RUN_DIR --methods``), or from a series
of runs (a campaign).

Numbers come from the run record's metrics and from the samples (what the pyrometer and the supply's meters
read), never from the profile's intentions; what was not measured is not claimed. The rig's make-up (felts,
fixture, atmosphere, pyrometer head) comes from the ``[rig]`` section of the rig file, as the run recorded it
or as given. A simulated run says so.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufs_control.control.handover import fit_line
from ufs_control.runner.metrics import BAND_K, main_hold
from ufs_control.runner.records import Sample, read_samples
from ufs_control.runner.report import load_run_json

RATE_WINDOW_S = 1.0  # the heating rate's spread: least-squares slopes over consecutive windows this long
HOLD_SETTLE_S = 2.0  # the hold's mean and SD leave out its first seconds (the approach to the setpoint)


@dataclass(frozen=True)
class Measured:
    """What one run measured, for a methods text (None = not measured)."""

    run_dir: Path
    outcome: str
    reason: str
    simulated: bool
    heating_rate_c_per_s: float | None
    heating_rate_sd: float | None  # over RATE_WINDOW_S windows of the closed-loop ramp
    heating_from_c: float | None  # the measured span of the ramp
    heating_to_c: float | None
    peak_c: float | None
    hold_mean_c: float | None  # the reading over the main hold (after its first 2 s)
    hold_sd_k: float | None
    hold_s: float | None
    soak_s: float | None  # time within ±BAND_K of the hold setpoint
    cooling_rate_c_per_s: float | None  # mean, from output off down to cooling_to_c
    cooling_from_c: float | None
    cooling_to_c: float | None
    energy_j: float | None
    peak_power_w: float | None
    hold_power_w: float | None  # mean electrical power over the main hold
    record: dict[str, Any]


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _get(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _heating(samples: Sequence[Sample], hold_start_t: float) -> tuple[float | None, float | None, float, float]:
    """Slope spread (SD of window slopes) and the measured span of the closed-loop ramp before the hold."""
    pts = [
        (s.t_s, s.temperature_c)
        for s in samples
        if s.engaged and s.segment_kind == "ramp" and s.t_s < hold_start_t and s.temperature_c is not None
    ]
    if len(pts) < 3:
        return None, None, math.nan, math.nan
    slopes: list[float] = []
    start = 0
    for i, (t, _) in enumerate(pts):
        if t - pts[start][0] >= RATE_WINDOW_S:
            slope = fit_line(pts[start:i], pts[i - 1][0])[1]
            if slope is not None:
                slopes.append(slope)
            start = i
    sd = statistics.stdev(slopes) if len(slopes) >= 2 else None
    return fit_line(pts, pts[-1][0])[1], sd, pts[0][1], pts[-1][1]


def measure(run_dir: Path) -> Measured:
    """Read one run folder (run.json and samples.csv); raises OSError/ValueError when they cannot be read."""
    problems: list[str] = []
    record = load_run_json(run_dir / "run.json", problems)
    if record is None:
        raise ValueError(f"run.json: {'; '.join(problems)}")
    samples = read_samples(run_dir)
    metrics = record.get("metrics") if isinstance(record.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    hold = main_hold(samples)
    hold_start_t = samples[hold[0]].t_s if hold else math.inf
    _, sd, t_from, t_to = _heating(samples, hold_start_t)
    hold_mean = hold_sd = hold_power = None
    if hold is not None:
        span = samples[hold[0] : hold[1] + 1]
        late = [s.temperature_c for s in span if s.temperature_c is not None and s.t_s >= span[0].t_s + HOLD_SETTLE_S]
        if len(late) >= 2:
            hold_mean, hold_sd = statistics.fmean(late), statistics.stdev(late)
        powers = [s.voltage_v * s.current_a for s in span if s.voltage_v is not None and s.current_a is not None]
        hold_power = statistics.fmean(powers) if powers else None
    powers = [s.voltage_v * s.current_a for s in samples if s.voltage_v is not None and s.current_a is not None]
    cooling_s, cooling_to = _number(metrics.get("cooling_s")), _number(metrics.get("cooling_to_c"))
    cooling_rate = cooling_from = None
    off = next((s for s in samples if s.segment_kind == "cool" and s.setpoint_c is None and s.power_w == 0), None)
    if off is not None and off.temperature_c is not None and cooling_s and cooling_to is not None:
        cooling_from = off.temperature_c
        cooling_rate = (cooling_from - cooling_to) / cooling_s
    outcome, reason = record.get("outcome"), record.get("reason")
    return Measured(
        run_dir=run_dir,
        outcome=outcome if isinstance(outcome, str) else "?",
        reason=reason if isinstance(reason, str) else "",
        simulated="simulator" in record,
        heating_rate_c_per_s=_number(metrics.get("ramp_rate_c_per_s")),
        heating_rate_sd=sd,
        heating_from_c=None if math.isnan(t_from) else t_from,
        heating_to_c=None if math.isnan(t_to) else t_to,
        peak_c=_number(metrics.get("peak_c")),
        hold_mean_c=hold_mean,
        hold_sd_k=hold_sd,
        hold_s=_number(metrics.get("hold_s")),
        soak_s=_number(metrics.get("soak_s")),
        cooling_rate_c_per_s=cooling_rate,
        cooling_from_c=cooling_from,
        cooling_to_c=cooling_to,
        energy_j=_number(metrics.get("energy_j")),
        peak_power_w=max(powers) if powers else None,
        hold_power_w=hold_power,
        record=record,
    )


# --- the text -------------------------------------------------------------------------------------------


def _fmt(x: float, digits: int = 0) -> str:
    return f"{x:.{digits}f}"


def _spread(values: Sequence[float], digits: int, unit: str, varied: bool = False) -> str:
    """``12 °C/s`` for one value; ``mean ± SD unit (range a–b)`` for several; only the range ``a–b unit`` when
    the runs were ``varied`` on purpose (different settings: their mean would describe no run)."""
    if len(values) == 1:
        return f"{_fmt(values[0], digits)} {unit}"
    if varied:
        return f"{_fmt(min(values), digits)}–{_fmt(max(values), digits)} {unit}"
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    low, high = _fmt(min(values), digits), _fmt(max(values), digits)
    return f"{_fmt(mean, digits)} ± {_fmt(sd, digits)} {unit} (range {low}–{high})"


def _values(runs: Sequence[Measured], name: str) -> list[float]:
    return [v for r in runs if (v := getattr(r, name)) is not None]


def _clause(runs: Sequence[Measured], name: str, template: str, digits: int, unit: str, varied: bool = False) -> str:
    """``template`` with the spread of the measured ``name`` in it, or "" when no run measured it."""
    values = _values(runs, name)
    return template.format(_spread(values, digits, unit, varied)) if values else ""


def _setting(run: Measured) -> str:
    """What the run was asked to do (its profile's TOML), to tell a series of repeats from a sweep."""
    text = run.record.get("profile_toml")
    return text if isinstance(text, str) else json.dumps(run.record.get("profile"), sort_keys=True, default=str)


def _setup(description: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """Sentences about the rig: felts, fixture, atmosphere, supply and its mode, pyrometer."""
    out: list[str] = []
    felt = str(description.get("felt_grade") or "")
    size = description.get("felt_size_mm")
    wiring = _get(record, "rig", "wiring")
    felt_text = "carbon felts" + (f" ({felt})" if felt else "")
    if isinstance(size, list | tuple) and len(size) == 3:
        felt_text += f" of {' × '.join(f'{float(v):g}' for v in size)} mm"
    fixture = str(description.get("sample_fixture") or "")
    sentence = f"Samples were heated by Joule heating of {felt_text}"
    sentence += f" ({fixture})" if fixture else ""
    atmosphere = str(description.get("atmosphere") or "")
    gases = [
        f"{label} {v:g} ppm"
        for label, key in (("O₂", "o2_ppm"), ("H₂O", "h2o_ppm"))
        if (v := _number(description.get(key))) is not None
    ]
    if atmosphere or gases:
        sentence += f" in an atmosphere of: {atmosphere or 'not stated'}" + (f" ({', '.join(gases)})" if gases else "")
    out.append(sentence + ".")
    psu = _get(record, "instruments", "psu", "model") or "a DC supply"
    vendor = _get(record, "instruments", "psu", "vendor")
    psu_text = f"{vendor} {psu}".strip() if isinstance(vendor, str) and vendor else str(psu)
    hz = _number(_get(record, "rig", "controller", "loop_hz"))
    wiring_text = {
        "series": "the two felts in series on one output",
        "parallel": "the two felts in parallel on one output",
        "per_channel": "each felt on its own output",
    }.get(str(wiring), "")
    supply = f"Power came from a {psu_text}" + (f" ({wiring_text})" if wiring_text else "")
    supply += ", with the electrical power set closed loop on the pyrometer reading"
    supply += f" at {hz:g} Hz." if hz is not None else "."
    out.append(supply)
    model = str(description.get("pyrometer_model") or "") or str(
        _get(record, "instruments", "pyrometer", "model") or ""
    )
    rng = _get(record, "rig", "pyrometer", "range_c")
    pyro = f"Temperature was measured with a {model + ' ' if model else ''}pyrometer aimed at the felt"
    details = []
    if isinstance(rng, list) and len(rng) == 2:
        details.append(f"range {float(rng[0]):g}–{float(rng[1]):g} °C")
    if (spot := _number(description.get("pyrometer_spot_mm"))) is not None:
        details.append(f"spot {spot:g} mm")
    if (ratio := _number(description.get("pyrometer_ratio"))) is not None:
        details.append(f"emissivity ratio {ratio:.3f}")
    pyro += f" ({', '.join(details)})" if details else ""
    out.append(pyro + "; the sample's own temperature was not measured.")
    return out


def methods_text(runs: Sequence[Measured], description: dict[str, Any] | None = None) -> str:
    """A draft methods paragraph for one run or a series. ``description`` is the ``[rig]`` section (as a dict);
    None takes the one the first run recorded."""
    if not runs:
        return "No runs."
    first = runs[0].record
    if description is None:
        recorded = _get(first, "rig", "description")
        description = recorded if isinstance(recorded, dict) else {}
    parts = _setup(description, first)
    series = len(runs) > 1
    finished = [r for r in runs if r.outcome == "finished"]
    if series:
        kept = finished or runs
        settings = len({_setting(r) for r in kept})
        varied = settings > 1
        how = (
            f"they used {settings} different profiles (settings), so values are the range over the completed runs"
            if varied
            else "values are mean ± SD over the completed runs"
        )
        parts.append(f"The series comprised {len(runs)} runs, {len(finished)} of which completed their profile; {how}.")
        runs = kept
    else:
        varied = False
        if runs[0].outcome != "finished":
            parts.append(f"The run did not complete its profile ({runs[0].outcome}: {runs[0].reason}).")
    rates = _values(runs, "heating_rate_c_per_s")
    if rates:
        text = f"The measured heating rate was {_spread(rates, 1, '°C/s', varied)}"
        lows, highs = _values(runs, "heating_from_c"), _values(runs, "heating_to_c")
        if lows and highs:
            text += f" between {min(lows):.0f} and {max(highs):.0f} °C (least-squares slope of the pyrometer reading"
            text += "; below the pyrometer's range the heating was not measured)"
        sds = _values(runs, "heating_rate_sd")
        if sds and not series:
            text += f", with a standard deviation of {sds[0]:.1f} °C/s over {RATE_WINDOW_S:g}-s windows"
        parts.append(text + ".")
    peaks = _values(runs, "peak_c")
    if peaks:
        parts.append(f"The peak pyrometer reading was {_spread(peaks, 0, '°C', varied)}.")
    holds = [r for r in runs if r.hold_mean_c is not None]
    settle = f"leaving out the hold's first {HOLD_SETTLE_S:g} s"
    if holds:
        if series:
            means = [r.hold_mean_c or 0.0 for r in holds]
            text = f"During the hold the pyrometer read {_spread(means, 0, '°C', varied)} on the felt surface"
            text += f" (per-run mean of the reading, {settle})"
        else:
            r = holds[0]
            assert r.hold_mean_c is not None and r.hold_sd_k is not None
            text = f"During the hold the pyrometer read {r.hold_mean_c:.0f} ± {r.hold_sd_k:.1f} °C on the felt surface"
            text += f" (mean ± SD of the reading, {settle})"
        text += _clause(holds, "hold_s", " for {}", 1, "s", varied)
        text += _clause(
            holds, "soak_s", f"; the reading stayed within ±{BAND_K:g} K of the hold setpoint for {{}}", 1, "s", varied
        )
        parts.append(text + ".")
    cool_rates = _values(runs, "cooling_rate_c_per_s")
    if cool_rates:
        to_c = runs[0].cooling_to_c
        parts.append(
            f"After the output was switched off the felts cooled to {to_c:g} °C at a mean rate of "
            f"{_spread(cool_rates, 0, '°C/s', varied)}."
        )
    energies = [e / 1000.0 for e in _values(runs, "energy_j")]
    if energies:
        text = f"The electrical energy per run was {_spread(energies, 1, 'kJ', varied)}"
        text += _clause(runs, "peak_power_w", ", the peak electrical power {}", 0, "W", varied)
        text += _clause(runs, "hold_power_w", " and the mean power during the hold {}", 0, "W", varied)
        parts.append(text + " (supply read-back of voltage × current).")
    if any(r.simulated for r in runs):
        parts.append("[These figures come from the ufs-control thermal-model simulator, not from a physical sample.]")
    return " ".join(parts)
