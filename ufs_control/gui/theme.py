"""Light and dark themes (the rig often stands in a dim lab): the Qt palette and the plot's colours."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    name: str
    plot_background: str
    plot_foreground: str
    trip_marker: str  # never the temperature's red: a trip marker must not look like the trace falling
    marker_text: str
    label_fill: str
    muted_text: str
    window: str
    base: str
    text: str
    button: str


LIGHT = Theme(
    "light",
    plot_background="#ffffff",
    plot_foreground="#263238",
    trip_marker="#212121",
    marker_text="#455a64",
    label_fill="#ffffffd0",
    muted_text="#607d8b",
    window="#f5f5f5",
    base="#ffffff",
    text="#212121",
    button="#e0e0e0",
)
DARK = Theme(
    "dark",
    plot_background="#101418",
    plot_foreground="#cfd8dc",
    trip_marker="#fff176",
    marker_text="#b0bec5",
    label_fill="#101418d0",
    muted_text="#90a4ae",
    window="#1c2126",
    base="#12161a",
    text="#e6edf2",
    button="#2b323a",
)


def theme_named(name: str) -> Theme:
    return DARK if name == "dark" else LIGHT


def apply_palette(theme: Theme) -> None:
    """Set the application's palette for ``theme`` (Fusion style, so the palette is honoured everywhere)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    app.setStyle("Fusion")
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(theme.window))
    p.setColor(role.WindowText, QColor(theme.text))
    p.setColor(role.Base, QColor(theme.base))
    p.setColor(role.AlternateBase, QColor(theme.window))
    p.setColor(role.Text, QColor(theme.text))
    p.setColor(role.Button, QColor(theme.button))
    p.setColor(role.ButtonText, QColor(theme.text))
    p.setColor(role.ToolTipBase, QColor(theme.base))
    p.setColor(role.ToolTipText, QColor(theme.text))
    p.setColor(role.PlaceholderText, QColor(theme.muted_text))
    p.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, QColor(theme.muted_text))
    p.setColor(QPalette.ColorGroup.Disabled, role.WindowText, QColor(theme.muted_text))
    p.setColor(QPalette.ColorGroup.Disabled, role.Text, QColor(theme.muted_text))
    app.setPalette(p)
