"""The learned feedforward corrections on disk, and learning from a finished run.

Layout under the runs folder, one readable JSON file per version::

    learning/<rig>/<profile>-<profile hash>/model-<model hash>/v0001.json, v0002.json, ...

The model hash is of the plant model's parameters and wiring: a refit model starts a new folder, so a
correction learned against another model is never applied. Each version names the felt it was learned on
(the first run of that felt, from :mod:`ufs_control.runner.felt`); a correction learned on another felt is not
applied either (learning starts again). A file that cannot be read or fails its checks is ignored with a
warning and never used to heat.

The control law is in :mod:`ufs_control.control.learning`; this module only keeps, checks and feeds it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ufs_control.control.learning import Correction, LearningSettings, run_signal, update
from ufs_control.control.model import PlantModel
from ufs_control.core.profile import Plan, setpoint_at
from ufs_control.core.rig import RigConfig
from ufs_control.runner.felt import rig_folder
from ufs_control.runner.records import Outcome, RunResult, jsonable, read_samples, utc_now

FORMAT = "ufs-learning/1"
VERSION_RE = re.compile(r"v(\d{4,})\.json")
CONTROLLED_KINDS = ("ramp", "hold", "step")  # segments the feedforward drives (not cools or open-loop power)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(jsonable(value), sort_keys=True).encode()).hexdigest()[:12]


def model_hash(rig: RigConfig) -> str:
    """What identifies the plant model the feedforward was computed from: its parameters and the wiring."""
    return _digest({"params": rig.model, "wiring": rig.wiring})


def profile_key(laid: Plan) -> str:
    """The profile's name and a hash of its setpoint trajectory (an edited recipe learns afresh)."""
    shape = [(s.kind, s.start_s, s.end_s, s.start_c, s.end_c) for s in laid.segments]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in laid.profile.name) or "profile"
    return f"{name}-{_digest([shape, laid.profile.end_action])[:8]}"


def envelope_bound(rig: RigConfig, laid: Plan, max_fraction: float) -> Callable[[float], float]:
    """The largest correction allowed at a profile time: ``max_fraction`` of the supply envelope at the
    setpoint (0 where there is no setpoint)."""
    model = PlantModel(rig.model, rig.wiring)

    def bound(t: float) -> float:
        sp, _ = setpoint_at(laid, t)
        if sp is None:
            return 0.0
        return max_fraction * min(rig.limits.max_power_w, model.available_power_w(sp))

    return bound


def settings_of(rig: RigConfig) -> LearningSettings:
    c = rig.controller
    return LearningSettings(
        c.learn_gain, c.learn_advance_s, c.learn_smooth_s, c.learn_max_fraction, c.learn_min_gain, c.learn_noise_sigmas
    )


@dataclass(frozen=True)
class Version:
    """One stored correction and where it came from."""

    number: int
    path: Path
    correction: Correction
    felt_since: str | None
    record: dict[str, Any] = field(repr=False)

    @property
    def iteration(self) -> int:
        """How many runs this correction has learned from. A file that does not say (written before the
        gain decayed) counts as many as its version number: at most that many, so the next gain is no larger
        than it should be."""
        value = self.record.get("iteration")
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else self.number


class LearningStore:
    """The versions of one rig, profile and model."""

    def __init__(self, runs_dir: Path, key: str, rig: RigConfig, laid: Plan) -> None:
        self.rig = rig
        self.plan = laid
        self.model_hash = model_hash(rig)
        self.folder = rig_folder(runs_dir, key) / profile_key(laid) / f"model-{self.model_hash}"
        self.runs_dir = runs_dir

    def numbers(self) -> list[int]:
        """Version numbers present (readable or not), ascending."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := VERSION_RE.fullmatch(n)))

    def latest(self, warn: Callable[[str], None]) -> Version | None:
        """The newest version that passes its checks (damaged ones are named through ``warn`` and skipped)."""
        for number in reversed(self.numbers()):
            path = self.folder / f"v{number:04d}.json"
            try:
                return self._read(path, number)
            except (OSError, ValueError) as exc:
                warn(f"{path}: {exc}; ignored, not used to heat")
        return None

    def _read(self, path: Path, number: int) -> Version:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError("not a text file") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a learning file (format must be {FORMAT!r})")
        if data.get("version") != number:
            raise ValueError(f"version {data.get('version')!r} does not match its name")
        if data.get("model_hash") != self.model_hash:
            raise ValueError("learned with another plant model")
        dt = data.get("dt_s")
        points = data.get("points")
        if isinstance(dt, bool) or not isinstance(dt, int | float) or not 0.01 <= dt <= 60:
            raise ValueError(f"dt_s {dt!r} is not a time step in s")
        if not isinstance(points, list) or not points:
            raise ValueError("points: expected a list of [profile_t_s, correction_w]")
        bound = envelope_bound(self.rig, self.plan, self.rig.controller.learn_max_fraction)
        values = []
        for i, point in enumerate(points):
            if (
                not isinstance(point, list)
                or len(point) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in point)
            ):
                raise ValueError(f"points[{i}]: expected [profile_t_s, correction_w], got {point!r:.60}")
            t, w = float(point[0]), float(point[1])
            if abs(t - i * dt) > 1e-6 * max(1.0, t):
                raise ValueError(f"points[{i}]: profile time {t:g} s is off the {dt:g} s grid")
            if abs(w) > bound(t) + 1e-6:
                raise ValueError(f"points[{i}]: {w:g} W at {t:g} s exceeds the bound {bound(t):.4g} W")
            values.append(w)
        felt = data.get("felt", {})
        since = felt.get("since_run") if isinstance(felt, dict) else None
        felt_since = since if isinstance(since, str) else None
        return Version(number, path, Correction(float(dt), tuple(values)), felt_since, data)

    def write(self, correction: Correction, record: dict[str, Any]) -> Path:
        """Store ``correction`` as the next version with ``record`` (what it was learned from); return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            number = (self.numbers() or [0])[-1] + 1
            path = self.folder / f"v{number:04d}.json"
            try:
                with open(path, "x", encoding="utf-8") as fh:  # never overwrite a version
                    fh.write(self._text(number, correction, record))
                return path
            except FileExistsError:
                continue  # another process wrote this number meanwhile: take the next

    def _text(self, number: int, correction: Correction, record: dict[str, Any]) -> str:
        """The version file: what it is and where it came from, then one ``[profile_t_s, correction_w]`` a line."""
        body = {
            "format": FORMAT,
            "version": number,
            "created_utc": utc_now().isoformat(timespec="seconds"),
            "model_hash": self.model_hash,
            "profile": {"name": self.plan.profile.name, "key": profile_key(self.plan)},
            **record,
            "dt_s": correction.dt_s,
            "peak_w": round(correction.peak_w, 3),
        }
        head = json.dumps(jsonable(body), indent=2)[:-2]  # without the closing brace: the points follow
        rows = ",\n".join(f"    [{i * correction.dt_s:.4f}, {v:.4f}]" for i, v in enumerate(correction.values))
        return f'{head},\n  "points": [\n{rows}\n  ]\n}}\n'


@dataclass
class Gate:
    """The learned correction as the controller calls it, with the felt check done once the run has measured
    its cold resistance: if it jumped from the last run's (a new felt), the correction is switched off for
    the run and learning starts again."""

    version: Version | None
    last_cold_ohm: float | None
    replaced_fraction: float
    cold_ohm: Callable[[], float | None]
    provenance: dict[str, Any]
    disabled: str | None = None
    _checked: bool = False

    def __call__(self, profile_t_s: float) -> float:
        if not self._checked:
            self._checked = True
            cold = self.cold_ohm()
            if self.version is not None and cold is not None and self.last_cold_ohm:
                jump = cold / self.last_cold_ohm - 1.0
                if abs(jump) > self.replaced_fraction:
                    self.disabled = f"felt replaced (cold resistance {jump:+.0%} from the last run)"
                    self.provenance["version"] = None
                    self.provenance["reset"] = self.disabled
        if self.version is None or self.disabled is not None:
            return 0.0
        return self.version.correction(profile_t_s)

    @property
    def used(self) -> Version | None:
        return self.version if self.disabled is None else None


def learn_from_run(
    store: LearningStore,
    result: RunResult,
    used: Version | None,
    b_ff_w_k: float,
    felt_since: str | None,
    cold_ohm: float | None,
) -> tuple[Path | None, str]:
    """Learn the next version from a finished run; (path of the new version or None, one line saying what
    happened). A run that did not finish (tripped, aborted, failed, interrupted) teaches nothing."""
    if result.outcome is not Outcome.FINISHED:
        return None, f"learning: not updated, the run {result.outcome.value} ({result.reason})"
    if result.run_dir is None:
        return None, "learning: not updated, the run kept no record"
    samples = read_samples(result.run_dir)
    rig, model = store.rig, PlantModel(store.rig.model, store.rig.wiring)
    p = model.params
    signal = run_signal(
        [s.profile_t_s for s in samples],
        [s.setpoint_c for s in samples],
        [s.loop == "closed" for s in samples],
        [s.setpoint_c is not None and s.segment_kind in CONTROLLED_KINDS for s in samples],
        [s.power_w for s in samples],
        [s.ff_w for s in samples],
        [s.k_ff for s in samples],
        steady_power_w=model.steady_power_w,
        b_ff_w_k=b_ff_w_k,
        phi=p.phi,
        t_amb_c=p.t_amb_k - 273.15,
    )
    if signal.first_closed is None:
        return None, "learning: not updated, the loop never closed in this run"
    settings = settings_of(rig)
    previous = used.correction if used is not None else None
    bound = envelope_bound(rig, store.plan, settings.max_fraction)
    iteration = used.iteration + 1 if used is not None else 1
    correction = update(previous, signal, store.plan.duration_s, settings, bound, iteration)
    iae = result.metrics.get("iae_ks")
    record = {
        "iteration": iteration,
        "gain": settings.gain_for(iteration),
        "learned_from": {
            "run": result.run_dir.name,
            "outcome": result.outcome.value,
            "iae_ks": iae,
            "previous_version": used.number if used is not None else None,
            "handover_profile_t_s": signal.handover_profile_t_s,
            "b_ff_w_per_k": b_ff_w_k,
        },
        "felt": {"since_run": felt_since, "cold_resistance_ohm": cold_ohm},
        "settings": settings,
        "model": rig.model,
        "wiring": rig.wiring,
    }
    path = store.write(correction, record)
    shown = f"{iae:.1f} K·s" if isinstance(iae, float) else "n/a"
    overshoot = result.metrics.get("overshoot_k")
    if isinstance(overshoot, float):
        shown += f", overshoot {overshoot:.1f} K"
    return path, (
        f"learning: version {int(path.stem[1:])} learned from this run (run {iteration} of this correction, "
        f"gain {settings.gain_for(iteration):.2f}; IAE {shown}, correction up to {correction.peak_w:.1f} W): {path}"
    )
