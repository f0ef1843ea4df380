"""Esc and Ctrl+E reach the emergency stop from every window of the application.

A ``QShortcut``, even with an application-wide context, does not fire while a modal dialog is open, and a
dialog's own key handling (Esc closes it) comes before the main window's. An event filter on the
``QApplication`` sees every key press first, whichever window has the keyboard: the main window, a
message box, Qt's own file chooser (the window asks for it instead of the platform's, whose keys never
pass through Qt), a drop-down list, or any dialog added later.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from ufs_control.gui.controls import is_emergency_stop_key

KEY_EVENTS = (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)


class EmergencyStopKeys(QObject):
    """An application-wide event filter that turns the emergency-stop keys into ``stop()``.

    Which presses stop is :func:`~ufs_control.gui.controls.is_emergency_stop_key`'s decision; a press that
    stops is spent on the stop and reaches no widget.
    """

    def __init__(self, window: QWidget, stop: Callable[[], None], run_active: Callable[[], bool]) -> None:
        super().__init__(window)
        self._window = window
        self._stop = stop
        self._run_active = run_active

    def install(self) -> None:
        """Start filtering the application's events."""
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def remove(self) -> None:
        """Stop filtering the application's events."""
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in KEY_EVENTS:
            return False
        # The window system hands a key to a QWindow first, which passes it on to the widget with the
        # keyboard focus; judging it there, once, tells which window it was pressed in.
        if not isinstance(watched, QWidget) or not isinstance(event, QKeyEvent):
            return False
        key = QKeySequence(event.keyCombination()).toString(QKeySequence.SequenceFormat.PortableText)
        if not is_emergency_stop_key(key, self._run_active(), watched.window() is self._window):
            return False
        if event.type() == QEvent.Type.ShortcutOverride:
            # Claim the key so that no shortcut anywhere takes it first; the key press follows.
            event.accept()
            return True
        self._stop()
        return True
