"""``ufs bench-soak``: memory over many runs in one process, and over one very long hold, on the embedded
simulator in virtual time (records written as on the rig, plots off).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufs_control.app import open_session
from ufs_control.core.profile import Profile, load_profile, parse_profile
from ufs_control.core.rig import RigConfig
from ufs_control.runner.records import Outcome

RECIPE = Path(__file__).resolve().parent.parent / "profiles" / "llzo_membrane_1150C_20s.toml"
COOL_BETWEEN_RUNS_S = 30.0  # virtual seconds for the felt to cool below the hot-start limit


def rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def soak(runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the LLZO membrane recipe ``runs`` times on one runner; sample the RSS every tenth of the way."""
    profile = load_profile(RECIPE)
    rss: list[tuple[int, float]] = []
    outcomes: dict[str, int] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ufs-soak-") as work:
        session = open_session(RigConfig(), simulate=True, runs_dir=Path(work), plot=False)
        assert session.sim is not None
        try:
            for i in range(runs):
                result = session.runner.run(profile)
                outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
                if result.outcome is not Outcome.FINISHED:
                    session.runner.acknowledge(by="soak")
                session.sim.clock.sleep(COOL_BETWEEN_RUNS_S)
                if result.run_dir is not None:  # keep the disk flat too; the records were written
                    for f in result.run_dir.iterdir():
                        f.unlink()
                    result.run_dir.rmdir()
                if (i + 1) % max(1, runs // 10) == 0 or i == 0:
                    gc.collect()
                    rss.append((i + 1, rss_mb()))
                    log(f"soak: {i + 1}/{runs} runs, RSS {rss[-1][1]:.1f} MB")
        finally:
            session.close()
    first_tenth = rss[1][1] if len(rss) > 1 else rss[0][1]
    return {
        "runs": runs,
        "outcomes": outcomes,
        "rss_mb": rss,
        "growth_after_first_tenth_mb": rss[-1][1] - first_tenth,
        "wall_s": time.perf_counter() - start,
    }


def long_hold(hours: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Ramp to 1150 °C and hold for ``hours`` in virtual time; report the peak RSS and the record's size."""
    profile: Profile = parse_profile(
        {
            "name": f"hold_{hours:g}h",
            "max_temperature_c": 1250,
            "segment": [
                {"type": "ramp", "target_c": 1150, "rate_c_per_s": 50},
                {"type": "hold", "duration_s": hours * 3600.0},
                {"type": "cool", "below_c": 600},
            ],
        },
        "<bench-soak>",
    )
    start = time.perf_counter()
    before = peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="ufs-hold-") as work:
        session = open_session(RigConfig(), simulate=True, runs_dir=Path(work), plot=False)
        try:
            result = session.runner.run(profile)
        finally:
            session.close()
        csv_mb = (result.run_dir / "samples.csv").stat().st_size / 1e6 if result.run_dir else 0.0
    out = {
        "hours": hours,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "samples": int(result.duration_s * 20),
        "samples_csv_mb": csv_mb,
        "peak_rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "hold_max_k": result.metrics.get("hold_max_k"),
        "wall_s": time.perf_counter() - start,
    }
    log(f"hold {hours:g} h: {out['outcome']}, peak RSS {out['peak_rss_mb']:.1f} MB, {out['wall_s']:.0f} s")
    return out


def main(argv: list[str]) -> int:
    """``python -m ufs_control.soakbench soak N`` or ``hold HOURS``: one measurement, JSON on stdout."""
    kind, amount = argv[0], float(argv[1])
    result = (
        soak(int(amount), log=lambda m: print(m, file=sys.stderr))
        if kind == "soak"
        else long_hold(amount, log=lambda m: print(m, file=sys.stderr))
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
