"""The run store: what is in a runs folder, listed and filtered fast, for ``ufs runs``, ``ufs report`` and the
window's history.

The run folders are the source of truth. An SQLite index (``.ufs-index.sqlite`` in the runs folder) caches one
row per folder, keyed by the folder's name and the size and modification time of its ``run.json``; every
listing first brings the index up to date with the folders (new, changed and removed runs), so it is never
the other way round. A missing, stale or corrupt index is rebuilt from the folders; a runs folder that
cannot be written gets an index in memory. 10 000 runs list in well under a second once indexed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ufs_control.runner.report import RunRecord, load_run_json, read_run_record

INDEX_NAME = ".ufs-index.sqlite"
SCHEMA_VERSION = 1

# Columns of the index besides the folder key and the run.json stamp, in RunSummary's order.
_TEXT = ("started_utc", "ended_utc", "operator", "sample_id", "profile", "outcome", "reason", "trip")
_SCHEMA = f"""
CREATE TABLE runs (
    name TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    {", ".join(f"{c} TEXT NOT NULL" for c in _TEXT)},
    metrics TEXT NOT NULL,
    problems TEXT NOT NULL
);
CREATE INDEX runs_started ON runs (started_utc);
"""


@dataclass(frozen=True)
class RunSummary:
    """One run folder as the catalogue lists it: provenance, outcome and run.json's ``metrics``.

    Text fields are "" where the record does not say; ``metrics`` holds only numbers (missing or unusable
    values are left out); ``problems`` names what in the folder could not be used.
    """

    run_dir: Path
    started_utc: str = ""
    ended_utc: str = ""
    operator: str = ""
    sample_id: str = ""
    profile: str = ""
    outcome: str = "?"
    reason: str = ""
    trip: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.run_dir.name

    def metric(self, key: str) -> float | None:
        """The metric ``key``, or None when the run did not measure it."""
        return self.metrics.get(key)


def is_run_folder(path: Path) -> bool:
    """A folder the runner wrote: it holds a run.json or a samples.csv."""
    return path.is_dir() and ((path / "run.json").is_file() or (path / "samples.csv").is_file())


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def summarize(run_dir: Path) -> RunSummary:
    """Read one run folder's run.json into a :class:`RunSummary`; never raises for what the folder holds."""
    problems: list[str] = []
    data = load_run_json(run_dir / "run.json", problems)
    if data is None:
        return RunSummary(run_dir=run_dir, problems=tuple(f"run.json: {p}" for p in problems))
    profile = data.get("profile")
    trip = data.get("trip")
    raw_metrics = data.get("metrics")
    metrics: dict[str, float] = {}
    if isinstance(raw_metrics, dict):
        for key, value in raw_metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
                metrics[str(key)] = float(value)
    outcome = _string(data, "outcome") or "?"
    return RunSummary(
        run_dir=run_dir,
        started_utc=_string(data, "started_utc"),
        ended_utc=_string(data, "ended_utc"),
        operator=_string(data, "operator"),
        sample_id=_string(data, "sample_id"),
        profile=_string(profile, "name") if isinstance(profile, dict) else "",
        outcome=outcome,
        reason=_string(data, "reason"),
        trip=_string(trip, "name") if isinstance(trip, dict) else "",
        metrics=metrics,
        problems=tuple(problems),
    )


def _stamp(run_dir: Path) -> str:
    """What changes when the run's record does: run.json's size and modification time (or its absence)."""
    try:
        st = os.stat(run_dir / "run.json")
    except OSError:
        return "none"
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list. ``since``: started on or after this date or time (UTC); ``sample_glob``: shell pattern
    over the sample id; the others match exactly. None = no condition."""

    since: date | None = None
    profile: str | None = None
    sample_glob: str | None = None
    outcome: str | None = None


class RunStore:
    """The runs under ``runs_dir`` (one folder per run), with their index."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)
        self.index_path = self.runs_dir / INDEX_NAME
        self.rebuilt = False  # the last refresh threw the index away and built it again

    # --- the index ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """Open the index, rebuilding it when it is corrupt or of another version."""
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.index_path, timeout=5.0)
        except (OSError, sqlite3.Error):
            return self._fresh(sqlite3.connect(":memory:"))
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version == SCHEMA_VERSION:
                db.execute("SELECT name, stamp FROM runs LIMIT 1").fetchall()
                return db
        except sqlite3.DatabaseError:
            pass
        db.close()
        self.rebuilt = True
        try:
            self.index_path.unlink(missing_ok=True)
            return self._fresh(sqlite3.connect(self.index_path, timeout=5.0))
        except (OSError, sqlite3.Error):
            return self._fresh(sqlite3.connect(":memory:"))

    @staticmethod
    def _fresh(db: sqlite3.Connection) -> sqlite3.Connection:
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.commit()
        return db

    def _folders(self) -> Iterator[os.DirEntry[str]]:
        try:
            entries = list(os.scandir(self.runs_dir))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            yield entry

    def _sync(self, db: sqlite3.Connection) -> None:
        """Bring the index up to date with the folders: add new and changed runs, drop removed ones."""
        known = dict(db.execute("SELECT name, stamp FROM runs").fetchall())
        seen: set[str] = set()
        changed: list[RunSummary] = []
        stamps: dict[str, str] = {}
        for entry in self._folders():
            path = Path(entry.path)
            stamp = _stamp(path)
            if stamp == "none" and not (path / "samples.csv").is_file():
                continue  # not a run folder
            seen.add(entry.name)
            if known.get(entry.name) != stamp:
                changed.append(summarize(path))
                stamps[entry.name] = stamp
        gone = [name for name in known if name not in seen]
        if not changed and not gone:
            return
        with db:
            db.executemany("DELETE FROM runs WHERE name = ?", [(n,) for n in gone])
            db.executemany(
                f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * (len(_TEXT) + 4))})",
                [
                    (
                        s.name,
                        stamps[s.name],
                        *(getattr(s, c) for c in _TEXT),
                        json.dumps(s.metrics),
                        json.dumps(list(s.problems)),
                    )
                    for s in changed
                ],
            )

    def refresh(self) -> None:
        """Bring the index up to date with the run folders (rebuilding it if it is missing or corrupt)."""
        db = self._connect()
        try:
            self._sync(db)
        finally:
            db.close()

    # --- queries --------------------------------------------------------------------------------

    def runs(self, where: RunFilter | None = None) -> list[RunSummary]:
        """The runs that match ``where``, newest first (by start time, then folder name)."""
        where = where or RunFilter()
        clauses: list[str] = []
        args: list[Any] = []
        if where.since is not None:
            clauses.append("started_utc >= ?")
            args.append(where.since.isoformat())  # a time compares in full: started_utc is ISO, UTC
        if where.profile is not None:
            clauses.append("profile = ?")
            args.append(where.profile)
        if where.sample_glob is not None:
            clauses.append("sample_id GLOB ?")
            args.append(where.sample_glob)
        if where.outcome is not None:
            clauses.append("outcome = ?")
            args.append(where.outcome)
        sql = f"SELECT name, {', '.join(_TEXT)}, metrics, problems FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY started_utc DESC, name DESC"
        db = self._connect()
        try:
            try:
                self._sync(db)
                rows = db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError:
                db.close()
                self.index_path.unlink(missing_ok=True)
                db = self._connect()
                self._sync(db)
                rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        return [self._row(row) for row in rows]

    def _row(self, row: tuple[Any, ...]) -> RunSummary:
        name, *texts, metrics, problems = row
        return RunSummary(
            self.runs_dir / name,
            **dict(zip(_TEXT, texts, strict=True)),
            metrics=json.loads(metrics),
            problems=tuple(json.loads(problems)),
        )

    def get(self, run_dir: Path) -> RunSummary:
        """One run, read from its folder (not from the index)."""
        return summarize(Path(run_dir))

    def record(self, run_dir: Path) -> RunRecord:
        """What a report needs from one run's record (outcome, reason, plan, pyrometer range), read tolerantly
        from its folder: what cannot be used is named in ``problems``."""
        return read_run_record(Path(run_dir))


def parse_since(text: str) -> date:
    """``--since`` as a date (YYYY-MM-DD: from its start) or a time (a full ISO timestamp, UTC unless it says
    otherwise; a ``datetime``, compared in full)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        when = datetime.fromisoformat(text)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.replace(tzinfo=None, microsecond=0)
