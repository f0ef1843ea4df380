"""The live plot: temperature, setpoint and the planned curve over power and the supply's V, A (and Ω) on
a shared run-time axis; segment and trip markers; the felt read between runs (the cool-down).

It owns what it draws: the arrays it ingested, the visible window (follow the last N seconds or the whole
run), the axis ranges, the markers. Past runs are compared elsewhere (the history's own plot), so nothing
here is disturbed by them. Tested with synthetic samples, without a runner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGraphicsView, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ufs_control.core.profile import Plan, setpoint_at
from ufs_control.gui.theme import Theme
from ufs_control.runner.idle import IdleReading
from ufs_control.runner.records import Sample

COLUMNS = ("t_s", "temperature_c", "setpoint_c", "power_w", "voltage_v", "current_a", "resistance_ohm")
IDLE_COLUMNS = ("t_s", "temperature_c", "voltage_v", "current_a")
TEMPERATURE_COLOUR = "#d32f2f"
SEGMENT_LABEL_POSITIONS = (0.06, 0.16, 0.26)  # staggered, so neighbouring labels never overlap


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


def plan_points(laid: Plan, n: int = 600, offset_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the planned setpoint (time shifted by ``offset_s``); NaN where the output is off."""
    t = np.linspace(0.0, laid.duration_s, n)
    y = np.array([v if (v := setpoint_at(laid, float(x))[0]) is not None else np.nan for x in t])
    return t + offset_s, y


def _empty() -> dict[str, np.ndarray]:
    return {}


class LivePlot(QWidget):
    """The live plot with its tool bar (follow, span, felt resistance, export)."""

    MAX_DRAWN_POINTS = 3000

    def __init__(self, theme: Theme, follow_s: float = 60.0) -> None:
        super().__init__()
        self.theme = theme
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.follow = QCheckBox("Follow last")
        self.follow.setChecked(True)
        self.follow.setToolTip("Show the last N seconds (off: the whole run)")
        self.follow.toggled.connect(lambda _on: self.redraw())
        self.follow_seconds = QSpinBox()
        self.follow_seconds.setRange(5, 3600)
        self.follow_seconds.setValue(int(follow_s))
        self.follow_seconds.setSuffix(" s")
        self.show_resistance = QCheckBox("Felt resistance")
        self.show_resistance.toggled.connect(self._toggle_resistance)
        self.export_button = QPushButton("Export PNG…")
        bar.addWidget(self.follow)
        bar.addWidget(self.follow_seconds)
        bar.addSpacing(16)
        bar.addWidget(self.show_resistance)
        bar.addStretch(1)
        self.bar = bar
        bar.addWidget(self.export_button)
        lay.addLayout(bar)

        pg.setConfigOptions(antialias=False)
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
        self.e_plot.setLabel("bottom", "Run time", units="s")
        self.e_legend = self.e_plot.addLegend(offset=(10, 5), colCount=3)
        self.e_plot.setXLink(self.t_plot)
        self.plots.ci.layout.setRowStretchFactor(0, 5)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.plots.ci.layout.setRowStretchFactor(2, 2)
        for plot in (self.t_plot, self.p_plot, self.e_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
            # Ranges are set by fit_ranges (paged, with hysteresis), so the axes are not re-rendered and the
            # auto-range is not recomputed on every frame.
            plot.disableAutoRange()
        for plot in (self.t_plot, self.p_plot):
            plot.hideAxis("bottom")  # the time axis is drawn once, under the last plot
        self.planned_curve = self.t_plot.plot(pen=pg.mkPen("#b0bec5", width=6), name="planned")
        self.setpoint_curve = self.t_plot.plot(pen=pg.mkPen("#fb8c00", width=2), name="setpoint")
        self.temp_curve = self.t_plot.plot(pen=pg.mkPen(TEMPERATURE_COLOUR, width=2), name="temperature")
        self.idle_temp_curve = self.t_plot.plot(
            pen=pg.mkPen(TEMPERATURE_COLOUR, width=2, style=Qt.PenStyle.DotLine), name="after the run"
        )
        self.power_curve = self.p_plot.plot(pen=pg.mkPen("#1565c0", width=2), name="power command")
        self.volt_curve = self.e_plot.plot(pen=pg.mkPen("#2e7d32", width=1.5), name="voltage V")
        self.curr_curve = self.e_plot.plot(pen=pg.mkPen("#6a1b9a", width=1.5), name="current A")
        self.idle_volt_curve = self.e_plot.plot(pen=pg.mkPen("#2e7d32", width=1.5, style=Qt.PenStyle.DotLine))
        self.idle_curr_curve = self.e_plot.plot(pen=pg.mkPen("#6a1b9a", width=1.5, style=Qt.PenStyle.DotLine))
        self.res_curve = self.e_plot.plot(pen=pg.mkPen("#795548", width=1.5))
        self.res_curve.setVisible(False)
        lay.addWidget(self.plots, 1)

        self.arrays: dict[str, np.ndarray] = _empty()
        self.idle: dict[str, np.ndarray] = _empty()
        self.segments: list[tuple[float, str]] = []
        self._last_segment: int | None = None
        self.markers: list[pg.InfiniteLine] = []
        self.trip_line: pg.InfiniteLine | None = None
        self.plan: Plan | None = None
        self.plan_offset: float | None = None
        self._drawn_offset: float | None = None
        self._x_range: tuple[float, float] | None = None
        self._y_ranges: dict[int, tuple[float, float]] = {}
        self.apply_theme(theme)

    # --- theme --------------------------------------------------------------------------------------

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plots.setBackground(theme.plot_background)
        for plot in (self.t_plot, self.p_plot, self.e_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(theme.plot_foreground))
                axis.setTextPen(pg.mkPen(theme.plot_foreground))
        if self.trip_line is not None:
            self.trip_line.setPen(self._trip_pen())

    def _trip_pen(self) -> Any:
        return pg.mkPen(self.theme.trip_marker, width=2, style=Qt.PenStyle.DashLine)

    # --- data ---------------------------------------------------------------------------------------

    def clear_run(self) -> None:
        """Forget the last run's curves and markers (a new run starts)."""
        self.arrays = _empty()
        self.idle = _empty()
        self.segments = []
        self._last_segment = None
        self._drawn_offset = None
        self.plan_offset = None
        self._x_range = None
        self._y_ranges = {}
        for curve in (
            self.temp_curve,
            self.setpoint_curve,
            self.power_curve,
            self.volt_curve,
            self.curr_curve,
            self.res_curve,
            self.idle_temp_curve,
            self.idle_volt_curve,
            self.idle_curr_curve,
        ):
            curve.setData([], [])
        for line in self.markers:
            self.t_plot.removeItem(line)
        self.markers = []
        if self.trip_line is not None:
            self.t_plot.removeItem(self.trip_line)
            self.trip_line = None

    def ingest(self, samples: Sequence[Sample], full: bool) -> None:
        """Append the run's new samples (or rebuild from all of them)."""
        n = len(samples)
        fresh = {
            name: np.fromiter((v if (v := getattr(s, name)) is not None else np.nan for s in samples), float, n)
            for name in COLUMNS
        }
        if full or not self.arrays:
            self.arrays = fresh
            self.segments = []
            self._last_segment = None
        else:
            self.arrays = {k: np.concatenate((self.arrays[k], fresh[k])) for k in COLUMNS}
        for s in samples:
            if s.segment_index != self._last_segment:
                self.segments.append((s.t_s, s.segment))
                self._last_segment = s.segment_index
        if samples:
            self.plan_offset = samples[-1].t_s - samples[-1].profile_t_s

    def ingest_idle(self, readings: Sequence[IdleReading], t0: float, after_s: float, full: bool) -> None:
        """Append readings taken between runs, at their time since the run's start ``t0`` (run clock); only
        those after ``after_s`` of run time (the run's end) are drawn."""
        rows = [r for r in readings if r.t - t0 >= after_s]
        n = len(rows)
        fresh = {
            "t_s": np.fromiter((r.t - t0 for r in rows), float, n),
            "temperature_c": np.fromiter(
                (
                    r.pyrometer.celsius if r.pyrometer is not None and r.pyrometer.celsius is not None else np.nan
                    for r in rows
                ),
                float,
                n,
            ),
            "voltage_v": np.fromiter((r.meters.volts if r.meters else np.nan for r in rows), float, n),
            "current_a": np.fromiter((r.meters.amps if r.meters else np.nan for r in rows), float, n),
        }
        if full or not self.idle:
            self.idle = fresh
        else:
            self.idle = {k: np.concatenate((self.idle[k], fresh[k])) for k in IDLE_COLUMNS}

    def show_plan(self, laid: Plan | None, offset_s: float = 0.0) -> None:
        """Draw the planned curve; with no run on screen, fit the axes to it."""
        self.plan = laid
        self._draw_plan(offset_s)
        self._drawn_offset = offset_s
        if not self._has_data():
            self._x_range = None
            self._y_ranges = {}
            self.fit_ranges()
        else:
            self.fit_ranges(self._visible())  # a higher plan than the last run widens the axis now
        self.plots.prepare()

    def planned_points(self, offset_s: float = 0.0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
        """The planned setpoint curve (time shifted by ``offset_s``); NaN where the output is off."""
        if self.plan is None:
            return np.array([]), np.array([])
        return plan_points(self.plan, n, offset_s)

    def _draw_plan(self, offset_s: float) -> None:
        t, y = self.planned_points(offset_s)
        self.planned_curve.setData(t, y, connect="finite")

    def _has_data(self) -> bool:
        return bool(self.arrays) and len(self.arrays["t_s"]) > 0

    def mark_trip(self, t_s: float) -> None:
        """A dashed marker (not the temperature's colour) at the trip."""
        if self.trip_line is not None:
            self.t_plot.removeItem(self.trip_line)
        self.trip_line = pg.InfiniteLine(
            pos=t_s,
            angle=90,
            pen=self._trip_pen(),
            label="TRIP",
            labelOpts={"position": 0.92, "color": self.theme.trip_marker, "fill": self.theme.label_fill},
        )
        self.t_plot.addItem(self.trip_line)

    # --- drawing ------------------------------------------------------------------------------------

    def _visible(self) -> slice:
        """Which part of the arrays to hand to the plot: the follow window, or all of it, strided."""
        t = self.arrays["t_s"]
        if self.follow.isChecked():
            span = float(self.follow_seconds.value())
            start = int(np.searchsorted(t, self._end_t() - 1.05 * span))
            step = max(1, (len(t) - start) // self.MAX_DRAWN_POINTS)
            return slice(start, None, step)
        return slice(0, None, max(1, len(t) // self.MAX_DRAWN_POINTS))

    def _end_t(self) -> float:
        ends = [float(a["t_s"][-1]) for a in (self.arrays, self.idle) if a and len(a["t_s"])]
        return max(ends) if ends else 0.0

    def redraw(self) -> None:
        """Hand the visible part of the arrays to the curves (a bounded number of points per frame)."""
        a = self.arrays
        if not self._has_data():
            if self.idle:
                self._draw_idle()
                self.fit_ranges()
                self.plots.prepare()
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
        self._draw_idle()
        if self.plan is not None and self.plan_offset is not None and self.plan_offset != self._drawn_offset:
            self._draw_plan(self.plan_offset)
            self._drawn_offset = self.plan_offset
        self._update_markers()
        self.fit_ranges(view)
        self.plots.prepare()  # after the ranges: the views apply range changes here

    def _draw_idle(self) -> None:
        i = self.idle
        if not i:
            return
        step = max(1, len(i["t_s"]) // self.MAX_DRAWN_POINTS)
        t = i["t_s"][::step]
        self.idle_temp_curve.setData(t, i["temperature_c"][::step], connect="finite")
        self.idle_volt_curve.setData(t, i["voltage_v"][::step], connect="finite")
        self.idle_curr_curve.setData(t, i["current_a"][::step], connect="finite")

    def fit_ranges(self, view: slice | None = None) -> None:
        """Set the axes' ranges: the time axis pages forward by a tenth of the span when following, and a
        y-range changes only when the data leaves it (a changed range re-renders the axis)."""
        a = self.arrays if self._has_data() else {k: np.array([]) for k in COLUMNS}
        view = view if view is not None else slice(None)
        times = [a["t_s"][view]]
        if self.idle:
            times.append(self.idle["t_s"])
        plan_t, plan_y = self.planned_curve.getData()
        if plan_t is not None and len(plan_t):
            times.append(np.asarray(plan_t, dtype=float) if not self._has_data() else np.array([]))
        all_t = np.concatenate(times) if times else np.array([])
        all_t = all_t[np.isfinite(all_t)]
        if not len(all_t):
            return
        first, last = float(all_t.min()), float(all_t.max())
        if self.follow.isChecked() and self._has_data():
            span = float(self.follow_seconds.value())
            step = span / 10.0
            end = max(span, (math.floor(last / step) + 1) * step)
            x_range = (end - span, end)
        else:
            x_range = (first, max(last, first + 1.0))
        if x_range != self._x_range:
            self._x_range = x_range
            self.t_plot.setXRange(*x_range, padding=0.0 if self._has_data() else 0.02)
        idle = self.idle or {}
        groups = (
            (self.t_plot, [a["temperature_c"][view], a["setpoint_c"][view], idle.get("temperature_c")], plan_y, 50.0),
            (self.p_plot, [a["power_w"][view]], None, 20.0),
            (
                self.e_plot,
                [a["voltage_v"][view], a["current_a"][view], idle.get("voltage_v"), idle.get("current_a")]
                + ([a["resistance_ohm"][view]] if self.res_curve.isVisible() else []),
                None,
                2.0,
            ),
        )
        for plot, chunks, extra, pad in groups:
            parts = [np.asarray(c, dtype=float) for c in chunks if c is not None and len(c)]
            if extra is not None and len(extra):
                parts.append(np.asarray(extra, dtype=float))
            values = np.concatenate(parts) if parts else np.array([])
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
        changes = self.segments
        if len(changes) == len(self.markers) + 1:
            return
        for line in self.markers:
            self.t_plot.removeItem(line)
        self.markers = []
        for i, (t, label) in enumerate(changes[1:]):
            line = pg.InfiniteLine(
                pos=t,
                angle=90,
                pen=pg.mkPen("#90a4ae", style=Qt.PenStyle.DotLine),
                label=label,
                labelOpts={
                    "position": SEGMENT_LABEL_POSITIONS[i % len(SEGMENT_LABEL_POSITIONS)],
                    "color": self.theme.marker_text,
                    "fill": self.theme.label_fill,
                },
            )
            self.t_plot.addItem(line)
            self.markers.append(line)

    def _toggle_resistance(self, on: bool) -> None:
        self.res_curve.setVisible(on)
        if on:
            self.e_legend.addItem(self.res_curve, "resistance Ω")
        else:
            self.e_legend.removeItem(self.res_curve)
        self.redraw()
