"""Felt health: per rig, the cold resistance of every run and its fitted R(T), the felts it went through, and
whether the current one is worn.

The run folders are the source of truth (``run.json``'s ``cold_resistance_ohm``, ``samples.csv``). The
per-rig history file ``learning/<rig>/felt-history.json`` under the runs folder only caches the fits, keyed by
each run's folder name and the size and time of its ``run.json``; a missing or damaged file is rebuilt.

A felt is *replaced* where the cold resistance jumps between consecutive runs by more than
``felt.replaced_fraction`` (either way), and *worn* when it has drifted up from the first run of the current
felt by more than ``felt.wear_fraction``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ufs_control.control.felt_fit import FeltFit, fit_felt
from ufs_control.control.identify import METER_DELAY_S, PYRO_CLEAR_K
from ufs_control.core.rig import FeltConfig, RigConfig
from ufs_control.core.thermal import ThermalParams, Wiring, params_from_mapping
from ufs_control.runner.actuator import AMBIENT_C
from ufs_control.runner.records import read_samples
from ufs_control.runner.report import load_run_json

LEARNING_DIR = "learning"  # under the runs folder: the per-rig felt history and the learned corrections
HISTORY_NAME = "felt-history.json"
HISTORY_FORMAT = "ufs-felt-history/1"


def rig_key(source: str, simulated: bool) -> str:
    """The name a rig's history and learning go under: its rig file's name ("default" without one), with
    ``-sim`` for the simulator (a simulated felt must never be taken for the real one)."""
    stem = Path(source).stem if source and not source.startswith("<") else "default"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "default"
    return f"{safe}-sim" if simulated else safe


def rig_folder(runs_dir: Path, key: str) -> Path:
    """Where a rig's felt history and learned corrections live."""
    return runs_dir / LEARNING_DIR / key


@dataclass(frozen=True)
class FeltRun:
    """One run in a felt's history. ``fit`` is None when the run gave too few hot points to fit R(T)."""

    run: str  # the run folder's name
    started_utc: str
    outcome: str
    cold_ohm: float
    fit: FeltFit | None = None
    felt: int = 1  # which felt of the rig (1 = the first seen)
    replaced: bool = False  # the cold resistance jumped here: a new felt
    drift: float = 0.0  # cold resistance relative to the first run of this felt, minus 1


@dataclass(frozen=True)
class FeltHistory:
    """A rig's runs in time order with their felts; ``notes`` name what could not be used."""

    key: str
    runs: tuple[FeltRun, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def current(self) -> FeltRun | None:
        return self.runs[-1] if self.runs else None

    @property
    def felt_since(self) -> str | None:
        """The first run of the current felt (what identifies it), None without runs."""
        cur = self.current
        if cur is None:
            return None
        return next(r.run for r in self.runs if r.felt == cur.felt)

    def worn(self, config: FeltConfig) -> str | None:
        """A one-line warning when the current felt is worn, else None."""
        cur = self.current
        if cur is None or cur.drift <= config.wear_fraction:
            return None
        first = next(r for r in self.runs if r.felt == cur.felt)
        return (
            f"felt worn: cold resistance {cur.cold_ohm:.3f} ohm is {cur.drift:+.0%} from {first.cold_ohm:.3f} ohm at "
            f"its first run ({first.run}), beyond felt.wear_fraction {config.wear_fraction:.0%}: replace the felts"
        )


def _run_entry(run_dir: Path, data: dict[str, Any]) -> tuple[str, bool, str, str, float] | None:
    """(rig key, simulated, started, outcome, cold ohm) of a run.json, None when it has no cold resistance."""
    cold = data.get("cold_resistance_ohm")
    if isinstance(cold, bool) or not isinstance(cold, int | float) or not math.isfinite(cold) or cold <= 0:
        return None
    rig = data.get("rig")
    source = rig.get("source") if isinstance(rig, dict) else None
    simulated = isinstance(data.get("simulator"), dict)
    started = data.get("started_utc")
    outcome = data.get("outcome")
    return (
        rig_key(source if isinstance(source, str) else "", simulated),
        simulated,
        started if isinstance(started, str) else "",
        outcome if isinstance(outcome, str) else "?",
        float(cold),
    )


def _run_model(data: dict[str, Any]) -> tuple[ThermalParams, Wiring]:
    """The plant model and wiring a run was made with (the defaults where its record does not say)."""
    rig = data.get("rig")
    params, wiring = ThermalParams(), Wiring.SERIES
    if isinstance(rig, dict):
        model = rig.get("model")
        if isinstance(model, dict):
            try:
                params = params_from_mapping(model, params, "run.json")
            except Exception:
                params = ThermalParams()
        try:
            wiring = Wiring(rig.get("wiring", "series"))
        except ValueError:
            pass
    return params, wiring


def _range_low(data: dict[str, Any]) -> float:
    try:
        return float(data["rig"]["pyrometer"]["range_c"][0])
    except (KeyError, TypeError, ValueError, IndexError):
        return 600.0


def fit_run(run_dir: Path, data: dict[str, Any], cold_ohm: float) -> FeltFit | None:
    """Fit R(T) of one run folder: metered resistance against the pyrometer's temperature a meter refresh
    earlier (the meters lag), clear of the bottom of the pyrometer's range, plus the cold point."""
    samples = read_samples(run_dir)
    t = np.array([s.t_s for s in samples])
    temp = np.array([s.temperature_c if s.temperature_c is not None else math.nan for s in samples])
    ohm = np.array([s.resistance_ohm if s.resistance_ohm is not None else math.nan for s in samples])
    valid = np.isfinite(temp) & (temp > _range_low(data) + PYRO_CLEAR_K)
    if np.count_nonzero(valid) < 2:
        return None
    seen = np.interp(t - METER_DELAY_S, t[valid], temp[valid], left=math.nan, right=math.nan)
    # Only where the pyrometer was valid on both sides of the looked-up time (no bridging across gaps).
    gap = np.interp(t - METER_DELAY_S, t, (~valid).astype(float))
    seen = np.where(gap == 0.0, seen, math.nan)
    params, wiring = _run_model(data)
    return fit_felt(seen, ohm, cold_ohm, AMBIENT_C, params, wiring)


def _stamp(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


def _fit_from_json(value: object) -> FeltFit | None:
    if not isinstance(value, dict):
        return None
    try:
        numbers = {k: float(value[k]) for k in ("r_rt_ohm", "ntc_a", "ntc_tc_k", "r_hot_ohm", "rms_ohm")}
        fit = FeltFit(**numbers, n_points=int(value["n_points"]))
    except (KeyError, TypeError, ValueError):
        return None
    return fit if all(math.isfinite(v) for v in asdict(fit).values()) else None


def _read_cache(path: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        warn(f"{path}: unreadable ({exc}); rebuilt from the run folders")
        return {}
    if not isinstance(data, dict) or data.get("format") != HISTORY_FORMAT or not isinstance(data.get("runs"), dict):
        warn(f"{path}: not a felt history this version writes; rebuilt from the run folders")
        return {}
    return dict(data["runs"])


def felt_history(
    runs_dir: Path,
    key: str,
    config: FeltConfig,
    warn: Callable[[str], None] = lambda s: None,
    *,
    fits: bool = True,
) -> FeltHistory:
    """The felt history of rig ``key`` from the run folders in ``runs_dir`` (fits cached in its history file).

    With ``fits`` False only the cold resistances are read (fits already cached are kept) and nothing is
    written: what a run needs to warn of a worn felt, without leaving anything in the runs folder.
    """
    cache_path = rig_folder(runs_dir, key) / HISTORY_NAME
    cache = _read_cache(cache_path, warn) if cache_path.is_file() else {}
    fresh: dict[str, Any] = {}
    entries: list[FeltRun] = []
    notes: list[str] = []
    try:
        folders = sorted(p for p in runs_dir.iterdir() if (p / "run.json").is_file())
    except OSError:
        folders = []
    for folder in folders:
        problems: list[str] = []
        data = load_run_json(folder / "run.json", problems)
        entry = _run_entry(folder, data) if data is not None else None
        if data is None or entry is None or entry[0] != key:
            continue
        _, _, started, outcome, cold = entry
        stamp = _stamp(folder / "run.json")
        cached = cache.get(folder.name)
        if isinstance(cached, dict) and cached.get("stamp") == stamp:
            fit = _fit_from_json(cached.get("fit"))
        elif not fits:
            fit = None
        else:
            try:
                fit = fit_run(folder, data, cold) if (folder / "samples.csv").is_file() else None
            except (OSError, ValueError) as exc:
                notes.append(f"{folder.name}: samples.csv unusable ({exc}); no R(T) fit")
                fit = None
        fresh[folder.name] = {"stamp": stamp, "fit": asdict(fit) if fit is not None else None}
        entries.append(FeltRun(folder.name, started, outcome, cold, fit))
    entries.sort(key=_order)
    history = FeltHistory(key, tuple(_segment(entries, config)), tuple(notes))
    if fits and fresh != cache:
        _write_cache(cache_path, fresh, warn)
    return history


def _order(r: FeltRun) -> tuple[str, int, str]:
    """Time order: the start, then the folder's ``-N`` suffix of runs started in the same second."""
    base, _, suffix = r.run.rpartition("-")
    number = int(suffix) if base and suffix.isdigit() and "_" in base else 1
    return (r.started_utc, number, r.run)


def _segment(entries: list[FeltRun], config: FeltConfig) -> list[FeltRun]:
    """Number the felts (a jump beyond ``replaced_fraction`` starts a new one) and each run's drift."""
    out: list[FeltRun] = []
    felt, first = 1, None
    for i, r in enumerate(entries):
        replaced = False
        if i > 0:
            prev = entries[i - 1].cold_ohm
            if abs(r.cold_ohm / prev - 1.0) > config.replaced_fraction:
                felt, replaced, first = felt + 1, True, None
        first = first if first is not None else r.cold_ohm
        out.append(FeltRun(r.run, r.started_utc, r.outcome, r.cold_ohm, r.fit, felt, replaced, r.cold_ohm / first - 1))
    return out


def _write_cache(path: Path, runs: dict[str, Any], warn: Callable[[str], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"format": HISTORY_FORMAT, "runs": runs}, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        warn(f"{path}: cannot write the felt history cache ({exc.strerror})")


def history_keys(runs_dir: Path) -> list[str]:
    """The rig keys that have runs with a cold resistance in ``runs_dir``."""
    keys: set[str] = set()
    try:
        folders = sorted(p for p in runs_dir.iterdir() if (p / "run.json").is_file())
    except OSError:
        return []
    for folder in folders:
        data = load_run_json(folder / "run.json", [])
        entry = _run_entry(folder, data) if data is not None else None
        if entry is not None:
            keys.add(entry[0])
    return sorted(keys)


def key_of(rig: RigConfig, simulated: bool) -> str:
    """The rig key of ``rig`` as run (see :func:`rig_key`)."""
    return rig_key(rig.source, simulated)
