"""The run card: one run's outcome and metrics, each metric labelled with its segment, "—" with the reason
where the run ended before the metric means anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from ufs_control.core.profile import Plan
from ufs_control.gui.format import CARD_ROWS, card_rows
from ufs_control.gui.panels import ElidedLabel
from ufs_control.runner.metrics import main_hold
from ufs_control.runner.records import Sample


def hold_segment_of(samples: Sequence[Sample]) -> int | None:
    """The 0-based index of the segment the hold metrics were taken over (the longest hold that ran)."""
    span = main_hold(samples) if samples else None
    return samples[span[0]].segment_index if span is not None else None


class RunCard(QWidget):
    """Title (elided, whole in the tooltip) and a grid of metrics."""

    def __init__(self) -> None:
        super().__init__()
        grid = QGridLayout(self)
        self.title = ElidedLabel("No run yet.")
        self.title.setStyleSheet("font-weight:bold;")
        grid.addWidget(self.title, 0, 0, 1, 6)
        self.values: dict[str, QLabel] = {}
        self.labels: dict[str, ElidedLabel] = {}
        for i, (key, label, _unit) in enumerate(CARD_ROWS):
            r, c = 1 + i % 4, (i // 4) * 2
            caption = ElidedLabel(label)
            value = QLabel("—")
            value.setStyleSheet("font-weight:bold;")
            self.labels[key], self.values[key] = caption, value
            grid.addWidget(caption, r, c)
            grid.addWidget(value, r, c + 1)
        for c in (0, 2, 4):
            grid.setColumnStretch(c, 2)
        for c in (1, 3, 5):
            grid.setColumnStretch(c, 1)

    def clear(self, title: str) -> None:
        self.title.setText(title)
        for key, value in self.values.items():
            value.setText("—")
            value.setToolTip("")
            self.labels[key].setText(next(label for k, label, _ in CARD_ROWS if k == key))

    def show_metrics(
        self,
        title: str,
        metrics: Mapping[str, float | None],
        outcome: str,
        laid: Plan | None = None,
        samples: Sequence[Sample] = (),
        duration_s: float | None = None,
    ) -> None:
        self.title.setText(title)
        if duration_s is None and samples:
            duration_s = samples[-1].t_s
        for row in card_rows(metrics, outcome, laid, hold_segment_of(samples), duration_s):
            self.labels[row.key].setText(row.label)
            self.values[row.key].setText(row.text)
            self.values[row.key].setToolTip(row.note)
