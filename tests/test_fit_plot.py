"""The plot of a plant fit (``plant.png``): readings used and left out, the model where the pyrometer has a
range, residual panels, one label per run."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ufs_control.control.identify import PYRO_CLEAR_K, PlantFit, fit_plant
from ufs_control.core.rig import RigConfig
from ufs_control.plotting import plot_fit
from ufs_control.runner.plantfile import trace_of_run


@pytest.fixture(scope="module")
def fitted(identified: Path) -> tuple[Path, PlantFit]:
    rig = RigConfig()
    (run,) = [p for p in (identified / "runs").iterdir() if p.is_dir()]
    return run, fit_plant([trace_of_run(run, rig)], rig.model, rig.wiring)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _drawn(path: Path, fit: PlantFit, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call plot_fit and return its figure (caught as it is closed)."""
    import matplotlib.pyplot as plt

    caught: list[Any] = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (caught.append(fig), close(fig)))
    plot_fit(path, fit)
    assert len(caught) == 1
    return caught[0]


def _line(fig: Any, label: str) -> Any:
    return next(line for ax in fig.axes for line in ax.get_lines() if line.get_label() == label)


def test_identify_writes_a_plot_with_residual_panels(
    identified: Path, fitted: tuple[Path, PlantFit], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = identified / "plant.png"
    assert png.stat().st_size > 50_000
    width, height = _png_size(png)
    assert width >= 1200 and height >= 1000  # four panels tall, readable at 110 dpi

    rig = RigConfig()
    fit = fitted[1]
    fig = _drawn(tmp_path / "plant.png", fit, monkeypatch)  # the traces carry every reading and the range's bottom
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "measured − model\n(K)" in labels and "measured − model\n(mΩ)" in labels

    # The residual panel shows measured − model for every fitted reading, and its RMS matches the fit's.
    (residual_ax,) = [ax for ax in fig.axes if ax.get_ylabel() == "measured − model\n(K)"]
    res = np.asarray(residual_ax.get_lines()[0].get_ydata(), dtype=float)
    assert np.count_nonzero(np.isfinite(res)) == fit.n_pyro
    assert float(np.sqrt(np.nanmean(res**2))) == pytest.approx(fit.pyro_rms_k, rel=1e-6)
    refs = {line.get_label() for line in residual_ax.get_lines()}
    assert f"±2×RMS = ±{2 * fit.pyro_rms_k:.2g} K" in refs

    # The readings left out near the range's bottom are drawn, all in the left-out band, none of them fitted.
    low = rig.pyrometer.range_c[0]
    left_out = np.asarray(_line(fig, "pyrometer, left out of the fit").get_ydata(), dtype=float)
    shown = left_out[np.isfinite(left_out)]
    assert len(shown) > 20
    assert np.all((shown > low) & (shown <= low + PYRO_CLEAR_K))
    # What the pyrometer would read is drawn only within its range; the felt temperature everywhere.
    seen = np.asarray(_line(fig, "model: what the pyrometer would read").get_ydata(), dtype=float)
    assert np.nanmin(seen) > low and np.count_nonzero(np.isnan(seen)) > 100
    felt = np.asarray(_line(fig, "model: felt temperature").get_ydata(), dtype=float)
    assert np.all(np.isfinite(felt))


def test_several_runs_are_labelled_and_separated(
    fitted: tuple[Path, PlantFit], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, one = fitted
    # traces that do not carry the left-out readings or the range's bottom (as a Trace built by hand)
    bare = [dataclasses.replace(tr, pyro_all_c=None, range_low_c=None) for tr in (one.traces[0], one.traces[0])]
    bare[1] = dataclasses.replace(bare[1], name="")
    two = dataclasses.replace(one, traces=tuple(bare), predictions=one.predictions * 2)
    fig = _drawn(tmp_path / "two.png", two, monkeypatch)
    assert (tmp_path / "two.png").stat().st_size > 50_000
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"run 1: {run.name}" in texts and "run 2: run 2" in texts
    separators = [line for line in fig.axes[0].get_lines() if list(line.get_xdata()) == list(line.get_xdata())[:1] * 2]
    assert len(separators) == 1
    # Without them the left-out readings cannot be drawn, and the band says it is inferred.
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert "pyrometer, left out of the fit" not in labels
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("inferred" in t for t in legend)
