"""Run records: the per-tick sample, the run result, and the run folder writer.

One folder per run: ``samples.csv`` (one row per tick, flushed every row), ``events.jsonl`` (state
changes, trips, warnings), ``run.json`` (provenance, outcome, metrics, loop timing) and ``plot.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ufs_control.core.errors import ConfigError


class Outcome(enum.Enum):
    FINISHED = "finished"
    ABORTED = "aborted"
    TRIPPED = "tripped"
    FAILED = "failed"


@dataclass(frozen=True)
class Sample:
    """One control tick. Temperatures °C, powers W, volts V, amps A, ohms; None = not available."""

    t_s: float
    profile_t_s: float
    setpoint_c: float | None
    temperature_c: float | None
    pyrometer_status: str
    power_w: float
    voltage_set_v: float
    current_set_a: float
    voltage_v: float | None
    current_a: float | None
    resistance_ohm: float | None
    ff_w: float
    p_w: float
    i_w: float
    segment: str
    state: str
    loop: str
    engaged: bool
    segment_index: int
    segment_kind: str
    target_c: float | None
    k_ff: float = 1.0


SAMPLE_COLUMNS = [f.name for f in dataclasses.fields(Sample)]


@dataclass
class RunResult:
    """What a run ended as, with its metrics. ``run_dir`` is None when no records were written."""

    outcome: Outcome
    reason: str
    profile_name: str
    started_utc: str
    ended_utc: str
    duration_s: float
    metrics: dict[str, float | None] = field(default_factory=dict)
    loop_timing: dict[str, float] = field(default_factory=dict)
    trip_name: str | None = None
    run_dir: Path | None = None
    preflight_failed: bool = False
    instrument_failure: bool = False
    output_off_confirmed: bool = True


def utc_now() -> datetime:
    return datetime.now(UTC)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != 0 else "0"
    return str(value)


def jsonable(obj: Any) -> Any:
    """Convert dataclasses, enums, paths and tuples into JSON-friendly values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class RunRecorder:
    """Writes one run folder. Every sample and event is flushed so a crash loses at most one row."""

    def __init__(self, runs_dir: Path, profile_name: str, started: datetime) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile_name) or "run"
        base = runs_dir / f"{started:%Y%m%d-%H%M%S}_{safe}"
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(str(runs_dir), "--runs-dir", f"cannot create a run folder: {exc.strerror}") from None
        self.dir = folder
        self._samples: IO[str] = open(folder / "samples.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._samples)
        self._writer.writerow(SAMPLE_COLUMNS)
        self._samples.flush()
        self._events: IO[str] = open(folder / "events.jsonl", "w", encoding="utf-8")  # noqa: SIM115

    def sample(self, s: Sample) -> None:
        self._writer.writerow([_fmt(getattr(s, c)) for c in SAMPLE_COLUMNS])
        self._samples.flush()

    def event(self, t_s: float, event_type: str, **data: Any) -> None:
        record = {"t_s": round(t_s, 4), "utc": utc_now().isoformat(timespec="milliseconds"), "type": event_type}
        record.update(jsonable(data))
        self._events.write(json.dumps(record) + "\n")
        self._events.flush()

    def write_run_json(self, record: dict[str, Any]) -> None:
        tmp = self.dir / "run.json.tmp"
        tmp.write_text(json.dumps(jsonable(record), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.dir / "run.json")

    def close(self) -> None:
        self._samples.close()
        self._events.close()


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to ``path`` (creating it), flushed to disk before returning."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(jsonable(record)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_samples(run_dir: Path, notes: list[str] | None = None) -> list[Sample]:
    """Load ``samples.csv`` of a run folder back into samples.

    A last row cut off while it was being written (the process was killed: the row has no line end) is left
    out, and a one-line note saying so is appended to ``notes``. Any other unreadable row raises ValueError
    naming its line and column.
    """
    path = run_dir / "samples.csv"
    types = {f.name: str(f.type) for f in dataclasses.fields(Sample)}
    required = [f.name for f in dataclasses.fields(Sample) if f.default is dataclasses.MISSING]
    out: list[Sample] = []
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - 1, 0))
        cut = size > 0 and fh.read(1) != b"\n"
        fh.seek(0)
        # Only complete lines reach the parser: the writer ends every row with a line end and flushes it.
        reader = csv.reader(line.decode("utf-8") for line in fh if line.endswith(b"\n"))
        try:
            header = next(reader, None) or []
            missing = [name for name in required if name not in header]
            if header and missing:
                raise ValueError(f"line 1: no column {missing[0]!r}")
            for row in reader:
                where = f"line {reader.line_num}"
                if len(row) != len(header):
                    raise ValueError(f"{where}: {len(row)} fields, expected {len(header)}")
                values: dict[str, Any] = {}
                for name, text in zip(header, row, strict=True):
                    kind = types.get(name)
                    if kind is None:
                        continue  # a column this version does not know
                    try:
                        if kind == "bool":
                            if text not in ("0", "1"):
                                raise ValueError
                            values[name] = text == "1"
                        elif kind == "int":
                            values[name] = int(text)
                        elif "float" in kind:
                            # The writer spells None and non-finite numbers as an empty field.
                            values[name] = float(text) if text != "" else (None if "None" in kind else math.nan)
                        else:
                            values[name] = text
                    except ValueError:
                        expected = {"bool": "0 or 1", "int": "an integer"}.get(kind, "a number")
                        raise ValueError(f"{where}: {name}: expected {expected}, got {text[:40]!r}") from None
                out.append(Sample(**values))
        except UnicodeDecodeError:
            raise ValueError(f"line {reader.line_num + 1}: not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"line {reader.line_num}: {exc}") from None
    if cut and notes is not None:
        what = "last row" if reader.line_num else "header"
        notes.append(
            f"{path}: skipped line {reader.line_num + 1}, a half-written {what} (the run was cut off while writing it)"
        )
    return out
