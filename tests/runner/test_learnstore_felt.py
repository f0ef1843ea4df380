"""The learning store (versions, checks, resets) and the felt history, on hand-made run folders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.runner.helpers import llzo
from ufs_control.control.felt_fit import fit_felt
from ufs_control.control.learning import Correction
from ufs_control.core.profile import plan
from ufs_control.core.rig import FeltConfig, RigConfig
from ufs_control.core.thermal import Wiring, c_to_k, channel_resistance, preset
from ufs_control.runner.actuator import AMBIENT_C
from ufs_control.runner.felt import felt_history, rig_folder, rig_key
from ufs_control.runner.learnstore import Gate, LearningStore, learn_from_run
from ufs_control.runner.records import Outcome, RunResult

RIG = RigConfig()


def store(runs: Path, rig: RigConfig = RIG) -> LearningStore:
    return LearningStore(runs, "default-sim", rig, plan(llzo(), AMBIENT_C))


def write_version(s: LearningStore, values: tuple[float, ...] = (0.0, 1.0, 2.0), felt: str = "R1") -> Path:
    return s.write(Correction(0.1, values), {"felt": {"since_run": felt}, "learned_from": {"run": "R1"}})


def test_versions_are_numbered_readable_and_checked(tmp_path: Path) -> None:
    s = store(tmp_path)
    first, second = write_version(s), write_version(s, (0.0, -3.0))
    assert (first.name, second.name) == ("v0001.json", "v0002.json")
    latest = s.latest(pytest.fail)
    assert latest is not None and latest.number == 2 and latest.correction(0.1) == -3.0
    assert latest.felt_since == "R1"
    text = second.read_text()
    assert '"points": [\n    [0.0000, 0.0000],\n    [0.1000, -3.0000]\n  ]' in text
    assert json.loads(text)["model_hash"] == s.model_hash


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[:40],
        lambda text: text.replace("-3.0000]", "1e9]"),  # beyond the bound
        lambda text: text.replace('"version": 2', '"version": 7'),
        lambda text: text.replace("[0.1000, -3.0000]", '[0.1000, "x"]'),
        lambda text: "\udcff",
    ],
)
def test_a_damaged_version_is_ignored_with_a_warning_and_never_used(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    s = store(tmp_path)
    write_version(s)
    path = write_version(s, (0.0, -3.0))
    path.write_text(damage(path.read_text()), encoding="utf-8", errors="surrogateescape")
    warnings: list[str] = []
    latest = s.latest(warnings.append)
    assert latest is not None and latest.number == 1  # the good one before it
    assert len(warnings) == 1 and str(path) in warnings[0] and "not used to heat" in warnings[0]
    assert "\n" not in warnings[0]


def test_a_refit_model_starts_a_new_store(tmp_path: Path) -> None:
    write_version(store(tmp_path))
    refit = dataclasses.replace(RIG, model=dataclasses.replace(RIG.model, emissivity=0.8))
    assert store(tmp_path, refit).latest(pytest.fail) is None
    assert store(tmp_path, refit).folder != store(tmp_path).folder


def finished(run_dir: Path | None, outcome: Outcome = Outcome.FINISHED) -> RunResult:
    return RunResult(outcome, "x", "llzo", "", "", 1.0, run_dir=run_dir)


@pytest.mark.parametrize("outcome", [Outcome.TRIPPED, Outcome.ABORTED, Outcome.FAILED])
def test_a_run_that_did_not_finish_teaches_nothing(tmp_path: Path, outcome: Outcome) -> None:
    s = store(tmp_path)
    path, line = learn_from_run(s, finished(tmp_path, outcome), None, 0.0, "R1", 4.0)
    assert path is None and line.startswith(f"learning: not updated, the run {outcome.value}")
    assert s.numbers() == []


def test_the_gate_switches_the_correction_off_when_the_cold_resistance_jumped(tmp_path: Path) -> None:
    s = store(tmp_path)
    write_version(s, (5.0, 5.0))
    version = s.latest(pytest.fail)
    record: dict[str, object] = {"version": 1}
    same = Gate(version, 4.0, 0.1, lambda: 4.1, {})
    assert same(0.05) == 5.0 and same.used is version
    new_felt = Gate(version, 4.0, 0.1, lambda: 3.0, record)
    assert new_felt(0.05) == 0.0 and new_felt.used is None
    assert record["version"] is None and "felt replaced" in str(record["reset"])


# --- felt history -------------------------------------------------------------------------------------


def fake_run(runs: Path, name: str, cold: float, started: str, simulated: bool = True) -> None:
    folder = runs / name
    folder.mkdir(parents=True)
    record = {
        "cold_resistance_ohm": cold,
        "started_utc": started,
        "outcome": "finished",
        "rig": {"source": "<defaults>"},
    }
    if simulated:
        record["simulator"] = {}
    (folder / "run.json").write_text(json.dumps(record))


def test_the_history_finds_replacements_and_wear(tmp_path: Path) -> None:
    colds = [4.00, 4.10, 4.30, 4.62, 3.90, 4.20, 4.50]  # +15.5 % (worn), a new felt (-16 %), +15.4 % (worn)
    for i, cold in enumerate(colds):
        fake_run(tmp_path, f"2026010{i}-000000_llzo", cold, f"2026-01-0{i + 1}T00:00:00")
    fake_run(tmp_path, "20260109-000000_llzo", 9.0, "2026-01-09T00:00:00", simulated=False)  # another rig
    config = FeltConfig()
    history = felt_history(tmp_path, rig_key("<defaults>", True), config)
    assert [r.felt for r in history.runs] == [1, 1, 1, 1, 2, 2, 2]
    assert [r.replaced for r in history.runs] == [False, False, False, False, True, False, False]
    assert history.felt_since == "20260104-000000_llzo"
    warning = history.worn(config)
    assert warning is not None and "+15%" in warning and "20260104-000000_llzo" in warning
    assert history.worn(FeltConfig(wear_fraction=0.2)) is None
    assert (rig_folder(tmp_path, "default-sim") / "felt-history.json").is_file()


def test_a_damaged_history_file_is_rebuilt_from_the_run_folders(tmp_path: Path) -> None:
    fake_run(tmp_path, "20260101-000000_llzo", 4.0, "2026-01-01T00:00:00")
    cache = rig_folder(tmp_path, "default-sim") / "felt-history.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    warnings: list[str] = []
    history = felt_history(tmp_path, "default-sim", FeltConfig(), warnings.append)
    assert len(history.runs) == 1 and len(warnings) == 1 and "rebuilt" in warnings[0]
    assert json.loads(cache.read_text())["format"] == "ufs-felt-history/1"


def test_the_r_t_fit_recovers_the_ntc_shape() -> None:
    truth = dataclasses.replace(preset("A"), ntc_a=0.7, ntc_tc_k=380.0, rho_el_ohm_m=3.3e-3)
    temps = [660.0 + 10.0 * i for i in range(50)]
    ohms = [channel_resistance(c_to_k(t), truth, Wiring.SERIES) for t in temps]
    cold = channel_resistance(c_to_k(25.0), truth, Wiring.SERIES)
    fit = fit_felt(temps, ohms, cold, 25.0, preset("A"), Wiring.SERIES)
    assert fit is not None
    assert fit.ntc_a == pytest.approx(0.7, abs=0.01) and fit.ntc_tc_k == pytest.approx(380.0, rel=0.03)
    assert fit.r_hot_ohm == pytest.approx(channel_resistance(c_to_k(1150.0), truth, Wiring.SERIES), rel=1e-3)
    assert fit_felt(temps[:3], ohms[:3], cold, 25.0, preset("A"), Wiring.SERIES) is None  # too few points
