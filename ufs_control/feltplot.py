"""The felt-health trend of ``ufs felt --plot``: cold resistance and fitted R at 1150 °C run by run, and the
NTC shape (a, T_c), one line per rig, felt replacements marked (matplotlib, Agg)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ufs_control.control.felt_fit import FIT_AT_C
from ufs_control.runner.felt import FeltHistory


def write_felt_plot(path: Path, histories: Sequence[FeltHistory]) -> Path:
    """Write the trend of ``histories`` to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_r, ax_a, ax_tc) = plt.subplots(3, 1, sharex=True, figsize=(9, 7), height_ratios=[2, 1, 1])
    for history in histories:
        n = list(range(1, len(history.runs) + 1))
        cold = [r.cold_ohm for r in history.runs]
        hot = [r.fit.r_hot_ohm if r.fit else math.nan for r in history.runs]
        line = ax_r.plot(n, cold, marker="o", ms=3, label=f"{history.key}: cold")[0]
        color = line.get_color()
        ax_r.plot(n, hot, marker="s", ms=3, ls="--", color=color, label=f"{history.key}: at {FIT_AT_C:g} °C")
        ax_a.plot(n, [r.fit.ntc_a if r.fit else math.nan for r in history.runs], marker="o", ms=3, color=color)
        ax_tc.plot(n, [r.fit.ntc_tc_k if r.fit else math.nan for r in history.runs], marker="o", ms=3, color=color)
        for i, r in enumerate(history.runs):
            if r.replaced:
                for ax in (ax_r, ax_a, ax_tc):
                    ax.axvline(i + 0.5, color=color, ls=":", lw=1)
    ax_r.set_ylabel("channel R (ohm)")
    ax_r.legend(fontsize=8)
    ax_a.set_ylabel("NTC a")
    ax_tc.set_ylabel("T_c (K)")
    ax_tc.set_xlabel("run (in time order); dotted: felt replaced")
    for ax in (ax_r, ax_a, ax_tc):
        ax.grid(alpha=0.3)
    ax_r.set_title("Felt health")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
