"""The examples run: the sweep script (one short hold) and the notebook's code cells, in order, on the simulator."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import matplotlib
import pytest

import ufs_control as ufs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_sweep_script_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / "sweep.py"))
    results = module["main"](["--hold-c", "900", "--hold-s", "2", "--runs-dir", str(tmp_path)])
    assert [r.outcome for r in results] == [ufs.Outcome.FINISHED]
    assert capsys.readouterr().out.splitlines()[-1].split()[:2] == ["900", "finished"]


def test_the_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    notebook = json.loads((EXAMPLES / "simulator.ipynb").read_text(encoding="utf-8"))
    scope: dict[str, object] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), scope)
    result = scope["result"]
    assert isinstance(result, ufs.RunResult) and result.outcome is ufs.Outcome.FINISHED
    import matplotlib.pyplot as plt

    plt.close("all")


def test_the_campaign_example_is_valid() -> None:
    from ufs_control.core.rig import RigConfig
    from ufs_control.runner.campaign import load_campaign

    campaign = load_campaign(EXAMPLES / "campaign_sweep.toml", RigConfig())
    assert len(campaign.items) == 9 and campaign.items[-1].params == {"hold_c": 1200.0, "hold_s": 40.0}
