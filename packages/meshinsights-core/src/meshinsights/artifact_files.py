"""A batch's DataFrame artifacts as Parquet: one dataset per key, one folder per device.

Per key, the batch's frames become one Arrow table (one pandas conversion
instead of one per device; each conversion and file costs about a
millisecond even for a three-row frame, several times that beside a busy
pipeline) that Arrow's dataset writer splits into one file per device, in
C++ with the GIL released. It writes under a hidden temporary folder
(``.tmp-*``, which dataset readers skip); each device's folder is then renamed
into place, replacing an earlier run's. A run killed meanwhile leaves whole
files or hidden leftovers, never a partial file in the dataset.

Frames that cannot share a table (their dtypes differ between devices) and
frames without rows (the dataset writer makes no file for them) are written
one by one, with the same layout.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: The name of each device's folder: ``device=<name>/part-0.parquet``.
PARTITION = "device"
FILE_NAME = "part-0.parquet"
TEMPORARY_PREFIX = ".tmp-"


def write_key(
    key_dir: Path, frames: Mapping[str, pd.DataFrame], folders: Mapping[str, str]
) -> dict[str, Path]:
    """Write each device's frame (with a ``device_id`` column) to
    ``key_dir/device=<folders[device]>/part-0.parquet``; the files by device."""
    together = {device: frame for device, frame in frames.items() if len(frame)}
    if len(together) > 1 and not _same_dtypes(list(together.values())):
        together = {}
    written = _write_together(key_dir, together, folders) if len(together) > 1 else {}
    for device, frame in frames.items():
        if device not in written:
            written[device] = _write_one(key_dir, device, frame, folders[device])
    return written


def _same_dtypes(frames: list[pd.DataFrame]) -> bool:
    first = frames[0].dtypes
    return all(
        list(frame.columns) == list(frames[0].columns) and frame.dtypes.equals(first)
        for frame in frames[1:]
    )


def _write_together(
    key_dir: Path, frames: Mapping[str, pd.DataFrame], folders: Mapping[str, str]
) -> dict[str, Path]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    lengths = [len(frame) for frame in frames.values()]
    table_frame = pd.concat(list(frames.values()), ignore_index=True)
    table_frame["device_id"] = np.repeat(np.array(list(frames), dtype=object), lengths)
    table = pa.Table.from_pandas(table_frame, preserve_index=False, nthreads=1)
    # The folder names as they are (a hive partitioning would percent-encode the
    # already file-name-safe names a second time).
    names = [f"{PARTITION}={folders[device]}" for device in frames]
    table = table.append_column(
        PARTITION, pa.array(np.repeat(np.array(names, dtype=object), lengths), type=pa.string())
    )
    staging = key_dir / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    try:
        ds.write_dataset(
            table, staging, format="parquet",
            partitioning=ds.DirectoryPartitioning(
                pa.schema([(PARTITION, pa.string())]), segment_encoding="none"
            ),
            basename_template=FILE_NAME.replace("0", "{i}"),
            existing_data_behavior="error",
            use_threads=False,  # keeps each device's rows in order (pyarrow < 21 has no option)
        )
        return {device: _move_into_place(staging, key_dir, folders[device]) for device in frames}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, key_dir: Path, folder: str) -> Path:
    name = f"{PARTITION}={folder}"
    target = key_dir / name
    if target.exists():
        shutil.rmtree(target)  # a rerun replaces the device's earlier files
    os.replace(staging / name, target)
    return target / FILE_NAME


def _write_one(key_dir: Path, device_id: str, frame: pd.DataFrame, folder: str) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target_dir = key_dir / f"{PARTITION}={folder}"
    if target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True)
    target = target_dir / FILE_NAME
    temp = target_dir / f"{TEMPORARY_PREFIX}{FILE_NAME}"
    # What DataFrame.to_parquet writes, less its overhead: one thread converts (a
    # pool per small frame costs more than it saves), no engine or path lookup.
    table = pa.Table.from_pandas(frame.assign(device_id=device_id), preserve_index=False,
                                 nthreads=1)
    pq.write_table(table, temp)
    os.replace(temp, target)
    return target
