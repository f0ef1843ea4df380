"""``ufs bench-safety``: how fast the output goes off when the controller process dies, is stopped, loses its
terminal or loses the supply connection — measured on real processes against ``ufs sim-server``, from the
server's own output state.

Each scenario starts ``ufs run`` on a short profile against the socket simulator (through the real drivers
and the guardian process), waits until the output has been heating for a moment, breaks something, and
times the moment the simulated supply's output goes dead (``sim-server --log-output`` prints it with the
machine's monotonic clock, the same clock this process reads).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SCENARIOS = ("kill", "sighup", "stall", "disconnect", "guardian-kill", "guardian-stop")
STALL_S = 2.0
HEATING_BEFORE_ACTION_S = 2.0
TARGETS = {  # median, max in s
    "kill": (0.25, 0.5),
    "sighup": (0.25, 0.5),
    "disconnect": (0.25, 0.5),
    # the guardian itself killed or hung: the controller notices (EOF, or no reply within its call deadline
    # of 2 supply timeouts + 0.1 s), kills it and switches off over a connection of its own
    "guardian-kill": (0.25, 0.5),
    "guardian-stop": (1.0, 1.5),
}
PROFILE = """name = "bench_safety"
description = "a short ramp and hold for the safety benchmark"
max_temperature_c = 1000
[[segment]]
type = "ramp"
target_c = 900
rate_c_per_s = 100
[[segment]]
type = "hold"
duration_s = 20
"""


class _Lines:
    """Collect a process's stdout lines with the monotonic time they arrived, in a thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def drain(self) -> list[str]:
        """The lines that arrived and were not read yet."""
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                self.seen += out
                return out

    def wait_for(self, match: Callable[[str], bool], timeout_s: float) -> str | None:
        """The first new line for which ``match`` is true, or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            self.seen.append(line)
            if match(line):
                return line
        return None


@dataclass
class SimServerProcess:
    """``ufs sim-server`` on free loopback ports, logging output changes."""

    proc: subprocess.Popen[bytes]
    out: _Lines
    psu: str = ""
    pyrometer: str = ""

    @classmethod
    def start(cls) -> SimServerProcess:
        argv = [sys.executable, "-m", "ufs_control", "sim-server", "--psu-port", "0", "--pyrometer-port", "0"]
        proc = subprocess.Popen([*argv, "--log-output"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        server = cls(proc, _Lines(proc.stdout))
        psu = server.out.wait_for(lambda line: line.startswith("psu: "), 30.0)
        pyro = server.out.wait_for(lambda line: line.startswith("pyrometer: "), 5.0)
        if psu is None or pyro is None:
            server.stop()
            raise RuntimeError("ufs sim-server did not start")
        server.psu, server.pyrometer = psu.split(": ", 1)[1], pyro.split(": ", 1)[1]
        return server

    def wait_output(self, on: bool, timeout_s: float) -> float | None:
        """Monotonic time at which output 1 next went on/off (None on timeout)."""
        word = "on" if on else "off"
        line = self.out.wait_for(lambda text: text.startswith(f"output 1 {word} "), timeout_s)
        return float(line.split()[-1]) if line else None

    def drop_connections(self) -> float:
        self.proc.send_signal(signal.SIGUSR1)
        line = self.out.wait_for(lambda text: text.startswith("disconnect "), 5.0)
        return float(line.split()[-1]) if line else time.monotonic()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)


class TrialDisturbed(RuntimeError):
    """The run ended on its own before the break (a trip under load, say): the trial measured nothing."""


@dataclass
class Trial:
    """One broken run: how long the output stayed on after the break, and how the controller ended."""

    scenario: str
    off_after_s: float | None
    exit_code: int | None
    outcome: str | None
    reason: str | None
    events: list[dict[str, Any]] = field(default_factory=list)


def run_trial(server: SimServerProcess, scenario: str, workdir: Path, watchdog_s: float = 0.25) -> Trial:
    """Start a run against ``server``, break it as ``scenario`` says, and time the output going off."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    profile = workdir / "bench_safety.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    runs = workdir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    argv = [sys.executable, "-m", "ufs_control", "run", str(profile), "--psu", server.psu]
    argv += ["--pyrometer", server.pyrometer, "--runs-dir", str(runs)]
    # A session of its own, like a terminal's foreground job: SIGHUP goes to its whole process group.
    log = workdir / f"ufs-run-{scenario}.log"
    with open(log, "wb") as out:
        ctl = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    off_after: float | None = None
    try:
        # preflight probes the felt (on, off), then the run heats (on)
        for expected in (True, False, True):
            if server.wait_output(expected, 30.0) is None:
                said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                first = next((x for x in said if x.startswith(("tripped", "failed", "error"))), str(said[-3:]))
                raise TrialDisturbed(f"the run never switched the output {'on' if expected else 'off'}: {first}")
        time.sleep(HEATING_BEFORE_ACTION_S)  # a real-time trial: let it heat before breaking it
        if any(line.startswith("output 1 off") for line in server.out.drain()) or ctl.poll() is not None:
            said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise TrialDisturbed(next((x for x in said if x.startswith(("tripped", "failed"))), "ended early"))
        if scenario == "kill":
            t_break = time.monotonic()
            ctl.kill()
        elif scenario == "sighup":
            t_break = time.monotonic()
            os.killpg(ctl.pid, signal.SIGHUP)
        elif scenario == "stall":
            t_break = time.monotonic()
            ctl.send_signal(signal.SIGSTOP)
        elif scenario in ("guardian-kill", "guardian-stop"):
            guardian = _child_pid(ctl.pid)
            t_break = time.monotonic()
            os.kill(guardian, signal.SIGKILL if scenario == "guardian-kill" else signal.SIGSTOP)
        else:
            t_break = server.drop_connections()
        t_off = server.wait_output(False, 5.0)
        off_after = None if t_off is None else t_off - t_break
        if scenario == "stall":
            time.sleep(max(0.0, t_break + STALL_S - time.monotonic()))
            ctl.send_signal(signal.SIGCONT)
        code = ctl.wait(30.0)
    finally:
        if ctl.poll() is None:
            ctl.send_signal(signal.SIGCONT)
            ctl.kill()
            ctl.wait(10.0)
    new = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    outcome = reason = None
    events: list[dict[str, Any]] = []
    if new:
        record = json.loads((new[-1] / "run.json").read_text(encoding="utf-8"))
        outcome, reason = record.get("outcome"), record.get("reason")
        for line in (new[-1] / "events.jsonl").read_text(encoding="utf-8").splitlines():
            events.append(json.loads(line))
    return Trial(scenario, off_after, code, outcome, reason, events)


def _child_pid(parent: int) -> int:
    """The pid of ``parent``'s child process (the guardian of a ``ufs run``)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            return int(entry.name)
    raise RuntimeError(f"process {parent} has no child")


def _stats(values: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(values), "max_s": max(values), "n": float(len(values))}


def run_safety_bench(
    repeats: int, out: Path, workdir: Path, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run every scenario ``repeats`` times; write the figures to ``out`` (JSON) and return them."""
    say = log or (lambda _m: None)
    results: dict[str, Any] = {"repeats": repeats, "watchdog_s": 0.25, "scenarios": {}}
    for scenario in SCENARIOS:
        server = SimServerProcess.start()
        times: list[float] = []
        failures: list[str] = []
        try:
            for i in range(repeats):
                try:
                    trial = run_trial(server, scenario, workdir)
                except TrialDisturbed as exc:
                    failures.append(f"trial {i}: the run ended before the break: {exc}")
                    say(f"{scenario} {i + 1}/{repeats}: the run ended before the break: {exc}")
                    continue
                if trial.off_after_s is None:
                    failures.append(f"trial {i}: output not seen off within 5 s")
                else:
                    times.append(trial.off_after_s)
                say(f"{scenario} {i + 1}/{repeats}: off after {trial.off_after_s} s, exit {trial.exit_code}")
                server.wait_output(False, 0.0)
        finally:
            server.stop()
        entry: dict[str, Any] = {"failures": failures, "values_s": times}
        if times:
            entry.update(_stats(times))
        if scenario == "stall":
            limit = results["watchdog_s"] + 0.25
            entry["target"] = {"max_s": limit}
            entry["met"] = bool(times) and not failures and max(times) <= limit
        else:
            median_limit, max_limit = TARGETS[scenario]
            entry["target"] = {"median_s": median_limit, "max_s": max_limit}
            entry["met"] = (
                bool(times) and not failures and statistics.median(times) <= median_limit and max(times) <= max_limit
            )
        results["scenarios"][scenario] = entry
    results["targets_met"] = all(e["met"] for e in results["scenarios"].values())
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
