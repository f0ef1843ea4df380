"""End-of-run notifications: the rig file's ``[notify] command`` gets the run summary as JSON on its standard
input, so a lab can forward it to e-mail, Matrix or Slack.

It runs after the run is over and the output is off; whatever the command does (fails, hangs, is missing),
the run and its record stay as they were. A failure is written to the run's ``events.jsonl`` and to the
caller's ``warn``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufs_control.core.rig import NotifyConfig
from ufs_control.runner.records import Outcome, RunResult, append_jsonl, jsonable, make_event

MAX_REPORTED_OUTPUT = 300  # characters of the command's stderr quoted in a failure


def run_summary(result: RunResult, operator: str = "", sample_id: str = "") -> dict[str, Any]:
    """The run summary a notification carries: ``event`` is "trip" for a tripped run, else "run_end"."""
    return {
        "event": "trip" if result.outcome is Outcome.TRIPPED else "run_end",
        "outcome": result.outcome.value,
        "reason": result.reason,
        "trip": result.trip_name,
        "profile": result.profile_name,
        "operator": operator,
        "sample_id": sample_id,
        "started_utc": result.started_utc,
        "ended_utc": result.ended_utc,
        "duration_s": result.duration_s,
        "output_off_confirmed": result.output_off_confirmed,
        "run_dir": str(result.run_dir.resolve()) if result.run_dir is not None else None,
        "metrics": jsonable(result.metrics),
    }


def notify(
    config: NotifyConfig,
    summary: dict[str, Any],
    run_dir: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> bool:
    """Run ``config.command`` (through ``/bin/sh -c``) with ``summary`` as JSON on stdin; True when it exited 0.

    Never raises: a failure is recorded in ``run_dir/events.jsonl`` (when given) and passed to ``warn``.
    """
    if not config.command:
        return True
    problem: str | None = None
    try:
        # A session of its own: on a timeout the whole group goes (sh and whatever it started), not sh alone.
        proc = subprocess.Popen(
            ["/bin/sh", "-c", config.command],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = proc.communicate(json.dumps(summary) + "\n", timeout=config.timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            problem = f"still running after {config.timeout_s:g} s (notify.timeout_s); stopped"
        else:
            if proc.returncode != 0:
                tail = " ".join(stderr.split())[-MAX_REPORTED_OUTPUT:]
                problem = f"exit status {proc.returncode}" + (f": {tail}" if tail else "")
    except (OSError, ValueError) as exc:
        problem = f"could not start: {exc}"
    if problem is None:
        return True
    message = f"notify command failed: {problem}"
    if run_dir is not None:
        try:
            t_s = float(summary.get("duration_s") or 0.0)  # the run's end, on the run's time axis
            append_jsonl(run_dir / "events.jsonl", make_event(t_s, "notify_failed", message=message))
        except OSError:
            pass
    if warn is not None:
        warn(message)
    return False
