"""A simple table editor for profiles: one row per segment (type, target, rate or duration, holdback …), a
live preview with the feasibility verdict, and Save as TOML that ``ufs check`` accepts.

The rows are turned into the same dictionary a TOML file parses to and validated by the profile loader
itself (:func:`parse_profile`), so the editor can never accept what a file would not.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ufs_control.control.feasibility import Finding
from ufs_control.core.errors import ProfileError
from ufs_control.core.profile import Cool, Hold, Plan, Power, Profile, Ramp, Step, parse_profile, plan
from ufs_control.gui.format import verdict_lines
from ufs_control.gui.plot import plan_points

TYPES = ("ramp", "hold", "step", "power", "cool")
# (column title, TOML key): the keys a segment row may fill; an empty cell is a key left out.
FIELDS = (
    ("target °C", "target_c"),
    ("rate °C/s", "rate_c_per_s"),
    ("duration s", "duration_s"),
    ("holdback K", "holdback_k"),
    ("max wait s", "max_wait_s"),
    ("below °C", "below_c"),
    ("power W", "power_w"),
)
KEYS = tuple(key for _, key in FIELDS)


def rows_of(profile: Profile) -> list[dict[str, Any]]:
    """The profile's segments as editor rows (type plus the keys that are set)."""
    out = []
    for seg in profile.segments:
        row: dict[str, Any] = {"type": seg.kind}
        if isinstance(seg, Ramp | Step | Cool | Hold | Power):
            for key in KEYS:
                value = getattr(seg, key, None)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    row[key] = float(value)
        out.append(row)
    return out


def profile_dict(name: str, max_temperature_c: float, end_action: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The dictionary a profile TOML file with these rows parses to."""
    return {
        "name": name,
        "max_temperature_c": max_temperature_c,
        "end_action": end_action,
        "segment": [dict(row) for row in rows],
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def profile_toml(data: dict[str, Any], comment: str = "") -> str:
    """TOML text for a profile dictionary (top-level keys, then one [[segment]] table per segment)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key, value in data.items():
        if key != "segment":
            lines.append(f"{key} = {_toml_value(value)}")
    for seg in data.get("segment", []):
        lines.append("")
        lines.append("[[segment]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in seg.items())
    return "\n".join(lines) + "\n"


def error_row(error: ProfileError) -> int | None:
    """The 0-based segment row a profile error names ("segment 2 (ramp)" → 1), or None."""
    m = re.match(r"segment (\d+)", error.where or "")
    return int(m.group(1)) - 1 if m else None


class ProfileEditor(QWidget):
    """Edit a profile as a table; every change is validated and previewed at once."""

    def __init__(
        self,
        feasibility: Callable[[Plan], list[Finding]],
        save: Callable[[ProfileEditor], None],
        background: str = "#ffffff",
    ) -> None:
        super().__init__()
        self.setWindowTitle("Profile editor")
        self.feasibility = feasibility
        self.profile: Profile | None = None
        self.plan: Plan | None = None
        self.error_row: int | None = None
        self._loading = False
        lay = QVBoxLayout(self)
        top = QFormLayout()
        self.name_edit = QLineEdit("new_profile")
        self.max_c = QDoubleSpinBox()
        self.max_c.setRange(-50, 2500)
        self.max_c.setValue(1600)
        self.max_c.setSuffix(" °C")
        self.end_action = QComboBox()
        self.end_action.addItems(["output_off", "hold"])
        top.addRow("Name", self.name_edit)
        top.addRow("Max temperature", self.max_c)
        top.addRow("At the end", self.end_action)
        lay.addLayout(top)
        self.table = QTableWidget(0, 1 + len(FIELDS))
        self.table.setHorizontalHeaderLabels(["type", *(title for title, _ in FIELDS)])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(lambda _item: self.validate())
        lay.addWidget(self.table, 2)
        row = QHBoxLayout()
        add = QPushButton("Add segment")
        add.clicked.connect(lambda _c=False: self.add_row({"type": "hold", "duration_s": 10.0}))
        remove = QPushButton("Remove segment")
        remove.clicked.connect(lambda _c=False: self.remove_row())
        self.save_button = QPushButton("Save as TOML…")
        self.save_button.clicked.connect(lambda _c=False: save(self))
        self.close_button = QPushButton("Close")  # Esc is the emergency stop, not "close this editor"
        self.close_button.clicked.connect(lambda _c=False: self.window().close())
        for w in (add, remove):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.save_button)
        row.addWidget(self.close_button)
        lay.addLayout(row)
        self.preview = pg.PlotWidget()
        self.preview.setLabel("left", "Setpoint", units="°C")
        self.preview.setLabel("bottom", "Profile time", units="s")
        for side in ("left", "bottom"):
            self.preview.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.preview_curve = self.preview.plot(pen=pg.mkPen("#fb8c00", width=2))
        self.preview.setMinimumHeight(140)
        self.preview.setBackground(background)
        lay.addWidget(self.preview, 2)
        self.messages = QLabel()
        self.messages.setWordWrap(True)
        self.messages.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.messages)
        self.name_edit.textChanged.connect(lambda _t: self.validate())
        self.max_c.valueChanged.connect(lambda _v: self.validate())
        self.end_action.currentTextChanged.connect(lambda _t: self.validate())
        self.resize(760, 620)

    # --- rows -----------------------------------------------------------------------------------

    def load(self, profile: Profile | None) -> None:
        """Fill the editor from ``profile`` (or the LLZO-like starting point when None)."""
        self._loading = True
        self.table.setRowCount(0)
        if profile is None:
            rows: list[dict[str, Any]] = [
                {"type": "ramp", "target_c": 1150.0, "rate_c_per_s": 50.0},
                {"type": "hold", "duration_s": 20.0, "holdback_k": 10.0, "max_wait_s": 5.0},
                {"type": "cool", "below_c": 600.0, "duration_s": 10.0},
            ]
        else:
            rows = rows_of(profile)
            self.name_edit.setText(profile.name)
            self.max_c.setValue(profile.max_temperature_c)
            self.end_action.setCurrentText(profile.end_action)
        for r in rows:
            self.add_row(r)
        self._loading = False
        self.validate()

    def add_row(self, values: dict[str, Any]) -> None:
        was = self._loading
        self._loading = True
        row = self.table.rowCount()
        self.table.insertRow(row)
        combo = QComboBox()
        combo.addItems(TYPES)
        combo.setCurrentText(str(values.get("type", "hold")))
        combo.currentTextChanged.connect(lambda _t: self.validate())
        self.table.setCellWidget(row, 0, combo)
        for col, key in enumerate(KEYS, start=1):
            value = values.get(key)
            self.table.setItem(row, col, QTableWidgetItem("" if value is None else f"{value:g}"))
        self._loading = was
        self.validate()

    def remove_row(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)
            self.validate()

    def set_cell(self, row: int, key: str, text: str) -> None:
        """Type ``text`` into ``key``'s cell of ``row`` (as the operator would)."""
        item = self.table.item(row, 1 + KEYS.index(key))
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(row, 1 + KEYS.index(key), item)
        item.setText(text)

    def rows(self) -> tuple[list[dict[str, Any]], str | None]:
        """The rows as segment dictionaries, or the first cell that is not a number."""
        out: list[dict[str, Any]] = []
        for row in range(self.table.rowCount()):
            combo = self.table.cellWidget(row, 0)
            seg: dict[str, Any] = {"type": combo.currentText() if isinstance(combo, QComboBox) else "hold"}
            for col, key in enumerate(KEYS, start=1):
                item = self.table.item(row, col)
                text = item.text().strip() if item is not None else ""
                if not text:
                    continue
                try:
                    seg[key] = float(text)
                except ValueError:
                    return out, f"segment {row + 1}: {key} must be a number, got {text!r}"
            out.append(seg)
        return out, None

    def data(self) -> dict[str, Any]:
        rows, _ = self.rows()
        return profile_dict(self.name_edit.text().strip(), self.max_c.value(), self.end_action.currentText(), rows)

    # --- validation and preview ------------------------------------------------------------------

    def validate(self) -> bool:
        """Validate the table as the loader would, preview the plan and say whether it is feasible."""
        if self._loading:
            return False
        rows, bad = self.rows()
        self.profile, self.plan, self.error_row = None, None, None
        if bad is not None:
            self._show_error(bad, int(bad.split(":")[0].split()[1]) - 1)
            return False
        data = profile_dict(self.name_edit.text().strip(), self.max_c.value(), self.end_action.currentText(), rows)
        try:
            profile = parse_profile(data, "<editor>")
        except ProfileError as exc:
            where = f"{exc.where}: " if exc.where else ""
            self._show_error(f"{where}{exc.message}", error_row(exc))
            return False
        self.profile, self.plan = profile, plan(profile)
        self.preview_curve.setData(*plan_points(self.plan, 400), connect="finite")
        self.preview.getPlotItem().getViewBox().autoRange(padding=0.03)
        lines, feasible = verdict_lines(self.plan, self.feasibility(self.plan), with_kind=False)
        if feasible:
            lines[-1] = lines[-1].replace("feasible on this rig", "valid, feasible on this rig")
        self.messages.setText("<br>".join(lines))
        self.save_button.setEnabled(True)
        return feasible

    def _show_error(self, text: str, row: int | None) -> None:
        self.error_row = row
        self.preview_curve.setData([], [])
        self.messages.setText(f"<span style='color:#c62828'>error: {html.escape(text)}</span>")
        self.save_button.setEnabled(False)
        if row is not None and 0 <= row < self.table.rowCount():
            self.table.selectRow(row)  # jump to the error

    def save_to(self, path: Path) -> Path:
        """Write the edited profile as TOML (only a valid one: Save is disabled otherwise)."""
        data = self.data()
        text = profile_toml(data, comment=f"{data['name']}: written by the ufs-control profile editor")
        path.write_text(text, encoding="utf-8")
        return path
