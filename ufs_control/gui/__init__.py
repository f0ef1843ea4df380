"""Operator GUI (PySide6 + pyqtgraph); talks to the runner's public API only."""
