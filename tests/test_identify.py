"""ufs identify / ufs fit / --plant on the embedded simulator, with a plant that differs from the preset."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from ufs_control.cli import main
from ufs_control.core.thermal import load_plant_file

ROOT = Path(__file__).resolve().parents[1]
LLZO = ROOT / "profiles" / "llzo_membrane_1150C_20s.toml"


def test_identify_writes_a_plant_file_with_uncertainties_and_a_plot(identified: Path) -> None:
    data = tomllib.loads((identified / "plant.toml").read_text(encoding="utf-8"))
    assert set(data) >= {"plant", "pyrometer", "fit", "fitted", "uncertainty"}
    assert (identified / "plant.png").stat().st_size > 10_000
    # Every fitted value lands within its stated 95 % interval of the simulated truth.
    truth = {
        "heat_capacity_scale": 1.5,
        "emissivity_area_scale": 1.0,
        "g_fe_w_k": 0.141,
        "rho_el_ohm_m": 3.0e-3,
        "ntc_a": 0.62,
        "ntc_tc_k": 450.0,
        "t90_s": 0.01,
    }
    for name, true in truth.items():
        value, interval = data["fitted"][name], data["uncertainty"][name]
        if interval == "not determined":
            assert name == "t90_s"  # the records cannot tell 10 ms from nothing
            continue
        assert abs(value - true) <= interval, (name, value, interval, true)
        if name != "t90_s":  # 10 ms is a fifth of a tick: its interval is honestly wide
            assert interval < 0.05 * true, (name, interval)  # ... and the interval says something
    params, t90 = load_plant_file(identified / "plant.toml")
    assert params.g_fe_w_k == pytest.approx(0.141, rel=0.03)
    assert 0.0 < t90 < 0.2
    assert data["fit"]["pyrometer_rms_k"] < 1.5
    (run,) = [p for p in (identified / "runs").iterdir() if p.is_dir()]
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["outcome"] == "finished"


def test_the_identified_model_controls_the_plant_better(
    identified: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def metrics(*extra: str) -> dict[str, float]:
        code = main(["run", str(LLZO), "--sim", "--sim-plant", str(identified / "truth.toml"),
                     "--runs-dir", str(tmp_path / "runs"), *extra])  # fmt: skip
        assert code == 0
        out = capsys.readouterr().out.splitlines()
        names = {"ramp": "Ramp tracking RMS", "handover": "Hand-over error", "iae": "IAE (M6)"}
        return {k: float(next(x for x in out if name in x).split()[-2]) for k, name in names.items()}

    nominal = metrics()
    fitted = metrics("--plant", str(identified / "plant.toml"))
    assert all(fitted[k] < nominal[k] for k in nominal), (nominal, fitted)
    assert fitted["iae"] < 0.75 * nominal["iae"], (nominal, fitted)


def test_fit_refits_from_run_folders_and_rejects_what_is_not_one(identified: Path, tmp_path: Path) -> None:
    (run,) = [p for p in (identified / "runs").iterdir() if p.is_dir()]
    assert main(["fit", str(run), "--out", str(tmp_path / "again.toml")]) == 0
    again, _ = load_plant_file(tmp_path / "again.toml")
    assert again.g_fe_w_k == pytest.approx(0.141, rel=0.03)
    assert main(["fit", str(tmp_path), "--out", str(tmp_path / "x.toml")]) == 2


def test_a_plant_file_that_is_not_one_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[something]\nx = 1\n", encoding="utf-8")
    assert main(["check", str(LLZO), "--plant", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.toml" in err[0] and "plant" in err[0]
