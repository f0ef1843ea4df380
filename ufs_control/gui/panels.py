"""The window's panels, each owning one job: run controls, status (large, readable from 1.5 m), interlocks,
and the trip banner. They show what they are given; the window decides what that is."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ufs_control.core.interlocks import LABELS
from ufs_control.gui.controls import ESTOP_HINT
from ufs_control.gui.theme import Theme
from ufs_control.runner.engine import RunState

STATE_COLOURS = {
    RunState.IDLE: "#546e7a",
    RunState.PREFLIGHT: "#1565c0",
    RunState.RUNNING: "#2e7d32",
    RunState.FINISHED: "#2e7d32",
    RunState.ABORTED: "#ef6c00",
    RunState.TRIPPED: "#c62828",
    RunState.FAILED: "#c62828",
}
BIG_PX = 48  # temperature and setpoint: readable through a glovebox window from 1.5 m
STATE_PX = 26


def _px_font(px: int, bold: bool = True) -> QFont:
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    return font


class ElidedLabel(QLabel):
    """A one-line label that never widens its layout: text too long for it ends in "…", whole in the tooltip."""

    tip_whole_text = True

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(20)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        """The whole text (what is shown may be elided)."""
        return self._full

    def _elide(self) -> None:
        width = max(self.width(), 20)
        shown = QFontMetrics(self.font()).elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        super().setText(shown)
        tip = self._full if shown != self._full else ""  # the whole text, where it had to be cut
        if self.tip_whole_text and tip != self.toolTip():
            self.setToolTip(tip)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()


class WrapLabel(QLabel):
    """A label that wraps to its width and takes the height that needs, never asking its layout for more
    width (Qt's height-for-width would size it for its narrowest width and push the window beyond the
    screen)."""

    def __init__(self, text: str = "", max_lines: int = 0) -> None:
        super().__init__(text)
        self.max_lines = max_lines
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(20)
        self._fit()

    def hasHeightForWidth(self) -> bool:
        return False

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text if self.max_lines else "")
        self._fit()

    def _fit(self) -> None:
        margins = self.contentsMargins()
        width = max(self.width() - margins.left() - margins.right() - 2 * self.margin(), 20)
        flags = int(Qt.TextFlag.TextWordWrap) | int(self.alignment().value)
        text = self.text() if self.textFormat() == Qt.TextFormat.PlainText else _plain(self.text())
        height = QFontMetrics(self.font()).boundingRect(0, 0, width, 100_000, flags, text).height()
        if self.max_lines:
            height = min(height, self.max_lines * QFontMetrics(self.font()).lineSpacing())
        self.setFixedHeight(height + margins.top() + margins.bottom() + 2 * self.margin() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit()


def _plain(rich: str) -> str:
    """Rich text as the lines it shows (for measuring)."""
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def wrapping_label(text: str = "") -> QLabel:
    """A label that wraps instead of widening its layout."""
    return WrapLabel(text)


class Lamp(ElidedLabel):
    """A small status lamp with a caption (elided, whole in the tooltip)."""

    tip_whole_text = False  # the tooltip says the caption and the state
    COLOURS: ClassVar[dict[str, str]] = {"ok": "#43a047", "tripped": "#e53935", "idle": "#9e9e9e"}

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.caption = caption
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.state = ""
        self.set_state("ok")

    def set_state(self, state: str) -> None:
        self.state = state
        self.setText(f"● {self.caption}")
        self.setToolTip(f"{self.caption}: {'TRIPPED' if state == 'tripped' else 'ok'}")
        weight = "bold" if state == "tripped" else "normal"
        self.setStyleSheet(f"color:{self.COLOURS[state]}; font-weight:{weight};")


class FitLabel(QLabel):
    """Large type that shrinks (down to a third) only when its text would not fit its width."""

    def __init__(self, px: int) -> None:
        super().__init__("—")
        self.px = px
        self.setFont(_px_font(px))
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(px + 6)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def _fit(self) -> None:
        px = self.px
        width = max(self.width() - 4, 40)
        while px > self.px // 3 and QFontMetrics(_px_font(px)).horizontalAdvance(self.text()) > width:
            px -= 2
        if self.font().pixelSize() != px:
            self.setFont(_px_font(px))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


class RunPanel(QWidget):
    """Profile, operator, sample id; Start, Abort and the EMERGENCY STOP, each with why it is disabled."""

    def __init__(self) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.estop_button = QPushButton("EMERGENCY STOP")
        self.estop_button.setMinimumHeight(58)
        self.estop_button.setToolTip(ESTOP_HINT)
        self.estop_button.setStyleSheet(
            "QPushButton { background:#c62828; color:white; font-size:22px; font-weight:bold; border-radius:6px; }"
            "QPushButton:pressed { background:#8e0000; }"
        )
        lay.addWidget(self.estop_button)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setMinimumHeight(36)
        self.start_button.setStyleSheet("font-size:16px; font-weight:bold;")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setMinimumHeight(36)
        self.abort_button.setStyleSheet("font-size:16px;")
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.abort_button)
        lay.addLayout(buttons)
        self.start_why = wrapping_label()  # why Start cannot be pressed, in words, next to it
        self.start_why.setObjectName("start_why")
        self.start_why.setStyleSheet("color:#ef6c00; font-weight:bold;")
        keep = self.start_why.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # the panels below do not jump when the reason comes and goes
        self.start_why.setSizePolicy(keep)
        lay.addWidget(self.start_why)

        self.inputs = QGroupBox("Run")
        form = QFormLayout(self.inputs)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.profile_label = ElidedLabel("no profile")
        self.profile_label.setStyleSheet("font-weight:bold;")
        form.addRow("Profile", self.profile_label)
        prow = QHBoxLayout()
        self.open_button = QPushButton("Open…")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Edit the profile as a table, with a live preview; save it as TOML")
        self.campaign_button = QPushButton("Campaign…")
        self.campaign_button.setToolTip(
            "Run a campaign file: a queue of samples or a parameter sweep, one run after another"
        )
        prow.addWidget(self.open_button)
        prow.addWidget(self.edit_button)
        prow.addWidget(self.campaign_button)
        form.addRow("", prow)
        self.operator_edit = QLineEdit()
        self.sample_edit = QLineEdit()
        self.sample_edit.setToolTip("A trailing number counts up after each run (LLZO-41 → LLZO-42)")
        form.addRow("Operator", self.operator_edit)
        form.addRow("Sample id", self.sample_edit)
        self.mute = QCheckBox("Mute the trip alarm")
        form.addRow(self.mute)

    def show_start_why(self, enabled: bool, hint: str) -> None:
        self.start_why.setText("" if enabled else f"Start: {hint}")
        self.start_why.setVisible(not enabled)


class StatusPanel(QFrame):
    """The state word, temperature and setpoint in large type, where the run is, and the output's state."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(1)
        self.state_label = QLabel("IDLE")
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.state_label.setFont(_px_font(STATE_PX))
        grid.addWidget(self.state_label, 0, 0, 1, 4)
        self.values: dict[str, QLabel] = {}
        self.captions: dict[str, QLabel] = {}
        self._colours: dict[str, str] = {}
        for row, (key, caption) in enumerate((("temperature", "Temperature"), ("setpoint", "Setpoint")), start=1):
            cap = QLabel(caption)
            value = FitLabel(BIG_PX)
            self.values[key], self.captions[key] = value, cap
            grid.addWidget(cap, row, 0)
            grid.addWidget(value, row, 1, 1, 3)
        self.segment_line = ElidedLabel("")
        self.segment_line.setFont(_px_font(18))
        self.end_line = ElidedLabel("")
        self.end_line.setFont(_px_font(18, bold=False))
        grid.addWidget(self.segment_line, 3, 0, 1, 4)
        grid.addWidget(self.end_line, 4, 0, 1, 4)
        self.progress = QProgressBar()
        self.progress.setRange(0, 200)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        grid.addWidget(self.progress, 5, 0, 1, 4)
        small = (
            ("power", "Power"),
            ("voltage", "Voltage"),
            ("current", "Current"),
            ("resistance", "Resistance"),
            ("pyrometer", "Pyrometer"),
            ("loop", "Loop rate"),
        )
        for i, (key, caption) in enumerate(small):
            r, c = 6 + i // 2, (i % 2) * 2
            cap = QLabel(caption)
            small_value = QLabel("—")  # short numbers: a plain label (cheaper to update), never widening
            small_value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            small_value.setFont(_px_font(15))
            self.values[key], self.captions[key] = small_value, cap
            grid.addWidget(cap, r, c)
            grid.addWidget(small_value, r, c + 1)
        self.output_label = ElidedLabel("output: not read yet")
        self.output_label.setFont(_px_font(17))
        grid.addWidget(self.output_label, 9, 0, 1, 4)
        self.stamp_label = ElidedLabel("")
        grid.addWidget(self.stamp_label, 10, 0, 1, 4)
        for c in (1, 3):
            grid.setColumnStretch(c, 1)

    def show_state(self, state: RunState) -> None:
        colour = STATE_COLOURS[state]
        self.state_label.setText(state.value.upper())
        self.state_label.setStyleSheet(f"background:{colour}; color:white; padding:2px; border-radius:4px;")

    def set_values(self, texts: dict[str, str], stale: bool, theme: Theme) -> None:
        """Show ``texts`` by key; stale values are greyed out (the stamp line says when they were read)."""
        for key, text in texts.items():
            if key == "temperature":  # "< 600 °C (below range)": the bound in large type, the words beside it
                big, _, note = text.partition(" (")
                self.captions[key].setText(f"Temperature\n({note}" if note else "Temperature")
                text = big
            self.values[key].setText(text)
        colour = theme.muted_text if stale else theme.text
        for key in texts:
            if self._colours.get(key) != colour:  # a style change re-polishes the widget: only on a change
                self._colours[key] = colour
                self.values[key].setStyleSheet(f"color:{colour};")

    def show_output(self, text: str, level: str) -> None:
        colour = {"off": "#2e7d32", "on": "#c62828", "unknown": "#ef6c00"}[level]
        self.output_label.setText(text)
        if self._colours.get("output") != colour:
            self._colours["output"] = colour
            self.output_label.setStyleSheet(f"color:{colour};")


class InterlockPanel(QGroupBox):
    """One lamp per interlock, the latched reason (or why a run failed before heating), Acknowledge."""

    COLUMNS = 3

    def __init__(self) -> None:
        super().__init__("Interlocks")
        lay = QVBoxLayout(self)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(1)
        self.lamps: dict[str, Lamp] = {}
        for i, (name, caption) in enumerate(LABELS.items()):
            lamp = Lamp(caption)
            self.lamps[name] = lamp
            grid.addWidget(lamp, i // self.COLUMNS, i % self.COLUMNS)
        lay.addLayout(grid)
        self.trip_label = wrapping_label("No interlock tripped.")
        self.trip_label.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.trip_label)
        self.ack_button = QPushButton("Acknowledge")
        lay.addWidget(self.ack_button)
        self.ack_hint = wrapping_label()  # why Acknowledge cannot be pressed, in words
        self.ack_hint.setStyleSheet("color:#607d8b;")
        lay.addWidget(self.ack_hint)

    def display(self, tripped: str | None, text: str, failed: bool) -> None:
        for name, lamp in self.lamps.items():
            state = "tripped" if tripped == name else "ok"
            if lamp.state != state:
                lamp.set_state(state)
        self.trip_label.setText(text)
        if tripped is not None:
            self.trip_label.setStyleSheet("color:#c62828; font-weight:bold;")
        elif failed:
            self.trip_label.setStyleSheet("color:#ef6c00; font-weight:bold;")
        else:
            self.trip_label.setStyleSheet("")


class TripBanner(WrapLabel):
    """The trip (or a failed start) in words across the top of the window; a trip flashes and sounds until
    acknowledged, unless the alarm is muted."""

    FLASH_MS = 500
    BEEP_EVERY = 4  # flashes: a beep every 2 s

    def __init__(self, muted: Callable[[], bool]) -> None:
        super().__init__(max_lines=3)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFont(_px_font(20))
        self.muted = muted
        self.beep: Callable[[], None] = QApplication.beep
        self.beeps = 0
        self.alarm = False
        self._phase = 0
        self.flash = QTimer(self)
        self.flash.setInterval(self.FLASH_MS)
        self.flash.timeout.connect(self._tick)
        self.hide()

    def show_trip(self, text: str) -> None:
        """Show a trip: flashing, with the alarm (a new trip only; the same one keeps going)."""
        if self.alarm and self.text() == text:
            return
        self.setText(text)
        self.alarm = True
        self._phase = 0
        self._paint(True)
        self.show()
        self._sound()
        self.flash.start()

    def show_notice(self, text: str) -> None:
        """Show a failure that latched nothing (a failed start): steady, no alarm."""
        self.flash.stop()
        self.alarm = False
        self.setText(text)
        self.setStyleSheet("background:#ef6c00; color:white; padding:6px; border-radius:4px;")
        self.show()

    def clear(self) -> None:
        self.flash.stop()
        self.alarm = False
        self.setText("")
        self.hide()

    def _sound(self) -> None:
        if not self.muted():
            self.beeps += 1
            self.beep()

    def _paint(self, bright: bool) -> None:
        bg = "#c62828" if bright else "#6d1010"
        self.setStyleSheet(f"background:{bg}; color:white; padding:6px; border-radius:4px;")

    def _tick(self) -> None:
        self._phase += 1
        self._paint(self._phase % 2 == 0)
        if self._phase % self.BEEP_EVERY == 0:
            self._sound()
