"""The run history: a sortable, filterable table over the run store; tick runs to overlay them on their own
time axis (optionally aligned at the start of the hold) and see their metrics side by side.

The live plot is never touched: past runs are drawn in the history's own plot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ufs_control.gui.card import hold_segment_of
from ufs_control.gui.format import card_rows
from ufs_control.gui.theme import Theme
from ufs_control.runner.metrics import main_hold
from ufs_control.runner.records import Sample, read_samples
from ufs_control.runner.report import read_run_record
from ufs_control.runner.runstore import RunStore, RunSummary

COLUMNS = (
    "",
    "started (UTC)",
    "operator",
    "sample",
    "profile",
    "outcome",
    "peak °C",
    "ramp °C/s",
    "hold err K",
    "soak s",
)
NUMERIC = {6: "peak_c", 7: "ramp_rate_c_per_s", 8: "hold_max_k", 9: "soak_s"}
OVERLAY_COLOURS = ("#1e88e5", "#8e24aa", "#00897b", "#f4511e", "#6d4c41", "#3949ab", "#c0ca33", "#d81b60")
ROLE_DIR = Qt.ItemDataRole.UserRole


@dataclass
class PastRun:
    """A past run as loaded for the overlay: its summary, samples and the start of its hold (run time)."""

    summary: RunSummary
    samples: list[Sample]
    hold_start_s: float | None


def load_past_run(summary: RunSummary) -> PastRun:
    samples = read_samples(summary.run_dir)
    span = main_hold(samples) if samples else None
    return PastRun(summary, samples, samples[span[0]].t_s if span is not None else None)


class HistoryTable(QTableWidget):
    """The runs, one row each; the first column's tick overlays the run."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setSortingEnabled(True)

    def count(self) -> int:
        return self.rowCount()

    def setCurrentRow(self, row: int) -> None:
        self.setCurrentCell(row, 1)

    def run_dir(self, row: int) -> Path | None:
        item = self.item(row, 1)
        return Path(item.data(ROLE_DIR)) if item is not None else None


class HistoryPanel(QWidget):
    """History table, filter, buttons, the comparison plot and the metrics side by side."""

    def __init__(self, runs_dir: Path, theme: Theme, opened: Callable[[PastRun], None]) -> None:
        super().__init__()
        self.store = RunStore(runs_dir)
        self.theme = theme
        self.opened = opened
        self.summaries: dict[str, RunSummary] = {}
        self.loaded: dict[str, PastRun] = {}
        self.curves: dict[str, Any] = {}
        outer = QHBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: operator, sample, profile, outcome, date…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.apply_filter)
        lay.addWidget(self.filter_edit)
        self.table = HistoryTable()
        self.table.itemDoubleClicked.connect(lambda _item: self.open_current())
        self.table.itemChanged.connect(self._item_changed)
        lay.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.open_run_button = QPushButton("Open run")
        self.open_run_button.setToolTip("Show the selected run's card and overlay it")
        self.open_run_button.clicked.connect(lambda _checked=False: self.open_current())
        self.folder_button = QPushButton("Open folder")
        self.folder_button.setToolTip("Open the selected run's folder in the file manager")
        self.folder_button.clicked.connect(lambda _checked=False: self.open_folder())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda _checked=False: self.refresh())
        clear = QPushButton("Clear overlays")
        clear.clicked.connect(lambda _checked=False: self.clear_overlays())
        self.align_hold = QCheckBox("Align at the hold")
        self.align_hold.setToolTip("Shift each run so that its hold starts at 0 s")
        self.align_hold.toggled.connect(lambda _on: self.redraw_overlays())
        for w in (self.open_run_button, self.folder_button, refresh, clear, self.align_hold):
            buttons.addWidget(w)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        split.addWidget(left)

        right = QSplitter(Qt.Orientation.Vertical)
        self.compare = pg.PlotWidget()
        self.compare.setLabel("left", "Temperature", units="°C")
        self.compare.setLabel("bottom", "Run time", units="s")
        for side in ("left", "bottom"):
            self.compare.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.legend = self.compare.addLegend(offset=(10, 10))
        right.addWidget(self.compare)
        self.metrics_table = QTableWidget(0, 0)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        right.addWidget(self.metrics_table)
        split.addWidget(right)
        split.setSizes([560, 440])
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.compare.setBackground(theme.plot_background)
        for side in ("left", "bottom"):
            axis = self.compare.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(theme.plot_foreground))
            axis.setTextPen(pg.mkPen(theme.plot_foreground))

    # --- the table ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the runs (newest first), keeping the ticks."""
        ticked = set(self.ticked())
        runs = self.store.runs()
        self.summaries = {s.name: s for s in runs}
        table = self.table
        table.blockSignals(True)
        table.setSortingEnabled(False)
        table.setRowCount(len(runs))
        for row, s in enumerate(runs):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            tick.setCheckState(Qt.CheckState.Checked if s.name in ticked else Qt.CheckState.Unchecked)
            tick.setData(ROLE_DIR, str(s.run_dir))
            tick.setToolTip("Overlay this run")
            table.setItem(row, 0, tick)
            texts = (s.started_utc.replace("T", " ")[:19] or s.name, s.operator, s.sample_id, s.profile, s.outcome)
            for col, text in enumerate(texts, start=1):
                item = QTableWidgetItem(text)
                item.setData(ROLE_DIR, str(s.run_dir))
                item.setToolTip(f"{s.name}: {s.outcome} — {s.reason}" if col == 5 else text)
                if s.outcome in ("tripped", "failed", "interrupted"):
                    item.setForeground(QColor("#c62828"))
                table.setItem(row, col, item)
            for col, key in NUMERIC.items():
                item = QTableWidgetItem()
                value = s.metric(key)
                if value is not None:
                    item.setData(Qt.ItemDataRole.DisplayRole, round(value, 2))
                table.setItem(row, col, item)
        table.setSortingEnabled(True)
        table.blockSignals(False)
        self.apply_filter(self.filter_edit.text())

    def apply_filter(self, text: str) -> None:
        words = text.casefold().split()
        for row in range(self.table.rowCount()):
            cells = " ".join(item.text() for c in range(1, 6) if (item := self.table.item(row, c)) is not None)
            self.table.setRowHidden(row, not all(w in cells.casefold() for w in words))

    def ticked(self) -> list[str]:
        out = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                out.append(Path(item.data(ROLE_DIR)).name)
        return out

    def set_ticked(self, run_dir: Path, on: bool = True) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and Path(item.data(ROLE_DIR)) == run_dir:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.redraw_overlays()

    def current_dir(self) -> Path | None:
        row = self.table.currentRow()
        return self.table.run_dir(row) if row >= 0 else None

    # --- actions --------------------------------------------------------------------------------

    def open_current(self) -> PastRun | None:
        folder = self.current_dir()
        return self.open_run(folder) if folder is not None else None

    def open_run(self, folder: Path) -> PastRun | None:
        """Tick ``folder``'s run (overlaid in the comparison plot) and hand it to the window's card."""
        past = self._load(folder)
        if past is None:
            return None
        self.set_ticked(folder)
        self.redraw_overlays()
        self.opened(past)
        return past

    def open_folder(self) -> bool:
        folder = self.current_dir()
        return folder is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def clear_overlays(self) -> None:
        self.table.blockSignals(True)
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None:
                item.setCheckState(Qt.CheckState.Unchecked)
        self.table.blockSignals(False)
        self.redraw_overlays()

    def _load(self, folder: Path) -> PastRun | None:
        name = folder.name
        if name not in self.loaded:
            summary = self.summaries.get(name) or self.store.get(folder)
            try:
                self.loaded[name] = load_past_run(summary)
            except (OSError, ValueError) as exc:
                self.error = f"cannot open {name}: {exc}"
                return None
        return self.loaded[name]

    # --- the comparison -------------------------------------------------------------------------

    def redraw_overlays(self) -> None:
        """Draw each ticked run (on its own time axis) and its metrics in a column."""
        for curve in self.curves.values():
            self.compare.removeItem(curve)
            self.legend.removeItem(curve)
        self.curves = {}
        runs = [p for name in self.ticked() if (p := self._load(self.summaries[name].run_dir)) is not None]
        align = self.align_hold.isChecked()
        for i, past in enumerate(runs):
            t = np.array([s.t_s for s in past.samples], dtype=float)
            y = np.array([s.temperature_c if s.temperature_c is not None else np.nan for s in past.samples])
            if align and past.hold_start_s is not None:
                t = t - past.hold_start_s
            s = past.summary
            label = f"{s.sample_id or s.name} · {s.profile} · {s.outcome}"
            pen = pg.mkPen(OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)], width=2)
            curve = self.compare.plot(t, y, pen=pen, name=label, connect="finite")
            self.curves[s.name] = curve
        self.compare.setLabel("bottom", "Time from the start of the hold" if align else "Run time", units="s")
        if self.curves:
            self.compare.getPlotItem().getViewBox().autoRange(padding=0.03)  # now, not at the next paint
        self._fill_metrics(runs)

    def _fill_metrics(self, runs: list[PastRun]) -> None:
        table = self.metrics_table
        table.clear()
        if not runs:
            table.setRowCount(0)
            table.setColumnCount(0)
            return
        columns = []
        for past in runs:
            record = read_run_record(past.summary.run_dir)
            duration = past.samples[-1].t_s if past.samples else None
            rows = card_rows(
                past.summary.metrics, past.summary.outcome, record.plan, hold_segment_of(past.samples), duration
            )
            columns.append(rows)
        labels = [row.label for row in columns[0]]
        table.setRowCount(len(labels))
        table.setColumnCount(len(runs))
        table.setVerticalHeaderLabels([r.label.split(" (")[0].split(",")[0] for r in columns[0]])
        table.setHorizontalHeaderLabels([p.summary.sample_id or p.summary.name for p in runs])
        for c, rows in enumerate(columns):
            for r, row in enumerate(rows):
                item = QTableWidgetItem(row.text)
                item.setToolTip(f"{row.label}{': ' + row.note if row.note else ''}")
                table.setItem(r, c, item)
        table.resizeColumnsToContents()

    @property
    def last_curve(self) -> Any:
        """The most recently drawn overlay (the window's ``overlay_curve``)."""
        return list(self.curves.values())[-1] if self.curves else pg.PlotDataItem()
