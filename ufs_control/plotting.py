"""``plot.png`` of a run: temperature, setpoint and planned curve above, power below (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ufs_control.control.identify import PlantFit
from ufs_control.core.profile import Plan, setpoint_at
from ufs_control.runner.records import Sample

MAX_POINTS = 20_000  # a longer run is drawn from every n-th sample: the figure is 1100 px wide


def write_plot(run_dir: Path, samples: Sequence[Sample], laid: Plan | None, title: str | None = None) -> Path:
    """Write ``run_dir/plot.png`` and return its path."""
    import matplotlib

    step = max(1, len(samples) // MAX_POINTS)
    if step > 1:
        samples = samples[::step]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_p) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5), height_ratios=[3, 1.3])
    t = [s.t_s for s in samples]
    if laid is not None and samples:
        offset = samples[0].t_s - samples[0].profile_t_s
        n = 600
        grid = [laid.duration_s * i / n for i in range(n + 1)]
        planned = [setpoint_at(laid, g)[0] for g in grid]
        ax_t.plot(
            [g + offset for g in grid],
            [p if p is not None else float("nan") for p in planned],
            color="0.75",
            lw=3,
            label="planned",
        )
    ax_t.plot(
        t,
        [s.setpoint_c if s.setpoint_c is not None else float("nan") for s in samples],
        color="tab:orange",
        lw=1.2,
        label="setpoint",
    )
    ax_t.plot(
        t,
        [s.temperature_c if s.temperature_c is not None else float("nan") for s in samples],
        color="tab:red",
        lw=1.2,
        label="temperature (pyrometer)",
    )
    ax_t.set_ylabel("°C")
    ax_t.grid(alpha=0.3)
    ax_t.legend(loc="upper right", fontsize=8)
    ax_p.plot(t, [s.power_w for s in samples], color="tab:blue", lw=1.0, label="power command")
    ax_p.plot(t, [s.ff_w for s in samples], color="tab:cyan", lw=0.8, ls="--", label="feedforward")
    ax_p.set_ylabel("W")
    ax_p.set_xlabel("time (s)")
    ax_p.grid(alpha=0.3)
    ax_p.legend(loc="upper right", fontsize=8)
    if title:
        ax_t.set_title(title)
    fig.tight_layout()
    path = run_dir / "plot.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fit(path: Path, fit: PlantFit) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = fit.traces
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    offset = 0.0
    for tr, (felt, seen, r_ch) in zip(traces, fit.predictions, strict=True):
        t = tr.t_s + offset
        axes[0].plot(t, tr.pyro_c, ".", ms=2, color="#1f77b4", label="pyrometer (fitted)" if offset == 0 else None)
        axes[0].plot(
            t, seen, "-", lw=1, color="#d62728", label="model, as the pyrometer sees it" if offset == 0 else None
        )
        axes[0].plot(t, felt, ":", lw=1, color="#555555", label="model felt temperature" if offset == 0 else None)
        axes[1].plot(t, tr.r_ohm, ".", ms=2, color="#1f77b4", label="metered V/I" if offset == 0 else None)
        axes[1].plot(t, r_ch, "-", lw=1, color="#d62728", label="model R(T)" if offset == 0 else None)
        offset = float(t[-1]) + 2.0
    axes[0].set_ylabel("temperature (°C)")
    axes[0].set_title(
        f"plant fit: pyrometer RMS {fit.pyro_rms_k:.2f} K over {fit.n_pyro} readings, "
        f"resistance RMS {fit.resistance_rms_ohm * 1000:.1f} mΩ over {fit.n_resistance}"
    )
    axes[1].set_ylabel("channel resistance (Ω)")
    axes[1].set_xlabel("time (s, runs one after another)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
