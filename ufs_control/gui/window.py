"""The operator window (PySide6 + pyqtgraph), composed of panels that each own one job.

It talks to the runner's public API only: once per frame it takes a frozen view of the runner
(:meth:`Runner.view`) and the new samples from its bounded display buffer, and it sends requests (start,
abort, emergency stop, acknowledge) that return at once. The control loop keeps its own thread; nothing
here waits on it. Between runs an :class:`IdleMonitor` reads the pyrometer and the supply's meters (queries
only), so the window shows the felt cooling and the output's true state after a run; it is stopped before
a run starts.
"""

from __future__ import annotations

import gc
import html
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pyqtgraph.exporters
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QByteArray, QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ufs_control.control.feasibility import Finding, check
from ufs_control.control.model import PlantModel
from ufs_control.core.errors import UfsError
from ufs_control.core.profile import Plan, Profile, load_profile, plan
from ufs_control.core.rig import RigConfig
from ufs_control.gui.backend import Backend
from ufs_control.gui.campaign import CampaignDialog
from ufs_control.gui.card import RunCard
from ufs_control.gui.controls import RUN_ACTIVE, controls
from ufs_control.gui.editor import ProfileEditor
from ufs_control.gui.estop import EmergencyStopKeys
from ufs_control.gui.format import (
    clock_text,
    duration_text,
    next_sample_id,
    number,
    progress_text,
    pyrometer_words,
    temperature_text,
    trip_text,
    verdict_lines,
)
from ufs_control.gui.history import HistoryPanel, PastRun
from ufs_control.gui.panels import ElidedLabel, InterlockPanel, RunPanel, StatusPanel, TripBanner, wrapping_label
from ufs_control.gui.plot import LivePlot
from ufs_control.gui.theme import LIGHT, Theme, apply_palette, theme_named
from ufs_control.runner.engine import Runner, RunState
from ufs_control.runner.idle import STALE_S, IdleMonitor, IdleReading
from ufs_control.runner.records import RunResult, Sample
from ufs_control.runner.view import RunnerView

REFRESH_MS = 40  # 25 frames per second
STATUS_EVERY_FRAMES = 4  # the status numbers at most ~6 times a second
STATUS_AT_LEAST_FRAMES = 25  # and at least once a second
DialogT = TypeVar("DialogT", bound=QDialog)


class MainWindow(QMainWindow):
    """The ufs-control operator window.

    ``settings``: where the last profile, operator, sample id, theme and layout are remembered between
    launches (None: nothing is remembered, as in tests and benchmarks).
    """

    run_finished = Signal(object)

    def __init__(
        self,
        backend: Backend,
        rig: RigConfig,
        simulate: bool,
        follow_s: float = 60.0,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.rig = rig
        self.simulate = simulate
        self.settings = settings
        self.runner: Runner | None = None
        self.idle: IdleMonitor | None = None
        self.profile: Profile | None = None
        self.plan: Plan | None = None
        self.profile_path: Path | None = None
        self._profile_ok = False
        self._profile_why = "No profile loaded: open one"
        self._seen_appended = -1
        self._seen_generation = -1
        self._seen_idle = -1
        self._seen_state: RunState | None = None
        self._shown_result: RunResult | None = None
        self._started_by: tuple[str, str] | None = None  # (operator, sample) of the run started here
        self._shown_latch: tuple[Any, RunState | None] | None = ("", None)
        self._last_sample_mono: float = 0.0
        self._since_status = STATUS_AT_LEAST_FRAMES
        self.theme: Theme = LIGHT
        self.frames = 0
        self.dialogs: dict[str, QDialog] = {}
        self._closing = False
        # Python collects reference cycles in whichever thread happens to allocate when a threshold is
        # crossed. Done in the control loop's thread, that destroys Qt objects there (a removed plot
        # marker, a closed window's parts), and Qt's destructor then waits for the GIL while the GUI
        # thread, holding it, waits for that object's lock: both threads stop, the loop with the output
        # on and the EMERGENCY STOP button dead (seen in the GUI tests). While the window is open, cycles
        # are collected on a timer in the GUI thread only.
        self._gc_was_enabled = gc.isenabled()
        self._collector = GarbageCollector(interval=0.5)
        self._build(follow_s)
        self._connect_backend()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.history_panel.refresh()
        self._restore_settings()
        self._update_controls()

    # --- construction ---------------------------------------------------------------------------

    def _build(self, follow_s: float) -> None:
        self.setWindowTitle(f"ufs-control — {'SIMULATION' if self.simulate else 'RIG'}")
        self.resize(1480, 920)
        self.fit_to_screen()
        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)
        self.banner = ElidedLabel()
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setObjectName("banner")
        outer.addWidget(self.banner)
        self.run_panel = RunPanel()
        self.trip_banner = TripBanner(self.run_panel.mute.isChecked)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(self.main_split, 1)
        # The trip banner heads the plot's column, not the window: EMERGENCY STOP, Start and Abort on the right
        # never move when it comes and goes.
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.trip_banner)
        left_lay.addWidget(self._build_left(follow_s), 1)
        self.main_split.addWidget(left)
        self.main_split.addWidget(self._build_right())
        self.main_split.setStretchFactor(0, 1)
        self.main_split.setStretchFactor(1, 0)
        self.main_split.setCollapsible(1, False)
        self.main_split.setSizes([1060, 420])
        self.setCentralWidget(root)
        self._set_banner()
        self.estop_keys = EmergencyStopKeys(self, self.emergency_stop, self._busy)
        self.estop_keys.install()

    def _set_banner(self) -> None:
        if self.simulate:
            text = "SIMULATION — the embedded simulator, not the rig"
            style = "background:#fb8c00; color:white;"
        else:
            text = f"RIG — supply {self.rig.psu.resource}, pyrometer {self.rig.pyrometer.url}"
            style = "background:#263238; color:white;"
        note = getattr(self.backend, "fault_note", "")
        if note:
            text += f" — {note}"
        self.banner.setText(text)
        self.banner.setStyleSheet(style + "font-size:16px; font-weight:bold; padding:4px; border-radius:4px;")

    def _build_left(self, follow_s: float) -> QWidget:
        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.live = LivePlot(self.theme, follow_s)
        self.live.export_button.clicked.connect(lambda _c=False: self.choose_export())
        self.dark = QCheckBox("Dark theme")
        self.dark.toggled.connect(self.set_dark)
        self.live.bar.insertWidget(self.live.bar.count() - 1, self.dark)
        self.left_split.addWidget(self.live)
        self.tabs = QTabWidget()
        self.profile_tab = self._build_profile_tab()
        self.card = RunCard()
        self.history_panel = HistoryPanel(self.backend.runs_dir, self.theme, self._past_run_opened)
        self.tabs.addTab(self.profile_tab, "Profile")
        self.tabs.addTab(self.card, "Run card")
        self.tabs.addTab(self.history_panel, "History")
        # "Open run" shows what it opened (a double-click in the table only overlays it, staying on History)
        self.history_panel.open_run_button.clicked.connect(lambda _c=False: self.tabs.setCurrentWidget(self.card))
        self.tabs.addTab(self._build_connection_tab(), "Connection")
        self.left_split.addWidget(self.tabs)
        self.left_split.setStretchFactor(0, 3)
        self.left_split.setStretchFactor(1, 1)
        self.left_split.setSizes([620, 260])
        return self.left_split

    def _build_profile_tab(self) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        self.segments = QTableWidget(0, 4)
        self.segments.setHorizontalHeaderLabels(["#", "segment", "time (s)", "setpoint"])
        self.segments.verticalHeader().setVisible(False)
        self.segments.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.segments.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.segments.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.segments, 3)
        self.profile_messages = wrapping_label("Open a profile (TOML) to see its segments and planned curve.")
        self.profile_messages.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.profile_messages.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.profile_messages)
        lay.addWidget(scroll, 2)
        return w

    def _build_connection_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        mode = QHBoxLayout()
        self.sim_radio = QRadioButton("Simulator")
        self.rig_radio = QRadioButton("Rig")
        (self.sim_radio if self.simulate else self.rig_radio).setChecked(True)
        mode.addWidget(self.sim_radio)
        mode.addWidget(self.rig_radio)
        mode.addStretch(1)
        form.addRow("Mode", mode)
        self.psu_edit = QLineEdit(self.rig.psu.resource or "")
        self.psu_edit.setPlaceholderText("TCPIP::192.168.0.100::9221::SOCKET")
        self.pyro_edit = QLineEdit(self.rig.pyrometer.url or "")
        self.pyro_edit.setPlaceholderText("/dev/ttyUSB1 or socket://host:port")
        self.codec_combo = QComboBox()
        self.codec_combo.addItems(["upp", "raytek", "optris"])
        self.codec_combo.setCurrentText(self.rig.pyrometer.protocol)
        form.addRow("Supply resource", self.psu_edit)
        form.addRow("Pyrometer URL", self.pyro_edit)
        form.addRow("Pyrometer codec", self.codec_combo)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(lambda _c=False: self.test_connection())
        self.apply_button = QPushButton("Connect")
        self.apply_button.clicked.connect(lambda _c=False: self.apply_connection())
        row.addWidget(self.test_button)
        row.addWidget(self.apply_button)
        row.addStretch(1)
        form.addRow("", row)
        self.identity_label = wrapping_label("")
        self.identity_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Identities", self.identity_label)
        return w

    def _build_right(self) -> QWidget:
        box = QWidget()
        box.setMinimumWidth(340)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        rp = self.run_panel
        rp.estop_button.clicked.connect(lambda _c=False: self.emergency_stop())
        rp.start_button.clicked.connect(lambda _c=False: self.start())
        rp.abort_button.clicked.connect(lambda _c=False: self.abort())
        rp.open_button.clicked.connect(lambda _c=False: self.choose_profile())
        rp.campaign_button.clicked.connect(lambda _c=False: self.open_campaign())
        rp.edit_button.clicked.connect(lambda _c=False: self.edit_profile())
        lay.addWidget(rp)
        self.status = StatusPanel()
        lay.addWidget(self.status)
        # What is below scrolls, so a small screen never pushes the window beyond it.
        rest = QWidget()
        rest_lay = QVBoxLayout(rest)
        rest_lay.setContentsMargins(0, 0, 0, 0)
        rest_lay.addWidget(rp.inputs)
        self.interlocks = InterlockPanel()
        self.interlocks.ack_button.clicked.connect(lambda _c=False: self.acknowledge())
        rest_lay.addWidget(self.interlocks)
        rest_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(rest)
        scroll.setMinimumHeight(60)
        lay.addWidget(scroll, 1)
        return box

    # --- the parts' widgets under the names the tests and tools use ------------------------------

    @property
    def plots(self) -> Any:
        return self.live.plots

    @property
    def t_plot(self) -> Any:
        return self.live.t_plot

    @property
    def open_run_button(self) -> QPushButton:
        return self.history_panel.open_run_button

    @property
    def follow(self) -> QCheckBox:
        return self.live.follow

    @property
    def show_resistance(self) -> QCheckBox:
        return self.live.show_resistance

    @property
    def export_button(self) -> QPushButton:
        return self.live.export_button

    @property
    def temp_curve(self) -> Any:
        return self.live.temp_curve

    @property
    def planned_curve(self) -> Any:
        return self.live.planned_curve

    @property
    def res_curve(self) -> Any:
        return self.live.res_curve

    @property
    def overlay_curve(self) -> Any:
        return self.history_panel.last_curve

    @property
    def history(self) -> Any:
        return self.history_panel.table

    @property
    def start_button(self) -> QPushButton:
        return self.run_panel.start_button

    @property
    def abort_button(self) -> QPushButton:
        return self.run_panel.abort_button

    @property
    def estop_button(self) -> QPushButton:
        return self.run_panel.estop_button

    @property
    def open_button(self) -> QPushButton:
        return self.run_panel.open_button

    @property
    def profile_label(self) -> ElidedLabel:
        return self.run_panel.profile_label

    @property
    def operator_edit(self) -> QLineEdit:
        return self.run_panel.operator_edit

    @property
    def sample_edit(self) -> QLineEdit:
        return self.run_panel.sample_edit

    @property
    def state_label(self) -> QLabel:
        return self.status.state_label

    @property
    def values(self) -> dict[str, QLabel]:
        return self.status.values

    @property
    def lamps(self) -> dict[str, Any]:
        return self.interlocks.lamps

    @property
    def trip_label(self) -> QLabel:
        return self.interlocks.trip_label

    @property
    def ack_button(self) -> QPushButton:
        return self.interlocks.ack_button

    @property
    def ack_hint(self) -> QLabel:
        return self.interlocks.ack_hint

    @property
    def card_title(self) -> ElidedLabel:
        return self.card.title

    @property
    def card_values(self) -> dict[str, QLabel]:
        return self.card.values

    # --- settings -------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        if s is None:
            return
        self.operator_edit.setText(str(s.value("operator", "")))
        self.sample_edit.setText(str(s.value("sample_id", "")))
        self.run_panel.mute.setChecked(str(s.value("mute", "false")) == "true")
        self.dark.setChecked(str(s.value("theme", "light")) == "dark")
        for key, splitter in (("split/main", self.main_split), ("split/left", self.left_split)):
            state = s.value(key)
            if isinstance(state, QByteArray):
                splitter.restoreState(state)
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.fit_to_screen()  # saved on a larger screen: never beyond this one
        last = str(s.value("profile", ""))
        if last and Path(last).is_file() and self.profile is None:
            self.load_profile(Path(last))

    def fit_to_screen(self, room: QRect | None = None) -> None:
        """Keep the whole window, EMERGENCY STOP included, on the screen it opens on (``room``: the screen's
        available area by default; a 1024x700 glovebox panel gets a window that fits it, not one whose right
        half is off-screen)."""
        if room is None:
            screen = self.screen() or QApplication.primaryScreen()
            if screen is None:
                return
            room = screen.availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()  # title bar and borders
        width = min(self.width(), room.width() - frame.width())
        height = min(self.height(), room.height() - frame.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, 320), max(height, 240))
        x = min(max(self.x(), room.left()), room.right() - self.frameGeometry().width() + 1)
        y = min(max(self.y(), room.top()), room.bottom() - self.frameGeometry().height() + 1)
        if (x, y) != (self.x(), self.y()):
            self.move(max(x, room.left()), max(y, room.top()))

    def save_settings(self) -> None:
        s = self.settings
        if s is None:
            return
        s.setValue("operator", self.operator_edit.text())
        s.setValue("sample_id", self.sample_edit.text())
        s.setValue("mute", "true" if self.run_panel.mute.isChecked() else "false")
        s.setValue("theme", self.theme.name)
        s.setValue("split/main", self.main_split.saveState())
        s.setValue("split/left", self.left_split.saveState())
        s.setValue("geometry", self.saveGeometry())
        if self.profile_path is not None:
            s.setValue("profile", str(self.profile_path.resolve()))
        s.sync()

    def set_dark(self, on: bool) -> None:
        """Switch between the light and the dark theme (remembered)."""
        self.theme = theme_named("dark" if on else "light")
        apply_palette(self.theme)
        self.live.apply_theme(self.theme)
        self.history_panel.apply_theme(self.theme)
        self._since_status = STATUS_AT_LEAST_FRAMES

    # --- connection -----------------------------------------------------------------------------

    def _settings(self) -> tuple[RigConfig, bool]:
        simulate = self.sim_radio.isChecked()
        rig = replace(
            self.rig,
            psu=replace(self.rig.psu, resource=self.psu_edit.text().strip() or None),
            pyrometer=replace(
                self.rig.pyrometer,
                url=self.pyro_edit.text().strip() or None,
                protocol=self.codec_combo.currentText(),
            ),
        )
        return rig, simulate

    def _connect_backend(self) -> None:
        self._stop_idle()
        try:
            self.runner = self.backend.connect(self.rig, self.simulate)
        except UfsError as exc:
            self.runner = None
            self.idle = None
            self.identity_label.setText(f"not connected: {exc}")
            return
        runner = self.runner
        meters = getattr(self.backend, "supply_meters", lambda: None)()
        self.idle = IdleMonitor(
            runner.pyrometer,
            meters,
            runner.clock,
            supply_busy=lambda: runner.idle_off is not None and runner.idle_off.is_alive(),
        )
        self._seen_idle = -1
        self._set_banner()

    def _stop_idle(self) -> None:
        if self.idle is not None:
            self.idle.stop()

    def apply_connection(self) -> None:
        """Connect with the settings in the Connection tab (refused during a run)."""
        if self._busy():
            self.notice("Run in progress", "End the run before changing the connection.")
            return
        self.rig, self.simulate = self._settings()
        self.setWindowTitle(f"ufs-control — {'SIMULATION' if self.simulate else 'RIG'}")
        self._connect_backend()
        self._set_banner()
        self._update_controls()

    def test_connection(self) -> dict[str, str]:
        """Identify both instruments with the settings in the Connection tab; show the result."""
        rig, simulate = self._settings()
        self._stop_idle()  # the idle readings use the same instruments: they start again on the next frame
        try:
            ids = self.backend.identify(rig, simulate)
        except Exception as exc:  # the operator sees why, in one line
            self.identity_label.setText(f"<span style='color:#c62828'>failed: {html.escape(str(exc))}</span>")
            return {}
        self.identity_label.setText(f"supply: {ids.get('psu', '?')}<br>pyrometer: {ids.get('pyrometer', '?')}")
        return ids

    # --- profile --------------------------------------------------------------------------------

    def choose_profile(self) -> QFileDialog:
        """Show the profile chooser (non-modal); the chosen file is loaded unless a run has begun meanwhile."""
        return self._dialog(
            "profile", lambda: self._file_chooser("Open profile", "profiles", "Profiles (*.toml)", self._profile_chosen)
        )

    def open_campaign(self) -> CampaignDialog:
        """Show the campaign dialog (non-modal): it runs a campaign file's samples on this window's runner."""
        return self._dialog(
            "campaign",
            lambda: CampaignDialog(
                lambda: self.runner,
                lambda: self.rig,
                parent=self,
                operator=self.operator_edit.text(),
                simulated=lambda: self.simulate,
                after_run=lambda result, operator, sample: getattr(self.backend, "after_run", lambda *a: None)(
                    self.rig, result, operator, sample
                ),
            ),
        )

    def _profile_chosen(self, path: Path) -> None:
        if self._busy():  # the chooser stayed open while the run started: do not swap the plan under the run
            self.notice("Run in progress", f"End the run before loading another profile ({path.name}).")
            return
        self.load_profile(path)

    def feasibility(self, laid: Plan) -> list[Finding]:
        return check(laid, self.rig, PlantModel(self.rig.model, self.rig.wiring))

    def load_profile(self, path: Path) -> bool:
        """Load, validate and preview a profile (the planned curve with the axes fitted); the Profile tab comes
        to the front with the verdict, and an error's segment is selected. True when it can be run."""
        self.tabs.setCurrentWidget(self.profile_tab)
        self.profile_path = Path(path)
        try:
            profile = load_profile(path)
        except UfsError as exc:
            self.profile, self.plan, self._profile_ok = None, None, False
            self._profile_why = "The profile has errors: see the Profile tab"
            self.profile_label.setText(Path(path).name)
            self.profile_messages.setText(f"<span style='color:#c62828'>error: {html.escape(str(exc))}</span>")
            self.segments.setRowCount(0)
            self.live.show_plan(None)
            self._update_controls()
            return False
        self.profile = profile
        self.plan = plan(profile)
        self.profile_label.setText(profile.name)
        self._fill_segments(self.plan)
        findings = self.feasibility(self.plan)
        verdict, feasible = verdict_lines(self.plan, findings)
        lines = [f"<b>{html.escape(profile.description or profile.name)}</b>", *verdict]
        errors = [f for f in findings if f.level == "error"]
        if errors:
            self.segments.selectRow(errors[0].segment - 1)  # jump to the (first) infeasible segment
        self.profile_messages.setText("<br>".join(lines))
        self._profile_ok = feasible
        self._profile_why = "The profile is infeasible on this rig: see the Profile tab"
        self.live.show_plan(self.plan, 0.0)
        self._update_controls()
        if self.settings is not None:
            self.settings.setValue("profile", str(Path(path).resolve()))
        return self._profile_ok

    def _fill_segments(self, laid: Plan) -> None:
        self.segments.setRowCount(len(laid.segments))
        for row, s in enumerate(laid.segments):
            cells = [str(s.index + 1), s.kind, f"{s.start_s:.1f} – {s.end_s:.1f}", s.describe()]
            for col, text in enumerate(cells):
                self.segments.setItem(row, col, QTableWidgetItem(text))

    def planned_points(self, offset_s: float = 0.0, n: int = 600) -> Any:
        """The planned setpoint curve (time shifted by ``offset_s``); NaN where the output is off."""
        return self.live.planned_points(offset_s, n)

    def edit_profile(self) -> ProfileEditor:
        """Open the profile editor (non-modal) on the loaded profile."""

        def make() -> QDialog:
            dialog = QDialog(self)
            dialog.setWindowTitle("Profile editor")
            lay = QVBoxLayout(dialog)
            editor = ProfileEditor(self.feasibility, self._save_edited, self.theme.plot_background)
            lay.addWidget(editor)
            dialog.resize(820, 680)
            dialog.setProperty("editor", editor)
            self.editor = editor
            return dialog

        self._dialog("editor", make)
        self.editor.load(self.profile)
        return self.editor

    def _save_edited(self, editor: ProfileEditor) -> None:
        start = str(self.profile_path.parent) if self.profile_path is not None else "profiles"
        name = f"{editor.name_edit.text().strip() or 'profile'}.toml"

        def chosen(path: Path) -> None:
            editor.save_to(path)
            if not self._busy():
                self.load_profile(path)

        self._dialog(
            "save-profile", lambda: self._file_chooser("Save profile", start, "Profiles (*.toml)", chosen, name)
        )

    # --- run control ----------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the loaded profile (refused while an interlock is latched or a run is going)."""
        runner = self.runner
        if runner is None or self.profile is None or not self._profile_ok:
            return False
        if runner.latch.tripped is not None:
            return False
        if runner.state in (RunState.FINISHED, RunState.ABORTED, RunState.FAILED):
            runner.reset()
        self._stop_idle()  # nothing may compete with the run for the instruments
        getattr(self.backend, "arm_faults", lambda: None)()
        who = (self.operator_edit.text(), self.sample_edit.text())
        started = runner.request_start(self.profile, *who)
        if started:
            self._started_by = who
            self._clear_run_view()
            self._set_banner()
            self.save_settings()
        self._update_controls()
        return started

    def abort(self) -> None:
        if self.runner is not None:
            self.runner.request_abort("operator abort")

    def emergency_stop(self) -> None:
        """Output off now, in any state (idle included), whatever the run is doing; latches until
        acknowledged."""
        if self.runner is not None:
            self.runner.emergency_stop()
            self._show_interlocks(self.runner.view())  # at once: the lamp and Start follow the latch

    def acknowledge(self) -> None:
        """Clear the latched interlock in the operator's name (the runner refuses during a run)."""
        if self.runner is None:
            return
        name = self.operator_edit.text().strip()
        if name:
            self.runner.acknowledge(by=name)
        else:
            self.runner.acknowledge()  # the runner's own default name
        self._show_interlocks(self.runner.view())

    def _busy(self) -> bool:
        return self.runner is not None and self.runner.state in RUN_ACTIVE

    def _update_controls(self) -> None:
        runner = self.runner
        now = controls(
            runner.state if runner is not None else None,
            runner is not None and runner.latch.tripped is not None,
            self._profile_ok,
            self._profile_why,
        )
        for button, control in (
            (self.start_button, now.start),
            (self.abort_button, now.abort),
            (self.estop_button, now.emergency_stop),
            (self.ack_button, now.acknowledge),
            (self.open_button, now.open_profile),
            (self.run_panel.edit_button, now.open_profile),
            (self.apply_button, now.connect),
        ):
            button.setEnabled(control.enabled)
            button.setToolTip(control.hint)
        self.run_panel.show_start_why(now.start.enabled, now.start.hint)
        self.ack_hint.setText("" if now.acknowledge.enabled else now.acknowledge.hint)

    def _clear_run_view(self) -> None:
        self._seen_appended = -1
        self._seen_generation = -1
        self.live.clear_run()
        if self.idle is not None:
            self.idle.clear()
        self._seen_idle = -1
        name = self.profile.name if self.profile is not None else "run"
        self.card.clear(f"{name}: running — the card fills in when the run ends")
        self.trip_banner.clear()
        self._shown_latch = ("", None)

    # --- periodic refresh -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Pull the new samples, the idle readings and the runner's view and redraw (on the QTimer).

        Only samples appended since the last frame are converted; everything is rebuilt only when the
        runner's buffer thins itself or starts a new run. The control thread is never waited on.
        """
        runner = self.runner
        if runner is None:
            return
        view = runner.view()
        generation, appended, new, full = runner.buffer.read_since(self._seen_generation, self._seen_appended)
        changed = False
        if full or new:
            self._seen_generation, self._seen_appended = generation, appended
            self.live.ingest(new, full)
            self.live.redraw()
            changed = bool(new)
            if new:
                self._last_sample_mono = _mono()
        idle = self.idle
        # Once the run has left PREFLIGHT/RUNNING its guardian has released the supply and the loop is done
        # with the pyrometer (the thread may still be writing the records): the readings may start.
        if idle is not None and view.state not in RUN_ACTIVE:
            if not idle.running and not self._closing:
                idle.start()
            count, readings, idle_full = idle.read_since(self._seen_idle)
            if readings or idle_full:
                self._seen_idle = count
                if self.live.arrays and len(self.live.arrays["t_s"]):
                    end_t = float(self.live.arrays["t_s"][-1])
                    self.live.ingest_idle(readings, view.t0, end_t, idle_full)
                    self.live.redraw()
                changed = changed or bool(readings)
        force = False
        if view.state is not self._seen_state:
            self._seen_state = view.state
            self._update_controls()
            self._word_close_question()
            self.status.show_state(view.state)
            force = True
        self._show_interlocks(view)
        result = view.last_result
        if result is not None and result is not self._shown_result and view.state not in RUN_ACTIVE:
            self._shown_result = result
            self._show_result(result, view)
            self.run_finished.emit(result)
            if self._started_by is not None:  # started here (a campaign dialog's runs notify through it too)
                operator, sample = self._started_by
                self._started_by = None
                getattr(self.backend, "after_run", lambda *a: None)(self.rig, result, operator, sample)
            force = True
        # The numbers at most ~6 times a second (enough to read, and cheap for the loop's thread), a new
        # state or result at once, and at least once a second so that staleness shows when nothing arrives.
        self._since_status += 1
        due = changed and self._since_status >= STATUS_EVERY_FRAMES
        if due or force or self._since_status >= STATUS_AT_LEAST_FRAMES:
            self._show_status(view)
            self._since_status = 0
        self.frames += 1
        if self._closing and not runner.active:  # asked to close during the run, which has now ended
            self.close()

    # --- status ---------------------------------------------------------------------------------

    def _show_status(self, view: RunnerView) -> None:
        runner = self.runner
        assert runner is not None
        rng = self.rig.pyrometer.range_c
        if view.state in RUN_ACTIVE:
            sample = runner.buffer.latest()
            if sample is not None:
                self._show_run_status(sample, view, rng)
            return
        reading = self.idle.latest() if self.idle is not None else None
        self._show_idle_status(reading, view, rng)

    def _show_run_status(self, s: Sample, view: RunnerView, rng: tuple[float, float]) -> None:
        stale = _mono() - self._last_sample_mono > STALE_S
        laid = view.plan
        texts = {
            "temperature": temperature_text(s.pyrometer_status, s.temperature_c, rng),
            "setpoint": f"{s.setpoint_c:.1f} °C" if s.setpoint_c is not None else "output off",
            "power": f"{s.power_w:.1f} W",
            "voltage": f"{number(s.voltage_v, 2)} V",
            "current": f"{number(s.current_a, 2)} A",
            "resistance": f"{s.resistance_ohm:.3f} Ω" if s.resistance_ohm is not None else "—",
            "pyrometer": pyrometer_words(s.pyrometer_status),
            "loop": self._loop_rate(),
        }
        self.status.set_values(texts, stale, self.theme)
        if laid is not None:
            segment, end = progress_text(laid, s.profile_t_s, s.segment_index)
            self.status.segment_line.setText(segment)
            self.status.end_line.setText(f"{end} · run time {duration_text(s.t_s)}")
            self._set_progress(int(200 * min(max(s.profile_t_s / laid.duration_s, 0.0), 1.0)))
        self.status.show_output("Output ON — the run is heating" if s.power_w > 0 else "Output on, 0 W", "on")
        self.status.stamp_label.setText(
            f"STALE: no reading for {_mono() - self._last_sample_mono:.0f} s" if stale else "live"
        )

    def _set_progress(self, value: int) -> None:
        if self.status.progress.value() != value:  # a repaint of the bar only when it moves
            self.status.progress.setValue(value)

    def _loop_rate(self) -> str:
        t = self.live.arrays.get("t_s")
        if t is not None and len(t) > 20 and t[-1] > t[-21]:
            return f"{20.0 / (t[-1] - t[-21]):.1f} Hz"  # over the last 20 ticks
        return "—"

    def _show_idle_status(self, r: IdleReading | None, view: RunnerView, rng: tuple[float, float]) -> None:
        result = view.last_result
        status = self.status
        if result is not None:
            ended = f"last run {result.outcome.value} after {duration_text(result.duration_s)}"
            status.segment_line.setText(ended)
            status.end_line.setText(f"{result.profile_name}: {result.reason}")
            if result.outcome.value == "finished":
                self._set_progress(200)
        elif view.active:
            status.segment_line.setText(f"run {view.state.value}: writing its records")
            status.end_line.setText("")
        else:
            status.segment_line.setText("no run yet")
            status.end_line.setText("")
        if r is None:
            texts = dict.fromkeys(("temperature", "voltage", "current", "power", "resistance", "pyrometer"), "—")
            texts.update(setpoint="—", loop="—")
            status.set_values(texts, True, self.theme)
            status.stamp_label.setText("instruments not read yet")
            self._show_output(None, result)
            return
        stale = _mono() - r.mono > STALE_S
        if r.pyrometer is not None:
            temperature = temperature_text(r.pyrometer.status.value, r.pyrometer.celsius, rng)
            pyro = pyrometer_words(r.pyrometer.status.value)
        else:
            temperature, pyro = "no reading", "read failed"
        m = r.meters
        texts = {
            "temperature": temperature,
            "setpoint": "—",
            "power": f"{m.volts * m.amps:.1f} W" if m is not None else "—",
            "voltage": f"{m.volts:.2f} V" if m is not None else "—",
            "current": f"{m.amps:.2f} A" if m is not None else "—",
            "resistance": "—",
            "pyrometer": pyro,
            "loop": "no run",
        }
        status.set_values(texts, stale, self.theme)
        stamp = f"read at {clock_text(r.wall)} (between runs, every 0.5 s)"
        if stale:
            stamp = f"STALE: last read at {clock_text(r.wall)}, {_mono() - r.mono:.0f} s ago"
        problems = [p for p in (r.pyrometer_error, r.meters_error) if p and p != "not read"]
        if problems:
            stamp += " — " + "; ".join(problems)
        status.stamp_label.setText(stamp)
        status.stamp_label.setStyleSheet(f"color:{'#c62828' if stale or problems else self.theme.muted_text};")
        self._show_output(r if not stale else None, result)

    def _show_output(self, r: IdleReading | None, result: RunResult | None) -> None:
        if r is not None and r.meters is not None:
            if r.meters.output_on:
                self.status.show_output(f"OUTPUT ON (read {clock_text(r.wall)}): switch it off", "on")
            else:
                self.status.show_output(f"Output OFF — confirmed at {clock_text(r.wall)}", "off")
            return
        if result is not None:
            ended = _local_time(result.ended_utc)
            if result.output_off_confirmed:
                self.status.show_output(f"Output OFF — confirmed at {ended}", "off")
            else:
                self.status.show_output("Output off NOT confirmed: switch the supply off at its front panel", "on")
            return
        self.status.show_output("Output: not read yet", "unknown")

    # --- interlocks and results -------------------------------------------------------------------

    def _show_interlocks(self, view: RunnerView) -> None:
        trip = view.trip
        failed = view.state is RunState.FAILED and view.last_result is not None
        key = (trip, view.state if failed else None)
        if key == self._shown_latch:
            return
        self._shown_latch = key
        if trip is not None:
            words = trip_text(trip)
            self.interlocks.display(trip.name, f"TRIPPED at {trip.t_s:.1f} s — {words}", False)
            self.trip_banner.show_trip(f"TRIPPED — {words} — output off; acknowledge to start again")
        elif failed:
            assert view.last_result is not None
            reason = view.last_result.reason
            self.interlocks.display(None, f"No interlock tripped. The run FAILED before heating: {reason}", True)
            self.trip_banner.show_notice(f"The run failed before heating: {reason}")
        else:
            self.interlocks.display(None, "No interlock tripped.", False)
            self.trip_banner.clear()
        self._update_controls()

    def _show_result(self, result: RunResult, view: RunnerView) -> None:
        title = f"{result.profile_name}: {result.outcome.value} — {result.reason}"
        if result.run_dir is not None:
            title += f"  ({result.run_dir.name})"
        samples = self.runner.buffer.snapshot()[2] if self.runner is not None else []
        self.card.show_metrics(title, result.metrics, result.outcome.value, view.plan, samples, result.duration_s)
        self.tabs.setCurrentWidget(self.card)
        if result.trip_name is not None and self.live.arrays and len(self.live.arrays["t_s"]):
            t = view.trip.t_s if view.trip is not None else float(self.live.arrays["t_s"][-1])
            self.live.mark_trip(t)
            self.live.plots.prepare()
        if not result.preflight_failed and self.sample_edit.text().strip():
            self.sample_edit.setText(next_sample_id(self.sample_edit.text().strip()))
        self.history_panel.refresh()

    def show_card(self, title: str, metrics: dict[str, Any]) -> None:
        """Fill the run card from a metrics dictionary and bring it to the front."""
        self.card.show_metrics(title, metrics, "finished")
        self.tabs.setCurrentWidget(self.card)

    # --- history --------------------------------------------------------------------------------

    def refresh_history(self) -> None:
        self.history_panel.refresh()

    def open_past_run(self, folder: Path | None = None) -> dict[str, Any]:
        """Show a past run's card and overlay it in the history's plot; return its metrics."""
        past = self.history_panel.open_run(folder) if folder is not None else self.history_panel.open_current()
        return dict(past.summary.metrics) if past is not None else {}

    def _past_run_opened(self, past: PastRun) -> None:
        s = past.summary
        record = self.history_panel.store.record(s.run_dir)  # through the run store, like ufs report
        title = f"{s.name}: {s.outcome} — {s.reason}"
        duration = past.samples[-1].t_s if past.samples else None
        self.card.show_metrics(title, s.metrics, s.outcome, record.plan, past.samples, duration)

    def clear_overlay(self) -> None:
        self.history_panel.clear_overlays()

    # --- misc -----------------------------------------------------------------------------------

    def choose_export(self) -> QFileDialog:
        """Show the chooser for where to export the plot as a PNG (non-modal)."""
        return self._dialog(
            "export", lambda: self._file_chooser("Export plot", ".", "PNG (*.png)", self.export_png, save_as="plot.png")
        )

    def export_png(self, path: Path) -> Path:
        """Write the plot area as a PNG."""
        self.live.plots.prepare()
        exporter = pyqtgraph.exporters.ImageExporter(self.live.plots.scene())
        exporter.export(str(path))
        return path

    def screenshot(self, path: Path) -> Path:
        """Save a picture of the whole window."""
        self.live.plots.prepare()
        self.grab().save(str(path))
        return path

    # --- dialogs --------------------------------------------------------------------------------
    # None is modal and none waits in exec(): the EMERGENCY STOP button stays clickable behind every one,
    # the run goes on being controlled and drawn while one is open, and EmergencyStopKeys hears Esc and
    # Ctrl+E in all of them.

    def _dialog(self, name: str, make: Callable[[], DialogT]) -> DialogT:
        """Show the dialog called ``name`` (made by ``make`` the first time, then reused) without blocking."""
        if name not in self.dialogs:
            self.dialogs[name] = make()
            self.dialogs[name].setWindowModality(Qt.WindowModality.NonModal)
        dialog = cast(DialogT, self.dialogs[name])  # made by this name's ``make``
        if dialog.isVisible():  # left open behind the main window: bring it forward
            dialog.raise_()
        else:
            dialog.show()  # never open() or exec(): both make the dialog modal
        dialog.activateWindow()
        return dialog

    def _file_chooser(
        self, title: str, directory: str, name_filter: str, chosen: Callable[[Path], Any], save_as: str | None = None
    ) -> QFileDialog:
        chooser = QFileDialog(self, title, directory, name_filter)
        # Qt's own chooser: a platform chooser runs outside Qt, where the emergency-stop keys are not heard.
        chooser.setOption(QFileDialog.Option.DontUseNativeDialog)
        if save_as is None:
            chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        else:
            chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            chooser.setDefaultSuffix(Path(save_as).suffix.lstrip("."))
            chooser.selectFile(save_as)
        chooser.fileSelected.connect(lambda path: chosen(Path(path)))
        return chooser

    def notice(self, title: str, text: str) -> QMessageBox:
        """Tell the operator something in a non-modal message box."""
        box = self._dialog(
            "notice",
            lambda: QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self),
        )
        box.setWindowTitle(title)
        box.setText(text)
        return box

    def _ask_close(self) -> QMessageBox:
        def make() -> QMessageBox:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Question)
            box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            box.setDefaultButton(QMessageBox.StandardButton.No)
            box.buttonClicked.connect(lambda button: self._close_answered(box, button))
            return box

        box = self._dialog("close", make)
        self._word_close_question()
        return box

    def _word_close_question(self) -> None:
        """Ask the close question as things stand: the run may end (an emergency stop) while it is open."""
        box = self.dialogs.get("close")
        if not isinstance(box, QMessageBox):
            return
        if self._busy():
            box.setWindowTitle("Run in progress")
            box.setText("A run is in progress. End it (output off, record kept) and close?")
        else:
            box.setWindowTitle("Close")
            box.setText("The run has ended. Close the window?")

    def _close_answered(self, box: QMessageBox, button: QAbstractButton) -> None:
        if box.standardButton(button) != QMessageBox.StandardButton.Yes:
            return
        self._closing = True
        if self.runner is not None and self._busy():
            self.runner.request_abort("window closed during the run")
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close, after asking if a run is going; while its thread still runs, wait (on the refresh timer)."""
        runner = self.runner
        if runner is not None and runner.active:
            event.ignore()
            if not self._closing:
                if self._busy():
                    self._ask_close()
                else:  # the run has ended and is writing its records: close when it has
                    self._closing = True
            return
        self._closing = True
        self.timer.stop()
        self._stop_idle()
        self.save_settings()
        self.estop_keys.remove()
        self.trip_banner.clear()
        self._collector.timer.stop()
        if self._gc_was_enabled:
            gc.enable()
        for dialog in self.dialogs.values():
            dialog.close()
        self.backend.close()
        event.accept()


def _mono() -> float:
    return time.monotonic()


def _local_time(utc_iso: str) -> str:
    """An ISO UTC timestamp (run.json's) as local hh:mm:ss; the text itself if it cannot be read."""
    try:
        return datetime.fromisoformat(utc_iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return utc_iso
