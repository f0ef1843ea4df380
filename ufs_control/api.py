"""The public Python API for scripts and notebooks (``import ufs_control as ufs``).

``open_rig`` gives a :class:`Rig` whose :meth:`Rig.run` takes the very path of ``ufs run``: the same session
(instruments, guardian, interlocks, records), the same handling of SIGINT/TERM/HUP/QUIT (the run ends
safely, the guardian switches the output off at once), the same ``[notify]`` command afterwards. Ctrl-C (a
notebook's interrupt) ends the run with the output off and then raises :class:`RunInterrupted`, a
``KeyboardInterrupt`` that carries the run's result, so a sweep stops there too.

This module sits at the composition root next to ``app``: it is the only public name that opens a rig.
"""

from __future__ import annotations

import hashlib
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ufs_control.app import ending_signals, notify_run, open_session, parse_fault_spec, prepare_run, prepare_runs_dir
from ufs_control.core.errors import ConfigError
from ufs_control.core.profile import Profile, load_profile
from ufs_control.core.recipe import profile_toml
from ufs_control.core.rig import RigConfig, load_rig
from ufs_control.runner.engine import Progress
from ufs_control.runner.records import OUTPUT_OFF_UNCONFIRMED, RunResult, Sample
from ufs_control.runner.report import load_run_json

if TYPE_CHECKING:
    import pandas

BUILT_PROFILES = ".profiles"  # folder in the runs folder for the TOML of profiles built in code


class OutputNotConfirmedWarning(UserWarning):
    """The supply did not confirm OUTPUT OFF at the end of a run: switch it off at its front panel."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a run: the run is over, its output off (see ``result.output_off_confirmed``) and its folder
    written; ``result`` is its :class:`RunResult`."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(f"run interrupted: {result.outcome.value}: {result.reason}")
        self.result = result


def _quiet(text: str) -> None:
    pass


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _recorded(profile: Profile, runs_dir: Path) -> Profile:
    """A profile whose ``source`` is a readable file, so run.json keeps its TOML (and ``ufs report`` its
    plan): one built in code is written once to ``runs_dir/.profiles/NAME-HASH.toml``."""
    if Path(profile.source).is_file():
        return profile
    text = profile_toml(profile)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile.name) or "profile"
    path = runs_dir / BUILT_PROFILES / f"{safe}-{digest}.toml"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file():
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path.parent), "runs_dir", f"cannot write the profile: {exc.strerror}") from None
    return replace(profile, source=str(path))


class Rig:
    """A rig (or the simulator) ready to run profiles; use :func:`open_rig`. Each :meth:`run` opens the
    instruments, runs one profile to its end with the output off, and closes them again, as ``ufs run`` does."""

    def __init__(
        self,
        config: RigConfig,
        *,
        simulate: bool,
        speed: float = 0.0,
        faults: Sequence[str] = (),
        seed: int = 0,
        plot: bool = True,
        log: Callable[[str], None] | None = _stderr,
    ) -> None:
        self.config = config
        self.simulated = simulate
        self.speed = speed
        self.faults = [parse_fault_spec(f) for f in faults]
        self.seed = seed
        self.plot = plot
        self.log = log
        self.closed = False

    def run(
        self,
        profile: Profile | str | Path,
        *,
        operator: str = "",
        sample_id: str = "",
        runs_dir: str | Path = "runs",
        on_sample: Callable[[Sample], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> RunResult:
        """Run ``profile`` (a :class:`Profile` or a profile file) with every interlock and the guardian; return
        its result (``outcome``, ``reason``, ``metrics`` as in run.json, ``run_dir``).

        ``on_sample`` gets every control tick's :class:`Sample` on the control thread (keep it quick: it runs
        inside the loop); ``progress`` gets coalesced progress lines on a thread of its own. Ctrl-C ends the run
        safely and raises :class:`RunInterrupted`; SIGTERM/HUP/QUIT end it safely and then take their usual
        effect. A tripped or aborted run is a result, not an exception. A run whose output-off the supply did
        not confirm also prints the front-panel WARNING and issues an :class:`OutputNotConfirmedWarning`.
        """
        if self.closed:
            raise ConfigError("open_rig", "", "this rig was closed: open it again")
        if not isinstance(profile, Profile):
            profile = load_profile(profile)
        folder = prepare_runs_dir(runs_dir, "runs_dir", self.log)
        profile = _recorded(profile, folder)
        session = open_session(
            self.config,
            simulate=self.simulated,
            runs_dir=folder,
            speed=self.speed,
            faults=self.faults,
            seed=self.seed,
            plot=self.plot,
            progress=progress,
            on_sample=on_sample,
        )
        say = self.log if self.log is not None else _quiet
        try:  # the path of `ufs run`: felt check and, with [controller] learn, the learned correction
            companion = prepare_run(session, self.config, profile, folder, learn=self.config.controller.learn, warn=say)
        except BaseException:
            session.close()
            raise
        for text in companion.before:
            say(text)
        with ending_signals(session.runner) as received:
            try:
                result = session.runner.run(profile, operator=operator, sample_id=sample_id)
            finally:
                session.close()
        notify_run(self.config, result, operator, sample_id, warn=say)
        if not result.output_off_confirmed:
            say(OUTPUT_OFF_UNCONFIRMED)
            warnings.warn(OUTPUT_OFF_UNCONFIRMED, OutputNotConfirmedWarning, stacklevel=2)
        for text in companion.after(result):
            say(text)
        if received:
            if received[0] == signal.SIGINT:
                raise RunInterrupted(result)
            signal.raise_signal(received[0])  # the run is over: now the signal does what it would have done
        return result

    def close(self) -> None:
        """Nothing stays open between runs; later runs are refused."""
        self.closed = True

    def __enter__(self) -> Rig:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else f"supply {self.config.psu.resource}"
        return f"<Rig {self.config.source} on the {where}>"


def open_rig(
    rig: str | Path | RigConfig | None = None,
    *,
    sim: bool = False,
    speed: float = 0.0,
    faults: Sequence[str] = (),
    seed: int = 0,
    plot: bool = True,
) -> Rig:
    """Open the rig described by ``rig`` (a rig TOML file or a :class:`RigConfig`; None = the defaults).

    ``sim=True``, or a rig file without instrument addresses, runs on the embedded simulator; ``speed`` is
    simulated seconds per wall second there (0 = as fast as possible), ``faults`` are ``NAME@SECONDS``
    simulator faults and ``seed`` its noise seed. Bad input raises a one-line ``ConfigError``.
    """
    config = rig if isinstance(rig, RigConfig) else (load_rig(rig) if rig is not None else RigConfig())
    simulate = sim or config.simulated
    if not simulate and (faults or speed):
        raise ConfigError("open_rig", "faults/speed", "only apply to the simulator (sim=True)")
    if not simulate and (not config.psu.resource or not config.pyrometer.url):
        raise ConfigError(config.source, "psu.resource/pyrometer.url", "give both instrument addresses, or sim=True")
    if not 0.0 <= speed <= 100.0:
        raise ConfigError("open_rig", "speed", f"must be within 0..100 (0 = as fast as possible), got {speed:g}")
    try:
        return Rig(config, simulate=simulate, speed=speed, faults=faults, seed=seed, plot=plot)
    except ValueError as exc:
        raise ConfigError("open_rig", "faults", str(exc)) from None


@dataclass(frozen=True)
class RunData:
    """A run folder read back: ``record`` is run.json as a dict, ``samples`` samples.csv as a DataFrame (one row
    per control tick; columns as in the file, empty cells NaN)."""

    run_dir: Path
    record: dict[str, Any]
    samples: pandas.DataFrame

    @property
    def metrics(self) -> dict[str, Any]:
        """run.json's ``metrics`` (None where a metric does not apply)."""
        value = self.record.get("metrics")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def outcome(self) -> str:
        value = self.record.get("outcome")
        return value if isinstance(value, str) else "?"


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder (its run.json and samples.csv); a folder that is not a run raises ``ConfigError``."""
    import pandas  # only when a run is loaded: `import ufs_control` stays light

    folder = Path(run_dir)
    problems: list[str] = []
    record = load_run_json(folder / "run.json", problems)
    if record is None:
        raise ConfigError(str(folder / "run.json"), "", "; ".join(problems))
    csv_path = folder / "samples.csv"
    try:
        samples = pandas.read_csv(csv_path)
    except FileNotFoundError:
        raise ConfigError(str(csv_path), "", "no such file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(str(csv_path), "", f"unreadable: {exc}") from None
    return RunData(folder, record, samples)
