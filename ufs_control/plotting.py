"""``plot.png`` of a run: temperature, setpoint and planned curve above, power below (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ufs_control.control.identify import PYRO_CLEAR_K, SIGMA_PYRO_K, PlantFit
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


def _run_readings(fit: PlantFit) -> dict[str, tuple[np.ndarray | None, float | None]]:
    """Per run name: (every valid pyrometer reading of the run, °C, NaN where none, those the fit left out
    too; the bottom of the pyrometer's range, °C), as the traces carry them ((None, None) where not known: the
    plot then infers the range bottom)."""
    return {tr.name: (tr.pyro_all_c, tr.range_low_c) for tr in fit.traces}


def plot_fit(path: Path, fit: PlantFit) -> None:
    """Write the plot of a plant fit to ``path``: measured against modelled temperature and channel resistance
    for every run fitted, one after another, each with its residual (measured − model) below it, and the free
    cool-down at the end of each run magnified on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = fit.traces
    found = _run_readings(fit)
    lows = [found.get(tr.name, (None, None))[1] for tr in traces]
    known_low = [low for low in lows if low is not None]
    # The range's bottom, from the run records; else inferred: every fitted reading was above low + clearance.
    lowest_fitted = min((float(np.nanmin(tr.pyro_c)) for tr in traces if tr.n_pyro), default=float("nan"))
    inferred = not known_low
    range_low = min(known_low) if known_low else lowest_fitted - PYRO_CLEAR_K
    clear_c = range_low + PYRO_CLEAR_K
    step = max(1, sum(len(tr.t_s) for tr in traces) // MAX_POINTS)

    fig = plt.figure(figsize=(13, 10.5))
    grid = fig.add_gridspec(4, 2, width_ratios=[3.3, 1], height_ratios=[3, 1.3, 1.6, 1.1], hspace=0.12, wspace=0.16)
    ax_t = fig.add_subplot(grid[0, 0])
    ax_dt = fig.add_subplot(grid[1, 0], sharex=ax_t)
    ax_r = fig.add_subplot(grid[2, 0], sharex=ax_t)
    ax_dr = fig.add_subplot(grid[3, 0], sharex=ax_t)
    ax_ct = fig.add_subplot(grid[0, 1])
    ax_cdt = fig.add_subplot(grid[1, 1], sharex=ax_ct)
    ax_txt = fig.add_subplot(grid[2:, 1])
    ax_txt.axis("off")

    # Readings above the model line, a little transparent so the line still shows through them.
    measured: dict[str, Any] = {
        "color": "#1f5fbf",
        "ms": 3.5,
        "alpha": 0.6,
        "zorder": 4,
        "ls": "none",
        "marker": "o",
        "mew": 0,
    }
    excluded: dict[str, Any] = {
        "color": "#e08a00",
        "ms": 4.0,
        "zorder": 4,
        "ls": "none",
        "marker": "o",
        "mfc": "none",
        "mew": 0.8,
    }
    model: dict[str, Any] = {"color": "#d62728", "lw": 1.3, "zorder": 3}
    felt_style: dict[str, Any] = {"color": "#2ca02c", "lw": 1.1, "ls": "--", "zorder": 2}

    def first(label: str, i: int) -> str | None:
        return label if i == 0 else None

    offset = 0.0
    dt_all: list[np.ndarray] = []
    dr_all: list[np.ndarray] = []
    n_excluded = 0
    cool_c: list[float] = []  # the temperatures the cool-down panel shows, for its scale
    for i, (tr, (felt, seen, r_ch)) in enumerate(zip(traces, fit.predictions, strict=True)):
        raw, low = found.get(tr.name, (None, None))
        low_i = low if low is not None else range_low
        t = tr.t_s + offset
        s = slice(None, None, step)
        ok = np.isfinite(tr.pyro_c)
        # The pyrometer sees nothing below its range: the model's reading is drawn only where it would have one.
        seen_in_range = np.where(seen > low_i, seen, np.nan)
        res_t = np.where(ok, tr.pyro_c - seen, np.nan)
        res_r = (tr.r_ohm - r_ch) * 1000.0
        dt_all.append(res_t[ok])
        dr_all.append(res_r[np.isfinite(res_r)])
        left_out = None
        if raw is not None:
            left_out = np.where(np.isfinite(raw) & ~ok, raw, np.nan)
            n_excluded += int(np.count_nonzero(np.isfinite(left_out)))

        ax_t.plot(t[s], felt[s], label=first("model: felt temperature", i), **felt_style)
        ax_t.plot(
            t[s],
            seen_in_range[s],
            label=first("model: what the pyrometer would read", i),
            **model,
        )
        ax_t.plot(t[s], tr.pyro_c[s], label=first("pyrometer, fitted", i), **measured)
        if left_out is not None:
            ax_t.plot(t[s], left_out[s], label=first("pyrometer, left out of the fit", i), **excluded)
        ax_dt.plot(t[s], res_t[s], **measured)
        ax_r.plot(t[s], r_ch[s], label=first("model R(T)", i), **model)
        ax_r.plot(t[s], tr.r_ohm[s], label=first("metered V/I", i), **measured)
        ax_dr.plot(t[s], res_r[s], **measured)

        name = tr.name or f"run {i + 1}"
        ax_t.annotate(
            f"{name}" if len(traces) == 1 else f"run {i + 1}: {name}",
            (float(t[0]), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color="0.25",
        )
        if i > 0:
            for ax in (ax_t, ax_dt, ax_r, ax_dr):
                ax.axvline(offset - 1.0, color="0.2", lw=1.2, ls="-", zorder=1)

        # The free cool-down: from the last tick with voltage on to the end of the run.
        on = np.flatnonzero(tr.volts > 0)
        if len(on) and on[-1] + 3 < len(tr.t_s):
            c = slice(int(on[-1]), None)
            tc = tr.t_s[c] - tr.t_s[int(on[-1]) + 1]
            tag = "" if len(traces) == 1 else f" (run {i + 1})"
            ax_ct.plot(tc, felt[c], **felt_style)
            ax_ct.plot(tc, seen_in_range[c], **model)
            mark: dict[str, Any] = {**measured, "marker": "osD^v"[i % 5]}
            ax_ct.plot(tc, tr.pyro_c[c], label=f"fitted{tag}", **mark)
            if left_out is not None:
                ax_ct.plot(tc, left_out[c], **{**excluded, "marker": "osD^v"[i % 5]})
            ax_cdt.plot(tc, res_t[c], **mark)
            cool_c += [float(np.nanmin(felt[c])), float(np.nanmax(felt[c]))]
        offset = float(t[-1]) + 2.0

    # Bands: below the range the pyrometer reads nothing; just above it readings are left out (slow heads).
    if np.isfinite(range_low):
        where = f"≤ {range_low:.0f} °C, inferred from the fitted readings" if inferred else f"{range_low:.0f} °C"
        bands = (
            (-300.0, range_low, "0.5", 0.10, f"below the pyrometer's range ({where}): no readings"),
            (
                range_low,
                clear_c,
                "#e08a00",
                0.13,
                f"left out of the fit: within {PYRO_CLEAR_K:.0f} K of the range bottom",
            ),
        )
        for ax in (ax_t, ax_ct):
            for low_c, high_c, colour, alpha, label in bands:
                ax.axhspan(
                    low_c, high_c, color=colour, alpha=alpha, lw=0, zorder=0, label=label if ax is ax_t else None
                )
    top = max((float(np.nanmax(p[0])) for p in fit.predictions), default=1000.0)
    ax_t.set_ylim(0.0, top * 1.08 + 20.0)
    if cool_c:
        ax_ct.set_ylim(min(cool_c) - 40.0, max(cool_c) + 40.0)

    def rms(parts: list[np.ndarray]) -> float:
        joined = np.concatenate(parts) if parts else np.array([])
        return float(np.sqrt(np.mean(joined**2))) if len(joined) else float("nan")

    def references(ax: Any, values: list[np.ndarray], rms_value: float, unit: str, noise: float | None) -> None:
        ax.axhline(0.0, color="0.3", lw=0.8, zorder=1)
        if noise is not None:
            for sign in (1, -1):
                ax.axhline(
                    sign * noise,
                    color="0.45",
                    lw=0.8,
                    ls=":",
                    zorder=1,
                    label=f"±{noise:g} {unit} (pyrometer noise)" if sign > 0 else None,
                )
        if np.isfinite(rms_value):
            for sign in (1, -1):
                ax.axhline(
                    sign * 2 * rms_value,
                    color="#d62728",
                    lw=0.9,
                    ls="--",
                    zorder=1,
                    label=f"±2×RMS = ±{2 * rms_value:.2g} {unit}" if sign > 0 else None,
                )
        joined = np.concatenate(values) if values else np.array([])
        worst = float(np.max(np.abs(joined))) if len(joined) else 1.0
        span = max(worst * 1.15, 2.5 * (noise or 0.0), 3.0 * rms_value if np.isfinite(rms_value) else 0.0)
        ax.set_ylim(-span, span)

    rms_t, rms_r = rms(dt_all), rms(dr_all)
    references(ax_dt, dt_all, rms_t, "K", SIGMA_PYRO_K)
    references(ax_dr, dr_all, rms_r, "mΩ", None)
    references(ax_cdt, dt_all, rms_t, "K", SIGMA_PYRO_K)

    ax_t.set_title(
        f"plant fit: pyrometer RMS {fit.pyro_rms_k:.2f} K over {fit.n_pyro} readings, "
        f"resistance RMS {fit.resistance_rms_ohm * 1000:.1f} mΩ over {fit.n_resistance}",
        fontsize=11,
        loc="left",
    )
    ax_t.set_ylabel("temperature (°C)")
    ax_r.set_ylabel("channel\nresistance (Ω)")
    for ax, unit, note in (
        (ax_dt, "K", f"pyrometer residual, fitted readings: RMS {rms_t:.2f} K"),
        (ax_dr, "mΩ", f"resistance residual: RMS {rms_r:.1f} mΩ"),
    ):
        ax.set_ylabel(f"measured − model\n({unit})")
        box = {"fc": "white", "ec": "none", "alpha": 0.8}
        ax.text(0.005, 0.95, note, transform=ax.transAxes, va="top", fontsize=8, bbox=box)
    ax_dr.set_xlabel("time (s)" if len(traces) == 1 else "time (s, runs one after another)")
    for ax in (ax_t, ax_dt, ax_r):
        ax.tick_params(labelbottom=False)
    ax_ct.set_title("free cool-down (output off)", fontsize=10)
    if not ax_ct.has_data():
        ax_ct.text(0.5, 0.5, "no free cool-down\nin these runs", ha="center", va="center", transform=ax_ct.transAxes)
    ax_ct.set_ylabel("°C")
    ax_cdt.set_ylabel("K")
    ax_cdt.set_xlabel("s since output off")
    ax_ct.tick_params(labelbottom=False)
    for ax in (ax_t, ax_dt, ax_r, ax_dr, ax_ct, ax_cdt):
        ax.grid(alpha=0.3)
    ax_t.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax_dt.legend(loc="lower right", fontsize=7, ncol=2, framealpha=0.9)
    ax_dr.legend(loc="lower right", fontsize=7, framealpha=0.9)
    ax_r.legend(loc="upper right", fontsize=8, framealpha=0.9)
    if ax_ct.has_data() and len(traces) > 1:
        ax_ct.legend(loc="upper right", fontsize=7)

    lines = [
        f"pyrometer: {fit.n_pyro} readings fitted,",
        f"  RMS {fit.pyro_rms_k:.2f} K",
        f"  {n_excluded} left out near the range bottom"
        if any(raw is not None for raw, _ in found.values())
        else "  left out: not known to this fit",
        "",
        f"resistance: {fit.n_resistance} readings,",
        f"  RMS {fit.resistance_rms_ohm * 1000:.1f} mΩ",
        f"pyrometer t90 {fit.t90_s * 1000:.0f} ms, dead time {fit.dead_time_s * 1000:.0f} ms",
        f"sample stack fitted: {'yes' if fit.sample_stack else 'no'}",
        "",
        "A good fit: the residuals scatter",
        "around 0 inside the dashed ±2×RMS",
        "lines, with no slow trend and no step",
        "at a ramp, a hold or the cool-down.",
        "About 1 K RMS is the pyrometer's own",
        "noise; several K, or a residual with",
        "a shape, means the model misses there.",
    ]
    ax_txt.text(
        0.0, 0.86, "\n".join(lines), va="top", ha="left", fontsize=8.5, transform=ax_txt.transAxes, linespacing=1.35
    )

    fig.subplots_adjust(left=0.075, right=0.985, top=0.96, bottom=0.055)
    fig.savefig(path, dpi=110)
    plt.close(fig)
