"""``ufs bench-catalog``: how fast ``ufs runs`` answers over many run folders.

It writes synthetic run folders (a run.json like the runner's, with metrics, and a one-row samples.csv) into a
temporary runs folder, then times: indexing them from nothing (no index), listing them once indexed, the
``ufs runs`` command as a user starts it (a fresh process, Python start-up included: filtered by sample, and
all runs printed), and the rebuild after the index file is deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufs_control.runner.runstore import INDEX_NAME, RunStore

OUTCOMES = ("finished", "finished", "finished", "tripped", "aborted")


def write_synthetic_runs(runs_dir: Path, n: int) -> None:
    """``n`` run folders with records shaped like the runner's (spread over 100 days, five profiles)."""
    for i in range(n):
        day, second = divmod(i, 100)
        started = f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{second // 60 % 24:02d}:{second % 60:02d}:00+00:00"
        folder = runs_dir / f"run-{i:06d}"
        folder.mkdir()
        record = {
            "profile": {"name": f"recipe_{i % 5}"},
            "operator": "bench",
            "sample_id": f"S-{i:05d}",
            "started_utc": started,
            "ended_utc": started,
            "outcome": OUTCOMES[i % len(OUTCOMES)],
            "reason": "synthetic",
            "trip": None,
            "metrics": {"peak_c": 1150.0 + i % 7, "ramp_rate_c_per_s": 49.9, "hold_max_k": 1.2, "soak_s": 19.5},
        }
        (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
        (folder / "samples.csv").write_text("t_s\n0\n", encoding="utf-8")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def run_catalog_bench(n: int, out: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the catalogue over ``n`` synthetic runs; write the figures to ``out`` (JSON) and return them."""
    with tempfile.TemporaryDirectory(prefix="ufs-bench-catalog-") as work:
        runs_dir = Path(work) / "runs"
        runs_dir.mkdir()
        write_seconds, _ = _timed(lambda: write_synthetic_runs(runs_dir, n))
        log(f"wrote {n} run folders in {write_seconds:.1f} s")
        cold, listed = _timed(lambda: RunStore(runs_dir).runs())
        warm, _ = _timed(lambda: RunStore(runs_dir).runs())
        command = [sys.executable, "-m", "ufs_control", "runs", "--runs-dir", str(runs_dir), "--sample", "S-0001*"]
        cli, done = _timed(lambda: subprocess.run(command, capture_output=True, text=True, check=True))
        everything = command[:-2]
        cli_all, done_all = _timed(lambda: subprocess.run(everything, capture_output=True, text=True, check=True))
        (runs_dir / INDEX_NAME).unlink()
        rebuilt, again = _timed(lambda: RunStore(runs_dir).runs())
    result = {
        "runs": n,
        "listed": len(listed),
        "index_from_nothing_s": round(cold, 3),
        "list_indexed_s": round(warm, 3),
        "ufs_runs_command_s": round(cli, 3),
        "ufs_runs_command_listed": done.stdout.strip().splitlines()[-1],
        "ufs_runs_all_command_s": round(cli_all, 3),
        "ufs_runs_all_command_listed": done_all.stdout.strip().splitlines()[-1],
        "load_average_1_min": round(os.getloadavg()[0], 2),
        "rebuild_after_delete_s": round(rebuilt, 3),
        "rebuilt_listed": len(again),
        "target_ufs_runs_under_1_s": cli < 1.0,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
