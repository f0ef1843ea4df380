"""Run records: the per-tick sample, the run result, and the run folder writer.

One folder per run: ``samples.csv`` (one row per tick, flushed every row), ``events.jsonl`` (state
changes, trips, warnings), ``run.json`` (provenance, outcome, metrics, loop timing) and ``plot.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import fcntl
import json
import math
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, overload

from ufs_control.core.errors import ConfigError


class Outcome(enum.Enum):
    FINISHED = "finished"
    ABORTED = "aborted"
    TRIPPED = "tripped"
    FAILED = "failed"


RUNNING = "running"  # run.json's outcome while the run is under way
INTERRUPTED = "interrupted"  # ... and after the process died before it could finish the record
LOCK_NAME = ".lock"  # held (flock) by the process that is writing the run folder


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
    resistance_c: float | None = None  # from the felts' resistance (thermometry on)
    control_c: float | None = None  # what the loop controlled on: pyrometer (lag compensated) and/or resistance


SAMPLE_COLUMNS = [f.name for f in dataclasses.fields(Sample)]
_FLOAT_COLUMNS = [f.name for f in dataclasses.fields(Sample) if "float" in str(f.type)]
_TEXT_COLUMNS = [f.name for f in dataclasses.fields(Sample) if str(f.type) == "str"]
_INT_COLUMNS = [f.name for f in dataclasses.fields(Sample) if str(f.type) in ("int", "bool")]
_OPTIONAL = {f.name for f in dataclasses.fields(Sample) if "None" in str(f.type)}
_BOOL_COLUMNS = {f.name for f in dataclasses.fields(Sample) if str(f.type) == "bool"}
_DOUBLE = {"t_s", "profile_t_s"}  # times need double precision; the rest fits in single


@dataclass
class Columns:
    """A run's samples as columns: floats with NaN for "not available", text as codes into ``words``."""

    t_s: Sequence[float]
    temperature_c: Sequence[float]
    setpoint_c: Sequence[float]
    voltage_v: Sequence[float]
    current_a: Sequence[float]
    power_w: Sequence[float]
    target_c: Sequence[float]
    engaged: Sequence[int]
    segment_index: Sequence[int]
    segment_kind: Sequence[int]
    loop: Sequence[int]
    pyrometer_status: Sequence[int]
    words: dict[str, list[str]]

    def code(self, column: str, word: str) -> int:
        """The code of ``word`` in a text column (-1 when it never occurs)."""
        words = self.words[column]
        return words.index(word) if word in words else -1


_METRIC_TEXTS = ("segment_kind", "loop", "pyrometer_status")


def columns_of(samples: Sequence[Sample]) -> Columns:
    """The metric columns of any sequence of samples."""

    def floats(name: str) -> list[float]:
        return [math.nan if (v := getattr(s, name)) is None else float(v) for s in samples]

    words: dict[str, list[str]] = {}
    texts: dict[str, list[int]] = {}
    for name in _METRIC_TEXTS:
        table: dict[str, int] = {}
        texts[name] = [table.setdefault(getattr(s, name), len(table)) for s in samples]
        words[name] = list(table)
    return Columns(
        t_s=floats("t_s"),
        temperature_c=floats("temperature_c"),
        setpoint_c=floats("setpoint_c"),
        voltage_v=floats("voltage_v"),
        current_a=floats("current_a"),
        power_w=floats("power_w"),
        target_c=floats("target_c"),
        engaged=[int(s.engaged) for s in samples],
        segment_index=[s.segment_index for s in samples],
        segment_kind=texts["segment_kind"],
        loop=texts["loop"],
        pyrometer_status=texts["pyrometer_status"],
        words=words,
    )


class SampleLog(Sequence[Sample]):
    """All samples of a run in compact columns (about 90 bytes a sample, a 10-hour run in ~70 MB).

    Indexing and iteration give :class:`Sample` objects built on demand, so metrics and plots read it like a
    list while memory stays bounded by the columns.
    """

    def __init__(self, samples: Sequence[Sample] = ()) -> None:
        self._floats = {name: array("d" if name in _DOUBLE else "f") for name in _FLOAT_COLUMNS}
        self._ints = {name: array("i") for name in _INT_COLUMNS}
        self._texts: dict[str, array[int]] = {name: array("H") for name in _TEXT_COLUMNS}
        self._words: dict[str, list[str]] = {name: [] for name in _TEXT_COLUMNS}
        self._codes: dict[str, dict[str, int]] = {name: {} for name in _TEXT_COLUMNS}
        for sample in samples:
            self.append(sample)

    def append(self, sample: Sample) -> None:
        for name, column in self._floats.items():
            value = getattr(sample, name)
            column.append(math.nan if value is None else value)
        for name, ints in self._ints.items():
            ints.append(int(getattr(sample, name)))
        for name, codes in self._texts.items():
            word = getattr(sample, name)
            code = self._codes[name].get(word)
            if code is None:
                code = self._codes[name][word] = len(self._words[name])
                self._words[name].append(word)
            codes.append(code)

    def __len__(self) -> int:
        return len(self._floats["t_s"])

    def _at(self, i: int) -> Sample:
        values: dict[str, Any] = {}
        for name, column in self._floats.items():
            v = column[i]
            values[name] = None if (name in _OPTIONAL and math.isnan(v)) else v
        for name, ints in self._ints.items():
            values[name] = bool(ints[i]) if name in _BOOL_COLUMNS else ints[i]
        for name, codes in self._texts.items():
            values[name] = self._words[name][codes[i]]
        return Sample(**values)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("sample index out of range")
        return self._at(index)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self._at(i)

    def columns(self) -> Columns:
        """The metric columns, without building a :class:`Sample` per row."""
        f, codes = self._floats, self._texts
        return Columns(
            t_s=f["t_s"],
            temperature_c=f["temperature_c"],
            setpoint_c=f["setpoint_c"],
            voltage_v=f["voltage_v"],
            current_a=f["current_a"],
            power_w=f["power_w"],
            target_c=f["target_c"],
            engaged=self._ints["engaged"],
            segment_index=self._ints["segment_index"],
            segment_kind=codes["segment_kind"],
            loop=codes["loop"],
            pyrometer_status=codes["pyrometer_status"],
            words={name: list(self._words[name]) for name in _METRIC_TEXTS},
        )

    def nbytes(self) -> int:
        """Memory held by the columns in bytes."""
        columns: list[array[Any]] = [*self._floats.values(), *self._ints.values(), *self._texts.values()]
        return sum(c.itemsize * len(c) for c in columns)


OUTPUT_OFF_UNCONFIRMED = (
    "WARNING: the supply did not confirm OUTPUT OFF. Switch it off at its front panel now; "
    "its OVP/OCP limits bound the power meanwhile."
)


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
        self._events: IO[str] = open(folder / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        # Held while the run is written: a run.json saying "running" whose lock is free was interrupted.
        self._lock: IO[str] = open(folder / LOCK_NAME, "w", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def sample(self, s: Sample) -> None:
        self._writer.writerow([_fmt(getattr(s, c)) for c in SAMPLE_COLUMNS])
        self._samples.flush()

    def event(self, t_s: float, event_type: str, **data: Any) -> None:
        self.write_event(make_event(t_s, event_type, **data))

    def write_event(self, record: dict[str, Any]) -> None:
        """Append one prepared event (see :func:`make_event`) as a single write."""
        self._events.write(json.dumps(jsonable(record)) + "\n")
        self._events.flush()

    def write_run_json(self, record: dict[str, Any]) -> None:
        _write_json_atomic(self.dir / "run.json", record)

    def close(self) -> None:
        self._samples.close()
        self._events.close()
        self._lock.close()
        try:
            (self.dir / LOCK_NAME).unlink()
        except OSError:
            pass


def make_event(t_s: float, event_type: str, **data: Any) -> dict[str, Any]:
    """An ``events.jsonl`` entry: run time in s, UTC wall time, type and data."""
    record = {"t_s": round(t_s, 4), "utc": utc_now().isoformat(timespec="milliseconds"), "type": event_type}
    record.update(jsonable(data))
    return record


def _write_json_atomic(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(jsonable(record), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def folder_in_use(run_dir: Path) -> bool:
    """True while another process holds the run folder's lock (it is writing the run now)."""
    try:
        with open(run_dir / LOCK_NAME, "a", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def mark_interrupted(run_dir: Path, reason: str) -> bool:
    """Rewrite a run.json left "running" as "interrupted" with ``reason``; True when it was changed."""
    path = run_dir / "run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("outcome") != RUNNING:
        return False
    record["outcome"] = INTERRUPTED
    record["reason"] = reason
    record["ended_utc"] = record.get("ended_utc") or utc_now().isoformat(timespec="seconds")
    try:
        _write_json_atomic(path, record)
    except OSError:
        return False
    return True


def recover_interrupted(runs_dir: Path) -> list[Path]:
    """Mark every run folder under ``runs_dir`` left "running" by a dead process as "interrupted".

    The reason names what the guardian recorded when it switched the output off, if it did.
    """
    found: list[Path] = []
    try:
        candidates = sorted(p for p in runs_dir.iterdir() if (p / "run.json").is_file())
    except OSError:
        return found
    for run_dir in candidates:
        try:
            head = (run_dir / "run.json").read_text(encoding="utf-8")
        except OSError:
            continue
        if f'"outcome": "{RUNNING}"' not in head or folder_in_use(run_dir):
            continue
        reason = "the controlling process ended without finishing the record"
        guardian = _last_guardian_event(run_dir)
        if guardian is not None:
            state = "confirmed" if guardian.get("confirmed") else "NOT confirmed"
            reason += f"; guardian: {guardian.get('reason')}, output off {state}"
        if mark_interrupted(run_dir, reason):
            found.append(run_dir)
    return found


def read_events(run_dir: Path, types: Sequence[str]) -> list[dict[str, Any]]:
    """The run's ``events.jsonl`` entries of the given types, in order; a half-written or foreign line is
    skipped, a missing or unreadable file gives none."""
    found = []
    try:
        with open(run_dir / "events.jsonl", encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("type") in types:
                    found.append(entry)
    except (OSError, UnicodeDecodeError):
        return []
    return found


def _last_guardian_event(run_dir: Path) -> dict[str, Any] | None:
    entries = read_events(run_dir, ("guardian",))
    return entries[-1] if entries else None


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
