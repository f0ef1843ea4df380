"""The campaign dialog: a non-modal window that runs a campaign file sample by sample on the window's runner.

It talks to the campaign module (load, state, summary) and to the runner's public requests only
(``request_start``, ``acknowledge``, ``state``, ``last_result``), so every interlock, the guardian and the
window's own Abort and EMERGENCY STOP apply to its runs exactly as to any other. Between samples it waits
for the operator ("Sample S-07 loaded: start"); a trip stops it until the trip is acknowledged here.

The window opens it with ``CampaignDialog(lambda: window.runner, lambda: window.rig, parent=window)`` and
``show()``; its runs are written to the runner's runs folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ufs_control.core.errors import UfsError
from ufs_control.core.rig import RigConfig
from ufs_control.runner.campaign import (
    Campaign,
    CampaignItem,
    CampaignState,
    load_campaign,
    rig_identity,
    write_profiles,
    write_summary,
)
from ufs_control.runner.engine import Runner
from ufs_control.runner.records import RunResult

POLL_MS = 200


@dataclass(frozen=True)
class CampaignControls:
    """What the dialog's buttons allow, and why not (one pure decision, testable without Qt)."""

    start: bool
    start_why: str
    acknowledge: bool


def campaign_controls(
    loaded: bool, runner_idle: bool, running_item: bool, trip: CampaignItem | None, next_item: CampaignItem | None
) -> CampaignControls:
    """Start needs a loaded campaign, an idle runner, no unacknowledged trip and a run left to do."""
    if not loaded:
        return CampaignControls(False, "open a campaign file first", False)
    if running_item or not runner_idle:
        return CampaignControls(False, "a run is under way", False)
    if trip is not None:
        return CampaignControls(False, f"{trip.describe()} tripped: acknowledge it first", True)
    if next_item is None:
        return CampaignControls(False, "every run is done", False)
    return CampaignControls(True, "", False)


class CampaignDialog(QDialog):
    """Run a campaign file on the window's runner, one sample after another (non-modal)."""

    def __init__(
        self,
        runner: Callable[[], Runner | None],
        rig: Callable[[], RigConfig],
        parent: QWidget | None = None,
        operator: str = "",
        simulated: Callable[[], bool] = lambda: True,
        after_run: Callable[[RunResult, str, str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Campaign")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self._runner = runner
        self._rig = rig
        self._simulated = simulated
        self._after_run = after_run
        self.operator = operator
        self.campaign: Campaign | None = None
        self.state: CampaignState | None = None
        self.running: CampaignItem | None = None
        self._started_runner: Runner | None = None

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("campaign file (TOML)")
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.load_button)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["sample", "parameters", "status", "outcome"])
        self.start_button = QPushButton("Sample loaded: start")
        self.start_button.clicked.connect(self.start_next)
        self.start_why = QLabel("")
        self.ack_button = QPushButton("Acknowledge trip")
        self.ack_button.clicked.connect(self.acknowledge)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.ack_button)
        buttons.addWidget(self.start_why, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.refresh()

    # --- actions ---------------------------------------------------------------------------------

    def load(self, path: str | Path | None = None) -> bool:
        """Load (or resume) the campaign file in the path field, or ``path``; False with the reason shown."""
        text = str(path) if path else self.path_edit.text().strip()
        self.path_edit.setText(text)
        try:
            rig = self._rig()
            campaign = write_profiles(load_campaign(text, rig))
            # Tied to where it runs: a campaign done on the simulator is never "done" on the rig.
            state = CampaignState(campaign, rig_identity(rig, self._simulated()))
            state.save()
        except UfsError as exc:
            self.message.setText(f"error: {exc}")
            return False
        except OSError as exc:
            self.message.setText(f"error: {text}: cannot write the campaign folder: {exc.strerror}")
            return False
        self.campaign, self.state = campaign, state
        self.operator = self.operator or campaign.operator
        self.message.setText(
            f"{campaign.name}: {len(campaign.items)} runs, {state.done_count} done; runs go to the window's runs folder"
        )
        self.refresh()
        return True

    def start_next(self) -> bool:
        """Start the next sample's run (the operator has loaded it); False when that is not allowed now."""
        runner = self._runner()
        controls = self.controls()
        if not controls.start or runner is None or self.state is None:
            return False
        item = self.state.next_item()
        assert item is not None
        if not runner.request_start(item.profile, operator=self.operator, sample_id=item.sample_id):
            self.message.setText("the runner refused to start (an interlock is latched or a run is under way)")
            return False
        self.running, self._started_runner = item, runner
        self.message.setText(f"{item.describe()}: running {item.profile.name}")
        self.refresh()
        return True

    def acknowledge(self) -> None:
        """Acknowledge the trip that stops the campaign (and the runner's latched interlock, if it still is)."""
        if self.state is None:
            return
        by = self.operator or "operator"
        runner = self._runner()
        if runner is not None and runner.latch.tripped is not None:
            runner.acknowledge(by)
        item = self.state.acknowledge(by)
        if item is not None:
            self.message.setText(f"{item.describe()}: trip acknowledged by {by}")
        self.refresh()

    def poll(self) -> None:
        """Note a run that has ended; write the summary when the campaign is complete."""
        runner, item = self._started_runner, self.running
        if runner is None or item is None or self.state is None or runner.active:
            self.refresh()
            return
        result = runner.last_result
        if result is None:
            return
        self.state.record(item, result)
        self.running = self._started_runner = None
        if self._after_run is not None:
            self._after_run(result, self.operator, item.sample_id)
        self.message.setText(f"{item.describe()}: {result.outcome.value}: {result.reason}")
        try:
            path = write_summary(self.state)
        except OSError as exc:
            self.message.setText(f"error: cannot write the summary: {exc.strerror}")
        else:
            if self.state.next_item() is None and self.state.unacknowledged_trip() is None:
                self.message.setText(f"campaign complete; summary: {path}")
        self.refresh()

    # --- display ---------------------------------------------------------------------------------

    def controls(self) -> CampaignControls:
        runner = self._runner()
        return campaign_controls(
            self.state is not None,
            runner is not None and not runner.active,
            self.running is not None,
            self.state.unacknowledged_trip() if self.state else None,
            self.state.next_item() if self.state else None,
        )

    def refresh(self) -> None:
        controls = self.controls()
        self.start_button.setEnabled(controls.start)
        self.ack_button.setEnabled(controls.acknowledge)
        self.start_why.setText(controls.start_why)
        if self.state is not None:
            item = self.state.next_item()
            self.start_button.setText(f"Sample {item.sample_id} loaded: start" if item else "Sample loaded: start")
            self._fill_table()

    def _fill_table(self) -> None:
        assert self.campaign is not None and self.state is not None
        self.table.setRowCount(len(self.campaign.items))
        for row, item in enumerate(self.campaign.items):
            entry = self.state.entry(item)
            status = "running" if item is self.running else str(entry.get("status", ""))
            params = ", ".join(f"{k}={v:g}" for k, v in item.params.items()) or item.profile.name
            for col, text in enumerate((item.sample_id, params, status, str(entry.get("outcome") or ""))):
                cell = self.table.item(row, col)
                if cell is None:
                    self.table.setItem(row, col, QTableWidgetItem(text))
                elif cell.text() != text:
                    cell.setText(text)

    def closeEvent(self, event: QCloseEvent) -> None:
        # A run under way goes on (the window's Abort and EMERGENCY STOP end it) and is still recorded when it
        # ends: the poll stops only when no run of the campaign is running.
        if self.running is None:
            self.timer.stop()
        super().closeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        self.timer.start()
        super().showEvent(event)
