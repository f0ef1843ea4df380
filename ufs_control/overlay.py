"""``overlay.png`` of a campaign: every run's measured temperature on one time axis (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ufs_control.plotting import MAX_POINTS
from ufs_control.runner.records import read_samples


def write_overlay(path: Path, runs: Sequence[tuple[str, Path]], title: str) -> Path:
    """Write ``path``: the temperature of each (label, run folder) against time from its run's start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for label, run_dir in runs:
        try:
            samples = read_samples(run_dir)
        except (OSError, ValueError):
            continue  # a run whose samples cannot be read is left out of the picture, not out of the summary
        step = max(1, len(samples) // MAX_POINTS)
        shown = samples[::step]
        t0 = shown[0].t_s if shown else 0.0
        temps = [s.temperature_c if s.temperature_c is not None else float("nan") for s in shown]
        ax.plot([s.t_s - t0 for s in shown], temps, lw=1.1, label=label)
    ax.set_xlabel("time from the run's start (s)")
    ax.set_ylabel("°C (pyrometer)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if runs:
        ax.legend(loc="upper right", fontsize=7, ncol=2 if len(runs) > 8 else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
