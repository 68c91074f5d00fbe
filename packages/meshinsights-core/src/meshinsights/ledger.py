"""Results ledger: every finished device is committed atomically as it completes.

Layout of an output directory::

    ledger/devices/<device>.json        one record per finished device (the commit point)
    artifacts/<key>/device=<device>/part-0.parquet   DataFrame artifacts, one dataset per key

A batch's artifact files are written first (``artifact_files``: each renamed
into place once whole), then each device's record is written to a temporary file
and renamed over the final name, so a run killed at any moment leaves each
device either fully recorded or not at all. ``--resume`` skips the
recorded devices; ``--rerun-failed`` runs only the ones recorded as failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from meshinsights.ai_export import convert_data_for_ai, to_jsonable
from meshinsights.artifact_files import TEMPORARY_PREFIX, write_key
from meshinsights.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from meshinsights.data_object import PipelineDataObject
    from meshinsights.results import BatchResults

LEDGER_DIR = "ledger"
DEVICES_DIR = "devices"
ARTIFACTS_DIR = "artifacts"
RECORD_VERSION = 1


def safe_name(device_id: str) -> str:
    """A file-name-safe, reversible-by-record, collision-free form of a device id."""
    quoted = quote(device_id, safe="-_.")
    if quoted.startswith(".") or len(quoted) > 120:
        digest = hashlib.sha256(device_id.encode()).hexdigest()[:16]
        quoted = f"{quoted[:80].lstrip('.')}~{digest}"
    return quoted


def artifact_dir_name(key: str) -> str:
    """``cycles/summary`` -> ``cycles__summary``."""
    return quote(key.replace("/", "__"), safe="-_.")


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes 0600; outputs are for people to read
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


@attrs.frozen
class DeviceRecord:
    """What the ledger keeps of one finished device."""

    device_id: str
    status: str
    summary_rows: list[dict[str, Any]]
    document: dict[str, Any]
    artifact_files: dict[str, str]
    run_id: str

    def to_json(self) -> str:
        payload = {"version": RECORD_VERSION, **attrs.asdict(self)}
        return json.dumps(payload, default=to_jsonable, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DeviceRecord:
        payload = json.loads(text)
        payload.pop("version", None)
        return cls(**payload)


class Ledger:
    """Reads and writes the records of one output directory."""

    def __init__(self, out_dir: Path, artifacts: Iterable[str] | None = None) -> None:
        """``artifacts``: the DataFrame artifact keys to write (None: all of them)."""
        self.out_dir = out_dir
        self.records_dir = out_dir / LEDGER_DIR / DEVICES_DIR
        self.artifacts_dir = out_dir / ARTIFACTS_DIR
        self.artifacts = None if artifacts is None else frozenset(artifacts)
        #: Every DataFrame artifact key a recorded device had, written or not.
        self.artifact_keys_seen: set[str] = set()

    # -- reading ----------------------------------------------------------------
    def exists(self) -> bool:
        return self.records_dir.is_dir() and any(self.records_dir.glob("*.json"))

    def records(self) -> Iterator[DeviceRecord]:
        if not self.records_dir.is_dir():
            return
        for path in sorted(self.records_dir.glob("*.json")):
            yield DeviceRecord.from_json(path.read_text(encoding="utf-8"))

    def statuses(self) -> dict[str, str]:
        return {record.device_id: record.status for record in self.records()}

    # -- run planning -----------------------------------------------------------
    def plan(self, device_ids: Sequence[str], *, resume: bool, rerun_failed: bool) -> list[str]:
        """Which of ``device_ids`` this run must process."""
        if resume and rerun_failed:
            raise ConfigError("--resume and --rerun-failed cannot be used together")
        if not self.exists():
            if rerun_failed:
                raise ConfigError(f"{self.out_dir}: no earlier run to rerun failed devices of")
            return list(device_ids)
        if not (resume or rerun_failed):
            raise ConfigError(
                f"{self.out_dir} already holds results of an earlier run; use --resume to finish "
                "it, --rerun-failed to retry its failed devices, or choose another output dir"
            )
        statuses = self.statuses()
        if resume:
            return [d for d in device_ids if d not in statuses]
        return [d for d in device_ids if statuses.get(d) == "failed"]

    def clean_temporaries(self) -> None:
        """Remove temporary files a killed run left behind."""
        if self.out_dir.is_dir():
            for leftover in self.out_dir.rglob(f"{TEMPORARY_PREFIX}*"):
                leftover.unlink(missing_ok=True)

    # -- writing ----------------------------------------------------------------
    def record_batch(self, results: BatchResults, summary: pd.DataFrame) -> None:
        """Commit every device of a finished batch: artifacts first, then the records."""
        rows_by_device: dict[str, list[dict[str, Any]]] = {}
        if len(summary):
            for row in summary.to_dict(orient="records"):
                rows_by_device.setdefault(str(row["device_id"]), []).append(
                    {str(k): v for k, v in row.items()}
                )
        files = self._write_artifacts(results.device_results)
        for device_id, data_object in results.device_results.items():
            record = DeviceRecord(
                device_id=device_id,
                status=data_object.status,
                summary_rows=rows_by_device.get(device_id, []),
                document=convert_data_for_ai(data_object),
                artifact_files=files.get(device_id, {}),
                run_id=results.run_id,
            )
            atomic_write_text(self.records_dir / f"{safe_name(device_id)}.json", record.to_json())

    def _write_artifacts(
        self, data_objects: Mapping[str, PipelineDataObject]
    ) -> dict[str, dict[str, str]]:
        """Every device's DataFrame artifacts, a key at a time; the files by device and key."""
        import pandas as pd

        by_key: dict[str, dict[str, pd.DataFrame]] = {}
        for device_id, data_object in data_objects.items():
            for key, value in data_object.artifacts.items():
                if not isinstance(value, pd.DataFrame):
                    continue
                self.artifact_keys_seen.add(key)
                if self.artifacts is None or key in self.artifacts:
                    by_key.setdefault(key, {})[device_id] = value
        folders = {device_id: safe_name(device_id) for device_id in data_objects}
        files: dict[str, dict[str, str]] = {}
        for key, frames in by_key.items():
            key_dir = self.artifacts_dir / artifact_dir_name(key)
            for device_id, path in write_key(key_dir, frames, folders).items():
                files.setdefault(device_id, {})[key] = str(path.relative_to(self.out_dir))
        return files


def summary_frame(records: Iterable[DeviceRecord], columns: Sequence[str] | None) -> pd.DataFrame:
    """The results table over every recorded device, in device-id order."""
    import pandas as pd

    rows = [row for record in sorted(records, key=lambda r: r.device_id) for row in record.summary_rows]
    frame = pd.DataFrame(rows)
    if columns is not None:
        frame = frame.reindex(columns=list(columns))
    return frame


def counts_by_status(records: Iterable[DeviceRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return dict(sorted(counts.items()))

