"""The campaign dialog runs a campaign file on a simulated runner, offscreen: non-modal, one sample after
another when the operator says the sample is loaded, and a trip waits for acknowledgement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from sim.faults import parse_fault
from tests.test_campaign import SHORT
from ufs_control.app import RigSession, open_session
from ufs_control.core.rig import RigConfig
from ufs_control.gui.campaign import CampaignDialog, campaign_controls
from ufs_control.runner.engine import RunState


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    (tmp_path / "short.toml").write_text(SHORT, encoding="utf-8")
    path = tmp_path / "tray.toml"
    path.write_text('[sweep]\ntemplate = "short.toml"\nhold_c = [800, 850]\n', encoding="utf-8")
    return path


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[list[RigSession]]:
    opened: list[RigSession] = []
    yield opened
    for s in opened:
        s.runner.join(30)
        s.close()


def test_the_dialog_runs_the_campaign_sample_by_sample(qtbot, campaign_file: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    session = open_session(RigConfig(), simulate=True, runs_dir=campaign_file.parent / "runs", plot=False)
    sessions.append(session)
    dialog = CampaignDialog(lambda: session.runner, RigConfig, operator="ana")
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.isModal()
    assert not dialog.start_button.isEnabled() and dialog.start_why.text() == "open a campaign file first"
    assert dialog.load(campaign_file)
    assert dialog.start_button.text() == "Sample S-01 loaded: start"
    for sample in ("S-01", "S-02"):
        assert session.sim is not None
        session.sim.rig.set_temperatures_c(25.0)  # the felts cooled while the operator changed the sample
        assert dialog.start_button.isEnabled()
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert dialog.running is not None and dialog.running.sample_id == sample
        qtbot.waitUntil(lambda: dialog.running is None, timeout=30_000)
    assert [dialog.table.item(r, 2).text() for r in range(2)] == ["done", "done"]
    assert "campaign complete" in dialog.message.text()
    assert (campaign_file.parent / "tray.campaign" / "summary.csv").read_text().count("finished") == 2
    assert not dialog.start_button.isEnabled() and dialog.start_why.text() == "every run is done"


def test_a_trip_stops_the_dialog_until_acknowledged(qtbot, campaign_file: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    session = open_session(
        RigConfig(), simulate=True, runs_dir=campaign_file.parent / "runs", plot=False,
        faults=[parse_fault("felt-open@8")],
    )  # fmt: skip
    sessions.append(session)
    dialog = CampaignDialog(lambda: session.runner, RigConfig)
    qtbot.addWidget(dialog)
    assert dialog.load(campaign_file)
    assert dialog.start_next()
    qtbot.waitUntil(lambda: dialog.running is None, timeout=30_000)
    assert session.runner.state is RunState.TRIPPED
    assert not dialog.start_button.isEnabled() and "tripped: acknowledge it first" in dialog.start_why.text()
    assert dialog.ack_button.isEnabled()
    dialog.acknowledge()
    assert session.runner.latch.tripped is None
    assert dialog.start_button.isEnabled() and dialog.start_button.text() == "Sample S-02 loaded: start"


def test_the_controls_decision() -> None:
    assert campaign_controls(True, False, False, None, None).start_why == "a run is under way"
    assert not campaign_controls(True, True, True, None, None).start


def test_the_window_opens_a_campaign_and_each_run_notifies(qtbot, make_window, campaign_file: Path) -> None:  # type: ignore[no-untyped-def]
    """From the operator window: the Campaign… button opens the dialog (non-modal), its runs use the
    window's runner, each run ends by calling the backend's notification, and the state says where it ran."""
    import json

    window = make_window(speed=0.0)
    told: list[tuple[str, str, str]] = []
    window.backend.after_run = lambda rig, result, operator, sample: told.append(  # type: ignore[method-assign]
        (result.outcome.value, operator, sample)
    )
    window.operator_edit.setText("ana")
    qtbot.mouseClick(window.run_panel.campaign_button, Qt.MouseButton.LeftButton)
    dialog = window.dialogs["campaign"]
    assert isinstance(dialog, CampaignDialog) and dialog.isVisible() and not dialog.isModal()
    assert dialog.load(campaign_file)
    state = json.loads((campaign_file.parent / "tray.campaign" / "state.json").read_text(encoding="utf-8"))
    assert "simulated" in json.dumps(state)  # tied to the simulator, never "done" on the rig
    assert dialog.start_next()
    qtbot.waitUntil(lambda: dialog.running is None, timeout=30_000)
    assert told == [("finished", "ana", "S-01")]
