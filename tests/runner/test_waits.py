"""On a real-time clock, only the control loop's own deadline may end in a spin: the run's other waits (the
pyrometer's warm-up, the cold-resistance probe) and the simulated instruments' I/O sleep coarsely."""

from __future__ import annotations

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import KtrdPyrometer
from sim.clock import VirtualClock
from sim.rig import SimOptions, SimRig
from sim.transport import InMemoryPort, InMemoryResource
from ufs_control.app import SimulatedRig, make_controller, sim_supply
from ufs_control.core.rig import RigConfig
from ufs_control.core.thermal import preset
from ufs_control.runner.engine import Runner
from ufs_control.runner.records import Outcome, Sample

from .helpers import llzo


class RecordingClock(VirtualClock):
    """Virtual time that calls itself real-time and records which kind of wait each sleep was."""

    real_time = True  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.precise: list[float] = []  # the times of the waits that may spin (Clock.sleep)
        self.coarse = 0

    def sleep(self, seconds: float) -> None:
        self.precise.append(self.now())
        super().sleep(seconds)

    def sleep_coarse(self, seconds: float) -> None:
        self.coarse += 1
        super().sleep(seconds)


def test_only_the_loop_deadline_waits_precisely() -> None:
    clock = RecordingClock()
    rig_config = RigConfig()
    rig = SimRig(
        preset("A"), clock, SimOptions(wiring=rig_config.wiring, pyrometer_range_c=rig_config.pyrometer.range_c)
    )
    sim = SimulatedRig(
        rig,
        clock,
        Cpx400dp(InMemoryResource(rig), name="CPX400DP (simulated)"),
        KtrdPyrometer(InMemoryPort(rig), range_c=rig_config.pyrometer.range_c, name="pyrometer (simulated)"),
    )
    ticks: list[float] = []

    def on_sample(sample: Sample) -> None:
        ticks.append(clock.now())

    runner = Runner(
        sim_supply(sim, rig_config),
        sim.pyrometer,
        clock,
        rig_config,
        make_controller("ff_pi", rig_config),
        None,
        on_sample=on_sample,
    )
    result = runner.run(llzo())
    assert result.outcome is Outcome.FINISHED
    # One precise wait per tick, each after that tick's sample: the loop's deadline, and nothing else.
    assert len(clock.precise) == len(ticks)
    assert all(wait >= tick for wait, tick in zip(clock.precise, ticks, strict=True))
    # Everything else (the warm-up and probe waits, every instrument exchange) slept coarsely.
    assert clock.coarse > 2 * len(ticks)
