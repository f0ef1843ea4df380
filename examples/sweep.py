"""A hold-temperature sweep on the simulator with the Python API: one run per temperature, then a table.

    python examples/sweep.py                      # 1100, 1150 and 1200 °C, runs in ./runs
    python examples/sweep.py --hold-c 900 950 --hold-s 2 --runs-dir /tmp/runs

Ctrl-C ends the run under way safely (output off) and stops the sweep; so does a run that trips, aborts or
whose output-off the supply does not confirm. For the rig, open it with
``ufs.open_rig("rig.toml")`` instead of ``sim=True``.
"""

from __future__ import annotations

import argparse

import ufs_control as ufs


def main(argv: list[str] | None = None) -> list[ufs.RunResult]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-c", type=float, nargs="+", default=[1100.0, 1150.0, 1200.0])
    parser.add_argument("--hold-s", type=float, default=20.0)
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args(argv)

    results = []
    with ufs.open_rig(sim=True) as rig:
        for n, hold_c in enumerate(args.hold_c, 1):
            profile = ufs.build_profile(
                f"sweep_{hold_c:g}C_{args.hold_s:g}s",
                [ufs.ramp(hold_c, rate_c_per_s=50), ufs.hold(args.hold_s), ufs.cool(below_c=700)],
                max_temperature_c=hold_c + 50,
            )
            result = rig.run(profile, operator="sweep", sample_id=f"S-{n:02d}", runs_dir=args.runs_dir)
            results.append(result)
            if not result.output_off_confirmed or result.outcome is not ufs.Outcome.FINISHED:
                print(f"sweep stopped after S-{n:02d}: {result.outcome.value}: {result.reason}")
                break  # a trip, an abort or an unconfirmed output-off: no next sample until someone looks

    print(f"{'hold °C':>8} {'outcome':>9} {'peak °C':>8} {'ramp °C/s':>10} {'soak s':>7}")
    for hold_c, r in zip(args.hold_c, results, strict=False):  # results stop early when a run did not finish
        m = r.metrics
        peak, rate, soak = (m.get(k) for k in ("peak_c", "ramp_rate_c_per_s", "soak_s"))
        print(
            f"{hold_c:8g} {r.outcome.value:>9} {peak or float('nan'):8.1f} {rate or float('nan'):10.1f} "
            f"{soak or float('nan'):7.1f}"
        )
    return results


if __name__ == "__main__":
    main()
