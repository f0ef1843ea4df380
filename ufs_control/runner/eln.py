"""Export a run folder as an ``.eln`` file (the ELN consortium's format: a zipped RO-Crate 1.1), which
eLabFTW, Kadi4Mat, RSpace and NOMAD import.

The archive holds one root folder with ``ro-crate-metadata.json`` and the run's folder with its files. The
metadata describe the run as a Dataset: its files (size and SHA-256), the operator (Person), the sample, the
start and end, the outcome and the key metrics as PropertyValues, and the draft methods paragraph as text.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ufs_control import __version__
from ufs_control.runner.metrics import METRIC_LABELS
from ufs_control.runner.records import LOCK_NAME

RO_CRATE = "https://w3id.org/ro/crate/1.1"
ENCODINGS = {".json": "application/json", ".jsonl": "application/jsonl", ".csv": "text/csv", ".png": "image/png"}
_LABELS = {key: (label, unit) for key, label, unit in METRIC_LABELS}


def _local_id(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _file_entity(path: Path, crate_id: str) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "@id": crate_id,
        "@type": "File",
        "name": path.name,
        "encodingFormat": ENCODINGS.get(path.suffix, "application/octet-stream"),
        "contentSize": str(len(data)),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def crate_metadata(run_dir: Path, record: dict[str, Any], methods: str | None = None) -> dict[str, Any]:
    """The ``ro-crate-metadata.json`` document for ``run_dir`` (as exported under ``./<run folder name>/``)."""
    name = run_dir.name
    run_id = f"./{name}/"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    files = sorted(p for p in run_dir.iterdir() if p.is_file() and p.name != LOCK_NAME and not p.name.startswith("."))
    file_entities = [_file_entity(p, f"./{name}/{p.name}") for p in files]

    def text(key: str) -> str:
        value = record.get(key)
        return value if isinstance(value, str) else ""

    profile = record.get("profile")
    profile_name = profile.get("name") if isinstance(profile, dict) else None
    graph: list[dict[str, Any]] = [
        {
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "about": {"@id": "./"},
            "conformsTo": {"@id": RO_CRATE},
            "dateCreated": now,
            "sdPublisher": {"@id": "#ufs-control"},
        },
        {
            "@id": "./",
            "@type": "Dataset",
            "name": f"UFS run {name}",
            "description": f"Ultrafast-sintering run {name} exported by ufs-control {__version__}",
            "datePublished": now,
            "hasPart": [{"@id": run_id}],
        },
        {
            "@id": "#ufs-control",
            "@type": "SoftwareApplication",
            "name": "ufs-control",
            "version": __version__,
        },
    ]
    variables: list[dict[str, Any]] = []
    outcome = text("outcome")
    if outcome:
        variables.append({"@id": "#outcome", "@type": "PropertyValue", "propertyID": "outcome", "name": "Outcome",
                          "value": outcome, "description": text("reason")})  # fmt: skip
    metrics = record.get("metrics")
    for key, value in metrics.items() if isinstance(metrics, dict) else ():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        label, unit = _LABELS.get(key, (key, ""))
        entity: dict[str, Any] = {
            "@id": f"#metric-{_local_id(key)}",
            "@type": "PropertyValue",
            "propertyID": key,
            "name": label,
            "value": value,
        }
        if unit:
            entity["unitText"] = unit
        variables.append(entity)
    dataset: dict[str, Any] = {
        "@id": run_id,
        "@type": "Dataset",
        "name": f"{profile_name or 'run'} on {text('sample_id') or 'no sample id'} ({name})",
        "description": methods or f"UFS run of profile {profile_name or '?'}: {outcome} ({text('reason')})",
        "dateCreated": text("started_utc"),
        "hasPart": [{"@id": f["@id"]} for f in file_entities],
        "variableMeasured": [{"@id": v["@id"]} for v in variables],
        "keywords": ["ultrafast sintering", "UFS", "Joule heating"],
    }
    if text("ended_utc"):
        dataset["dateModified"] = text("ended_utc")
    if text("operator"):
        person = {"@id": f"#person-{_local_id(text('operator'))}", "@type": "Person", "name": text("operator")}
        dataset["author"] = {"@id": person["@id"]}
        graph.append(person)
    if text("sample_id"):
        sample = {
            "@id": f"#sample-{_local_id(text('sample_id'))}",
            "@type": "Thing",
            "name": text("sample_id"),
            "identifier": text("sample_id"),
        }
        dataset["about"] = {"@id": sample["@id"]}
        graph.append(sample)
    graph.insert(2, dataset)
    graph += file_entities + variables
    return {"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": graph}


def write_eln(run_dir: Path, out: Path, record: dict[str, Any], methods: str | None = None) -> Path:
    """Write ``out`` (.eln): ``<out stem>/ro-crate-metadata.json`` and ``<out stem>/<run folder>/<files>``."""
    root = out.stem if out.suffix == ".eln" else out.name
    metadata = crate_metadata(run_dir, record, methods)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{root}/ro-crate-metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
            for part in metadata["@graph"]:
                if part.get("@type") == "File":
                    relative = part["@id"].removeprefix("./")
                    zf.write(run_dir / Path(relative).name, f"{root}/{relative}")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written archive left behind
        raise
    return out
