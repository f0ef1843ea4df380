"""The operator window (PySide6 + pyqtgraph).

It talks to the runner's public API only: it pulls snapshots from the runner's bounded display buffer on
a QTimer and sends requests (start, abort, emergency stop, acknowledge) that return at once. The control
loop keeps its own thread; nothing here waits on it.
"""

from __future__ import annotations

import gc
import html
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGraphicsView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ufs_control.control.feasibility import check
from ufs_control.control.model import PlantModel
from ufs_control.core.errors import UfsError
from ufs_control.core.interlocks import LABELS
from ufs_control.core.profile import Plan, Profile, load_profile, plan, setpoint_at
from ufs_control.core.rig import RigConfig
from ufs_control.gui.backend import Backend
from ufs_control.gui.controls import RUN_ACTIVE, controls
from ufs_control.gui.estop import EmergencyStopKeys
from ufs_control.runner.engine import Runner, RunState
from ufs_control.runner.metrics import METRIC_LABELS, compute
from ufs_control.runner.records import RunResult, Sample, read_samples

REFRESH_MS = 40  # 25 frames per second
STATE_COLOURS = {
    RunState.IDLE: "#546e7a",
    RunState.PREFLIGHT: "#1565c0",
    RunState.RUNNING: "#2e7d32",
    RunState.FINISHED: "#2e7d32",
    RunState.ABORTED: "#ef6c00",
    RunState.TRIPPED: "#c62828",
    RunState.FAILED: "#c62828",
}
CARD_KEYS = (
    "ramp_rate_c_per_s",
    "ramp_rms_k",
    "handover_k",
    "overshoot_k",
    "settle_s",
    "hold_max_k",
    "hold_rms_k",
    "time_in_band_s",
    "soak_s",
    "energy_j",
    "cooling_s",
    "peak_c",
)
CARD_ROWS = [row for row in METRIC_LABELS if row[0] in CARD_KEYS]
DialogT = TypeVar("DialogT", bound=QDialog)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


class Lamp(QLabel):
    """A small status lamp with a caption."""

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.caption = caption
        self.set_state("ok")

    def set_state(self, state: str) -> None:
        colour = {"ok": "#43a047", "tripped": "#e53935", "idle": "#9e9e9e"}[state]
        self.state = state
        self.setText(f'<span style="color:{colour}; font-size:15px">●</span> {self.caption}')


class PlotArea(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph ships no type stubs
    """The plot canvas, painted by Qt's C++ ``QGraphicsView.paintEvent`` directly.

    pyqtgraph's Python override of ``paintEvent`` would hold the GIL for the whole scene render (5-14 ms
    on a slow machine), stalling the control loop's thread for that long. Without it the GIL is taken only
    inside each item's own paint. :meth:`prepare` does what the override did; the window calls it before
    every refresh.
    """

    paintEvent = QGraphicsView.paintEvent

    def prepare(self) -> None:
        self.scene().prepareForPaint()

    def resizeEvent(self, ev: Any) -> None:
        super().resizeEvent(ev)
        self.prepare()


class MainWindow(QMainWindow):
    """The ufs-control operator window."""

    run_finished = Signal(object)

    def __init__(
        self,
        backend: Backend,
        rig: RigConfig,
        simulate: bool,
        follow_s: float = 60.0,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.rig = rig
        self.simulate = simulate
        self.runner: Runner | None = None
        self.profile: Profile | None = None
        self.plan: Plan | None = None
        self._profile_ok = False
        self._seen_appended = -1
        self._seen_generation = -1
        self._seen_state: RunState | None = None
        self._shown_result: RunResult | None = None
        self._markers: list[pg.InfiniteLine] = []
        self._trip_line: pg.InfiniteLine | None = None
        self._arrays: dict[str, np.ndarray] = {}
        self._segments: list[tuple[float, str]] = []
        self._last_segment: int | None = None
        self._plan_offset: float | None = None
        self._drawn_offset: float | None = None
        self._x_range: tuple[float, float] | None = None
        self._shown_interlocks: tuple[Any, bool] | None = None
        self._y_ranges: dict[int, tuple[float, float]] = {}
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
        self.refresh_history()
        self._update_controls()

    # --- construction ---------------------------------------------------------------------------

    def _build(self, follow_s: float) -> None:
        mode = "SIMULATION" if self.simulate else "RIG"
        self.setWindowTitle(f"ufs-control — {mode}")
        self.resize(1480, 920)
        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(8, 8, 8, 8)
        self.banner = QLabel()
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setObjectName("banner")
        self._set_banner()
        outer.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split, 1)
        split.addWidget(self._build_left(follow_s))
        split.addWidget(self._build_right())
        split.setStretchFactor(0, 1)
        split.setSizes([1060, 400])
        self.setCentralWidget(root)
        self.estop_keys = EmergencyStopKeys(self, self.emergency_stop, self._busy)
        self.estop_keys.install()

    def _set_banner(self) -> None:
        if self.simulate:
            text = "SIMULATION — the embedded simulator, not the rig"
            style = "background:#fb8c00; color:white;"
        else:
            text = f"RIG — supply {self.rig.psu.resource}, pyrometer {self.rig.pyrometer.url}"
            style = "background:#263238; color:white;"
        self.banner.setText(text)
        self.banner.setStyleSheet(style + "font-size:16px; font-weight:bold; padding:6px; border-radius:4px;")

    def _build_left(self, follow_s: float) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.follow = QCheckBox("Follow last")
        self.follow.setChecked(True)
        self.follow.toggled.connect(lambda _on: self._redraw() if self._arrays else None)
        self.follow_seconds = QSpinBox()
        self.follow_seconds.setRange(5, 3600)
        self.follow_seconds.setValue(int(follow_s))
        self.follow_seconds.setSuffix(" s")
        self.show_resistance = QCheckBox("Felt resistance")
        self.show_resistance.toggled.connect(self._toggle_resistance)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self.choose_export)
        bar.addWidget(self.follow)
        bar.addWidget(self.follow_seconds)
        bar.addSpacing(16)
        bar.addWidget(self.show_resistance)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        lay.addLayout(bar)

        pg.setConfigOptions(antialias=False, background="w", foreground="#263238")
        self.plots = PlotArea()
        self.t_plot = self.plots.addPlot(row=0, col=0)
        self.t_plot.setLabel("left", "Temperature", units="°C")
        self.t_plot.addLegend(offset=(10, 10))
        self.p_plot = self.plots.addPlot(row=1, col=0)
        self.p_plot.setLabel("left", "Power", units="W")
        self.p_plot.addLegend(offset=(10, 5))
        self.p_plot.setXLink(self.t_plot)
        self.e_plot = self.plots.addPlot(row=2, col=0)
        self.e_plot.setLabel("left", "V, A, Ω")
        self.e_plot.setLabel("bottom", "Time", units="s")
        self.e_legend = self.e_plot.addLegend(offset=(10, 5), colCount=3)
        self.e_plot.setXLink(self.t_plot)
        self.plots.ci.layout.setRowStretchFactor(0, 5)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.plots.ci.layout.setRowStretchFactor(2, 2)
        for plot in (self.t_plot, self.p_plot, self.e_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
            # Ranges are set by _fit_ranges (paged, with hysteresis), so the axes are not re-rendered and
            # the auto-range is not recomputed on every frame.
            plot.disableAutoRange()
        for plot in (self.t_plot, self.p_plot):
            plot.hideAxis("bottom")  # the time axis is drawn once, under the last plot
        self.planned_curve = self.t_plot.plot(pen=pg.mkPen("#b0bec5", width=6), name="planned")
        self.overlay_curve = self.t_plot.plot(pen=pg.mkPen("#7e57c2", width=1.5, style=Qt.PenStyle.DashLine))
        self.setpoint_curve = self.t_plot.plot(pen=pg.mkPen("#fb8c00", width=2), name="setpoint")
        self.temp_curve = self.t_plot.plot(pen=pg.mkPen("#d32f2f", width=2), name="temperature")
        self.power_curve = self.p_plot.plot(pen=pg.mkPen("#1565c0", width=2), name="power command")
        self.volt_curve = self.e_plot.plot(pen=pg.mkPen("#2e7d32", width=1.5), name="voltage V")
        self.curr_curve = self.e_plot.plot(pen=pg.mkPen("#6a1b9a", width=1.5), name="current A")
        self.res_curve = self.e_plot.plot(pen=pg.mkPen("#795548", width=1.5))
        self.res_curve.setVisible(False)
        lay.addWidget(self.plots, 3)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_profile_tab(), "Profile")
        self.tabs.addTab(self._build_card_tab(), "Run card")
        self.tabs.addTab(self._build_history_tab(), "History")
        self.tabs.addTab(self._build_connection_tab(), "Connection")
        lay.addWidget(self.tabs, 1)
        return box

    def _build_profile_tab(self) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        self.segments = QTableWidget(0, 4)
        self.segments.setHorizontalHeaderLabels(["#", "segment", "time (s)", "setpoint"])
        self.segments.verticalHeader().setVisible(False)
        self.segments.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.segments.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        lay.addWidget(self.segments, 3)
        self.profile_messages = QLabel("Open a profile (TOML) to see its segments and planned curve.")
        self.profile_messages.setWordWrap(True)
        self.profile_messages.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.profile_messages.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.profile_messages, 2)
        return w

    def _build_card_tab(self) -> QWidget:
        w = QWidget()
        grid = QGridLayout(w)
        self.card_title = QLabel("No run yet.")
        self.card_title.setStyleSheet("font-weight:bold;")
        grid.addWidget(self.card_title, 0, 0, 1, 6)
        self.card_values: dict[str, QLabel] = {}
        for i, (key, label, unit) in enumerate(CARD_ROWS):
            r, c = 1 + i % 4, (i // 4) * 2
            grid.addWidget(QLabel(label), r, c)
            value = QLabel("—")
            value.setStyleSheet("font-weight:bold;")
            value.setToolTip(unit)
            self.card_values[key] = value
            grid.addWidget(value, r, c + 1)
        return w

    def _build_history_tab(self) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        self.history = QListWidget()
        self.history.itemDoubleClicked.connect(lambda _item: self.open_past_run())
        lay.addWidget(self.history, 3)
        buttons = QVBoxLayout()
        self.open_run_button = QPushButton("Open run")
        self.open_run_button.clicked.connect(self.open_past_run)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_history)
        clear = QPushButton("Clear overlay")
        clear.clicked.connect(self.clear_overlay)
        for b in (self.open_run_button, refresh, clear):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons, 1)
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
        self.test_button.clicked.connect(self.test_connection)
        self.apply_button = QPushButton("Connect")
        self.apply_button.clicked.connect(self.apply_connection)
        row.addWidget(self.test_button)
        row.addWidget(self.apply_button)
        row.addStretch(1)
        form.addRow("", row)
        self.identity_label = QLabel("")
        self.identity_label.setWordWrap(True)
        self.identity_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Identities", self.identity_label)
        return w

    def _build_right(self) -> QWidget:
        box = QWidget()
        box.setMinimumWidth(360)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)

        run = QGroupBox("Run")
        form = QFormLayout(run)
        prow = QHBoxLayout()
        self.profile_label = QLabel("no profile")
        self.profile_label.setStyleSheet("font-weight:bold;")
        self.open_button = QPushButton("Open…")
        self.open_button.clicked.connect(self.choose_profile)
        prow.addWidget(self.profile_label, 1)
        prow.addWidget(self.open_button)
        form.addRow("Profile", prow)
        self.operator_edit = QLineEdit()
        self.sample_edit = QLineEdit()
        form.addRow("Operator", self.operator_edit)
        form.addRow("Sample id", self.sample_edit)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setMinimumHeight(36)
        self.start_button.setStyleSheet("font-size:14px; font-weight:bold;")
        self.start_button.clicked.connect(self.start)
        self.abort_button = QPushButton("Abort")
        self.abort_button.setMinimumHeight(36)
        self.abort_button.setStyleSheet("font-size:14px;")
        self.abort_button.clicked.connect(self.abort)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.abort_button)
        form.addRow(buttons)
        self.estop_button = QPushButton("EMERGENCY STOP")
        self.estop_button.setMinimumHeight(64)
        self.estop_button.setStyleSheet(
            "QPushButton { background:#c62828; color:white; font-size:20px; font-weight:bold; border-radius:6px; }"
            "QPushButton:pressed { background:#8e0000; }"
        )
        self.estop_button.clicked.connect(self.emergency_stop)
        form.addRow(self.estop_button)
        lay.addWidget(run)

        status = QGroupBox("Status")
        grid = QGridLayout(status)
        self.state_label = QLabel("IDLE")
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.state_label, 0, 0, 1, 4)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        grid.addWidget(self.progress, 1, 0, 1, 4)
        self.values: dict[str, QLabel] = {}
        rows = [
            ("segment", "Segment"),
            ("time", "Elapsed / left"),
            ("temperature", "Temperature"),
            ("setpoint", "Setpoint"),
            ("power", "Power"),
            ("resistance", "Resistance"),
            ("pyrometer", "Pyrometer"),
            ("loop", "Loop rate"),
        ]
        big = QFont()
        big.setPointSize(13)
        big.setBold(True)
        for i, (key, caption) in enumerate(rows):
            r, c = 2 + i // 2, (i % 2) * 2
            grid.addWidget(QLabel(caption), r, c)
            value = QLabel("—")
            if key in ("temperature", "setpoint", "power"):
                value.setFont(big)
            self.values[key] = value
            grid.addWidget(value, r, c + 1)
        lay.addWidget(status)

        locks = QGroupBox("Interlocks")
        lgrid = QGridLayout(locks)
        self.lamps: dict[str, Lamp] = {}
        for i, (name, caption) in enumerate(LABELS.items()):
            lamp = Lamp(caption)
            self.lamps[name] = lamp
            lgrid.addWidget(lamp, i // 2, i % 2)
        n = (len(LABELS) + 1) // 2
        self.trip_label = QLabel("No interlock tripped.")
        self.trip_label.setWordWrap(True)
        lgrid.addWidget(self.trip_label, n, 0, 1, 2)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.clicked.connect(self.acknowledge)
        lgrid.addWidget(self.ack_button, n + 1, 0, 1, 2)
        self.ack_hint = QLabel()  # why Acknowledge cannot be pressed, in words
        self.ack_hint.setWordWrap(True)
        self.ack_hint.setStyleSheet("color:#607d8b;")
        lgrid.addWidget(self.ack_hint, n + 2, 0, 1, 2)
        lay.addWidget(locks)
        lay.addStretch(1)
        return box

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
        try:
            self.runner = self.backend.connect(self.rig, self.simulate)
        except UfsError as exc:
            self.runner = None
            self.identity_label.setText(f"not connected: {exc}")

    def apply_connection(self) -> None:
        """Connect with the settings in the Connection tab (refused during a run)."""
        if self._busy():
            self.notice("Run in progress", "End the run before changing the connection.")
            return
        self.rig, self.simulate = self._settings()
        self._set_banner()
        self.setWindowTitle(f"ufs-control — {'SIMULATION' if self.simulate else 'RIG'}")
        self._connect_backend()
        self._update_controls()

    def test_connection(self) -> dict[str, str]:
        """Identify both instruments with the settings in the Connection tab; show the result."""
        rig, simulate = self._settings()
        try:
            ids = self.backend.identify(rig, simulate)
        except Exception as exc:  # the operator sees why, in one line
            self.identity_label.setText(f"<span style='color:#c62828'>failed: {exc}</span>")
            return {}
        self.identity_label.setText(f"supply: {ids.get('psu', '?')}<br>pyrometer: {ids.get('pyrometer', '?')}")
        return ids

    # --- profile --------------------------------------------------------------------------------

    def choose_profile(self) -> QFileDialog:
        """Show the profile chooser (non-modal); the chosen file is loaded unless a run has begun meanwhile."""
        return self._dialog(
            "profile", lambda: self._file_chooser("Open profile", "profiles", "Profiles (*.toml)", self._profile_chosen)
        )

    def _profile_chosen(self, path: Path) -> None:
        if self._busy():  # the chooser stayed open while the run started: do not swap the plan under the run
            self.notice("Run in progress", f"End the run before loading another profile ({path.name}).")
            return
        self.load_profile(path)

    def load_profile(self, path: Path) -> bool:
        """Load, validate and preview a profile; return True when it can be run."""
        try:
            profile = load_profile(path)
        except UfsError as exc:
            self.profile, self.plan, self._profile_ok = None, None, False
            self.profile_label.setText(path.name)
            self.profile_messages.setText(f"<span style='color:#c62828'>error: {html.escape(str(exc))}</span>")
            self.segments.setRowCount(0)
            self.planned_curve.setData([], [])
            self._update_controls()
            return False
        self.profile = profile
        self.plan = plan(profile)
        self.profile_label.setText(profile.name)
        self._fill_segments(self.plan)
        findings = check(self.plan, self.rig, PlantModel(self.rig.model, self.rig.wiring))
        lines = [f"<b>{html.escape(profile.description or profile.name)}</b>"]
        lines.append(f"duration {self.plan.duration_s:.1f} s, peak {self.plan.peak_c:.0f} °C")
        errors = [f for f in findings if f.level == "error"]
        for f in findings:
            colour = "#c62828" if f.level == "error" else "#ef6c00"
            text = html.escape(f"{f.level}: segment {f.segment} ({f.kind}): {f.message}")
            lines.append(f"<span style='color:{colour}'>{text}</span>")
        lines.append(
            "<span style='color:#c62828'>infeasible on this rig</span>"
            if errors
            else "<span style='color:#2e7d32'>feasible on this rig</span>"
        )
        self.profile_messages.setText("<br>".join(lines))
        self._profile_ok = not errors
        self._draw_plan(0.0)
        self._update_controls()
        return self._profile_ok

    def _fill_segments(self, laid: Plan) -> None:
        self.segments.setRowCount(len(laid.segments))
        for row, s in enumerate(laid.segments):
            cells = [str(s.index + 1), s.kind, f"{s.start_s:.1f} – {s.end_s:.1f}", s.describe()]
            for col, text in enumerate(cells):
                self.segments.setItem(row, col, QTableWidgetItem(text))

    def planned_points(self, offset_s: float = 0.0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
        """The planned setpoint curve (time shifted by ``offset_s``); NaN where the output is off."""
        if self.plan is None:
            return np.array([]), np.array([])
        t = np.linspace(0.0, self.plan.duration_s, n)
        y = np.array([v if (v := setpoint_at(self.plan, float(x))[0]) is not None else np.nan for x in t])
        return t + offset_s, y

    def _draw_plan(self, offset_s: float) -> None:
        t, y = self.planned_points(offset_s)
        self.planned_curve.setData(t, y, connect="finite")

    # --- run control ----------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the loaded profile (refused while an interlock is latched or a run is going)."""
        if self.runner is None or self.profile is None or not self._profile_ok:
            return False
        if self.runner.latch.tripped is not None:
            return False
        if self.runner.state in (RunState.FINISHED, RunState.ABORTED, RunState.FAILED):
            self.runner.reset()
        started = self.runner.request_start(self.profile, self.operator_edit.text(), self.sample_edit.text())
        if started:
            self._clear_run_view()
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
            self._show_interlocks(self.runner)  # at once: the lamp and Start follow the latch, idle or not

    def acknowledge(self) -> None:
        """Clear the latched interlock in the operator's name (the runner refuses during a run)."""
        if self.runner is None:
            return
        name = self.operator_edit.text().strip()
        if name:
            self.runner.acknowledge(by=name)
        else:
            self.runner.acknowledge()  # the runner's own default name
        self._show_interlocks(self.runner)

    def _busy(self) -> bool:
        return self.runner is not None and self.runner.state in RUN_ACTIVE

    def _update_controls(self) -> None:
        runner = self.runner
        now = controls(
            runner.state if runner is not None else None,
            runner is not None and runner.latch.tripped is not None,
            self._profile_ok,
        )
        for button, control in (
            (self.start_button, now.start),
            (self.abort_button, now.abort),
            (self.estop_button, now.emergency_stop),
            (self.ack_button, now.acknowledge),
            (self.open_button, now.open_profile),
            (self.apply_button, now.connect),
        ):
            button.setEnabled(control.enabled)
            button.setToolTip(control.hint)
        self.ack_hint.setText("" if now.acknowledge.enabled else now.acknowledge.hint)

    def _clear_run_view(self) -> None:
        self._seen_appended = -1
        self._seen_generation = -1
        self._arrays = {}
        self._drawn_offset = None
        self._x_range = None
        self._y_ranges = {}
        for curve in (self.temp_curve, self.setpoint_curve, self.power_curve, self.volt_curve, self.curr_curve):
            curve.setData([], [])
        self.res_curve.setData([], [])
        for line in self._markers:
            self.t_plot.removeItem(line)
        self._markers = []
        if self._trip_line is not None:
            self.t_plot.removeItem(self._trip_line)
            self._trip_line = None

    # --- periodic refresh -----------------------------------------------------------------------

    COLUMNS = ("t_s", "temperature_c", "setpoint_c", "power_w", "voltage_v", "current_a", "resistance_ohm")

    def refresh(self) -> None:
        """Pull the new samples and the state from the runner and redraw (on the QTimer).

        Only samples appended since the last frame are converted; everything is rebuilt only when the
        runner's buffer thins itself or starts a new run. The control thread is never waited on.
        """
        runner = self.runner
        if runner is None:
            return
        generation, appended, new, full = runner.buffer.read_since(self._seen_generation, self._seen_appended)
        if full or new:
            self._seen_generation, self._seen_appended = generation, appended
            self._ingest(new, full)
            self._redraw()
            if new:
                self._show_status(new[-1], runner)
        state = runner.state
        if state is not self._seen_state:
            self._seen_state = state
            self._update_controls()
            self._word_close_question()
            colour = STATE_COLOURS[state]
            self.state_label.setText(state.value.upper())
            self.state_label.setStyleSheet(  # a style change re-polishes the widget: only on a change
                f"background:{colour}; color:white; font-size:18px; font-weight:bold; padding:4px; border-radius:4px;"
            )
            last = runner.buffer.latest()
            if last is not None:
                self._show_status(last, runner)
        self._show_interlocks(runner)
        result = runner.last_result
        if result is not None and result is not self._shown_result and state not in RUN_ACTIVE:
            self._shown_result = result
            latest = runner.buffer.latest()
            if latest is not None:
                self._show_status(latest, runner)
            self._show_result(result)
            self.run_finished.emit(result)
        self.frames += 1
        if self._closing and not runner.active:  # asked to close during the run, which has now ended
            self.close()

    def _ingest(self, samples: list[Sample], full: bool) -> None:
        """Append the new samples to the plotted arrays (or rebuild them)."""
        n = len(samples)
        fresh = {
            name: np.fromiter((v if (v := getattr(s, name)) is not None else np.nan for s in samples), float, n)
            for name in self.COLUMNS
        }
        if full or not self._arrays:
            self._arrays = fresh
            self._segments = []
            self._last_segment = None
        else:
            self._arrays = {k: np.concatenate((self._arrays[k], fresh[k])) for k in self.COLUMNS}
        for s in samples:
            if s.segment_index != self._last_segment:
                self._segments.append((s.t_s, s.segment))
                self._last_segment = s.segment_index
        if samples:
            self._plan_offset = samples[-1].t_s - samples[-1].profile_t_s

    MAX_DRAWN_POINTS = 3000

    def _visible(self) -> slice:
        """Which part of the arrays to hand to the plot: the follow window, or all of it, strided."""
        t = self._arrays["t_s"]
        if self.follow.isChecked():
            span = float(self.follow_seconds.value())
            start = int(np.searchsorted(t, t[-1] - 1.05 * span))
            step = max(1, (len(t) - start) // self.MAX_DRAWN_POINTS)
            return slice(start, None, step)
        return slice(0, None, max(1, len(t) // self.MAX_DRAWN_POINTS))

    def _redraw(self) -> None:
        """Hand the visible part of the arrays to the curves (a bounded number of points per frame)."""
        a = self._arrays
        if not a or len(a["t_s"]) == 0:
            return
        view = self._visible()
        t = a["t_s"][view]
        self.temp_curve.setData(t, a["temperature_c"][view], connect="finite")
        self.setpoint_curve.setData(t, a["setpoint_c"][view], connect="finite")
        self.power_curve.setData(t, a["power_w"][view])
        self.volt_curve.setData(t, a["voltage_v"][view], connect="finite")
        self.curr_curve.setData(t, a["current_a"][view], connect="finite")
        if self.res_curve.isVisible():
            self.res_curve.setData(t, a["resistance_ohm"][view], connect="finite")
        if self.plan is not None and self._plan_offset is not None:
            if self._plan_offset != self._drawn_offset:
                self._draw_plan(self._plan_offset)
                self._drawn_offset = self._plan_offset
        self._update_markers()
        self._fit_ranges(view)
        self.plots.prepare()  # after the ranges: the views apply range changes here

    def _fit_ranges(self, view: slice) -> None:
        """Set the axes' ranges: the time axis pages forward by a tenth of the span when following, and a
        y-range changes only when the data leaves it (a changed range re-renders the axis)."""
        a = self._arrays
        t = a["t_s"]
        if self.follow.isChecked():
            span = float(self.follow_seconds.value())
            step = span / 10.0
            end = max(span, (math.floor(float(t[-1]) / step) + 1) * step)
            x_range = (end - span, end)
        else:
            x_range = (float(t[0]), max(float(t[-1]), float(t[0]) + 1.0))
        if x_range != self._x_range:
            self._x_range = x_range
            self.t_plot.setXRange(*x_range, padding=0.0)
        plan_y = self.planned_curve.getData()[1]
        groups = (
            (self.t_plot, ("temperature_c", "setpoint_c"), plan_y, 50.0),
            (self.p_plot, ("power_w",), None, 20.0),
            (
                self.e_plot,
                ("voltage_v", "current_a") + (("resistance_ohm",) if self.res_curve.isVisible() else ()),
                None,
                2.0,
            ),
        )
        for plot, names, extra, pad in groups:
            chunks = [a[n][view] for n in names]
            if extra is not None and len(extra):
                chunks.append(np.asarray(extra, dtype=float))
            values = np.concatenate(chunks) if chunks else np.array([])
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            lo, hi = float(values.min()), float(values.max())
            current = self._y_ranges.get(id(plot))
            if current is None or lo < current[0] or hi > current[1] or (hi - lo) < 0.5 * (current[1] - current[0]):
                new = (min(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad)
                self._y_ranges[id(plot)] = new
                plot.setYRange(*new, padding=0.0)

    def _update_markers(self) -> None:
        changes = self._segments
        if len(changes) == len(self._markers) + 1:
            return
        for line in self._markers:
            self.t_plot.removeItem(line)
        self._markers = []
        for t, label in changes[1:]:
            line = pg.InfiniteLine(
                pos=t,
                angle=90,
                pen=pg.mkPen("#90a4ae", style=Qt.PenStyle.DotLine),
                label=label,
                labelOpts={"position": 0.08, "color": "#607d8b"},
            )
            self.t_plot.addItem(line)
            self._markers.append(line)

    def _show_status(self, s: Sample, runner: Runner) -> None:
        total = runner.plan.duration_s if runner.plan is not None else 0.0
        left = max(total - s.profile_t_s, 0.0)
        done = runner.state not in RUN_ACTIVE
        if done:
            left = 0.0
        self.values["segment"].setText(s.segment)
        self.values["time"].setText(f"{s.t_s:.1f} s / {left:.1f} s")
        self.values["temperature"].setText(f"{s.temperature_c:.1f} °C" if s.temperature_c is not None else "—")
        self.values["setpoint"].setText(f"{s.setpoint_c:.1f} °C" if s.setpoint_c is not None else "off")
        self.values["power"].setText("output off" if done else f"{s.power_w:.1f} W")
        self.values["resistance"].setText(f"{s.resistance_ohm:.3f} Ω" if s.resistance_ohm is not None else "—")
        status_colour = "#2e7d32" if s.pyrometer_status == "OK" else "#ef6c00"
        self.values["pyrometer"].setText(f"<span style='color:{status_colour}'>{s.pyrometer_status}</span>")
        t = self._arrays.get("t_s")
        if t is not None and len(t) > 20 and t[-1] > t[-21] and not done:
            self.values["loop"].setText(f"{20.0 / (t[-1] - t[-21]):.1f} Hz")  # over the last 20 ticks
        elif done:
            self.values["loop"].setText("—")
        if done and runner.last_result is not None and runner.last_result.outcome.value == "finished":
            self.progress.setValue(1000)
        else:
            self.progress.setValue(int(1000 * min(s.profile_t_s / total, 1.0)) if total > 0 else 0)

    def _show_interlocks(self, runner: Runner) -> None:
        trip = runner.latch.tripped
        busy = self._busy()
        if (trip, busy) == self._shown_interlocks:
            return
        self._shown_interlocks = (trip, busy)
        for name, lamp in self.lamps.items():
            state = "tripped" if trip is not None and trip.name == name else "ok"
            if lamp.state != state:
                lamp.set_state(state)
        if trip is None:
            self.trip_label.setText("No interlock tripped.")
            self.trip_label.setStyleSheet("")
        else:
            self.trip_label.setText(html.escape(f"TRIPPED at {trip.t_s:.1f} s — {LABELS[trip.name]}: {trip.reason}"))
            self.trip_label.setStyleSheet("color:#c62828; font-weight:bold;")
        self._update_controls()

    def _show_result(self, result: RunResult) -> None:
        title = f"{result.profile_name}: {result.outcome.value} — {result.reason}"
        if result.run_dir is not None:
            title += f"  ({result.run_dir.name})"
        self.show_card(title, result.metrics)
        if result.trip_name is not None and self._arrays and len(self._arrays["t_s"]):
            trip = self.runner.latch.tripped if self.runner is not None else None
            t = trip.t_s if trip is not None else float(self._arrays["t_s"][-1])
            line = pg.InfiniteLine(
                pos=t,
                angle=90,
                pen=pg.mkPen("#c62828", width=2),
                label="TRIP",
                labelOpts={"position": 0.92, "color": "#c62828"},
            )
            self.t_plot.addItem(line)
            self._markers.append(line)
        self.refresh_history()

    def show_card(self, title: str, metrics: dict[str, Any]) -> None:
        """Fill the run card from a metrics dictionary and bring it to the front."""
        self.card_title.setText(title)
        for key, label in self.card_values.items():
            value = metrics.get(key)
            if key == "energy_j" and value is not None:
                label.setText(f"{value / 1000.0:.2f} kJ")
            elif key == "cooling_s" and value is not None:
                label.setText(f"{value:.2f} s to {metrics.get('cooling_to_c', 500):.0f} °C")
            else:
                unit = next(u for k, _, u in CARD_ROWS if k == key)
                label.setText("—" if value is None else f"{_fmt(value, 2)} {unit}")
        self.tabs.setCurrentIndex(1)

    # --- history --------------------------------------------------------------------------------

    def refresh_history(self) -> None:
        """List the run folders, newest first."""
        self.history.clear()
        root = self.backend.runs_dir
        if not root.is_dir():
            return
        for folder in sorted((p for p in root.iterdir() if (p / "samples.csv").is_file()), reverse=True):
            outcome = "?"
            try:
                outcome = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("outcome", "?")
            except (OSError, ValueError):
                pass
            item = QListWidgetItem(f"{folder.name}   [{outcome}]")
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            if outcome in ("tripped", "failed"):
                item.setForeground(QColor("#c62828"))
            self.history.addItem(item)

    def open_past_run(self, folder: Path | None = None) -> dict[str, Any]:
        """Overlay a past run on the plot and show its metrics card; return the metrics."""
        if folder is None:
            item = self.history.currentItem()
            if item is None:
                return {}
            folder = Path(item.data(Qt.ItemDataRole.UserRole))
        try:
            samples = read_samples(folder)
            record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            self.card_title.setText(f"cannot open {folder.name}: {exc}")
            return {}
        metrics = record.get("metrics") or compute(samples)
        t = np.array([s.t_s for s in samples])
        y = np.array([s.temperature_c if s.temperature_c is not None else np.nan for s in samples])
        self.overlay_curve.setData(t, y, connect="finite")
        legend = self.t_plot.legend
        legend.removeItem(self.overlay_curve)
        legend.addItem(self.overlay_curve, f"past: {folder.name}")
        self.follow.setChecked(False)
        if len(t):
            self.t_plot.setXRange(float(t[0]), float(t[-1]), padding=0.02)
            self._x_range = None
        self.show_card(f"{folder.name}: {record.get('outcome', '?')} — {record.get('reason', '')}", metrics)
        return dict(metrics)

    def clear_overlay(self) -> None:
        self.overlay_curve.setData([], [])
        self.t_plot.legend.removeItem(self.overlay_curve)

    # --- misc -----------------------------------------------------------------------------------

    def _toggle_resistance(self, on: bool) -> None:
        self.res_curve.setVisible(on)
        if on:
            self.e_legend.addItem(self.res_curve, "resistance Ω")
        else:
            self.e_legend.removeItem(self.res_curve)
        self._redraw()

    def choose_export(self) -> QFileDialog:
        """Show the chooser for where to export the plot as a PNG (non-modal)."""
        return self._dialog(
            "export", lambda: self._file_chooser("Export plot", ".", "PNG (*.png)", self.export_png, save_as="plot.png")
        )

    def export_png(self, path: Path) -> Path:
        """Write the plot area as a PNG."""
        self.plots.prepare()
        exporter = pyqtgraph.exporters.ImageExporter(self.plots.scene())
        exporter.export(str(path))
        return path

    def screenshot(self, path: Path) -> Path:
        """Save a picture of the whole window."""
        self.plots.prepare()
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
        self.timer.stop()
        self.estop_keys.remove()
        self._collector.timer.stop()
        if self._gc_was_enabled:
            gc.enable()
        for dialog in self.dialogs.values():
            dialog.close()
        self.backend.close()
        event.accept()
