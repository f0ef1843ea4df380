"""Campaigns: a queue of samples, or a sweep over a template profile, run one sample after another.

A campaign file (TOML) holds either a queue::

    name = "tray_7"            # optional (default: the file's name)
    operator = "ana"
    runs_dir = "runs"          # optional, relative to the campaign file (default: runs beside it)
    [[sample]]
    id = "S-01"
    profile = "profiles/llzo_membrane_1150C_20s.toml"   # relative to the campaign file

or a sweep, every combination of the listed values applied to a template profile::

    [sweep]
    template = "profiles/llzo_membrane_1150C_20s.toml"
    sample_prefix = "S-"       # sample ids S-01, S-02, ... (or samples = ["A1", "A2", ...], one per run)
    hold_c = [1100, 1150, 1200]        # the target of the ramp (or step) into the main hold, °C
    hold_s = [10, 20, 40]              # the main hold's duration, s
    # rate_c_per_s = [25, 50]          # the rate of the ramp into the main hold, °C/s

Every profile is generated, validated and checked for feasibility on the rig before anything heats. The
campaign's folder (``<name>.campaign/`` beside the file) keeps the generated profiles, ``state.json`` (which
runs are done), ``summary.csv`` and ``overlay.png``. A run that ends aborted, interrupted or failed to start is
run again on restart; a trip stops the campaign until it is acknowledged, after which the next sample follows.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ufs_control.control.feasibility import first_error
from ufs_control.core.errors import ConfigError, ProfileError
from ufs_control.core.profile import Hold, Profile, Ramp, Step, load_profile, parse_profile, plan
from ufs_control.core.recipe import profile_toml
from ufs_control.core.rig import RigConfig
from ufs_control.core.tomlfile import parse_toml, read_toml
from ufs_control.runner.records import OUTPUT_OFF_UNCONFIRMED, Outcome, RunResult
from ufs_control.runner.runstore import RunSummary, summarize

SWEEP_PARAMETERS = {
    "hold_c": "the target of the ramp (or step) into the main hold, °C",
    "hold_s": "the main hold's duration, s",
    "rate_c_per_s": "the rate of the ramp into the main hold, °C/s",
}
MAX_RUNS = 1000
STATE_NAME = "state.json"
DONE, TRIPPED, PENDING = "done", "tripped", "pending"
# (column, run.json metric) of the summary besides sample, parameters and outcome
SUMMARY_METRICS = (
    ("peak_c", "peak_c"),
    ("ramp_rate_c_per_s", "ramp_rate_c_per_s"),
    ("hold_max_k", "hold_max_k"),
    ("hold_rms_k", "hold_rms_k"),
    ("soak_s", "soak_s"),
)


@dataclass(frozen=True)
class CampaignItem:
    """One run of a campaign: its 1-based ``index``, sample, swept ``params`` and validated profile."""

    index: int
    sample_id: str
    profile: Profile
    params: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"run {self.index} ({self.sample_id}{', ' + params if params else ''})"


@dataclass(frozen=True)
class Campaign:
    name: str
    source: Path
    folder: Path  # the campaign's own folder: profiles, state, summary, overlay
    runs_dir: Path
    operator: str
    items: tuple[CampaignItem, ...]
    parameters: tuple[str, ...]  # the swept parameters, in the summary's column order

    @property
    def fingerprint(self) -> str:
        """Changes when the runs of the campaign would: samples, parameters or profiles."""
        text = json.dumps([[i.sample_id, i.params, profile_toml(i.profile)] for i in self.items], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fail(source: Path, where: str, message: str) -> ConfigError:
    return ConfigError(str(source), where, message)


def _text(data: dict[str, Any], key: str, default: str, source: Path, where: str = "") -> str:
    value = data.pop(key, default)
    if not isinstance(value, str) or (key != "operator" and not value.strip()):
        raise _fail(source, f"{where}{key}", f"must be a non-empty string, got {value!r}")
    return value


def _main_hold_index(profile: Profile) -> int | None:
    laid = plan(profile)
    holds = [s for s in laid.segments if isinstance(s.segment, Hold)]
    if not holds:
        return None
    return max(holds, key=lambda s: s.duration_s).index


def apply_parameters(template: Profile, params: dict[str, float], source: Path) -> Profile:
    """``template`` with the swept ``params`` applied to its main hold (not yet validated: the caller checks it
    as the loader would)."""
    where = _main_hold_index(template)
    if where is None:
        raise _fail(source, "sweep.template", f"{template.source} has no hold segment to sweep")
    segments = list(template.segments)
    hold = segments[where]
    assert isinstance(hold, Hold)
    before = segments[where - 1] if where > 0 else None
    if "hold_s" in params:
        segments[where] = replace(hold, duration_s=params["hold_s"])
    if "hold_c" in params:
        if not isinstance(before, Ramp | Step):
            raise _fail(source, "sweep.hold_c", "the template's main hold does not follow a ramp or a step")
        segments[where - 1] = before = replace(before, target_c=params["hold_c"])
    if "rate_c_per_s" in params:
        if not isinstance(before, Ramp) or before.rate_c_per_s is None:
            raise _fail(source, "sweep.rate_c_per_s", "the template's main hold does not follow a ramp with a rate")
        segments[where - 1] = replace(before, rate_c_per_s=params["rate_c_per_s"])
    suffix = "_".join(f"{k.split('_')[0]}{v:g}" for k, v in params.items())
    # the template's description told its own numbers: the generated profile tells the swept ones instead
    described = ", ".join(f"{k} = {v:g}" for k, v in params.items())
    return replace(
        template,
        segments=tuple(segments),
        name=f"{template.name}_{suffix}",
        description=f"sweep of {template.name}: {described}",
    )


def _values(table: dict[str, Any], key: str, source: Path) -> list[float]:
    raw = table.pop(key)
    if not isinstance(raw, list) or not raw:
        raise _fail(source, f"sweep.{key}", f"must be a non-empty list of numbers, got {raw!r}")
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v in (float("inf"), float("-inf")):
            raise _fail(source, f"sweep.{key}", f"must be a list of numbers, got {v!r} in it")
        if v <= 0:
            raise _fail(source, f"sweep.{key}", f"values must be > 0, got {v:g}")
    return [float(v) for v in raw]


def _relative(source: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else source.parent / path


def _sample_ids(table: dict[str, Any], n: int, source: Path) -> list[str]:
    if "samples" in table:
        ids = table.pop("samples")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
            raise _fail(source, "sweep.samples", f"must be a list of sample ids, got {ids!r}")
        if len(ids) != n:
            raise _fail(source, "sweep.samples", f"has {len(ids)} ids for {n} runs")
        return list(ids)
    prefix = _text(table, "sample_prefix", "S-", source, "sweep.")
    width = max(2, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def _load_profile(path: Path, source: Path, where: str) -> Profile:
    try:
        return load_profile(path)
    except ProfileError as exc:
        raise _fail(source, where, str(exc)) from None


def load_campaign(path: str | Path, rig: RigConfig) -> Campaign:
    """Read a campaign file, generate and validate every run's profile and check each against ``rig``'s
    envelope; raise a one-line :class:`ConfigError` naming the file, the field or run, and the value."""
    source = Path(path)
    data = dict(read_toml(source, ConfigError))
    name = _text(data, "name", source.stem, source)
    operator = _text(data, "operator", "", source)
    runs_dir = _relative(source, _text(data, "runs_dir", "runs", source))
    queue, sweep = data.pop("sample", None), data.pop("sweep", None)
    if data:
        raise _fail(source, sorted(data)[0], "unknown setting")
    if (queue is None) == (sweep is None):
        raise _fail(source, "", "give either [[sample]] entries or a [sweep] table")
    folder = source.parent / f"{source.stem}.campaign"
    items: list[CampaignItem] = []
    parameters: tuple[str, ...] = ()
    if queue is not None:
        if not isinstance(queue, list) or not queue:
            raise _fail(source, "sample", "must be one or more [[sample]] tables")
        for n, entry in enumerate(queue, 1):
            where = f"sample {n}."
            if not isinstance(entry, dict):
                raise _fail(source, f"sample {n}", f"must be a table, got {entry!r}")
            entry = dict(entry)
            sample_id = _text(entry, "id", "", source, where)
            profile_path = _relative(source, _text(entry, "profile", "", source, where))
            if entry:
                raise _fail(source, f"{where}{sorted(entry)[0]}", "unknown setting")
            items.append(CampaignItem(n, sample_id, _load_profile(profile_path, source, f"{where}profile")))
    else:
        if not isinstance(sweep, dict):
            raise _fail(source, "sweep", "must be a table")
        table = dict(sweep)
        template_path = _relative(source, _text(table, "template", "", source, "sweep."))
        template = _load_profile(template_path, source, "sweep.template")
        parameters = tuple(k for k in SWEEP_PARAMETERS if k in table)
        values = [_values(table, k, source) for k in parameters]
        unknown = sorted(set(table) - {"samples", "sample_prefix"})
        if unknown:
            known = ", ".join([*SWEEP_PARAMETERS, "template", "samples", "sample_prefix"])
            raise _fail(source, f"sweep.{unknown[0]}", f"unknown setting (known: {known})")
        if not parameters:
            raise _fail(source, "sweep", f"sweeps nothing: give one or more of {', '.join(SWEEP_PARAMETERS)}")
        combos = list(itertools.product(*values))
        if len(combos) > MAX_RUNS:
            raise _fail(source, "sweep", f"makes {len(combos)} runs, more than the {MAX_RUNS} allowed")
        ids = _sample_ids(table, len(combos), source)
        for n, (combo, sample_id) in enumerate(zip(combos, ids, strict=True), 1):
            params = dict(zip(parameters, combo, strict=True))
            generated = apply_parameters(template, params, source)
            item = CampaignItem(n, sample_id, generated, params)
            try:  # the generated profile goes through the loader's checks, as a file would
                text = profile_toml(generated)
                profile = parse_profile(parse_toml(text, item.describe(), ProfileError), item.describe())
            except ProfileError as exc:
                raise _fail(source, item.describe(), f"{exc.where + ': ' if exc.where else ''}{exc.message}") from None
            items.append(replace(item, profile=profile))
    for item in items:
        f = first_error(item.profile, rig)
        if f is not None:
            raise _fail(source, item.describe(), f"infeasible on this rig: segment {f.segment} ({f.kind}): {f.message}")
    return Campaign(name, source, folder, runs_dir, operator, tuple(items), parameters)


def write_profiles(campaign: Campaign) -> Campaign:
    """Write each run's profile to ``<folder>/profiles/NN_<name>.toml`` (so run.json keeps its TOML and the
    operator can read what will run); return the campaign with the profiles' sources pointing there."""
    folder = campaign.folder / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for item in campaign.items:
        path = folder / f"{item.index:02d}_{item.profile.name}.toml"
        text = profile_toml(item.profile)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        items.append(replace(item, profile=replace(item.profile, source=str(path))))
    return replace(campaign, items=tuple(items))


# --- progress -----------------------------------------------------------------------------------------


def rig_identity(rig: RigConfig, simulated: bool) -> dict[str, Any]:
    """Where a campaign runs: simulated or not, the supply and pyrometer addresses and the rig file's hash."""
    try:
        digest: str | None = hashlib.sha256(Path(rig.source).read_bytes()).hexdigest()[:16]
    except OSError:
        digest = None  # the defaults (no rig file)
    return {
        "simulated": simulated,
        "psu_resource": rig.psu.resource,
        "pyrometer_url": rig.pyrometer.url,
        "rig_file_sha256": digest,
    }


_IDENTITY_LABELS = {
    "simulated": "simulated",
    "psu_resource": "supply resource",
    "pyrometer_url": "pyrometer URL",
    "rig_file_sha256": "rig file content",
}
_STATUSES = (DONE, TRIPPED, PENDING)


def resolve_run_dir(value: str, folder: Path) -> Path:
    """A run folder recorded in a campaign state: absolute (as written now), or, in older states, relative to
    the campaign folder or its parent, or to the working directory of the time (tried in that order)."""
    path = Path(value)
    if path.is_absolute():
        return path
    for base in (folder, folder.parent):
        if (base / path).is_dir():
            return (base / path).resolve()
    return path.resolve()


class CampaignState:
    """Which runs of a campaign are done, kept in ``<folder>/state.json`` (rewritten atomically).

    ``rig`` (from :func:`rig_identity`) ties the state to where the campaign runs: a state made on the
    simulator is refused on the rig, and the other way round."""

    def __init__(self, campaign: Campaign, rig: dict[str, Any] | None = None) -> None:
        self.campaign = campaign
        self.rig = rig  # None: not known to the caller (nothing checked; a recorded identity is kept)
        self.path = campaign.folder / STATE_NAME
        self.entries: list[dict[str, Any]] = [
            {"index": i.index, "sample_id": i.sample_id, "params": i.params, "status": PENDING, "run_dir": None}
            for i in campaign.items
        ]
        self.resumed = False
        if self.path.is_file():
            self._load()

    def _refuse(self, what: str) -> ConfigError:
        return ConfigError(str(self.path), "", f"{what}; start a new campaign folder or delete {self.path}")

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self._refuse(f"unreadable campaign state ({exc})") from None
        if not isinstance(data, dict):
            raise self._refuse(f"not a campaign state (a JSON object expected, got {type(data).__name__})")
        entries = data.get("runs")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self._refuse('not a campaign state ("runs" must be a list of objects)')
        for n, e in enumerate(entries, 1):
            if e.get("status") not in _STATUSES:
                raise self._refuse(f"run {n} has status {e.get('status')!r} (expected one of {', '.join(_STATUSES)})")
            if not (e.get("run_dir") is None or isinstance(e.get("run_dir"), str)):
                raise self._refuse(f"run {n} has run_dir {e.get('run_dir')!r} (expected a path or null)")
        if not isinstance(data.get("fingerprint"), str):
            raise self._refuse('not a campaign state (no "fingerprint")')
        if data["fingerprint"] != self.campaign.fingerprint or len(entries) != len(self.entries):
            raise self._refuse(f"{self.campaign.source} changed since this campaign started")
        recorded = data.get("rig")
        started = any(e.get("status") != PENDING for e in entries)
        if self.rig is None:
            self.rig = recorded if isinstance(recorded, dict) else None
        elif not isinstance(recorded, dict):
            if started:
                raise self._refuse("the state does not record where its runs ran (simulator or rig)")
        else:
            differ = [
                f"{label} {recorded.get(key)!r} then, {self.rig.get(key)!r} now"
                for key, label in _IDENTITY_LABELS.items()
                if recorded.get(key) != self.rig.get(key)
            ]
            if differ:
                raise self._refuse(f"the campaign ran elsewhere: {'; '.join(differ)}")
        self.entries = entries
        self.resumed = started

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "campaign": str(self.campaign.source),
            "fingerprint": self.campaign.fingerprint,
            "rig": self.rig,
            "runs": self.entries,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def entry(self, item: CampaignItem) -> dict[str, Any]:
        return self.entries[item.index - 1]

    def unacknowledged_trip(self) -> CampaignItem | None:
        """The run whose trip stops the campaign until someone acknowledges it."""
        for item in self.campaign.items:
            e = self.entry(item)
            if e.get("status") == TRIPPED and not e.get("acknowledged_by"):
                return item
        return None

    def next_item(self) -> CampaignItem | None:
        """The next run to do (None when all are done, or a trip waits for acknowledgement)."""
        if self.unacknowledged_trip() is not None:
            return None
        return next((i for i in self.campaign.items if self.entry(i).get("status") == PENDING), None)

    def counts(self) -> dict[str, int]:
        """How many runs finished, tripped, ended otherwise (aborted, interrupted, refused) or never ran."""
        out = {"finished": 0, "tripped": 0, "aborted": 0, "not run": 0}
        for e in self.entries:
            outcome = e.get("outcome")
            if e.get("status") == DONE:
                out["finished"] += 1
            elif e.get("status") == TRIPPED:
                out["tripped"] += 1
            elif outcome:
                out["aborted"] += 1
            else:
                out["not run"] += 1
        return out

    def last_trip(self) -> CampaignItem | None:
        """The latest run of the campaign that tripped (acknowledged or not)."""
        tripped = [i for i in self.campaign.items if self.entry(i).get("status") == TRIPPED]
        return tripped[-1] if tripped else None

    @property
    def done_count(self) -> int:
        return sum(1 for e in self.entries if e.get("status") != PENDING)

    def record(self, item: CampaignItem, result: RunResult) -> None:
        """Note how ``item``'s run ended: finished counts as done, a trip as tripped, anything else stays
        pending (an aborted, interrupted or refused run is run again)."""
        e = self.entry(item)
        e["run_dir"] = str(result.run_dir.resolve()) if result.run_dir is not None else None
        e["outcome"] = result.outcome.value
        e["reason"] = result.reason
        if result.outcome is Outcome.FINISHED:
            e["status"] = DONE
        elif result.outcome is Outcome.TRIPPED:
            e["status"] = TRIPPED
        else:
            e["status"] = PENDING
        self.save()

    def acknowledge(self, by: str) -> CampaignItem | None:
        """Acknowledge the trip that stops the campaign; the next sample may follow."""
        item = self.unacknowledged_trip()
        if item is not None:
            self.entry(item)["acknowledged_by"] = by or "operator"
            self.save()
        return item

    def finished_runs(self) -> list[tuple[CampaignItem, RunSummary]]:
        """The runs that have a run folder, with what the run store reads from it."""
        out = []
        for item in self.campaign.items:
            run_dir = self.entry(item).get("run_dir")
            if self.entry(item).get("status") != PENDING and isinstance(run_dir, str):
                out.append((item, summarize(resolve_run_dir(run_dir, self.campaign.folder))))
        return out


def write_summary(state: CampaignState, path: Path | None = None) -> Path:
    """``summary.csv``: sample, parameters, outcome and the key metrics of every run done so far."""
    campaign = state.campaign
    path = path or campaign.folder / "summary.csv"
    columns = ["run", "sample", *campaign.parameters, "profile", "outcome", *(c for c, _ in SUMMARY_METRICS)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, "run_dir"])
        for item, summary in state.finished_runs():
            row: list[Any] = [item.index, item.sample_id, *(f"{item.params[p]:g}" for p in campaign.parameters)]
            row += [item.profile.name, summary.outcome]
            row += [_cell(summary.metric(key)) for _, key in SUMMARY_METRICS]
            writer.writerow([*row, str(summary.run_dir)])
    return path


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def summary_table(state: CampaignState) -> str:
    """The summary as an aligned text table for the terminal."""
    campaign = state.campaign
    head = ["run", "sample", *campaign.parameters, "outcome", "peak °C", "ramp °C/s", "hold max K", "soak s"]
    rows = [head]
    for item, s in state.finished_runs():
        params = [f"{item.params[p]:g}" for p in campaign.parameters]
        metrics = [_cell(s.metric(k)) for k in ("peak_c", "ramp_rate_c_per_s", "hold_max_k", "soak_s")]
        rows.append([str(item.index), item.sample_id, *params, s.outcome, *metrics])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )


def run_campaign(
    state: CampaignState,
    run_one: Callable[[CampaignItem], RunResult],
    *,
    ready: Callable[[CampaignItem], bool],
    acknowledge: Callable[[CampaignItem, dict[str, Any]], str | None],
    log: Callable[[str], None],
    warn: Callable[[str], None] | None = None,
) -> bool:
    """Run the campaign's remaining runs in order; True when every run is done.

    ``ready(item)`` asks the operator to load the sample (False stops the campaign); ``acknowledge(item,
    entry)`` is asked after a trip and returns who acknowledged it (None stops the campaign). An exception from
    ``run_one`` (Ctrl-C) propagates after the state is saved. A run whose output-off the supply did not
    confirm stops the campaign with :data:`OUTPUT_OFF_UNCONFIRMED` given to ``warn`` (default ``log``).
    """
    warn = warn or log
    while True:
        tripped = state.unacknowledged_trip()
        if tripped is not None:
            by = acknowledge(tripped, state.entry(tripped))
            if by is None:
                return False
            state.acknowledge(by)
            log(f"{tripped.describe()}: trip acknowledged by {by}")
            continue
        item = state.next_item()
        if item is None:
            return True
        if not ready(item):
            return False
        log(f"{item.describe()}: {item.profile.name}")
        try:
            result = run_one(item)
        except KeyboardInterrupt as exc:  # Ctrl-C: the run ended safely; note how before stopping
            ended = getattr(exc, "result", None)
            if isinstance(ended, RunResult):
                state.record(item, ended)
            raise
        state.record(item, result)
        log(f"{item.describe()}: {result.outcome.value}: {result.reason}")
        if not result.output_off_confirmed:
            warn(OUTPUT_OFF_UNCONFIRMED)
            return False  # no next sample while the output may be on
        if state.entry(item)["status"] == PENDING:
            return False  # aborted or refused: the operator decides what next; a restart runs it again


def overlay_runs(state: CampaignState) -> Sequence[tuple[str, Path]]:
    """(label, run folder) of every run with samples, for the overlay plot."""
    out = []
    for item, summary in state.finished_runs():
        if (summary.run_dir / "samples.csv").is_file():
            params = ", ".join(f"{k}={v:g}" for k, v in item.params.items())
            out.append((f"{item.sample_id}{' ' + params if params else ''} ({summary.outcome})", summary.run_dir))
    return out
