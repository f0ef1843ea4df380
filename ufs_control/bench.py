"""``ufs bench``: the LLZO membrane recipe in virtual time over a Monte Carlo of plant variations as wide as
real rigs differ, with the product controller on the preset model, on the model ``ufs identify`` fits on
each plant, after run-to-run learning, against the exact-model limit and a naive voltage PID; plus
simulator speed (open-loop heating, and the LLZO recipe through the drivers) and the simulated
steady-state power curve.

Metrics use the simulator's true felt temperature (as the thermal-model reference's Monte Carlo does), so
pyrometer noise does not masquerade as control error; the same figures on the measured temperature are
written alongside. Everything goes through :mod:`ufs_control.app`, the composition root.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ufs_control.app import build_simulator, open_session, prepare_run
from ufs_control.control.feasibility import first_error
from ufs_control.control.identify import IdentificationError, fit_plant
from ufs_control.core.profile import Hold, Profile, load_profile, parse_profile
from ufs_control.core.rig import ENGAGE_MARGIN_IDENTIFIED_K, RigConfig
from ufs_control.core.thermal import ThermalParams, Wiring, preset
from ufs_control.runner.metrics import compute
from ufs_control.runner.plantfile import identification_profile, trace_of_run
from ufs_control.runner.records import Sample

RECIPE = Path(__file__).resolve().parent.parent / "profiles" / "llzo_membrane_1150C_20s.toml"
# What is compared on every plant, side by side: the product controller with the preset model, with the model
# ``ufs identify`` fitted on that plant, after 1, 3 and 5 runs of run-to-run learning on top of the identified
# model; the same controller given the plant's exact parameters and pyrometer lag (the limit); a naive
# voltage PID as a hand-written script would do it.
VARIANTS = (
    "nominal_model",
    "identified_model",
    "learning_1",
    "learning_3",
    "learning_5",
    "exact_model",
    "naive_voltage_pid",
)
LEARNING_RUNS = 5
KEYS = ("ramp_rms_k", "handover_k", "overshoot_k", "settle_s", "hold_max_k", "iae_ks", "time_in_band_s")
TARGETS = {"ramp_rms_k": 2.0, "handover_k": 5.0, "overshoot_k": 1.0, "hold_max_k": 1.0}  # identified, p90
FIXTURES = ("as_modelled", "bn_not_modelled", "bn_modelled_absent")
IDENTIFY_MAX_C = 1200.0  # ufs identify's default


@dataclass(frozen=True)
class PlantCase:
    index: int
    params: ThermalParams  # the true plant
    latency_s: float
    noise_k: float
    range_low_c: float
    t90_s: float = 0.01  # the pyrometer head's response
    fixture: str = "as_modelled"  # BN plates present but not in the model, or the reverse

    @property
    def model_preset(self) -> ThermalParams:
        """The preset the lab would start from: B (with BN plates) when it believes plates are in."""
        return preset("B") if self.fixture == "bn_modelled_absent" else preset("A")


def sample_plants(n: int, seed: int) -> list[PlantCase]:
    """Real rigs: heat capacity x0.6-1.8, emissivity x0.7-1.2, clamp conduction x0.5-3, felt resistance
    x0.7-1.5, pyrometer t90 0.01-0.3 s, and the fixture mismatched with the model in a third of the plants
    each way; NTC shape, convection and felt-sample coupling as the thermal-model reference §6.9."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        fixture = FIXTURES[i % len(FIXTURES)]
        base = preset("B") if fixture == "bn_not_modelled" else preset("A")
        eps_scale = rng.uniform(0.7, 1.2)
        eps = base.emissivity * eps_scale
        params = replace(
            base,
            emissivity=min(eps, 1.0),
            area_m2=base.area_m2 * max(eps, 1.0) * rng.uniform(0.95, 1.05),
            g_fe_w_k=base.g_fe_w_k * rng.uniform(0.5, 3.0),
            felt_density_kg_m3=base.felt_density_kg_m3 * rng.uniform(0.6, 1.8),
            rho_el_ohm_m=base.rho_el_ohm_m * rng.uniform(0.7, 1.5),
            ntc_a=rng.uniform(0.55, 0.8),
            ntc_tc_k=rng.uniform(300.0, 700.0),
            convection_w_m2k=rng.uniform(5.0, 25.0),
            g_fs_w_k=rng.uniform(0.1, 0.4),
        )
        cases.append(
            PlantCase(
                i,
                params,
                rng.uniform(0.01, 0.08),
                rng.uniform(0.3, 2.0),
                rng.uniform(500.0, 800.0),
                t90_s=math.exp(rng.uniform(math.log(0.01), math.log(0.3))),
                fixture=fixture,
            )
        )
    return cases


def bench_rig(case: PlantCase) -> RigConfig:
    """The rig as the lab would configure it: the preset it believes in, the pyrometer's true range.

    The interlocks that judge control quality (tracking error, over-setpoint margin, blind-zone loop
    break) are opened wide so that every variant completes the recipe and the comparison covers the same
    run: a lagging baseline would otherwise be stopped early and look better than it is.
    """
    rig = RigConfig()
    return replace(
        rig,
        model=case.model_preset,
        pyrometer=replace(rig.pyrometer, range_c=(case.range_low_c, 2000.0)),
        limits=replace(rig.limits, tracking_band_k=1000.0, over_setpoint_margin_k=1000.0, blind_s=1000.0),
    )


def bench_profile(path: Path = RECIPE) -> Profile:
    """The recipe with plain holds: a holdback would stretch a baseline's hold without bound."""
    profile = load_profile(path)
    segments = tuple(
        replace(s, holdback_k=None, max_wait_s=None) if isinstance(s, Hold) else s for s in profile.segments
    )
    return replace(profile, segments=segments)


def _session(
    case: PlantCase, rig: RigConfig, controller: str, runs_dir: Path | None, on_sample: Any, run: int = 0
) -> Any:
    return open_session(
        rig,
        simulate=True,
        runs_dir=runs_dir,
        sim_params=case.params,
        sim_overrides={
            "psu_latency_s": case.latency_s,
            "pyrometer_noise_k": case.noise_k,
            "pyrometer_t90_s": case.t90_s,
        },
        controller=controller,
        on_sample=on_sample,
        seed=case.index + 1000 * run,  # a real pyrometer's noise does not repeat from run to run
        plot=False,
    )


def run_case(
    case: PlantCase,
    controller: str,
    profile: Profile,
    rig: RigConfig | None = None,
    runs_dir: Path | None = None,
    learn: bool = False,
    run: int = 0,
) -> dict[str, Any]:
    """One recipe run (``run``: its number on this plant, which draws the noise afresh); return the outcome and
    the metrics on true and on measured temperature."""
    rig = rig or bench_rig(case)
    pairs: list[tuple[Sample, float]] = []
    holder: dict[str, Any] = {}

    def on_sample(s: Sample) -> None:
        pairs.append((s, holder["sim"].rig.truth().felt_c))

    session = _session(case, rig, controller, runs_dir, on_sample, run)
    holder["sim"] = session.sim
    try:
        companion = None
        if learn and runs_dir is not None:
            companion = prepare_run(session, rig, profile, runs_dir, learn=True, warn=lambda _m: None)
        result = session.runner.run(profile)
        if companion is not None and runs_dir is not None:
            companion.after(result)
    finally:
        session.close()
    true_samples = [dataclasses.replace(s, temperature_c=t) for s, t in pairs]
    measured = [s for s, _ in pairs]
    return {
        "plant": case.index,
        "controller": controller,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "true": compute(true_samples),
        "measured": compute(measured),
    }


def identify_case(case: PlantCase, runs_dir: Path) -> tuple[RigConfig, dict[str, Any]]:
    """``ufs identify`` on the plant (embedded simulator, the same experiment and fit): the rig with the
    identified model, and what the fit said."""
    rig = bench_rig(case)
    # As the lab runs it: with the rig's own interlocks, not the ones opened for comparing the recipe runs.
    lab = replace(rig, limits=RigConfig().limits)
    profile = identification_profile(lab, IDENTIFY_MAX_C)
    session = _session(case, lab, "ff_pi", runs_dir, None)
    try:
        result = session.runner.run(profile)
    finally:
        session.close()
    if result.outcome.value != "finished" or result.run_dir is None:
        raise IdentificationError(f"identification run {result.outcome.value}: {result.reason}")
    fit = fit_plant([trace_of_run(result.run_dir, rig)], rig.model, rig.wiring)
    identified = replace(
        rig,
        model=fit.params,
        model_file=str(runs_dir / "plant.toml"),
        pyrometer=replace(rig.pyrometer, t90_s=fit.t90_s),
    )
    info = {
        "pyro_rms_k": fit.pyro_rms_k,
        "sample_stack": fit.sample_stack,
        "fitted": {p.name: p.value for p in fit.parameters},
    }
    return identified, info


def plant_job(args: tuple[PlantCase, str]) -> list[dict[str, Any]]:
    """Every variant on one plant (they share the identification and the learning store)."""
    case, path = args
    profile = bench_profile(Path(path))
    rows: list[dict[str, Any]] = []

    def row(variant: str, result: dict[str, Any]) -> None:
        result["variant"] = variant
        rows.append(result)

    with tempfile.TemporaryDirectory(prefix="ufs-bench-") as tmp:
        folder = Path(tmp)
        row("nominal_model", run_case(case, "ff_pi", profile))
        row("naive_voltage_pid", run_case(case, "naive_voltage_pid", profile))
        # The exact model is a perfectly identified one: it closes the loop as an identified model does.
        base = bench_rig(case)
        exact = replace(
            base,
            pyrometer=replace(base.pyrometer, t90_s=case.t90_s),
            controller=replace(base.controller, engage_margin_k=ENGAGE_MARGIN_IDENTIFIED_K),
        )
        row("exact_model", run_case(case, "exact_ff", profile, rig=exact))
        try:
            identified, info = identify_case(case, folder / "identify")
        except IdentificationError as exc:
            rows.append({"plant": case.index, "variant": "identified_model", "outcome": "not_identified",
                         "reason": str(exc), "true": {}, "measured": {}})  # fmt: skip
            return rows
        infeasible = first_error(profile, identified)
        if infeasible is not None:
            rows.append({"plant": case.index, "variant": "identified_model", "outcome": "infeasible",
                         "reason": infeasible.message, "true": {}, "measured": {}})  # fmt: skip
            return rows
        first = run_case(case, "ff_pi", profile, rig=identified)
        first["identification"] = info
        row("identified_model", first)
        runs = folder / "runs"
        runs.mkdir()
        # Run k + 1 is the first to use what k completed runs taught (run 1 only learns).
        for k in range(LEARNING_RUNS + 1):
            result = run_case(case, "ff_pi", profile, rig=identified, runs_dir=runs, learn=True, run=k + 1)
            if k in (1, 3, 5):
                row(f"learning_{k}", result)
    return rows


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    pos = 0.9 * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarise(rows: list[dict[str, Any]], source: str) -> dict[str, dict[str, dict[str, float | None]]]:
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for name in VARIANTS:
        mine = [r for r in rows if r.get("variant") == name]
        med: dict[str, float | None] = {}
        p90: dict[str, float | None] = {}
        for key in KEYS:
            vals = [r[source][key] for r in mine if r[source].get(key) is not None]
            # time in band is better when larger: its "p90" is the 10th percentile (the bad tail)
            if key == "time_in_band_s":
                vals = [-v for v in vals]
            sign = -1.0 if key == "time_in_band_s" else 1.0
            med[key] = statistics.median(vals) * sign + 0.0 if vals else None
            p90[key] = _p90(vals) * sign + 0.0 if vals else None
        out[name] = {"median": med, "p90": p90}
    return out


def learning_gain(rows: list[dict[str, Any]], runs: int) -> float | None:
    """Median over plants of what learning leaves of the identified model's excess IAE after ``runs`` runs:
    (IAE_learned - IAE_exact) / (IAE_identified - IAE_exact); below 0.5 = halved."""
    by: dict[tuple[int, str], float] = {}
    for r in rows:
        iae = r["true"].get("iae_ks") if r.get("true") else None
        if iae is not None:
            by[(r["plant"], r["variant"])] = iae
    ratios = []
    for plant in {p for p, _ in by}:
        ident, learned, exact = (by.get((plant, v)) for v in ("identified_model", f"learning_{runs}", "exact_model"))
        if ident is None or learned is None or exact is None or ident - exact <= 1.0:
            continue  # nothing left to learn on this plant (within 1 K·s of the limit)
        ratios.append((learned - exact) / (ident - exact))
    return statistics.median(ratios) if ratios else None


def sim_speed(seconds: float = 60.0) -> dict[str, float]:
    """Open-loop heating on the in-process simulator: simulated seconds per wall second."""
    sim = build_simulator(preset("A"))
    sim.psu.set_voltage_and_current(1, 24.0, 12.0)
    sim.psu.set_output(1, True)
    start = time.perf_counter()
    ticks = int(seconds / 0.05)
    for k in range(ticks):
        sim.clock.sleep(0.05)
        sim.pyrometer.read_temperature()
        if k % 5 == 0:
            sim.psu.measure_output(1)
        sim.psu.set_voltage_and_current(1, 24.0, 12.0)
    wall = time.perf_counter() - start
    return {"simulated_s": seconds, "wall_s": wall, "sim_seconds_per_wall_second": seconds / wall}


def llzo_speed(runs: int = 5) -> dict[str, Any]:
    """The LLZO membrane recipe as ``ufs run --sim`` runs it, without records or plot: the real drivers over
    the wire-level emulators and the plant, in virtual time. Return simulated seconds per wall second of each
    of ``runs`` runs, their median and the best."""
    profile = load_profile(RECIPE)
    simulated: list[float] = []
    walls: list[float] = []
    for _ in range(runs):
        session = open_session(RigConfig(), simulate=True, runs_dir=None, plot=False)
        assert session.sim is not None
        try:
            t0 = session.sim.clock.now()
            start = time.perf_counter()
            session.runner.run(profile)
            walls.append(time.perf_counter() - start)
            simulated.append(session.sim.clock.now() - t0)
        finally:
            session.close()
    speeds = [s / w for s, w in zip(simulated, walls, strict=True)]
    return {
        "recipe": RECIPE.name,
        "simulated_s": statistics.median(simulated),
        "wall_s": walls,
        "x_real_time": speeds,
        "x_real_time_median": statistics.median(speeds),
        "x_real_time_best": max(speeds),
    }


def steady_power_curve(temps: tuple[float, ...] = (600.0, 1000.0, 1150.0, 1500.0)) -> dict[str, float]:
    """Electrical power that holds the nominal plant at each temperature, measured in closed loop."""
    out: dict[str, float] = {}
    for t in temps:
        profile = parse_profile(
            {
                "name": f"hold_{t:.0f}",
                "max_temperature_c": t + 100,
                "segment": [
                    {"type": "ramp", "target_c": t, "rate_c_per_s": 100},
                    {"type": "hold", "duration_s": 15},
                ],
            }
        )
        rig = replace(RigConfig(), wiring=Wiring.PER_CHANNEL)
        rig = replace(rig, limits=replace(rig.limits, max_power_w=840.0))
        powers: list[float] = []
        holder: dict[str, Any] = {}

        def on_sample(s: Sample, powers: list[float] = powers, holder: dict[str, Any] = holder) -> None:
            truth = holder["sim"].rig.truth()
            if s.segment_kind == "hold" and s.profile_t_s > 0:
                powers.append(truth.felt_power_w + truth.contact_power_w)

        session = open_session(rig, simulate=True, runs_dir=None, on_sample=on_sample, plot=False)
        holder["sim"] = session.sim
        try:
            session.runner.run(profile)
        finally:
            session.close()
        tail = powers[len(powers) // 2 :]
        out[f"{t:.0f}"] = statistics.fmean(tail) if tail else float("nan")
    return out


# What the numerical libraries read, when they load, for how many threads to start.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def _one_thread_per_worker() -> Iterator[None]:
    """While inside, processes started fresh (not forked) load their numerical libraries with one thread each,
    unless the environment says otherwise.

    The pool runs one worker per core already; a BLAS thread pool in each worker (OpenBLAS spins its threads
    while it waits) makes the workers fight over the cores, and ``ufs identify``'s fit took twice as long.
    One thread computes the same numbers.
    """
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_bench(
    plants: int, seed: int, out: Path, jobs: int = 2, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the benchmark and write ``out`` (JSON); return the summary.

    With ``jobs`` > 1 the plants run in fresh worker processes (spawn): a script that calls this must do so
    under ``if __name__ == "__main__":``, as multiprocessing requires.
    """
    say = log or (lambda _m: None)
    cases = sample_plants(plants, seed)
    tasks = [(c, str(RECIPE)) for c in cases]
    start = time.perf_counter()
    if jobs > 1:
        with (
            _one_thread_per_worker(),
            ProcessPoolExecutor(max_workers=min(jobs, os.cpu_count() or 1), mp_context=get_context("spawn")) as pool,
        ):
            rows = [r for plant_rows in pool.map(plant_job, tasks) for r in plant_rows]
    else:
        rows = [r for t in tasks for r in plant_job(t)]
    wall = time.perf_counter() - start
    variants = summarise(rows, "true")
    ours = variants["identified_model"]
    checks: dict[str, dict[str, Any]] = {}
    for key, limit in TARGETS.items():
        value = ours["p90"][key]
        checks[f"identified_{key}_p90"] = {"target": limit, "value": value, "met": value is not None and value <= limit}
    left = learning_gain(rows, 3)
    checks["learning_3_runs_excess_iae_left"] = {"target": 0.5, "value": left, "met": left is not None and left <= 0.5}
    runs_on_rig = [r for r in rows if r["outcome"] not in ("infeasible", "not_identified")]
    trips = [r for r in runs_on_rig if r["variant"] != "naive_voltage_pid" and r["outcome"] != "finished"]
    checks["runs_that_did_not_finish"] = {"target": 0, "value": len(trips), "met": not trips}
    failed = [r for r in rows if r["outcome"] == "not_identified"]
    checks["identifications_that_failed"] = {"target": 0, "value": len(failed), "met": not failed}
    outcomes: dict[str, dict[str, int]] = {}
    for r in rows:
        outcomes.setdefault(r["variant"], {}).setdefault(r["outcome"], 0)
        outcomes[r["variant"]][r["outcome"]] += 1
    summary: dict[str, Any] = {
        "recipe": RECIPE.name,
        "plants": plants,
        "seed": seed,
        "metric_source": "simulator true felt temperature",
        "variants": variants,
        "variants_measured": summarise(rows, "measured"),
        "learning_excess_iae_left": {str(k): learning_gain(rows, k) for k in (1, 3, 5)},
        "outcomes": outcomes,
        "targets": checks,
        "targets_met": all(c["met"] for c in checks.values()),
        "wall_s": wall,
        "simulator": {**sim_speed(), "llzo_recipe": llzo_speed()},
        "sim_steady_power_w": steady_power_curve(),
        "runs": rows,
    }
    out.write_text(json.dumps(summary, indent=2, default=float) + "\n", encoding="utf-8")
    say(f"{plants} plants x {len(VARIANTS)} variants in {wall:.1f} s")
    for name, stats in variants.items():
        p90 = stats["p90"]
        say(f"  {name:<18} p90: " + ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} -" for k, v in p90.items()))
    for key, c in checks.items():
        value = c["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        say(f"  target {key}: {shown} vs {c['target']} -> {'met' if c['met'] else 'NOT met'}")
    llzo = summary["simulator"]["llzo_recipe"]
    say(
        f"  simulator: LLZO recipe through the drivers at {llzo['x_real_time_median']:.0f}x real time "
        f"(median of {len(llzo['x_real_time'])}, best {llzo['x_real_time_best']:.0f}x)"
    )
    return summary
