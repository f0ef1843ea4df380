"""Rig configuration: instrument addresses, wiring, pyrometer codec and range, safety limits, controller
settings, the feedforward model, the rig's description for methods sections (``[rig]``) and the end-of-run
notification command (``[notify]``). TOML parsed once into frozen dataclasses; every error names the file
and the field. Every numeric setting has an allowed range with its reason, in one table (``RIG_RANGES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ufs_control.core.bounds import Range
from ufs_control.core.errors import ConfigError
from ufs_control.core.profile import HARD_MAX_C
from ufs_control.core.thermal import ThermalParams, Wiring, load_plant_file, params_from_mapping, preset
from ufs_control.core.tomlfile import read_toml


@dataclass(frozen=True)
class PsuConfig:
    resource: str | None = None
    channel: int = 1  # the channel used for series/parallel wiring
    timeout_s: float = 0.2  # deadline of every supply call: the safety path cannot wait longer


@dataclass(frozen=True)
class PyrometerConfig:
    url: str | None = None
    protocol: str = "upp"
    address: int = 0
    range_c: tuple[float, float] = (600.0, 2000.0)
    timeout_s: float = 0.1
    t90_s: float = 0.0  # the head's response time (identified, or from its settings); the loop compensates it


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
    blind_hold_margin_k: float = 20.0  # a hold this far inside the range must see a valid reading before it ends
    blind_s: float = 3.0
    max_run_s: float | None = None
    resistance_drift: float = 0.5
    hot_start_c: float | None = None  # refuse to start above this reading (default: range start + 50)
    # The guardian's stall watchdog in s: no heartbeat from the control loop for this long switches the output
    # off. 0.25 s is 5 periods at 20 Hz; at least 3 periods, at most 1 s.
    watchdog_s: float = 0.25
    loop_break_rise_k: float = 10.0  # near-full power for loop_break_s must raise the reading this much
    high_power_fraction: float = 0.9  # "near-full power" for the loop-break check, of the envelope
    open_circuit_fraction: float = 0.05  # measured current below this fraction of the expected: open felt
    open_circuit_min_v: float = 2.0  # ... checked only above this voltage
    open_circuit_reads: float = 2.0  # ... in this many meter reads in a row (4 Hz)
    felt_short_ratio: float = 0.5  # resistance below this fraction of the expected value: a short
    supply_failures_max: float = 2.0  # failed supply transactions in a row that mean "not answering"
    cross_check_k: float = 80.0  # pyrometer and felt resistance disagreeing by more than this: a warning ...
    cross_check_s: float = 2.0  # ... and, for this long without a break, a trip


ENGAGE_MARGIN_PRESET_K = 60.0  # a preset's open loop drifts: close the loop early
ENGAGE_MARGIN_IDENTIFIED_K = 150.0  # an identified model's open loop tracks: wait for the head to be fast


@dataclass(frozen=True)
class ControllerConfig:
    loop_hz: float = 20.0
    tau_c_s: float = 0.3
    tau_c_hold_s: float = 1.3
    theta_s: float = 0.1
    # Close the loop this far above the pyrometer's range start, where a head is noisier and slower
    # (decision 0003). None: ENGAGE_MARGIN_IDENTIFIED_K with an identified model, else ENGAGE_MARGIN_PRESET_K.
    engage_margin_k: float | None = None
    engage_window_s: float = 1.0
    error_filter_s: float = 0.1
    adapt_feedforward: bool = True
    # Resistance thermometry (needs a fitted model: [model] file or --plant): the felts' V/I as a second
    # temperature sensor (cross-check, ramp-down backup). "auto": when the model was identified on the rig.
    thermometry: str = "auto"
    # Run-to-run learning of the feedforward (``ufs run --learn``); see control/learning.py.
    learn: bool = False
    learn_gain: float = 0.7  # fraction of the last run's correction added to the next run's feedforward
    learn_advance_s: float = 0.1  # the correction is applied this much earlier than the loop needed it
    learn_smooth_s: float = 0.5  # width of the zero-phase moving average over the correction
    learn_max_fraction: float = 0.25  # bound on the correction, of the supply envelope at the setpoint
    learn_min_gain: float = 0.15  # the gain decays as learn_gain / k over the k runs learned, down to this
    learn_noise_sigmas: float = 2.0  # what a run's noise alone could explain is not learned (soft threshold)


@dataclass(frozen=True)
class RigDescription:
    """What the rig is made of, for methods paragraphs and lab records (``[rig]``); "" or None = not stated.

    Only what the run cannot measure itself: the felts, the fixture, the atmosphere and the pyrometer head.
    """

    name: str = ""  # e.g. "UFS rig 1, glovebox B"
    felt_grade: str = ""  # e.g. "SGL Sigracell GFD 4.6 EA"
    felt_size_mm: tuple[float, float, float] | None = None  # length, width, thickness of one felt
    sample_fixture: str = ""  # e.g. "pellet between two felts, graphite foils"
    atmosphere: str = ""  # e.g. "argon glovebox"
    o2_ppm: float | None = None
    h2o_ppm: float | None = None
    pyrometer_model: str = ""  # e.g. "Maurer KTRD 4085-1"
    pyrometer_spot_mm: float | None = None  # measuring spot diameter at the working distance
    pyrometer_ratio: float | None = None  # emissivity ratio (slope) set on a two-colour head
    notes: str = ""


@dataclass(frozen=True)
class NotifyConfig:
    """``[notify]``: a shell command run at the end of every run (and so on every trip) with the run summary as
    JSON on its standard input. Its failures are logged and never affect a run."""

    command: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class FeltConfig:
    """Felt health: when the cold resistance says the felt is worn, or was replaced."""

    wear_fraction: float = 0.15  # cold-resistance drift from the first run of this felt that means worn
    replaced_fraction: float = 0.10  # a jump between consecutive runs (either way) that means a new felt


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
    model_file: str | None = None  # the identified plant file the model came from (None: a preset)
    description: RigDescription = field(default_factory=RigDescription)  # the [rig] section
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    felt: FeltConfig = field(default_factory=FeltConfig)

    @property
    def thermometry(self) -> bool:
        """Use the felts' resistance as a temperature sensor (the model's R(T) was fitted on the rig)."""
        mode = self.controller.thermometry
        return mode == "on" or (mode == "auto" and self.model_file is not None)

    @property
    def engage_margin_k(self) -> float:
        """How far above the pyrometer's range start the loop closes (``controller.engage_margin_k``, or by
        default later with an identified model than with a preset)."""
        margin = self.controller.engage_margin_k
        if margin is not None:
            return margin
        return ENGAGE_MARGIN_IDENTIFIED_K if self.model_file is not None else ENGAGE_MARGIN_PRESET_K

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
        elif isinstance(current, float) or (current is None and key not in ("resource", "url", "command")):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(source, name, f"must be a number, got {value!r}")
            changes[key] = float(value)
        else:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(source, name, f"must be a non-empty string, got {value!r}")
            changes[key] = value
    return replace(cls_instance, **changes)


def parse_rig(data: dict[str, Any], source: str = "<rig>") -> RigConfig:
    """Build a :class:`RigConfig` from parsed TOML; every numeric setting must lie within ``RIG_RANGES``."""
    data = dict(data)
    pyro_table = data.get("pyrometer")
    t90_given = isinstance(pyro_table, dict) and "t90_s" in pyro_table
    psu = _apply(PsuConfig(), _section(data, "psu", source), "psu", source)
    pyro = _apply(PyrometerConfig(), _section(data, "pyrometer", source), "pyrometer", source)
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
    ctrl = _apply(ControllerConfig(), _section(data, "controller", source), "controller", source)
    felt = _apply(FeltConfig(), _section(data, "felt", source), "felt", source)
    model_table = _section(data, "model", source)
    model_file = model_table.pop("file", None)
    name = model_table.pop("preset", "A")
    if not isinstance(name, str) or name.upper() not in ("A", "B"):
        raise ConfigError(source, "model.preset", f"must be A or B, got {name!r}")
    model = params_from_mapping(model_table, preset(name), source)
    if model_file is not None:
        if not isinstance(model_file, str) or not model_file:
            raise ConfigError(source, "model.file", f"must be a file name, got {model_file!r}")
        if model_table:
            raise ConfigError(source, f"model.{sorted(model_table)[0]}", "give either model.file or parameters")
        path = Path(model_file)
        if not path.is_absolute() and source not in ("<rig>", "<defaults>"):
            path = Path(source).parent / path
        model, fitted_t90 = load_plant_file(path)
        if not t90_given:
            pyro = replace(pyro, t90_s=fitted_t90)
        model_file = str(path)
    sim_table = _section(data, "sim", source)
    sim_preset = sim_table.pop("preset", "A")
    if not isinstance(sim_preset, str) or sim_preset.upper() not in ("A", "B"):
        raise ConfigError(source, "sim.preset", f"must be A or B, got {sim_preset!r}")
    if sim_table:
        raise ConfigError(source, f"sim.{sorted(sim_table)[0]}", "unknown setting")
    description_table = _section(data, "rig", source)
    size = description_table.pop("felt_size_mm", None)
    description = _apply(RigDescription(), description_table, "rig", source)
    if size is not None:
        if not (
            isinstance(size, list)
            and len(size) == 3
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in size)
        ):
            raise ConfigError(source, "rig.felt_size_mm", f"must be [length, width, thickness] in mm, got {size!r}")
        description = replace(description, felt_size_mm=(float(size[0]), float(size[1]), float(size[2])))
    notify = _apply(NotifyConfig(), _section(data, "notify", source), "notify", source)
    if data:
        raise ConfigError(source, sorted(data)[0], "unknown section")
    if ctrl.thermometry not in ("auto", "on", "off"):
        raise ConfigError(source, "controller.thermometry", f"must be auto, on or off, got {ctrl.thermometry!r}")
    rig = RigConfig(
        psu, pyro, wiring, limits, ctrl, model, sim_preset.upper(), source, model_file, description, notify, felt
    )
    check_ranges(rig)
    if ctrl.learn_min_gain > ctrl.learn_gain:
        note = " (the default)" if ctrl.learn_min_gain == ControllerConfig().learn_min_gain else ""
        raise ConfigError(
            source,
            "controller.learn_min_gain",
            f"{ctrl.learn_min_gain:g}{note} is above learn_gain {ctrl.learn_gain:g}: it is the floor of a gain that "
            f"decays from learn_gain; set it to at most {ctrl.learn_gain:g}",
        )
    # A pyrometer read blocks the loop for up to its timeout; with a period on top it must stay inside the
    # watchdog, or a silent pyrometer would look like a stalled loop instead of a pyrometer fault.
    budget = limits.watchdog_s - 1.0 / ctrl.loop_hz
    if pyro.timeout_s > budget + 1e-9:
        raise ConfigError(
            source,
            "pyrometer.timeout_s",
            f"{pyro.timeout_s:g} must be at most limits.watchdog_s minus one control period ({budget:g} s): "
            "a blocked read would otherwise look like a stalled loop",
        )
    return rig


# --- allowed ranges ------------------------------------------------------------------------------------


def _max_temperature_range(rig: RigConfig) -> Range:
    low, high = rig.pyrometer.range_c
    capped = high > HARD_MAX_C
    return Range(
        low,
        min(high, HARD_MAX_C),
        "the pyrometer's lower range: below it the over-temperature trip could never see a temperature",
        f"the controller's ceiling for any temperature, {HARD_MAX_C:g} °C" if capped else "the pyrometer's upper range",
        low_open=True,
    )


def _hot_start_range(rig: RigConfig) -> Range:
    low, high = rig.pyrometer.range_c
    why = "the pyrometer's range: outside it a reading is not a temperature"
    return Range(low, high, why, why)


def _max_power_range(rig: RigConfig) -> Range:
    n = len(rig.channels)
    outputs = "1 output" if n == 1 else f"{n} outputs"
    return Range(1.0, 420.0 * n, "below 1 W nothing heats", f"the CPX400DP's 420 W per output, {outputs} in use")


def _periods_and_more(periods: int, high: float, why_low: str, why_high: str) -> Callable[[RigConfig], Range]:
    """A time range in s whose low end is ``periods`` control periods at the rig's loop rate."""

    def allowed(rig: RigConfig) -> Range:
        hz = rig.controller.loop_hz
        return Range(
            periods / hz, high, f"{periods} control periods at controller.loop_hz = {hz:g} Hz: {why_low}", why_high
        )

    return allowed


_NOISE = "pyrometer noise and quantisation alone are about 1 K"
MAX_RUN_S = 48 * 3600.0  # the longest run the rig and its records are meant for

# Every numeric setting of [psu], [pyrometer], [controller], [felt], [limits], [rig] and [notify], in the order
# they are checked: the ranges computed from the rig read only settings checked before them (pyrometer range,
# loop rate, wiring).
RIG_RANGES: dict[str, Range | Callable[[RigConfig], Range]] = {
    "psu.channel": Range(1, 2, "the CPX400DP's outputs are 1 and 2", "the CPX400DP's outputs are 1 and 2"),
    "psu.timeout_s": Range(
        0.05,
        1.0,
        "the CPX400DP answers in < 25 ms, plus the wire time of LAN or 9600-baud RS-232",
        "every supply call on the safety path needs a short deadline",
    ),
    "pyrometer.address": Range(0, 99, "bus addresses are two decimal digits", "bus addresses are two decimal digits"),
    "pyrometer.range_c": Range(
        0.0, 3500.0, "a two-colour head reads nothing below 0 °C", "two-colour heads end at about 3500 °C"
    ),
    "pyrometer.timeout_s": Range(
        0.01,
        0.8,
        "a reply at 19200 baud takes several ms",
        "a silent pyrometer must be noticed within a second, and a read must fit inside the longest watchdog",
    ),
    "pyrometer.t90_s": Range(
        0.0, 2.0, "0 switches the compensation off", "a head slower than 2 s cannot follow a UFS ramp at all"
    ),
    "limits.cross_check_k": Range(
        10.0, 500.0, "the felt's R reads within a few kelvin at best", "beyond 500 K the check checks nothing"
    ),
    "limits.cross_check_s": Range(
        0.2, 30.0, "the meters refresh at 4 Hz", "a disagreement longer than 30 s is a wrong measurement"
    ),
    "controller.loop_hz": Range(
        5.0,
        100.0,
        "slower, a 50 °C/s ramp moves 10 K between ticks and the interlocks react late",
        "a tick exchanges several commands with the supply; faster, they no longer fit in a period",
    ),
    "controller.tau_c_s": Range(
        0.05, 10.0, "faster than a period at 20 Hz only amplifies pyrometer noise", "slower no longer tracks a ramp"
    ),
    "controller.tau_c_hold_s": Range(
        0.05,
        30.0,
        "faster than a period at 20 Hz only amplifies pyrometer noise",
        "slower no longer rejects disturbances on a hold",
    ),
    "controller.theta_s": Range(
        0.01,
        2.0,
        "the supply's and the pyrometer's latencies alone exceed 10 ms",
        "a dead time above 2 s means the loop is mis-measured",
    ),
    "controller.engage_margin_k": Range(
        1.0,
        500.0,
        "the pyrometer is noisiest at its lower limit",
        "closing later leaves most of the pyrometer's range open loop",
    ),
    "controller.engage_window_s": _periods_and_more(
        2,
        5.0,
        "the hand-over fits a slope to the readings",
        "waiting longer lets a fast ramp run open loop for hundreds of kelvin",
    ),
    "controller.error_filter_s": Range(
        0.0, 2.0, "0 switches the filter off", "a slower filter delays the loop it feeds by seconds"
    ),
    "controller.learn_gain": Range(
        0.0,
        1.0,
        "a gain of 0 learns nothing",
        "more than the whole correction overshoots from run to run (iterative learning needs a gain <= 1)",
        low_open=True,
    ),
    "controller.learn_min_gain": Range(
        0.0,
        1.0,
        "0 lets the gain decay to nothing: the correction settles on the mean of the runs",
        "iterative learning needs a gain <= 1",
    ),
    "controller.learn_noise_sigmas": Range(
        0.0,
        5.0,
        "0 learns the run's noise along with its error",
        "a wider threshold leaves real errors of a few kelvin unlearned",
    ),
    "controller.learn_advance_s": Range(
        0.0,
        0.5,
        "0 applies the correction when the loop needed it",
        "the plant's lag is a few tenths of a second; 0.4 s already made the learning diverge in simulation",
    ),
    "controller.learn_smooth_s": Range(
        0.0,
        5.0,
        "0 switches the smoothing off",
        "wider smoothing blurs the ramp-to-hold corner that learning is for",
    ),
    "controller.learn_max_fraction": Range(
        0.01,
        0.5,
        "a bound below 1 % of the envelope learns nothing useful",
        "a correction larger than half the envelope is no longer a correction of the model",
    ),
    "felt.wear_fraction": Range(
        0.02,
        1.0,
        "the cold resistance varies by a few % with the felt's temperature at rest",
        "a felt whose resistance doubled is long worn",
    ),
    "felt.replaced_fraction": Range(
        0.02,
        1.0,
        "the cold resistance varies by a few % from run to run",
        "a felt twice or half the resistance of the last is certainly another felt",
    ),
    "limits.max_temperature_c": _max_temperature_range,
    "limits.hot_start_c": _hot_start_range,
    "limits.over_setpoint_margin_k": Range(1.0, 200.0, _NOISE, "200 K above the setpoint no longer checks the loop"),
    "limits.max_voltage_v": Range(
        0.5, 60.0, "below 0.5 V the felts take no useful power", "the CPX400DP's 60 V per output"
    ),
    "limits.max_current_a": Range(
        0.1, 20.0, "below 0.1 A the felts take no useful power", "the CPX400DP's 20 A per output"
    ),
    "limits.max_power_w": _max_power_range,
    "limits.tracking_band_k": Range(1.0, 200.0, _NOISE, "an error of 200 K is a lost loop, not tracking"),
    "limits.tracking_time_s": Range(
        0.1, 30.0, "shorter trips on one noisy reading", "a loop lost for longer heats unchecked"
    ),
    "limits.pyrometer_dropout_s": Range(
        0.05, 2.0, "one reading at 20 Hz", "a closed loop blind for longer heats unchecked"
    ),
    "limits.stale_reading_s": Range(
        0.2,
        10.0,
        "a few identical readings are normal (0.1 °C resolution)",
        "a pyrometer stuck for longer hides a runaway",
    ),
    "limits.loop_break_s": Range(
        0.5,
        30.0,
        "shorter trips on the pyrometer's response before the felt can rise 10 K",
        "near-full power for longer without a rise overheats leads and clamps",
    ),
    "limits.blind_margin_k": Range(
        10.0,
        500.0,
        "closer to the range start than the model's error near it",
        "larger lets a ramp heat open loop through most of the pyrometer's range",
    ),
    "limits.blind_hold_margin_k": Range(
        5.0,
        500.0,
        "closer to the range start than its noise and the head's own limit",
        "larger lets a hold end unseen well inside the pyrometer's range",
    ),
    "limits.blind_s": Range(
        0.5,
        30.0,
        "a fast ramp needs a moment to bring valid readings",
        "heating longer without a valid reading is heating blind",
    ),
    "limits.max_run_s": Range(
        1.0, MAX_RUN_S, "a run is at least a second", "48 h is the longest run the rig and its records are meant for"
    ),
    "limits.resistance_drift": Range(
        0.05,
        2.0,
        "the felts' resistance moves a few % with temperature-estimate errors",
        "+200 % is a broken felt or a burning contact",
    ),
    "limits.watchdog_s": _periods_and_more(
        3,
        1.0,
        "one late tick is jitter, not a stall",
        "a stalled loop must not hold the output on for more than a second",
    ),
    "limits.loop_break_rise_k": Range(
        2.0,
        100.0,
        "a smaller rise is within the pyrometer's noise",
        "a heating felt rises by more than this within a couple of seconds at near-full power",
    ),
    "limits.high_power_fraction": Range(
        0.5,
        1.0,
        "below half the envelope the loop is not asking for full power",
        "a fraction of the envelope",
    ),
    "limits.open_circuit_fraction": Range(
        0.01,
        0.5,
        "the meters' 10 mA resolution",
        "more than half the expected current flows through a felt that is still there",
    ),
    "limits.open_circuit_reads": Range(
        1.0,
        8.0,
        "one read is the least evidence",
        "eight reads at 4 Hz are 2 s of heating an open circuit's arcing contacts",
    ),
    "limits.felt_short_ratio": Range(
        0.1,
        0.9,
        "below a tenth the short has already burnt through",
        "the felts' resistance legitimately falls to about 60 % of its cold value when hot",
    ),
    "limits.supply_failures_max": Range(
        1.0,
        10.0,
        "one failed transaction is the least evidence",
        "ten failed transactions at 4 Hz leave the supply unwatched for 2.5 s",
    ),
    "limits.open_circuit_min_v": Range(
        0.5,
        20.0,
        "below this the meters cannot tell an open felt from a cold one",
        "the check must run well inside the operating voltages",
    ),
    "rig.felt_size_mm": Range(
        0.1, 500.0, "a felt thinner than 0.1 mm is a foil", "a felt longer than 0.5 m does not fit a glovebox rig"
    ),
    "rig.o2_ppm": Range(0.0, 1e6, "a concentration is not negative", "ppm end at 10^6"),
    "rig.h2o_ppm": Range(0.0, 1e6, "a concentration is not negative", "ppm end at 10^6"),
    "rig.pyrometer_spot_mm": Range(
        0.1, 100.0, "two-colour heads focus no smaller than 0.1 mm", "a spot larger than 10 cm misses a felt"
    ),
    "rig.pyrometer_ratio": Range(
        0.8, 1.2, "two-colour heads set the emissivity ratio from 0.800", "two-colour heads set it up to 1.200"
    ),
    "notify.timeout_s": Range(
        0.1, 300.0, "a command needs some time to start", "a campaign waits for the command between samples"
    ),
}

# The TOML section of a RigConfig attribute where the two differ.
_SECTION_ATTRIBUTE = {"rig": "description"}


def check_ranges(rig: RigConfig) -> None:
    """Raise :class:`ConfigError` naming the file, the key, the value and the allowed range of the first
    setting of ``rig`` outside ``RIG_RANGES``. Unset optional settings (None) are not checked."""
    for key, entry in RIG_RANGES.items():
        section, name = key.split(".")
        table = getattr(rig, _SECTION_ATTRIBUTE.get(section, section))
        value = getattr(table, name)
        if value is None:
            continue
        allowed = entry if isinstance(entry, Range) else entry(rig)
        default = getattr(type(table)(), name)
        note = " (the default)" if value == default else ""
        for v in value if isinstance(value, tuple) else (value,):
            refusal = allowed.refusal(v, note)
            if refusal is not None:
                raise ConfigError(rig.source, key, refusal)


def load_rig(path: str | Path) -> RigConfig:
    """Read and validate a rig TOML file."""
    return parse_rig(read_toml(path, ConfigError), str(path))
